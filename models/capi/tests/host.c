/* Host C program of `cargo xtask capi`: runs a model through libsnn_capi.a the three ways the
 * C API offers (features, events, streamed steps), prints every count for xtask to compare with
 * the Rust engine, and checks the error paths of the C entry points.
 *
 *   host MODEL.snn SAMPLES.bin
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

    if (strcmp(snn_status_message(-7), "unknown status code") != 0) FAIL("unknown code message");
    if (strcmp(snn_status_message(SNN_OK), "ok") != 0) FAIL("SNN_OK message");
    free(ram);
    free(copy);
}

int main(int argc, char **argv) {
    if (argc != 3) FAIL("usage: host MODEL.snn SAMPLES.bin");
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
