//! Checks of a board in the field: the signed-firmware build, the stack-overflow fault, and the
//! long run (`cargo xtask soak`).
use crate::args::Opts;
use crate::firmware::{build, build_variant, scratch, Board, Variant};
use crate::setup::ensure_qemu;
use crate::{defmt_log, digits};
use anyhow::{bail, ensure, Context, Result};
use snn_hal::host::{digit_features, Qemu};
use snn_hal::protocol::Input;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Writes (atomically) the public key of the test signing seed as hex; returns its path.
pub fn test_pubkey() -> Result<PathBuf> {
    let pk = snn_models::signed::public_key(&snn_hal::synthetic::TEST_SIGNING_SEED);
    let hex: String = pk.iter().map(|b| format!("{b:02x}")).collect();
    let path = scratch()?.join("test-key.pub");
    let tmp = path.with_extension("pub.tmp");
    std::fs::write(&tmp, format!("{hex}\n")).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("rename to {}", path.display()))?;
    Ok(path)
}

/// Builds the emulated board's firmware with the test public key; returns the ELF.
pub fn signed_elf() -> Result<PathBuf> {
    let v = Variant {
        pubkey: Some(test_pubkey()?),
        ..Variant::default()
    };
    build_variant(Board::Mps2An386, None, &v)
}

/// Boots the `stack-overflow-test` firmware on the emulated `board` (an ARMv7-M or ARMv8-M one
/// with the `mpu-guard` feature), which recurses until the stack reaches its guard, and checks
/// that it stops with the overflow fault (QEMU exits with failure, the log says "stack
/// overflow") instead of running on through the statics.
pub fn overflow_check(board: Board) -> Result<()> {
    let machine = board.emulated()?;
    ensure_qemu(machine.program)?;
    let v = Variant {
        stack_overflow_test: true,
        ..Variant::default()
    };
    let elf = build_variant(board, None, &v)?;
    let dir = scratch()?;
    let log = dir.join(format!("overflow-{}.defmt", board.name()));
    // No host link: the firmware faults at boot, possibly before a client could connect to its
    // UART, so QEMU is started directly (UART socket unused) and only its exit is awaited.
    // (Unix socket paths are limited to about 100 bytes: a short one in the temp dir.)
    let socket = std::env::temp_dir().join(format!("snn-overflow-{}.sock", std::process::id()));
    let mut child = Qemu::command_on(&machine, &elf, &socket)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&log).context("create the overflow log")?)
        .spawn()
        .context("start qemu-system-arm")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the stack-overflow-test firmware did not stop within 60 s (no fault taken)");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_file(&socket);
    let lines = defmt_log::decode(&elf, &log)?;
    for l in &lines {
        println!("  [fw] {l}");
    }
    ensure!(
        !status.success(),
        "QEMU exited successfully; expected the fault exit"
    );
    ensure!(
        lines
            .iter()
            .any(|l| l.contains("stack overflow: hit the guard") && l.contains("statics intact")),
        "the firmware stopped ({status}) but did not report the stack overflow with the \
         statics intact"
    );
    ensure!(
        !lines.iter().any(|l| l.contains("panic")),
        "the firmware panicked instead of faulting on the guard"
    );
    println!(
        "xtask: stack overflow faults cleanly on the guard of the {} ({status})",
        board.name()
    );
    Ok(())
}

/// `cargo xtask soak [--count N] [--model FILE]`: N inferences (default 100,000) on the emulated
/// board in one boot, every result compared with the host engine; the stack peak must not grow
/// after warm-up and the board must not reset.
pub fn soak_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("soak", args, &["count", "model"])?;
    let count = o.num("count", 100_000usize)?;
    let model_path = o
        .get("model")
        .map_or_else(crate::hil::zoo_model, PathBuf::from);
    let model =
        std::fs::read(&model_path).with_context(|| format!("read {}", model_path.display()))?;
    ensure_qemu("qemu-system-arm")?;
    let elf = build(Board::Mps2An386, None)?;
    let log = scratch()?.join("soak.defmt");
    let (mut qemu, mut client) = Qemu::spawn(&elf, &log)?;
    client.timeout = Duration::from_secs(10);
    let loaded = client.load(&model).context("upload")?;
    let rows = digits::last(usize::MAX)?;
    let feats: Vec<(Vec<u8>, u32)> = rows
        .iter()
        .map(|s| (digit_features(&s.pixels), s.row))
        .collect();
    // Host results once per distinct sample (the sample seed is the row, so they repeat).
    let mut host = Vec::with_capacity(feats.len());
    for (f, seed) in &feats {
        host.push(crate::hil::host_infer(&model, f, *seed)?.counts);
    }
    let first = client.info()?;
    let start = Instant::now();
    let mut mismatches = 0usize;
    let mut warm = None;
    for i in 0..count {
        let k = i % feats.len();
        let (f, seed) = &feats[k];
        let r = client
            .infer(Input::Features(f), *seed)
            .with_context(|| format!("inference {i}"))?;
        if r.counts.as_slice() != host[k].as_slice() {
            mismatches += 1;
            println!("  MISMATCH inference {i} (row {seed})");
        }
        if i + 1 == 1000.min(count) {
            warm = Some(client.info()?);
        }
        if (i + 1) % 10_000 == 0 {
            println!(
                "xtask soak: {} inferences, {mismatches} mismatches, {:.0} s",
                i + 1,
                start.elapsed().as_secs_f64()
            );
        }
    }
    let last = client.info()?;
    let secs = start.elapsed().as_secs_f64();
    let warm = warm.unwrap_or_else(|| first.clone());
    println!(
        "xtask soak: `{}`: {count} inferences in one boot, {mismatches} mismatches, {secs:.0} s \
         ({:.0}/s); free RAM {} -> {} B, stack peak {} B after 1,000 -> {} B at the end (of {} B)",
        loaded.name,
        count as f64 / secs,
        first.free_ram,
        last.free_ram,
        warm.stack_peak,
        last.stack_peak,
        last.stack_size
    );
    ensure!(qemu.exited().is_none(), "the board stopped during the run");
    ensure!(
        last.model == Some(loaded),
        "the model changed during the run"
    );
    ensure!(mismatches == 0, "{mismatches} results differ from the host");
    ensure!(first.free_ram == last.free_ram, "free RAM changed");
    ensure!(
        warm.stack_peak == last.stack_peak,
        "the stack peak grew after warm-up"
    );
    Ok(())
}

/// `cargo xtask field`: the field checks of `cargo xtask test` alone: the QEMU link, reset,
/// slot and signature tests (plain and signed firmware) and the stack-overflow fault.
pub fn check_cmd(args: &[String]) -> Result<()> {
    Opts::parse("field", args, &[])?;
    ensure_qemu("qemu-system-arm")?;
    let signed = signed_elf()?;
    let plain = build(Board::Mps2An386, None)?;
    crate::setup::run(
        crate::setup::cargo()
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
            .env("SNN_FW_SIGNED_ELF", signed),
    )?;
    overflow_check(Board::Mps2An386)?;
    overflow_check(Board::Mps2An505)
}
