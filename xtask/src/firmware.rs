//! Firmware commands: `build-fw`, `size`, `flash`, `run-qemu`.
use crate::args::Opts;
use crate::setup::{cargo, ensure_qemu, ensure_target, root, run, FW_TARGET};
use crate::{defmt_log, elf};
use anyhow::{bail, Context, Result};
use snn_hal::host::Qemu;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A board the firmware is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Board {
    /// The emulated Arm MPS2-AN386 (QEMU).
    Mps2An386,
    /// ST Nucleo-F446RE.
    NucleoF446re,
}

impl Board {
    /// Every board, in CI order.
    pub const ALL: [Board; 2] = [Board::Mps2An386, Board::NucleoF446re];

    /// Parses a board name.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "mps2-an386" | "qemu" => Ok(Self::Mps2An386),
            "nucleo-f446re" => Ok(Self::NucleoF446re),
            other => bail!("unknown board `{other}` (boards: mps2-an386, nucleo-f446re)"),
        }
    }

    /// The board's name (also its cargo feature without `board-`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Mps2An386 => "mps2-an386",
            Self::NucleoF446re => "nucleo-f446re",
        }
    }

    /// probe-rs chip name.
    fn chip(self) -> &'static str {
        match self {
            Self::Mps2An386 => "(emulated)",
            Self::NucleoF446re => "STM32F446RETx",
        }
    }
}

fn fw_dir() -> PathBuf {
    root().join("firmware")
}

/// Where the ELF of `board` is built.
pub fn elf_path(board: Board) -> PathBuf {
    fw_dir()
        .join("target")
        .join(board.name())
        .join(FW_TARGET)
        .join("release/snn-firmware")
}

/// Scratch directory for generated models, logs and sockets.
pub fn scratch() -> Result<PathBuf> {
    let dir = root().join("target/xtask");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

/// Builds the firmware for `board` (release), optionally with a built-in model; returns the ELF.
pub fn build(board: Board, model: Option<&Path>) -> Result<PathBuf> {
    build_variant(board, model, &Variant::default())
}

/// A firmware build other than the plain one.
#[derive(Clone, Debug, Default)]
pub struct Variant {
    /// Accept only models signed with this Ed25519 public key (file from `snn keygen`).
    pub pubkey: Option<PathBuf>,
    /// Recurse at boot until the stack guard faults (test build).
    pub stack_overflow_test: bool,
}

impl Variant {
    fn tag(&self) -> Option<&'static str> {
        match (self.pubkey.is_some(), self.stack_overflow_test) {
            (false, false) => None,
            (true, false) => Some("signed"),
            (false, true) => Some("stack-overflow-test"),
            (true, true) => Some("signed-stack-overflow-test"),
        }
    }
}

/// Builds a firmware variant; a variant's ELF is copied to `target/xtask/snn-firmware-<board>-
/// <variant>.elf` so a later plain build does not replace it.
pub fn build_variant(board: Board, model: Option<&Path>, v: &Variant) -> Result<PathBuf> {
    ensure_target(FW_TARGET)?;
    let mut c = cargo();
    c.current_dir(fw_dir()) // picks up firmware/.cargo/config.toml
        .args(["build", "--release", "--target-dir"])
        .arg(fw_dir().join("target").join(board.name()));
    let mut features = Vec::new();
    if board != Board::Mps2An386 {
        c.arg("--no-default-features");
        features.push(format!("board-{}", board.name()));
    }
    match &v.pubkey {
        Some(k) => {
            let abs = std::fs::canonicalize(k)
                .with_context(|| format!("public key file {} not found", k.display()))?;
            c.env("SNN_FW_PUBKEY", abs);
            features.push("signed-models".into());
        }
        None => {
            c.env_remove("SNN_FW_PUBKEY");
        }
    }
    if v.stack_overflow_test {
        features.push("stack-overflow-test".into());
    }
    if !features.is_empty() {
        c.arg("--features").arg(features.join(","));
    }
    match model {
        Some(m) => {
            let abs = std::fs::canonicalize(m)
                .with_context(|| format!("model file {} not found", m.display()))?;
            snn_models::decode(&std::fs::read(&abs)?)
                .with_context(|| format!("{} is not a valid model", abs.display()))?;
            c.env("SNN_FW_MODEL", abs);
        }
        None => {
            c.env_remove("SNN_FW_MODEL");
        }
    }
    println!(
        "xtask: building the firmware for {}{}",
        board.name(),
        v.tag().map(|t| format!(" ({t})")).unwrap_or_default()
    );
    run(&mut c)?;
    let Some(tag) = v.tag() else {
        return Ok(elf_path(board));
    };
    let copy = scratch()?.join(format!("snn-firmware-{}-{tag}.elf", board.name()));
    std::fs::copy(elf_path(board), &copy)
        .with_context(|| format!("copy the ELF to {}", copy.display()))?;
    Ok(copy)
}

/// `cargo xtask build-fw [--board B] [--model FILE] [--pubkey FILE]`.
pub fn build_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("build-fw", args, &["board", "model", "pubkey"])?;
    let board = Board::parse(o.get("board").unwrap_or("mps2-an386"))?;
    let v = Variant {
        pubkey: o.get("pubkey").map(PathBuf::from),
        stack_overflow_test: false,
    };
    let elf = build_variant(board, o.get("model").map(Path::new), &v)?;
    let (flash, ram) = elf::flash_ram(&std::fs::read(&elf)?)?;
    println!(
        "xtask: {} ({} bytes flash, {} bytes static RAM)",
        elf.display(),
        flash,
        ram
    );
    Ok(())
}

/// `cargo xtask size [--board B] [--model FILE]`: flash and RAM of the firmware and of the model.
pub fn size_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("size", args, &["board", "model", "hidden"])?;
    let board = Board::parse(o.get("board").unwrap_or("mps2-an386"))?;
    let model_path = match o.get("model") {
        Some(m) => PathBuf::from(m),
        None => crate::hil::synthetic_model(o.num("hidden", 128u16)?)?,
    };
    let model_bytes =
        std::fs::read(&model_path).with_context(|| format!("read {}", model_path.display()))?;
    let model = snn_models::decode(&model_bytes)
        .with_context(|| format!("{} is not a valid model", model_path.display()))?;
    let state = snn_models::Requirements::of(&model).bytes();
    // Both builds write the same path: size the first before the second overwrites it.
    let plain = build(board, None)?;
    let (f0, r0) = elf::flash_ram(&std::fs::read(&plain)?)?;
    let with_model = build(board, Some(&model_path))?;
    let (f1, r1) = elf::flash_ram(&std::fs::read(&with_model)?)?;
    println!(
        "firmware size on {} (release, thumbv7em-none-eabihf):",
        board.name()
    );
    println!("  firmware alone:           flash {f0:>8} B   static RAM {r0:>8} B");
    println!(
        "  with model built in:      flash {f1:>8} B   static RAM {r1:>8} B   (model {} B)",
        model_bytes.len()
    );
    println!(
        "  model {}: {} B file, engine state {} B ({} neurons)",
        model.header.name,
        model_bytes.len(),
        state,
        model
            .layers
            .iter()
            .map(|l| u32::from(l.neurons))
            .sum::<u32>()
    );
    println!(
        "  (static RAM includes the fixed model buffer and engine state of the largest model)"
    );
    for s in elf::sections(&std::fs::read(&with_model)?)? {
        println!(
            "    {:<14} {:>8} B {}",
            s.name,
            s.size,
            match (s.stored, s.writable) {
                (true, true) => "flash+RAM",
                (true, false) => "flash",
                _ => "RAM",
            }
        );
    }
    Ok(())
}

fn has_probe_rs() -> bool {
    Command::new("probe-rs")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Flashes `elf` to `board` with probe-rs, with clear messages when the tool or probe is missing.
pub fn flash(board: Board, elf: &Path) -> Result<()> {
    if board == Board::Mps2An386 {
        bail!("mps2-an386 is the emulated board: use `cargo xtask run-qemu` or `cargo xtask hil`");
    }
    if !has_probe_rs() {
        bail!(
            "probe-rs is not installed. Install it with:\n    cargo install probe-rs-tools --locked\n\
             (see https://probe.rs/docs/getting-started/installation/), then plug the board's \
             ST-LINK in and run this again"
        );
    }
    let list = Command::new("probe-rs").arg("list").output()?;
    let text = String::from_utf8_lossy(&list.stdout);
    if !list.status.success() || text.contains("No debug probes were found") {
        bail!(
            "probe-rs sees no debug probe. Connect the {} over USB (ST-LINK), check `probe-rs list`, \
             and on Linux install the udev rules (https://probe.rs/docs/getting-started/probe-setup/)",
            board.name()
        );
    }
    run(Command::new("probe-rs")
        .args(["download", "--chip", board.chip()])
        .arg(elf))?;
    run(Command::new("probe-rs").args(["reset", "--chip", board.chip()]))
}

/// `cargo xtask flash --board B [--model FILE]`.
pub fn flash_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("flash", args, &["board", "model"])?;
    let board = Board::parse(
        o.get("board")
            .context("`flash`: --board is required (nucleo-f446re)")?,
    )?;
    if board == Board::Mps2An386 {
        bail!("mps2-an386 is the emulated board: use `cargo xtask run-qemu` or `cargo xtask hil`");
    }
    let elf = build(board, o.get("model").map(Path::new))?;
    flash(board, &elf)
}

/// `cargo xtask run-qemu [--model FILE] [--seconds S]`: boots the emulated board, prints its Info
/// and the decoded defmt log.
pub fn run_qemu_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("run-qemu", args, &["model", "seconds"])?;
    ensure_qemu()?;
    let elf = build(Board::Mps2An386, o.get("model").map(Path::new))?;
    let log = scratch()?.join("run-qemu.defmt");
    let (mut qemu, mut client) = Qemu::spawn(&elf, &log)?;
    let info = client.info().context("ask the firmware for Info")?;
    println!("xtask: firmware answers: {info:#?}");
    let secs = o.num("seconds", 0u64)?;
    if secs > 0 {
        println!(
            "xtask: QEMU keeps running for {secs} s; its UART is {}",
            qemu.socket().display()
        );
        std::thread::sleep(std::time::Duration::from_secs(secs));
    }
    if let Some(status) = qemu.exited() {
        bail!("QEMU exited early ({status})");
    }
    drop(qemu);
    println!("xtask: firmware log:");
    defmt_log::print(&elf, &log);
    Ok(())
}
