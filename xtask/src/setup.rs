//! Installs or explains the tools other commands need: rustup targets and components, QEMU
//! (qemu-system-arm for the Arm cores, qemu-system-misc for RISC-V).

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Root of the workspace (the parent of `xtask/`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `cargo` as invoked by the user (respects `$CARGO`).
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs `cmd`, failing with its command line when it does not succeed.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

fn has_output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Adds the rustup target when it is missing.
pub fn ensure_target(target: &str) -> Result<()> {
    let installed = has_output(Command::new("rustup").args(["target", "list", "--installed"]));
    match installed {
        Some(list) if list.lines().any(|l| l.trim() == target) => Ok(()),
        Some(_) => {
            println!("xtask: installing the Rust target {target} (rustup target add {target})");
            run(Command::new("rustup").args(["target", "add", target]))
        }
        None => bail!(
            "rustup is not available; install the target yourself: rustup target add {target}"
        ),
    }
}

/// Adds a rustup component (rustfmt, clippy) when it is missing.
pub fn ensure_component(component: &str, probe: &[&str]) -> Result<()> {
    if has_output(cargo().args(probe)).is_some() {
        return Ok(());
    }
    println!("xtask: installing the {component} component (rustup component add {component})");
    run(Command::new("rustup").args(["component", "add", component]))
}

/// Makes sure the QEMU emulator `program` (`qemu-system-arm`, `qemu-system-riscv32`) is on
/// PATH: apt-get installs its Debian package when running as root on Debian/Ubuntu, otherwise
/// this stops with the exact command to run.
pub fn ensure_qemu(program: &str) -> Result<()> {
    if has_output(Command::new(program).arg("--version")).is_some() {
        return Ok(());
    }
    // Debian packs the Arm emulator alone and RISC-V with the other "misc" architectures.
    let package = match program {
        "qemu-system-arm" => "qemu-system-arm",
        _ => "qemu-system-misc",
    };
    let is_root = has_output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0");
    let has_apt = has_output(Command::new("apt-get").arg("--version")).is_some();
    if is_root && has_apt {
        println!(
            "xtask: {program} is missing; installing {package} with apt-get (running as root)"
        );
        run(Command::new("apt-get").args(["update", "-q"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        return Ok(());
    }
    bail!(
        "{program} is missing. Install it with:\n    sudo apt-get install -y {package}\n\
         (on other systems: your package manager's {program} / qemu package)"
    )
}

/// Makes sure `arm-none-eabi-gcc` (the C example firmware's compiler) is on PATH: apt-get
/// installs Debian's `gcc-arm-none-eabi` when running as root, otherwise this stops with the
/// exact command to run.
pub fn ensure_arm_gcc() -> Result<()> {
    if has_output(Command::new("arm-none-eabi-gcc").arg("--version")).is_some() {
        return Ok(());
    }
    let is_root = has_output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0");
    let has_apt = has_output(Command::new("apt-get").arg("--version")).is_some();
    if is_root && has_apt {
        println!("xtask: arm-none-eabi-gcc is missing; installing gcc-arm-none-eabi with apt-get");
        run(Command::new("apt-get").args(["update", "-q"]))?;
        run(Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "gcc-arm-none-eabi",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        return Ok(());
    }
    bail!(
        "arm-none-eabi-gcc is missing. Install it with:\n    sudo apt-get install -y gcc-arm-none-eabi\n\
         (on other systems: Arm GNU Toolchain's arm-none-eabi-gcc)"
    )
}

/// Disk a fresh `cargo xtask test` needs, in GiB: 4.3 GB of target dirs (workspace 1.8, firmware
/// 2.4; measured on a fresh clone, BENCHMARKS.md "CI") plus ~0.8 GB of crates, ~0.4 GB of rustup
/// targets and the apt packages (QEMU, gcc-arm-none-eabi).
pub const TEST_DISK_GIB: f64 = 6.0;

/// Prints the free space where the build goes and warns when it is less than `need_gib`: a full
/// disk shows up much later as a linker killed by SIGBUS, which names nothing.
pub fn report_free_disk(need_gib: f64) {
    let root = root();
    let out = has_output(Command::new("df").args(["-Pk"]).arg(&root));
    // `df -P`: a header, then "fs 1024-blocks used available capacity mount".
    let free_kib = out.as_deref().and_then(|s| {
        s.lines()
            .nth(1)?
            .split_whitespace()
            .nth(3)?
            .parse::<u64>()
            .ok()
    });
    match free_kib {
        Some(kib) => {
            let gib = kib as f64 / (1024.0 * 1024.0);
            println!("xtask: {gib:.1} GiB free on the disk of {}", root.display());
            if gib < need_gib {
                println!(
                    "xtask: warning: this needs about {need_gib:.0} GiB when nothing is built yet; \
                     with less, a build may fail late (a linker killed by SIGBUS or 'No space left \
                     on device'). Free some space first."
                );
            }
        }
        None => println!("xtask: could not read the free disk space (df -Pk failed)"),
    }
}
