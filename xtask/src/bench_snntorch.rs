//! `cargo xtask bench-snntorch`: the `train_step` benchmark's shapes in snnTorch, side by side
//! with ours. Makes a Python virtual environment under `target/snntorch-venv` with the pinned
//! torch and snnTorch the figures quote (a ~1 GB download on the first run), then runs
//! `sdk/benches/snntorch_train_step.py`, or with `--only jv` `sdk/benches/snntorch_jv_train.py`
//! (JapaneseVowels training epochs, to set beside `cargo run -p snn-sdk --example series_zoo`).
use crate::args::Opts;
use crate::setup::{root, run};
use anyhow::{bail, Result};
use std::process::Command;

/// The versions compared against (torch 2.15 CPU, snnTorch 1.0).
const PACKAGES: [&str; 3] = ["torch==2.15.0", "snntorch==1.0.0", "numpy"];

/// Runs the comparison.
pub fn run_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse(
        "bench-snntorch",
        args,
        &["threads", "loop", "only", "epochs"],
    )?;
    let threads = o.num("threads", 2usize)?;
    let venv = root().join("target").join("snntorch-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            bail!(
                "bench-snntorch needs python3 with venv (Debian: apt-get install -y python3-venv) \
                 to create {}",
                venv.display()
            );
        }
    }
    let has = Command::new(&python)
        .args(["-c", "import torch, snntorch"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has {
        println!("installing {} into {}", PACKAGES.join(" "), venv.display());
        run(Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .args(PACKAGES))?;
    }
    let mut c = Command::new(&python);
    if o.get("only") == Some("jv") {
        c.arg(root().join("sdk/benches/snntorch_jv_train.py"))
            .args(["--threads", &threads.to_string()]);
        if let Some(v) = o.get("epochs") {
            c.args(["--epochs", v]);
        }
        return run(&mut c);
    }
    c.arg(root().join("sdk/benches/snntorch_train_step.py"))
        .args(["--threads", &threads.to_string()]);
    for name in ["loop", "only"] {
        if let Some(v) = o.get(name) {
            c.arg(format!("--{name}")).arg(v);
        }
    }
    run(&mut c)
}
