/* Host C program of `cargo xtask capi`: runs a model through libsnn_capi.a the three ways the
 * C API offers (features, events, streamed steps), prints every count for xtask to compare with
 * the Rust engine, and checks the error paths of the C entry points.
 *
 *   host MODEL.snn SAMPLES.bin
 *   host --series MODEL.snn SERIES.bin
 *
 * The second form streams time series (a continuous-encoding model) step by step through
 * snn_step_raw with the decision rules, one `R` line per series (see stream_series). SERIES.bin:
 * u32 series, u32 channels, i32 exp, u32 window, u32 threshold, then per series u32 steps and
 * steps * channels i16 raw samples (x = raw * 2^exp), all little-endian.
 *
 * SAMPLES.bin (little-endian, written by xtask): u32 samples, u32 input_size, then per sample
 * u32 seed, input_size feature bytes, u32 events, events * (u16 t, u16 index).
 * Output, one line per sample and way: `F|E|S counts... ; layer totals... ; synaptic events ;
 * class ; budget verdicts...`. */
#include "snn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                                                      \
    do {                                                                               \
        fprintf(stderr, "host.c:%d: ", __LINE__);                                      \
        fprintf(stderr, __VA_ARGS__);                                                  \
        fputc('\n', stderr);                                                           \
        exit(1);                                                                       \
    } while (0)
#define EXPECT(call, want)                                                             \
    do {                                                                               \
        snn_status_t got_ = (call);                                                    \
        if (got_ != (want))                                                            \
            FAIL("%s returned %d (%s), expected %d (%s)", #call, (int)got_,            \
                 snn_status_message(got_), (int)(want), snn_status_message(want));     \
    } while (0)
#define OK(call) EXPECT(call, SNN_OK)
#define CONTAINS(text, part)                                                           \
    do {                                                                               \
        if (!strstr((text), (part)))                                                   \
            FAIL("\"%s\" does not contain \"%s\"", (text), (part));                    \
    } while (0)

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) FAIL("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) FAIL("cannot read %s", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static uint32_t u32_at(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void print_result(char way, const snn_engine_t *e, const snn_requirements_t *r) {
    uint16_t counts[1024];
    uint32_t totals[16];
    snn_stats_t st;
    uint16_t cls;
    if (r->output_neurons > 1024 || r->layers > 16) FAIL("model too large for this test");
    OK(snn_output_counts(e, counts, 1024));
    OK(snn_layer_spike_totals(e, totals, 16));
    OK(snn_stats(e, &st));
    OK(snn_predicted_class(e, &cls));
    if (st.steps != r->time_steps) FAIL("%c: %u steps run, model has %u", way, st.steps, r->time_steps);
    printf("%c", way);
    for (unsigned i = 0; i < r->output_neurons; i++) printf(" %u", counts[i]);
    printf(" ;");
    for (unsigned l = 0; l < r->layers; l++) printf(" %u", totals[l]);
    printf(" ; %llu ; %u ;", (unsigned long long)st.synaptic_events, cls);
    for (uint16_t l = 0; l < r->layers; l++) {
        bool ok;
        OK(snn_budget_ok(e, l, &ok));
        printf(" %d", ok ? 1 : 0);
    }
    printf("\n");
}

/* Every refusal the C entry points promise, on the real model bytes. */
static void error_paths(const uint8_t *bytes, size_t len, const snn_requirements_t *r) {
    char text[160];
    snn_model_t m, moved, zeroed;
    snn_engine_t e;
    memset(&zeroed, 0, sizeof zeroed);
    uint8_t *copy = malloc(len);
    memcpy(copy, bytes, len);

    EXPECT(snn_model_open(NULL, bytes, len), SNN_ERR_NULL);
    EXPECT(snn_model_open(&m, NULL, len), SNN_ERR_NULL);
    EXPECT(snn_model_open(&m, bytes, 5), SNN_ERR_MODEL_TOO_SHORT);
    snn_model_error_text(&m, text, sizeof text);
    CONTAINS(text, "too short (5 bytes)");
    copy[0] ^= 0xFF;
    EXPECT(snn_model_open(&m, copy, len), SNN_ERR_BAD_MAGIC);
    copy[0] ^= 0xFF;
    copy[len / 2] ^= 0x01;
    EXPECT(snn_model_open(&m, copy, len), SNN_ERR_CRC_MISMATCH);
    snn_model_error_text(&m, text, sizeof text);
    CONTAINS(text, "CRC-32");
    copy[len / 2] ^= 0x01;
    /* A failed model, a zeroed handle and a moved handle are all "not open". */
    EXPECT(snn_model_requirements(&m, &(snn_requirements_t){0}), SNN_ERR_NOT_OPEN);
    EXPECT(snn_model_requirements(&zeroed, &(snn_requirements_t){0}), SNN_ERR_NOT_OPEN);
    OK(snn_model_open(&m, bytes, len));
    snn_model_error_text(&m, text, sizeof text);
    CONTAINS(text, "no error");
    memcpy(&moved, &m, sizeof m);
    EXPECT(snn_model_requirements(&moved, &(snn_requirements_t){0}), SNN_ERR_NOT_OPEN);
    EXPECT(snn_model_requirements(&m, NULL), SNN_ERR_NULL);
    char small[2];
    EXPECT(snn_model_name(&m, small, sizeof small), SNN_ERR_BUFFER_TOO_SMALL);

    /* Engine RAM: NULL, misaligned, too small; engine on a model that is not open. */
    uint32_t *ram = malloc(r->ram_bytes + 8);
    EXPECT(snn_engine_open(&e, &m, NULL, r->ram_bytes), SNN_ERR_NULL);
    EXPECT(snn_engine_open(&e, &m, (uint8_t *)ram + 2, r->ram_bytes), SNN_ERR_MISALIGNED);
    EXPECT(snn_engine_open(&e, &m, ram, r->ram_bytes - 1), SNN_ERR_RAM_TOO_SMALL);
    snn_engine_error_text(&e, text, sizeof text);
    CONTAINS(text, "smaller than the model's ram_bytes");
    EXPECT(snn_engine_reset(&e), SNN_ERR_NOT_OPEN);
    EXPECT(snn_engine_open(&e, &zeroed, ram, r->ram_bytes), SNN_ERR_NOT_OPEN);

    /* Bad inputs on an open engine: each a status and a detailed text. */
    OK(snn_engine_open(&e, &m, ram, r->ram_bytes));
    uint16_t bad = r->input_size;
    EXPECT(snn_step(&e, &bad, 1), SNN_ERR_INPUT_INDEX);
    snn_engine_error_text(&e, text, sizeof text);
    CONTAINS(text, "out of range");
    EXPECT(snn_step(&e, NULL, 3), SNN_ERR_NULL);
    uint8_t features[4] = {0};
    EXPECT(snn_run_features(&e, features, 3, 0), SNN_ERR_INPUT_LENGTH);
    snn_engine_error_text(&e, text, sizeof text);
    CONTAINS(text, "got 3");
    snn_event_t ev[2] = {{1, 0}, {0, 0}};
    EXPECT(snn_run_events(&e, ev, 2), SNN_ERR_EVENT_ORDER);
    snn_engine_error_text(&e, text, sizeof text);
    CONTAINS(text, "event 1: t = 0");
    ev[0].t = r->time_steps;
    EXPECT(snn_run_events(&e, ev, 1), SNN_ERR_EVENT_ORDER);
    ev[0].t = 0;
    ev[0].index = r->input_size;
    EXPECT(snn_run_events(&e, ev, 1), SNN_ERR_INPUT_INDEX);
    const uint16_t *sp;
    size_t ns;
    EXPECT(snn_step_spikes(&e, r->layers, &sp, &ns), SNN_ERR_LAYER_INDEX);
    EXPECT(snn_step_spikes(&e, 0, NULL, &ns), SNN_ERR_NULL);
    bool ok;
    EXPECT(snn_budget_ok(&e, r->layers, &ok), SNN_ERR_LAYER_INDEX);
    uint16_t counts[1];
    if (r->output_neurons > 1) EXPECT(snn_output_counts(&e, counts, 1), SNN_ERR_BUFFER_TOO_SMALL);
    uint32_t totals[1];
    if (r->layers > 1) EXPECT(snn_layer_spike_totals(&e, totals, 1), SNN_ERR_BUFFER_TOO_SMALL);
    /* The models this program runs end in spiking layers: they have no readout values. */
    int32_t readout[32];
    EXPECT(snn_readout(&e, readout, 32), SNN_ERR_NO_READOUT);
    EXPECT(snn_readout(NULL, readout, 32), SNN_ERR_NULL);
    OK(snn_engine_reset(&e));
    for (unsigned t = 0; t < r->time_steps; t++) OK(snn_step(&e, NULL, 0));
    EXPECT(snn_step(&e, NULL, 0), SNN_ERR_TOO_MANY_STEPS);

    /* Re-opening the model on other bytes invalidates the engine. */
    OK(snn_model_open(&m, copy, len));
    EXPECT(snn_engine_reset(&e), SNN_ERR_MODEL_CHANGED);
    EXPECT(snn_stats(&e, &(snn_stats_t){0}), SNN_ERR_MODEL_CHANGED);

    /* Real-valued steps on a model that takes features or spikes: refused by kind. */
    uint16_t channels = 1;
    OK(snn_model_open(&m, bytes, len));
    OK(snn_engine_open(&e, &m, ram, r->ram_bytes));
    OK(snn_model_channels(&m, &channels));
    if (channels != 0) FAIL("a features model has %u channels", channels);
    float values[2] = {0.5f, 1.0f};
    int16_t raw[2] = {1, 2};
    EXPECT(snn_step_values(&e, values, 2), SNN_ERR_INPUT_KIND);
    snn_engine_error_text(&e, text, sizeof text);
    CONTAINS(text, "not real-valued channels");
    EXPECT(snn_step_raw(&e, raw, 2, 0), SNN_ERR_INPUT_KIND);

    if (strcmp(snn_status_message(-7), "unknown status code") != 0) FAIL("unknown code message");
    if (strcmp(snn_status_message(SNN_OK), "ok") != 0) FAIL("SNN_OK message");
    free(ram);
    free(copy);
}

static int32_t i32_at(const uint8_t *p) { return (int32_t)u32_at(p); }

/* FNV-1a over 32-bit words: the fingerprint of every step's output spikes and decisions. */
static uint32_t mix(uint32_t h, uint32_t x) { return (h ^ x) * 16777619u; }

/* The refusals of the stream entry points on a continuous-encoding model. */
static void stream_error_paths(snn_engine_t *e, const snn_requirements_t *r, uint16_t channels) {
    char text[160];
    int16_t raw[64] = {0};
    float values[64] = {0};
    if (channels + 1 > 64) FAIL("too many channels for this test");
    EXPECT(snn_step_raw(e, raw, channels + 1u, 0), SNN_ERR_INPUT_LENGTH);
    snn_engine_error_text(e, text, sizeof text);
    CONTAINS(text, "got");
    EXPECT(snn_step_values(e, values, channels - 1u), SNN_ERR_INPUT_LENGTH);
    EXPECT(snn_step_raw(e, NULL, channels, 0), SNN_ERR_NULL);
    EXPECT(snn_step_values(e, NULL, channels), SNN_ERR_NULL);
    EXPECT(snn_step_raw(e, raw, channels, 61), SNN_ERR_RAW_EXPONENT);
    EXPECT(snn_step_raw(e, raw, channels, -61), SNN_ERR_RAW_EXPONENT);
    /* The step limit: time_steps steps after a reset, unless turned off. */
    OK(snn_engine_set_step_limit(e, true));
    OK(snn_engine_reset(e));
    for (unsigned t = 0; t < r->time_steps; t++) OK(snn_step_raw(e, raw, channels, -4));
    EXPECT(snn_step_raw(e, raw, channels, -4), SNN_ERR_TOO_MANY_STEPS);
    OK(snn_engine_set_step_limit(e, false));
    OK(snn_step_raw(e, raw, channels, -4));
    /* Decision rules: bad parameters, short or misaligned RAM, a handle never opened. */
    snn_decision_t d;
    snn_verdict_t v;
    uint32_t ram[64];
    size_t need = 0;
    memset(&d, 0, sizeof d);
    EXPECT(snn_decision_push(&d, &v), SNN_ERR_NOT_OPEN);
    snn_status_t s = snn_decision_ram_bytes(e, 10, &need);
    if (s == SNN_ERR_READOUT_RULE) {
        EXPECT(snn_window_open(&d, e, 10, ram, sizeof ram), SNN_ERR_READOUT_RULE);
        EXPECT(snn_threshold_open(&d, e, 4, ram, sizeof ram), SNN_ERR_READOUT_RULE);
        OK(snn_engine_reset(e));
        return;
    }
    OK(s);
    if (need != 4u * r->num_classes + 20u * r->num_classes) FAIL("window RAM %zu bytes", need);
    if (need > sizeof ram) FAIL("too many classes for this test");
    EXPECT(snn_window_open(&d, e, 0, ram, sizeof ram), SNN_ERR_DECISION_PARAM);
    EXPECT(snn_threshold_open(&d, e, 0, ram, sizeof ram), SNN_ERR_DECISION_PARAM);
    EXPECT(snn_window_open(&d, e, 10, ram, need - 1), SNN_ERR_RAM_TOO_SMALL);
    EXPECT(snn_window_open(&d, e, 10, (uint8_t *)ram + 2, need), SNN_ERR_MISALIGNED);
    EXPECT(snn_window_open(&d, NULL, 10, ram, need), SNN_ERR_NULL);
    OK(snn_window_open(&d, e, 10, ram, need));
    EXPECT(snn_decision_push(&d, NULL), SNN_ERR_NULL);
    uint32_t one[1];
    EXPECT(snn_decision_counts(&d, one, 1), SNN_ERR_BUFFER_TOO_SMALL);
    OK(snn_engine_reset(e));
}

/* Streams every series of SERIES.bin through snn_step_raw from rest, with the sliding-window
 * and first-to-threshold rules of the C API (a readout model: its running readout values), and
 * prints per series `R counts... ; synaptic events ; class ; window decision (class + 1, 0:
 * none) ; threshold class and step (0 0: none) ; fingerprint ; readout values or -`. The
 * fingerprint mixes, step by step, the output spikes, the window code, the threshold step and
 * the readout values. */
static int stream_series(const char *model_path, const char *series_path) {
    size_t len, slen;
    uint8_t *bytes = read_file(model_path, &len);
    uint8_t *data = read_file(series_path, &slen);
    static snn_model_t model;
    static snn_engine_t engine;
    static snn_decision_t window, first;
    snn_requirements_t req;
    uint16_t channels = 0;
    OK(snn_model_open(&model, bytes, len));
    OK(snn_model_requirements(&model, &req));
    OK(snn_model_channels(&model, &channels));
    if (slen < 20) FAIL("series file too short");
    uint32_t n = u32_at(data), ch = u32_at(data + 4), w = u32_at(data + 12), thr = u32_at(data + 16);
    int8_t exp = (int8_t)i32_at(data + 8);
    if (ch != channels) FAIL("series have %u channels, model %u", ch, channels);
    void *ram = malloc(req.ram_bytes);
    OK(snn_engine_open(&engine, &model, ram, req.ram_bytes));
    stream_error_paths(&engine, &req, channels);
    OK(snn_engine_set_step_limit(&engine, false));
    size_t wbytes = 0, tbytes = 0;
    bool rules = snn_decision_ram_bytes(&engine, (uint16_t)w, &wbytes) == SNN_OK;
    void *wram = NULL, *tram = NULL;
    if (rules) {
        OK(snn_decision_ram_bytes(&engine, 0, &tbytes));
        wram = malloc(wbytes);
        tram = malloc(tbytes);
        OK(snn_window_open(&window, &engine, (uint16_t)w, wram, wbytes));
        OK(snn_threshold_open(&first, &engine, thr, tram, tbytes));
    }
    const uint8_t *p = data + 20, *end = data + slen;
    int16_t *frame = malloc(sizeof(int16_t) * ch);
    int32_t readout[256];
    uint16_t counts[1024];
    if (req.output_neurons > 256) FAIL("model too large for this test");
    for (uint32_t s = 0; s < n; s++) {
        if (end - p < 4) FAIL("series %u truncated", s);
        uint32_t steps = u32_at(p);
        p += 4;
        if ((size_t)(end - p) < 2 * (size_t)steps * ch) FAIL("series %u truncated", s);
        OK(snn_engine_reset(&engine));
        if (rules) {
            OK(snn_decision_reset(&window));
            OK(snn_decision_reset(&first));
        }
        uint32_t h = 2166136261u;
        snn_verdict_t vw = {0}, vf = {0};
        for (uint32_t t = 0; t < steps; t++, p += 2 * ch) {
            for (uint32_t c = 0; c < ch; c++) frame[c] = (int16_t)(p[2 * c] | p[2 * c + 1] << 8);
            OK(snn_step_raw(&engine, frame, ch, exp));
            const uint16_t *spikes;
            size_t count;
            OK(snn_step_spikes(&engine, (uint16_t)(req.layers - 1), &spikes, &count));
            for (size_t j = 0; j < count; j++) h = mix(h, spikes[j]);
            h = mix(h, 0xFFFFu);
            if (rules) {
                OK(snn_decision_push(&window, &vw));
                OK(snn_decision_push(&first, &vf));
                h = mix(h, vw.decided ? vw.class_index + 1u : 0u);
                h = mix(h, vf.decided_at);
            } else {
                OK(snn_readout(&engine, readout, 256));
                for (unsigned j = 0; j < req.output_neurons; j++) h = mix(h, (uint32_t)readout[j]);
            }
        }
        snn_stats_t st;
        uint16_t cls;
        OK(snn_output_counts(&engine, counts, 1024));
        OK(snn_stats(&engine, &st));
        OK(snn_predicted_class(&engine, &cls));
        printf("R");
        for (unsigned j = 0; j < req.output_neurons; j++) printf(" %u", counts[j]);
        printf(" ; %llu ; %u ; ", (unsigned long long)st.synaptic_events, cls);
        if (rules) {
            printf("%u ; %u %u ; %u ; -\n", vw.decided ? vw.class_index + 1u : 0u,
                   vf.decided ? vf.class_index : 0u, vf.decided_at, h);
        } else {
            printf("- ; - ; %u ;", h);
            for (unsigned j = 0; j < req.output_neurons; j++) printf(" %d", readout[j]);
            printf("\n");
        }
    }
    fprintf(stderr, "host.c: %u series streamed, stream error paths checked\n", n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--series") == 0) return stream_series(argv[2], argv[3]);
    if (argc != 3) FAIL("usage: host MODEL.snn SAMPLES.bin | host --series MODEL.snn SERIES.bin");
    if (snn_abi_version() != SNN_ABI_VERSION) FAIL("library ABI %u, header %u", snn_abi_version(), SNN_ABI_VERSION);
    size_t len, slen;
    uint8_t *bytes = read_file(argv[1], &len);
    uint8_t *samples = read_file(argv[2], &slen);

    /* The ten-line integration of C_API.md. */
    static snn_model_t model;
    static snn_engine_t engine;
    snn_requirements_t req;
    OK(snn_model_open(&model, bytes, len));
    OK(snn_model_requirements(&model, &req));
    void *ram = malloc(req.ram_bytes);
    OK(snn_engine_open(&engine, &model, ram, req.ram_bytes));

    char name[80];
    OK(snn_model_name(&model, name, sizeof name));
    fprintf(stderr, "host.c: model `%s`: %zu bytes, %zu bytes of RAM, %u inputs, %u steps, %u outputs, %u layers\n",
            name, req.model_bytes, req.ram_bytes, req.input_size, req.time_steps, req.output_neurons, req.layers);
    error_paths(bytes, len, &req);

    if (slen < 8) FAIL("samples file too short");
    uint32_t n = u32_at(samples), input = u32_at(samples + 4);
    if (input != req.input_size) FAIL("samples have %u inputs, model %u", input, req.input_size);
    const uint8_t *p = samples + 8, *end = samples + slen;
    uint16_t *step_in = malloc(sizeof(uint16_t) * (input + 1));
    uint32_t *mine = calloc(req.output_neurons + 1, sizeof(uint32_t));
    for (uint32_t s = 0; s < n; s++) {
        if (end - p < 8 + (long)input) FAIL("samples file truncated at sample %u", s);
        uint32_t seed = u32_at(p);
        const uint8_t *features = p + 4;
        uint32_t ne = u32_at(p + 4 + input);
        p += 8 + input;
        if ((size_t)(end - p) < 4 * (size_t)ne) FAIL("events of sample %u truncated", s);
        snn_event_t *ev = malloc(sizeof(snn_event_t) * (ne + 1));
        for (uint32_t i = 0; i < ne; i++) {
            ev[i].t = (uint16_t)(p[4 * i] | p[4 * i + 1] << 8);
            ev[i].index = (uint16_t)(p[4 * i + 2] | p[4 * i + 3] << 8);
        }
        p += 4 * (size_t)ne;

        OK(snn_run_features(&engine, features, input, seed));
        print_result('F', &engine, &req);
        OK(snn_run_events(&engine, ev, ne));
        print_result('E', &engine, &req);

        /* Streamed: one step at a time, summing the output layer's spikes of each step. */
        OK(snn_engine_reset(&engine));
        memset(mine, 0, sizeof(uint32_t) * req.output_neurons);
        uint32_t i = 0;
        for (uint16_t t = 0; t < req.time_steps; t++) {
            size_t k = 0;
            while (i < ne && ev[i].t == t) step_in[k++] = ev[i++].index;
            OK(snn_step(&engine, step_in, k));
            const uint16_t *spikes;
            size_t count;
            OK(snn_step_spikes(&engine, (uint16_t)(req.layers - 1), &spikes, &count));
            for (size_t j = 0; j < count; j++) mine[spikes[j]]++;
        }
        uint16_t counts[1024];
        OK(snn_output_counts(&engine, counts, 1024));
        for (unsigned j = 0; j < req.output_neurons; j++)
            if (counts[j] != mine[j]) FAIL("sample %u: output %u counted %u, step spikes say %u", s, j, counts[j], mine[j]);
        print_result('S', &engine, &req);
        free(ev);
    }
    fprintf(stderr, "host.c: %u samples, error paths checked\n", n);
    return 0;
}
