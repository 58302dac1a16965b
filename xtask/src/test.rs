//! `cargo xtask test`: every test, in the order that fails fastest.
use crate::firmware::{build, build_variant, Board, Variant};
use crate::setup::{cargo, ensure_component, run as sh};
use anyhow::Result;

/// Samples streamed through the emulated board by the hardware-in-the-loop step.
const HIL_SAMPLES: usize = 300;
/// Samples of the short noisy-link run (the 1,000-sample run is `cargo xtask hil --noise 1e-3
/// --samples 1000`, BENCHMARKS.md).
const NOISY_SAMPLES: usize = 200;

/// Checks that the demo and the tests compile candle with the same features, runs formatting
/// and lint checks, every host test of the workspace, then builds the firmware for every board,
/// runs the hardware-in-the-loop comparison of the zoo model on every emulated core, profiles
/// one of its inferences on each (`profile.rs`), the
/// synthetic models, the streams of the zoo series models and the SHD-sized event stream, the
/// dense int8 baseline bit-exact on every emulated core, the
/// C API checks (`capi.rs`), the link robustness test and the field checks
/// on the emulated Cortex-M4.
pub fn run(_args: &[String]) -> Result<()> {
    crate::setup::report_free_disk(crate::setup::TEST_DISK_GIB);
    ensure_component("rustfmt", &["fmt", "--version"])?;
    ensure_component("clippy", &["clippy", "--version"])?;
    println!("xtask test: one feature set for candle (demo build == test build)");
    crate::features::check()?;
    println!("xtask test: cargo fmt --all --check");
    sh(cargo().args(["fmt", "--all", "--check"]))?;
    println!("xtask test: cargo clippy --workspace --all-targets -- -D warnings");
    sh(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    println!("xtask test: cargo test --workspace");
    sh(cargo().args(["test", "--workspace"]))?;

    println!("xtask test: firmware for every board (fmt, clippy, release build)");
    let fw = crate::setup::root().join("firmware");
    sh(cargo().current_dir(&fw).args(["fmt", "--check"]))?;
    for board in Board::ALL {
        crate::setup::ensure_target(board.target())?;
        sh(cargo()
            .current_dir(&fw)
            .args(["clippy", "--release", "--target-dir"])
            .arg(crate::firmware::target_dir())
            .args(board.cargo_args())
            .args(["--", "-D", "warnings"])
            .env_remove("SNN_FW_MODEL"))?;
        build(board, None)?;
    }
    sensor_firmware(&fw)?;
    // The micro:bit's bench build (`cargo xtask bench-fw` streams the zoo series models on it):
    // linted here so it does not rot between benchmark runs.
    println!("xtask test: micro:bit sram-256k bench build (clippy)");
    sh(cargo()
        .current_dir(&fw)
        .args(["clippy", "--release", "--target-dir"])
        .arg(crate::firmware::target_dir())
        .args(Board::Microbit.cargo_args())
        .args(["--features", "sram-256k", "--", "-D", "warnings"])
        .env_remove("SNN_FW_MODEL"))?;
    // The trained model on every core: same counts as the host, and a good classifier.
    for board in Board::EMULATED {
        let t = std::time::Instant::now();
        println!(
            "xtask test: hil on the emulated {} ({}), exported zoo digits model, {HIL_SAMPLES} \
             samples",
            board.name(),
            board.core()
        );
        let model = std::fs::read(crate::hil::zoo_model())?;
        let rep = crate::hil::on_qemu(board, &model, HIL_SAMPLES)?;
        crate::hil::judge(&rep)?;
        let acc = rep.correct as f64 / rep.samples.max(1) as f64;
        anyhow::ensure!(
            acc >= 0.9,
            "zoo digits model on {}: board accuracy {acc:.3} is below 0.9",
            board.name()
        );
        println!(
            "xtask test: hil on {} took {:.1} s",
            board.name(),
            t.elapsed().as_secs_f64()
        );
    }
    // The profiler on every core: one zoo inference traced instruction by instruction, its
    // count equal to the board's own (within the counter's resolution).
    for board in Board::EMULATED {
        println!(
            "xtask test: profile of one zoo digits inference on {} (QEMU single-step trace)",
            board.name()
        );
        crate::profile::check(board)?;
    }
    // The dense int8 baseline on every core: every logit equal to the host reference (SMLAD
    // kernel on M4/M7/M33, portable elsewhere).
    for board in Board::EMULATED {
        let t = std::time::Instant::now();
        let r = crate::bench_dense::on_qemu(board, &crate::bench_dense::zoo_dense(), HIL_SAMPLES)?;
        println!(
            "xtask test: dense baseline on {} ({}): {} samples bit-exact, {:.0} instructions per \
             inference, {:.1} s",
            board.name(),
            board.core(),
            r.samples,
            r.instructions,
            t.elapsed().as_secs_f64()
        );
    }
    // The synthetic models exercise every engine path; the Cortex-M4 runs them.
    let m4 = Board::Mps2An386;
    println!("xtask test: hil, seeded random 64-128-10 model (every layer spiking), {HIL_SAMPLES} samples");
    let model = std::fs::read(crate::hil::synthetic_model(128)?)?;
    let rep = crate::hil::on_qemu(m4, &model, HIL_SAMPLES)?;
    crate::hil::judge(&rep)?;
    println!("xtask test: hil, sparse/recurrent/bias/4-bit model, {HIL_SAMPLES} samples");
    let model = std::fs::read(crate::hil::synthetic_rich_model()?)?;
    let rep = crate::hil::on_qemu(m4, &model, HIL_SAMPLES)?;
    crate::hil::judge(&rep)?;
    // The DSP kernel's recurrent rows and both leak signs (the Cortex-M33 builds it apart).
    let model = std::fs::read(crate::hil::synthetic_recurrent_model()?)?;
    for board in [m4, Board::Mps2An505] {
        println!(
            "xtask test: hil on {}, dense recurrent model with bias, {HIL_SAMPLES} samples",
            board.name()
        );
        let rep = crate::hil::on_qemu(board, &model, HIL_SAMPLES)?;
        crate::hil::judge(&rep)?;
    }
    // Streams (issue 14): every test series of the zoo series models, compared step by step,
    // and the SHD-sized event stream, in one boot of the Cortex-M4.
    let t = std::time::Instant::now();
    println!(
        "xtask test: streams on the emulated {}: every test series of the zoo JapaneseVowels, \
         BasicMotions and BasicMotions-readout models (raw i16 samples encoded on the board), \
         then a {}-step SHD-sized event stream; every step's output spikes (and a readout \
         model's values after each series) against the host",
        m4.name(),
        crate::hil::SHD_STEPS
    );
    crate::hil::stream_suite(m4)?;
    println!(
        "xtask test: streams took {:.1} s",
        t.elapsed().as_secs_f64()
    );
    println!(
        "xtask test: NIR fixtures of snnTorch, Norse, sinabs and nir imported, exported and run on the \
         emulated Cortex-M4 with the tools' own input spikes"
    );
    crate::nir::run_all()?;
    println!(
        "xtask test: C API (header, host C program, C firmware under QEMU), {} samples",
        crate::capi::SAMPLES
    );
    crate::capi::run_all(crate::capi::SAMPLES)?;
    println!(
        "xtask test: hil through the fault-injection proxy, bit-error rate 1e-3, \
         {NOISY_SAMPLES} samples"
    );
    let model = std::fs::read(crate::hil::zoo_model())?;
    crate::hil::noisy(
        m4,
        &model,
        NOISY_SAMPLES,
        snn_hal::noise::Noise::rate(1e-3, 1),
    )?;
    println!("xtask test: firmware built with the test public key (signed models only)");
    let signed = crate::field::signed_elf()?;
    let plain = build(m4, None)?;
    println!(
        "xtask test: link robustness, reset, slots and signatures against the firmware under QEMU"
    );
    sh(cargo()
        .args([
            "test",
            "-p",
            "snn-tests",
            "--test",
            "firmware_qemu",
            "--",
            "--ignored",
        ])
        .env("SNN_FW_ELF", plain)
        .env("SNN_FW_SIGNED_ELF", signed))?;
    println!("xtask test: a stack overflow faults on the guard");
    // The ARMv7-M guard (M4) and the ARMv8-M one (M33).
    crate::field::overflow_check(m4)?;
    crate::field::overflow_check(Board::Mps2An505)?;
    println!("xtask test: all passed");
    Ok(())
}

/// The sensor firmware (feature `imu`: the Nucleo-F446RE reading the X-NUCLEO-IKS01A3's LSM6DSO)
/// with the zoo BasicMotions model built in: clippy and a release build (no board here to run
/// it; `hal/tests/sensor_stream.rs` runs its code path on the host with a scripted I2C bus).
fn sensor_firmware(fw: &std::path::Path) -> Result<()> {
    let t = std::time::Instant::now();
    let board = Board::NucleoF446re;
    println!("xtask test: sensor firmware (nucleo-f446re + LSM6DSO, zoo BasicMotions model; built, not run)");
    sh(cargo()
        .current_dir(fw)
        .args(["clippy", "--release", "--target-dir"])
        .arg(crate::firmware::target_dir())
        .args(board.cargo_args())
        .args(["--features", "imu", "--", "-D", "warnings"])
        .env_remove("SNN_FW_MODEL"))?;
    let model = crate::setup::root().join("models/zoo/basic_motions.snn");
    let v = Variant {
        imu: true,
        ..Variant::default()
    };
    let elf = build_variant(board, Some(&model), &v)?;
    let (flash, ram) = crate::elf::flash_ram(&std::fs::read(&elf)?)?;
    println!(
        "xtask test: sensor firmware {} ({flash} bytes flash, {ram} bytes static RAM) took {:.1} s",
        elf.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
