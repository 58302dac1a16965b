/* C firmware example: the zoo digits model in flash, classified through libsnn_capi.a.
 *
 * Boots on the Arm MPS2-AN386 (Cortex-M4F; QEMU `-M mps2-an386`), opens the model in place
 * from flash, runs every test sample in flash and prints one line per sample on UART0:
 * `F counts... ; layer totals... ; synaptic events ; class ; budget verdicts...`, which
 * `cargo xtask capi` compares with the host Rust engine. Exits QEMU through semihosting.
 * The same source builds for Cortex-M0 (thumbv6m library); see C_API.md.
 *
 * Built with -DSERIES it is a streaming sensor firmware instead: the samples blob holds time
 * series as raw int16 readings (an IMU's, for the zoo BasicMotions model), streamed step by
 * step through snn_step_raw with a sliding-window and a first-to-threshold decision (or, for a
 * readout model, its running readout values); one `R` line per series (stream_series). */
#include "board.h"
#include "snn.h"

/* Linked in by blobs.S: the model file and the samples (u32 count, u32 input_size, then per
 * sample u32 seed and input_size feature bytes). */
extern const uint8_t snn_model_start[], snn_model_end[];
extern const uint8_t samples_start[], samples_end[];

/* All state of the engine: ram_bytes of the model, checked at start-up. */
static uint32_t engine_ram[2048];
static snn_model_t model;
static snn_engine_t engine;

static uint32_t u32_at(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check(snn_status_t s, const char *what) {
    if (s == SNN_OK) return;
    char text[120];
    uart_puts("# error: ");
    uart_puts(what);
    uart_puts(": ");
    uart_puts(snn_status_message(s));
    uart_puts(" (");
    snn_engine_error_text(&engine, text, sizeof text);
    uart_puts(text);
    uart_puts(")\n");
    board_exit(1);
}

#ifdef SERIES
static snn_decision_t window, first;
static uint32_t window_ram[256], first_ram[64];

/* FNV-1a over 32-bit words: the fingerprint of every step's output spikes and decisions. */
static uint32_t mix(uint32_t h, uint32_t x) { return (h ^ x) * 16777619u; }

static void uart_puti(int32_t v) {
    if (v < 0) {
        uart_puts("-");
        uart_putu((uint32_t)0 - (uint32_t)v);
    } else {
        uart_putu((uint32_t)v);
    }
}

/* The samples blob: u32 series, u32 channels, i32 exp, u32 window, u32 threshold, then per
 * series u32 steps and steps * channels int16 readings (x = raw * 2^exp). Prints per series
 * `R counts... ; synaptic events ; class ; window decision (class + 1, 0: none) ; threshold
 * class and step ; fingerprint ; readout values or -`, as tests/host.c does. */
static void stream_series(const snn_requirements_t *req) {
    uint16_t channels = 0;
    check(snn_model_channels(&model, &channels), "channels");
    uint32_t n = u32_at(samples_start), ch = u32_at(samples_start + 4);
    int8_t exp = (int8_t)u32_at(samples_start + 8);
    uint32_t w = u32_at(samples_start + 12), thr = u32_at(samples_start + 16);
    if (ch != channels || ch > 32 || req->output_neurons > 64) {
        uart_puts("# error: series do not fit the model\n");
        board_exit(1);
    }
    check(snn_engine_set_step_limit(&engine, false), "step limit");
    /* A readout model decides on its readout values: no spike-count rules. */
    size_t wbytes = 0, tbytes = 0;
    bool rules = snn_decision_ram_bytes(&engine, (uint16_t)w, &wbytes) == SNN_OK;
    if (rules) {
        check(snn_decision_ram_bytes(&engine, 0, &tbytes), "rule RAM");
        check(snn_window_open(&window, &engine, (uint16_t)w, window_ram, sizeof window_ram), "window");
        check(snn_threshold_open(&first, &engine, thr, first_ram, sizeof first_ram), "threshold");
    }
    const uint8_t *p = samples_start + 20;
    int16_t frame[32];
    int32_t readout[64];
    for (uint32_t s = 0; s < n; s++) {
        uint32_t steps = u32_at(p);
        p += 4;
        if ((size_t)(samples_end - p) < 2 * (size_t)steps * ch) {
            uart_puts("# error: series truncated\n");
            board_exit(1);
        }
        check(snn_engine_reset(&engine), "reset");
        if (rules) {
            check(snn_decision_reset(&window), "window reset");
            check(snn_decision_reset(&first), "threshold reset");
        }
        uint32_t h = 2166136261u;
        snn_verdict_t vw = {0}, vf = {0};
        for (uint32_t t = 0; t < steps; t++, p += 2 * ch) {
            /* A sensor driver would fill `frame` from its registers here. */
            for (uint32_t c = 0; c < ch; c++) frame[c] = (int16_t)(p[2 * c] | p[2 * c + 1] << 8);
            check(snn_step_raw(&engine, frame, ch, exp), "step");
            const uint16_t *spikes;
            size_t count;
            check(snn_step_spikes(&engine, (uint16_t)(req->layers - 1), &spikes, &count), "spikes");
            for (size_t j = 0; j < count; j++) h = mix(h, spikes[j]);
            h = mix(h, 0xFFFFu);
            if (rules) {
                check(snn_decision_push(&window, &vw), "window push");
                check(snn_decision_push(&first, &vf), "threshold push");
                h = mix(h, vw.decided ? vw.class_index + 1u : 0u);
                h = mix(h, vf.decided_at);
            } else {
                check(snn_readout(&engine, readout, 64), "readout");
                for (unsigned j = 0; j < req->output_neurons; j++) h = mix(h, (uint32_t)readout[j]);
            }
        }
        uint16_t counts[64];
        snn_stats_t st;
        uint16_t cls;
        check(snn_output_counts(&engine, counts, 64), "counts");
        check(snn_stats(&engine, &st), "stats");
        check(snn_predicted_class(&engine, &cls), "class");
        uart_puts("R");
        for (unsigned j = 0; j < req->output_neurons; j++) {
            uart_puts(" ");
            uart_putu(counts[j]);
        }
        uart_puts(" ; ");
        uart_putu64(st.synaptic_events);
        uart_puts(" ; ");
        uart_putu(cls);
        uart_puts(" ; ");
        if (rules) {
            uart_putu(vw.decided ? vw.class_index + 1u : 0u);
            uart_puts(" ; ");
            uart_putu(vf.decided ? vf.class_index : 0u);
            uart_puts(" ");
            uart_putu(vf.decided_at);
            uart_puts(" ; ");
            uart_putu(h);
            uart_puts(" ; -\n");
        } else {
            uart_puts("- ; - ; ");
            uart_putu(h);
            uart_puts(" ;");
            for (unsigned j = 0; j < req->output_neurons; j++) {
                uart_puts(" ");
                uart_puti(readout[j]);
            }
            uart_puts("\n");
        }
    }
    board_exit(0);
}
#endif

int main(void) {
    snn_requirements_t req;
    uart_init();
    if (snn_abi_version() != SNN_ABI_VERSION) {
        uart_puts("# error: libsnn_capi.a does not match snn.h\n");
        board_exit(1);
    }
    snn_status_t s = snn_model_open(&model, snn_model_start, (size_t)(snn_model_end - snn_model_start));
    if (s != SNN_OK) {
        char text[120];
        snn_model_error_text(&model, text, sizeof text);
        uart_puts("# error: model: ");
        uart_puts(text);
        uart_puts("\n");
        board_exit(1);
    }
    check(snn_model_requirements(&model, &req), "requirements");
    uart_puts("# model bytes ");
    uart_putu(req.model_bytes);
    uart_puts(", engine RAM bytes ");
    uart_putu(req.ram_bytes);
    uart_puts("\n");
    if (req.ram_bytes > sizeof engine_ram) {
        uart_puts("# error: engine_ram is too small for this model\n");
        board_exit(1);
    }
    check(snn_engine_open(&engine, &model, engine_ram, sizeof engine_ram), "engine");
#ifdef SERIES
    stream_series(&req);
#endif

    uint32_t n = u32_at(samples_start), input = u32_at(samples_start + 4);
    const uint8_t *p = samples_start + 8;
    if (input != req.input_size || (size_t)(samples_end - p) < n * (4 + (size_t)input)) {
        uart_puts("# error: samples do not fit the model\n");
        board_exit(1);
    }
    for (uint32_t i = 0; i < n; i++, p += 4 + input) {
        uint16_t counts[64];
        uint32_t totals[8];
        snn_stats_t st;
        uint16_t cls;
        check(snn_run_features(&engine, p + 4, input, u32_at(p)), "run");
        check(snn_output_counts(&engine, counts, 64), "counts");
        check(snn_layer_spike_totals(&engine, totals, 8), "totals");
        check(snn_stats(&engine, &st), "stats");
        check(snn_predicted_class(&engine, &cls), "class");
        uart_puts("F");
        for (unsigned j = 0; j < req.output_neurons; j++) {
            uart_puts(" ");
            uart_putu(counts[j]);
        }
        uart_puts(" ;");
        for (unsigned l = 0; l < req.layers; l++) {
            uart_puts(" ");
            uart_putu(totals[l]);
        }
        uart_puts(" ; ");
        uart_putu64(st.synaptic_events);
        uart_puts(" ; ");
        uart_putu(cls);
        uart_puts(" ;");
        for (uint16_t l = 0; l < req.layers; l++) {
            bool ok = false;
            check(snn_budget_ok(&engine, l, &ok), "budget");
            uart_puts(ok ? " 1" : " 0");
        }
        uart_puts("\n");
    }
    board_exit(0);
}
