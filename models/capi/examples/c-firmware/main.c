/* C firmware example: the zoo digits model in flash, classified through libsnn_capi.a.
 *
 * Boots on the Arm MPS2-AN386 (Cortex-M4F; QEMU `-M mps2-an386`), opens the model in place
 * from flash, runs every test sample in flash and prints one line per sample on UART0:
 * `F counts... ; layer totals... ; synaptic events ; class ; budget verdicts...`, which
 * `cargo xtask capi` compares with the host Rust engine. Exits QEMU through semihosting.
 * The same source builds for Cortex-M0 (thumbv6m library); see C_API.md. */
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
