//! Firmware commands: `build-fw`, `size`, `flash`, `run-qemu`.
use crate::args::Opts;
use crate::setup::{cargo, ensure_qemu, ensure_target, root, run};
use crate::{defmt_log, elf};
use anyhow::{bail, Context, Result};
use snn_hal::host::{Machine, Qemu};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A board the firmware is built for: one emulated board per core, plus the real boards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Board {
    /// The emulated Arm MPS2-AN385 (Cortex-M3).
    Mps2An385,
    /// The emulated Arm MPS2-AN386 (Cortex-M4F), the default.
    Mps2An386,
    /// The emulated Arm MPS2-AN500 (Cortex-M7).
    Mps2An500,
    /// The emulated Arm MPS2-AN505 (Cortex-M33).
    Mps2An505,
    /// The emulated BBC micro:bit v1 (nRF51822, Cortex-M0).
    Microbit,
    /// The emulated QEMU `virt` RISC-V board (RV32IMAC).
    VirtRv32,
    /// ST Nucleo-F446RE (STM32F446RE, Cortex-M4F).
    NucleoF446re,
    /// Nordic nRF52840-DK (Cortex-M4F).
    Nrf52840Dk,
    /// Raspberry Pi Pico (RP2040, Cortex-M0+).
    RpPico,
    /// Espressif ESP32-C3-DevKit-RUST-1 (RV32IMC).
    Esp32c3,
}

impl Board {
    /// Every board, in CI order.
    pub const ALL: [Board; 10] = [
        Board::Mps2An386,
        Board::Mps2An385,
        Board::Mps2An500,
        Board::Mps2An505,
        Board::Microbit,
        Board::VirtRv32,
        Board::NucleoF446re,
        Board::Nrf52840Dk,
        Board::RpPico,
        Board::Esp32c3,
    ];

    /// The emulated boards, one per core, in CI order.
    pub const EMULATED: [Board; 6] = [
        Board::Mps2An386,
        Board::Mps2An385,
        Board::Mps2An500,
        Board::Mps2An505,
        Board::Microbit,
        Board::VirtRv32,
    ];

    /// Parses a board name (or a core name, for the emulated boards).
    pub fn parse(name: &str) -> Result<Self> {
        if name == "qemu" {
            return Ok(Self::Mps2An386);
        }
        Self::ALL
            .into_iter()
            .find(|b| b.name() == name || b.core() == name)
            .with_context(|| {
                let names: Vec<String> = Self::ALL
                    .iter()
                    .map(|b| format!("{} ({})", b.name(), b.core()))
                    .collect();
                format!("unknown board `{name}` (boards: {})", names.join(", "))
            })
    }

    /// The board's name (also its cargo feature without `board-`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Mps2An385 => "mps2-an385",
            Self::Mps2An386 => "mps2-an386",
            Self::Mps2An500 => "mps2-an500",
            Self::Mps2An505 => "mps2-an505",
            Self::Microbit => "microbit",
            Self::VirtRv32 => "virt-rv32",
            Self::NucleoF446re => "nucleo-f446re",
            Self::Nrf52840Dk => "nrf52840-dk",
            Self::RpPico => "rp-pico",
            Self::Esp32c3 => "esp32c3",
        }
    }

    /// The board's core, as `snn simulate --target` names it.
    pub fn core(self) -> &'static str {
        match self {
            Self::Mps2An385 => "cortex-m3",
            Self::Mps2An386 | Self::NucleoF446re | Self::Nrf52840Dk => "cortex-m4",
            Self::Mps2An500 => "cortex-m7",
            Self::Mps2An505 => "cortex-m33",
            Self::Microbit | Self::RpPico => "cortex-m0",
            Self::VirtRv32 | Self::Esp32c3 => "rv32",
        }
    }

    /// The Rust target triple the firmware is built for.
    pub fn target(self) -> &'static str {
        match self {
            Self::Mps2An386 | Self::Mps2An500 | Self::NucleoF446re | Self::Nrf52840Dk => {
                "thumbv7em-none-eabihf"
            }
            Self::Mps2An385 => "thumbv7m-none-eabi",
            Self::Mps2An505 => "thumbv8m.main-none-eabihf",
            Self::Microbit | Self::RpPico => "thumbv6m-none-eabi",
            Self::VirtRv32 => "riscv32imac-unknown-none-elf",
            Self::Esp32c3 => "riscv32imc-unknown-none-elf",
        }
    }

    /// The QEMU machine of an emulated board; `None` for a real one.
    pub fn machine(self) -> Option<Machine> {
        let (program, args): (&'static str, &'static [&'static str]) = match self {
            Self::Mps2An385 => (
                "qemu-system-arm",
                &["-M", "mps2-an385", "-cpu", "cortex-m3"],
            ),
            Self::Mps2An386 => return Some(Machine::MPS2_AN386),
            Self::Mps2An500 => (
                "qemu-system-arm",
                &["-M", "mps2-an500", "-cpu", "cortex-m7"],
            ),
            Self::Mps2An505 => (
                "qemu-system-arm",
                &["-M", "mps2-an505", "-cpu", "cortex-m33"],
            ),
            // The nRF51822's 32 KiB variant (memory/microbit.x says why).
            Self::Microbit => (
                "qemu-system-arm",
                &["-M", "microbit", "-global", "nrf51-soc.sram-size=32768"],
            ),
            Self::VirtRv32 => (
                "qemu-system-riscv32",
                &["-M", "virt", "-smp", "1", "-bios", "none"],
            ),
            Self::NucleoF446re | Self::Nrf52840Dk | Self::RpPico | Self::Esp32c3 => return None,
        };
        Some(Machine { program, args })
    }

    /// The emulated board's machine, or an error saying the board is real.
    pub fn emulated(self) -> Result<Machine> {
        self.machine().with_context(|| {
            format!(
                "{} is a real board: flash it with `cargo xtask flash --board {}` or run \
                 `cargo xtask hil --board probe --chip-board {}`",
                self.name(),
                self.name(),
                self.name()
            )
        })
    }

    /// The debug probe a user plugs in to flash the board.
    fn probe(self) -> &'static str {
        match self {
            Self::NucleoF446re => "the on-board ST-LINK (USB)",
            Self::Nrf52840Dk => "the on-board J-Link (USB)",
            Self::RpPico => "a Raspberry Pi Debug Probe (or any CMSIS-DAP probe) on the SWD pins",
            Self::Esp32c3 => "the board's USB-C port (the chip's built-in USB-JTAG)",
            _ => "(none: emulated)",
        }
    }

    /// probe-rs chip name.
    fn chip(self) -> &'static str {
        match self {
            Self::NucleoF446re => "STM32F446RETx",
            Self::Nrf52840Dk => "nRF52840_xxAA",
            Self::RpPico => "RP2040",
            Self::Esp32c3 => "esp32c3",
            _ => "(emulated)",
        }
    }

    /// The cargo arguments that select this board's target and feature.
    pub fn cargo_args(self) -> Vec<String> {
        let mut a = vec!["--target".to_string(), self.target().to_string()];
        if self != Board::Mps2An386 {
            a.extend([
                "--no-default-features".to_string(),
                "--features".to_string(),
                format!("board-{}", self.name()),
            ]);
        }
        a
    }
}

fn fw_dir() -> PathBuf {
    root().join("firmware")
}

/// The one cargo target directory of every firmware build: the host-side proc macros and build
/// scripts are compiled once for all boards, and boards of one target triple share their
/// dependencies (cargo keeps each feature set's artifacts apart, so switching boards relinks at
/// most the firmware crate).
pub fn target_dir() -> PathBuf {
    fw_dir().join("target")
}

/// Where the ELF of `board` is kept after its build: `firmware/target/boards/<board>.elf` (a copy,
/// since boards of one target triple build to the same cargo output path).
pub fn elf_path(board: Board) -> PathBuf {
    target_dir()
        .join("boards")
        .join(format!("{}.elf", board.name()))
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
    /// Classify what an LSM6DSO on I2C feels instead of serving the link (feature `imu`;
    /// Nucleo-F446RE with the X-NUCLEO-IKS01A3 shield only).
    pub imu: bool,
    /// Run this dense model over these samples' feature bytes at boot (`bench-dense` build).
    pub dense: Option<(PathBuf, PathBuf)>,
    /// The micro:bit with 256 KiB of QEMU SRAM (feature `sram-256k`; run it on
    /// [`MICROBIT_256K`]), so the zoo series models fit for the M0's counts.
    pub sram_256k: bool,
}

/// QEMU's micro:bit with its nRF51 given 256 KiB of SRAM, for the `sram-256k` bench build (no
/// such nRF51 exists; the instructions counted are the Cortex-M0's all the same).
pub const MICROBIT_256K: Machine = Machine {
    program: "qemu-system-arm",
    args: &["-M", "microbit", "-global", "nrf51-soc.sram-size=262144"],
};

impl Variant {
    fn tag(&self) -> Option<&'static str> {
        if self.sram_256k {
            return Some("sram-256k");
        }
        if self.dense.is_some() {
            return Some("dense-bench");
        }
        if self.imu {
            return Some(if self.pubkey.is_some() {
                "signed-imu"
            } else {
                "imu"
            });
        }
        match (self.pubkey.is_some(), self.stack_overflow_test) {
            (false, false) => None,
            (true, false) => Some("signed"),
            (false, true) => Some("stack-overflow-test"),
            (true, true) => Some("signed-stack-overflow-test"),
        }
    }

    /// The variant of `--sensor NAME` (`lsm6dso`, on the nucleo-f446re), or an error naming
    /// what is accepted.
    fn with_sensor(mut self, board: Board, sensor: Option<&str>) -> Result<Self> {
        match sensor {
            None => {}
            Some("lsm6dso") if board == Board::NucleoF446re => self.imu = true,
            Some("lsm6dso") => bail!(
                "--sensor lsm6dso: the sensor firmware is for the nucleo-f446re (X-NUCLEO-IKS01A3 \
                 shield), not {}",
                board.name()
            ),
            Some(other) => bail!("--sensor {other}: unknown sensor (accepted: lsm6dso)"),
        }
        Ok(self)
    }
}

/// Builds a firmware variant; a variant's ELF is copied to `target/xtask/snn-firmware-<board>-
/// <variant>.elf` so a later plain build does not replace it.
pub fn build_variant(board: Board, model: Option<&Path>, v: &Variant) -> Result<PathBuf> {
    ensure_target(board.target())?;
    let mut c = cargo();
    c.current_dir(fw_dir()) // picks up firmware/.cargo/config.toml
        .args(["build", "--release", "--target-dir"])
        .arg(target_dir())
        .args(board.cargo_args());
    let mut features = Vec::new();
    match &v.pubkey {
        Some(k) => {
            let abs = std::fs::canonicalize(k)
                .with_context(|| format!("public key file {} not found", k.display()))?;
            c.env("SNN_FW_PUBKEY", abs);
            features.push("signed-models");
        }
        None => {
            c.env_remove("SNN_FW_PUBKEY");
        }
    }
    if v.stack_overflow_test {
        features.push("stack-overflow-test");
    }
    if v.imu {
        features.push("imu");
    }
    if v.sram_256k {
        if board != Board::Microbit {
            bail!(
                "the sram-256k bench build is for the microbit, not {}",
                board.name()
            );
        }
        features.push("sram-256k");
    }
    match &v.dense {
        Some((model, samples)) => {
            for (var, file) in [("SNN_FW_DENSE", model), ("SNN_FW_DENSE_SAMPLES", samples)] {
                let abs = std::fs::canonicalize(file)
                    .with_context(|| format!("{var}: {} not found", file.display()))?;
                c.env(var, abs);
            }
            features.push("dense-bench");
        }
        None => {
            c.env_remove("SNN_FW_DENSE")
                .env_remove("SNN_FW_DENSE_SAMPLES");
        }
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
            if v.imu {
                bail!("the sensor firmware needs a model built in: add --model FILE (e.g. models/zoo/basic_motions.snn)");
            }
            c.env_remove("SNN_FW_MODEL");
        }
    }
    println!(
        "xtask: building the firmware for {}{}",
        board.name(),
        v.tag().map(|t| format!(" ({t})")).unwrap_or_default()
    );
    run(&mut c)?;
    let built = target_dir()
        .join(board.target())
        .join("release/snn-firmware");
    let elf = elf_path(board);
    let dir = elf.parent().context("ELF path has a parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let Some(tag) = v.tag() else {
        let tmp = elf.with_extension("elf.tmp");
        std::fs::copy(&built, &tmp)
            .with_context(|| format!("copy {} to {}", built.display(), tmp.display()))?;
        std::fs::rename(&tmp, &elf).with_context(|| format!("rename to {}", elf.display()))?;
        return Ok(elf);
    };
    let copy = scratch()?.join(format!("snn-firmware-{}-{tag}.elf", board.name()));
    std::fs::copy(&built, &copy).with_context(|| format!("copy the ELF to {}", copy.display()))?;
    Ok(copy)
}

/// `cargo xtask build-fw [--board B] [--model FILE] [--pubkey FILE] [--sensor lsm6dso]`.
pub fn build_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("build-fw", args, &["board", "model", "pubkey", "sensor"])?;
    let board = Board::parse(o.get("board").unwrap_or("mps2-an386"))?;
    let v = Variant {
        pubkey: o.get("pubkey").map(PathBuf::from),
        ..Variant::default()
    }
    .with_sensor(board, o.get("sensor"))?;
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
        "firmware size on {} (release, {}):",
        board.name(),
        board.target()
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
    ensure_real(board)?;
    if !has_probe_rs() {
        bail!(
            "probe-rs is not installed. Install it with:\n    cargo install probe-rs-tools --locked\n\
             (see https://probe.rs/docs/getting-started/installation/), then connect {} \
             and run this again",
            board.probe()
        );
    }
    let list = Command::new("probe-rs").arg("list").output()?;
    let text = String::from_utf8_lossy(&list.stdout);
    if !list.status.success() || text.contains("No debug probes were found") {
        bail!(
            "probe-rs sees no debug probe. Connect the {} through {}, check `probe-rs list`, \
             and on Linux install the udev rules (https://probe.rs/docs/getting-started/probe-setup/)",
            board.name(),
            board.probe()
        );
    }
    run(Command::new("probe-rs")
        .args(["download", "--chip", board.chip()])
        .arg(elf))?;
    run(Command::new("probe-rs").args(["reset", "--chip", board.chip()]))
}

/// `cargo xtask flash --board B [--model FILE] [--sensor lsm6dso]`.
pub fn flash_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("flash", args, &["board", "model", "sensor"])?;
    let board =
        Board::parse(o.get("board").context(
            "`flash`: --board is required (nucleo-f446re, nrf52840-dk, rp-pico, esp32c3)",
        )?)?;
    ensure_real(board)?;
    let v = Variant::default().with_sensor(board, o.get("sensor"))?;
    let elf = build_variant(board, o.get("model").map(Path::new), &v)?;
    flash(board, &elf)
}

/// Fails for an emulated board, naming the commands that run it.
fn ensure_real(board: Board) -> Result<()> {
    if board.machine().is_some() {
        bail!(
            "{} is an emulated board: use `cargo xtask run-qemu --board {}` or `cargo xtask hil \
             --board qemu --chip-board {}`",
            board.name(),
            board.name(),
            board.name()
        );
    }
    Ok(())
}

/// `cargo xtask run-qemu [--board B] [--model FILE] [--seconds S]`: boots an emulated board,
/// prints its Info and the decoded defmt log.
pub fn run_qemu_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("run-qemu", args, &["board", "model", "seconds"])?;
    let board = Board::parse(o.get("board").unwrap_or("mps2-an386"))?;
    let machine = board.emulated()?;
    ensure_qemu(machine.program)?;
    let elf = build(board, o.get("model").map(Path::new))?;
    let log = scratch()?.join("run-qemu.defmt");
    let (mut qemu, mut client) = Qemu::spawn_on(&machine, &elf, &log)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_board_parses_by_name_and_the_emulated_ones_by_core() {
        for b in Board::ALL {
            assert_eq!(Board::parse(b.name()).unwrap(), b);
            assert_eq!(
                b.machine().is_some(),
                Board::EMULATED.contains(&b),
                "{}",
                b.name()
            );
        }
        // One emulated board per core, found by its core's name.
        let mut cores: Vec<&str> = Board::EMULATED.iter().map(|b| b.core()).collect();
        cores.sort_unstable();
        cores.dedup();
        assert_eq!(cores.len(), Board::EMULATED.len());
        for b in Board::EMULATED {
            assert_eq!(Board::parse(b.core()).unwrap(), b);
        }
        assert_eq!(Board::parse("qemu").unwrap(), Board::Mps2An386);
        let e = Board::parse("esp32").unwrap_err().to_string();
        assert!(e.contains("esp32") && e.contains("rp-pico"), "{e}");
        assert!(Board::NucleoF446re.emulated().is_err());
        assert!(ensure_real(Board::Microbit).is_err());
        assert!(ensure_real(Board::Nrf52840Dk).is_ok());
    }

    #[test]
    fn every_board_has_its_feature_memory_map_and_a_distinct_elf() {
        let fw = fw_dir();
        let manifest = std::fs::read_to_string(fw.join("Cargo.toml")).unwrap();
        let build_rs = std::fs::read_to_string(fw.join("build.rs")).unwrap();
        let config = std::fs::read_to_string(fw.join(".cargo/config.toml")).unwrap();
        let mut elves = Vec::new();
        for b in Board::ALL {
            let feature = format!("\nboard-{} = ", b.name());
            assert!(manifest.contains(&feature), "no feature board-{}", b.name());
            assert!(
                build_rs.contains(&format!("\"{}\"", b.name())),
                "build.rs does not know {}",
                b.name()
            );
            // esp-hal brings the ESP32-C3's memory map.
            assert!(
                b == Board::Esp32c3 || fw.join("memory").join(format!("{}.x", b.name())).is_file(),
                "no memory/{}.x",
                b.name()
            );
            assert!(
                config.contains(&format!("[target.{}]", b.target())),
                "no link flags for {}",
                b.target()
            );
            let args = b.cargo_args();
            assert_eq!(args[..2], ["--target".to_string(), b.target().to_string()]);
            elves.push(elf_path(b));
        }
        elves.sort();
        elves.dedup();
        assert_eq!(elves.len(), Board::ALL.len());
    }
}
