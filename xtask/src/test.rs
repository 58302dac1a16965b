//! `cargo xtask test`: every test, in the order that fails fastest.
use crate::firmware::{build, Board};
use crate::setup::{cargo, ensure_component, ensure_qemu, run as sh};
use anyhow::Result;

/// Samples streamed through the emulated board by the hardware-in-the-loop step.
const HIL_SAMPLES: usize = 300;
/// Samples of the short noisy-link run (the 1,000-sample run is `cargo xtask hil --noise 1e-3
/// --samples 1000`, BENCHMARKS.md).
const NOISY_SAMPLES: usize = 200;

/// Checks that the demo and the tests compile candle with the same features, runs formatting
/// and lint checks, every host test of the workspace, then builds the firmware for every board,
/// runs the hardware-in-the-loop comparison, the C API checks (`capi.rs`) and the link
/// robustness test on the emulated board.
pub fn run(_args: &[String]) -> Result<()> {
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
    crate::setup::ensure_target(crate::setup::FW_TARGET)?;
    let fw = crate::setup::root().join("firmware");
    sh(cargo().current_dir(&fw).args(["fmt", "--check"]))?;
    for board in Board::ALL {
        let mut c = cargo();
        c.current_dir(&fw)
            .args(["clippy", "--release", "--target-dir"])
            .arg(fw.join("target").join(board.name()));
        if board != Board::Mps2An386 {
            c.args(["--no-default-features", "--features"])
                .arg(format!("board-{}", board.name()));
        }
        sh(c.args(["--", "-D", "warnings"]).env_remove("SNN_FW_MODEL"))?;
        build(board, None)?;
    }
    ensure_qemu()?;
    println!(
        "xtask test: hil on the emulated board, exported zoo digits model, {HIL_SAMPLES} samples"
    );
    let model = std::fs::read(crate::hil::zoo_model())?;
    let rep = crate::hil::on_qemu(&model, HIL_SAMPLES)?;
    crate::hil::judge(&rep)?;
    // The trained model must also be a good classifier on the board, not just equal to the host.
    let acc = rep.correct as f64 / rep.samples.max(1) as f64;
    anyhow::ensure!(
        acc >= 0.9,
        "zoo digits model: board accuracy {acc:.3} is below 0.9"
    );
    println!("xtask test: hil, seeded random 64-128-10 model (every layer spiking), {HIL_SAMPLES} samples");
    let model = std::fs::read(crate::hil::synthetic_model(128)?)?;
    let rep = crate::hil::on_qemu(&model, HIL_SAMPLES)?;
    crate::hil::judge(&rep)?;
    println!("xtask test: hil, sparse/recurrent/bias/4-bit model, {HIL_SAMPLES} samples");
    let model = std::fs::read(crate::hil::synthetic_rich_model()?)?;
    let rep = crate::hil::on_qemu(&model, HIL_SAMPLES)?;
    crate::hil::judge(&rep)?;
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
    crate::hil::noisy(&model, NOISY_SAMPLES, snn_hal::noise::Noise::rate(1e-3, 1))?;
    println!("xtask test: firmware built with the test public key (signed models only)");
    let signed = crate::field::signed_elf()?;
    let plain = build(Board::Mps2An386, None)?;
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
    crate::field::overflow_check()?;
    println!("xtask test: all passed");
    Ok(())
}
