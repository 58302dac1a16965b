//! `cargo xtask`: build, flash, emulate, test and benchmark the workspace.
//!
//! A plain binary that shells out to cargo, rustup, qemu and probe-rs, and says exactly what to
//! install when a tool is missing.
mod args;
mod bench_dense;
mod bench_fw;
mod bench_snntorch;
mod capi;
mod defmt_log;
mod demo;
mod digits;
mod elf;
mod features;
mod field;
mod firmware;
mod frontier;
mod hil;
mod nir;
mod profile;
mod series;
mod setup;
mod stream;
mod test;

use anyhow::{bail, Result};

const HELP: &str = "\
cargo xtask <command> [options]

Commands:
  demo [--epochs N] [--samples N]
                       train on the bundled digits data, quantise, export, run on the emulated
                       board and print host vs board results in one table (files: target/demo/)
  test                 every test: fmt, clippy, host tests, firmware build, hardware-in-the-loop
  build-fw [--board B] [--model FILE] [--pubkey FILE] [--sensor lsm6dso]
                       build the firmware; --model builds that model file into flash (loaded at
                       boot when no uploaded model is stored); --pubkey: accept only models
                       signed with that Ed25519 key (`snn keygen` writes it, `snn export --sign`
                       signs); --sensor lsm6dso (nucleo-f446re + X-NUCLEO-IKS01A3, needs
                       --model, e.g. models/zoo/basic_motions.snn): classify the shield's IMU at
                       10 Hz, decisions on the UART and LD2, instead of serving the link. Boards, emulated (one per core; B may also be the core name):
                       mps2-an386 (cortex-m4, default), mps2-an385 (cortex-m3), mps2-an500
                       (cortex-m7), mps2-an505 (cortex-m33), microbit (cortex-m0), virt-rv32
                       (rv32); real: nucleo-f446re, nrf52840-dk, rp-pico, esp32c3
  run-qemu [--board B] [--model FILE] [--seconds S]
                       build the firmware, boot it on an emulated board (default mps2-an386),
                       print its Info reply and its decoded defmt log
  flash --board B [--model FILE] [--sensor lsm6dso]
                       flash a real board with probe-rs (nucleo-f446re, nrf52840-dk, rp-pico,
                       esp32c3); --sensor as for build-fw
  hil [--board qemu|probe|B] [--model FILE | --hidden H | --synthetic rich|recurrent|shd] [--samples N]
      [--port DEV] [--chip-board B]
                       upload a model (default: the exported models/zoo/digits.snn; --hidden:
                       seeded random dense 64-H-10; rich: sparse, recurrent, bias, 4-bit,
                       2 neurons per class; recurrent: dense recurrent 64-100-10 with bias),
                       stream the last N
                       digits rows (default 300), compare every output count, layer count,
                       budget verdict, synaptic event count and class with the host engine;
                       qemu = the emulated --chip-board (default mps2-an386), probe = flash the
                       real --chip-board and talk over --port; a board or core name picks either;
                       --noise RATE [--seed S]: first a clean run, then the same samples
                       through a fault-injection proxy on the emulated UART (bit flips at
                       RATE per bit, drops, duplicates and truncations at RATE/8 per byte);
                       reports retries and throughput lost, fails on any wrong result
  size [--board B] [--model FILE] [--hidden H]
                       flash and RAM of the firmware, with and without the model built in,
                       and of the model
  bench [FILTER]       host training benchmarks (criterion: cargo bench -p snn-sdk --bench
                       train_step [-- FILTER]), e.g. `cargo xtask bench fused`
  bench-snntorch [--threads N] [--loop per-step|hoisted] [--only digits|shd|jv] [--epochs N]
                       the same two training steps in snnTorch 1.0 / torch 2.15 (installs them
                       into target/snntorch-venv on first use), for the side-by-side numbers;
                       --only jv: JapaneseVowels training epochs (beside the series_zoo example)
  bench-fw [--board B|all] [--samples N] [--json]
                       instructions per inference on every emulated core (or B) for hidden sizes
                       64, 128, 256, 512, split into per-synaptic-event, per-neuron-update and
                       fixed costs, the zoo model's cost, flash and RAM; --json ends with the
                       per-core table as one JSON line
  profile [--board B] [--model FILE] [--row R] [--top N] [--pcs FILE]
                       exact instructions per function of one inference (digits row R, default
                       1796; the zoo digits model by default) on an emulated board: QEMU
                       single-steps and logs every instruction of the Infer request; checked
                       against the board's own count; --pcs writes executions per address
  bench-dense [--board B|all] [--model FILE] [--samples N] [--json]
                       the dense int8 baseline (default models/zoo/digits.dense) on every
                       emulated core (or B): built into a bench firmware with the last N digits
                       rows (default 300), every sample's logits checked against the host
                       reference; instructions per inference, accuracy, flash and RAM
  frontier [--samples N]
                       accuracy vs instructions per inference on the emulated Cortex-M4:
                       spiking digits configurations (steps, rate/latency coding, hidden size,
                       rate budget) against dense int8 baselines (hidden 16..128); writes
                       target/frontier/frontier.json and docs/frontier.svg
  capi-header          regenerate models/capi/include/snn.h (the C API header) with cbindgen
  capi [--samples N]   the C API checks of `test`: header up to date, host C program (gcc) and
                       C firmware under QEMU (arm-none-eabi-gcc) vs the host engine (default
                       200 digits rows), libsnn_capi.a for thumbv7em, thumbv6m and the host
  field                the field checks alone: link, reset, flash slots and signatures on the
                       emulated Cortex-M4 (plain and signed firmware), stack-overflow fault
                       on the M4 and the M33
  nir                  the NIR fixtures of snnTorch, Norse, sinabs and nir (tests/nir/fixtures) imported,
                       exported and run on the emulated Cortex-M4 with the tools' own input
                       spikes: board == host engine, and within 20 % of the tools' output spikes
  soak [--count N] [--model FILE]
                       N inferences (default 100,000) on the emulated Cortex-M4 in one boot,
                       every result compared with the host; free RAM and the stack peak must
                       not move
  help                 this text
";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(cmd) = args.next() else {
        print!("{HELP}");
        return Ok(());
    };
    let rest: Vec<String> = args.collect();
    match cmd.as_str() {
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        "test" => test::run(&rest),
        "build-fw" => firmware::build_cmd(&rest),
        "size" => firmware::size_cmd(&rest),
        "flash" => firmware::flash_cmd(&rest),
        "run-qemu" => firmware::run_qemu_cmd(&rest),
        "hil" => hil::hil_cmd(&rest),
        "bench-fw" => bench_fw::run_cmd(&rest),
        "profile" => profile::run_cmd(&rest),
        "bench-dense" => bench_dense::run_cmd(&rest),
        "frontier" => frontier::run_cmd(&rest),
        "bench" => bench(&rest),
        "bench-snntorch" => bench_snntorch::run_cmd(&rest),
        "demo" => demo::run_cmd(&rest),
        "capi-header" => capi::write_header(),
        "capi" => capi::run_cmd(&rest),
        "soak" => field::soak_cmd(&rest),
        "nir" => nir::run_all(),
        "field" => field::check_cmd(&rest),
        other => bail!("unknown command `{other}`; run `cargo xtask help` for the list"),
    }
}

/// `cargo xtask bench [FILTER]`: the criterion training benchmarks (numbers go to BENCHMARKS.md).
fn bench(args: &[String]) -> Result<()> {
    let mut c = setup::cargo();
    c.args(["bench", "-p", "snn-sdk", "--bench", "train_step"]);
    if !args.is_empty() {
        c.arg("--").args(args);
    }
    setup::run(&mut c)
}
