//! `cargo xtask demo [--epochs N] [--samples N]`: the whole path on a fresh machine with only Rust.
//!
//! 1. builds the `snn` tool once (`cargo build -p snn-sdk --bin snn`, the dev profile the tests
//!    use, so candle is compiled once);
//! 2. trains the digits model (`snn train --config models/zoo/digits.toml`);
//! 3. quantises and exports it (`snn export`);
//! 4. runs the integer engine on the host over the test split (`snn simulate`);
//! 5. builds the firmware for the emulated MPS2-AN386 (Cortex-M4F), boots it in QEMU with
//!    `-icount shift=0`, uploads the model and streams every test sample (seed = its row);
//! 6. prints ONE table: float accuracy, integer accuracy on host, accuracy on the board,
//!    host/board agreement, spikes and synaptic events per inference, flash and RAM, time per
//!    inference on the board.
//!
//! It installs what it can (the rustup target, qemu via apt when root) and says exactly what to
//! install otherwise. Everything it writes goes to `target/demo/`.
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use snn_hal::host::{digit_features, Qemu};
use snn_hal::protocol::{CostUnit, Input};

use crate::args::Opts;
use crate::firmware::{build, Board};
use crate::setup::{cargo, ensure_qemu, root};
use crate::{defmt_log, digits, elf, hil};

/// Virtual clock of the emulated board: `-icount shift=0` runs one instruction per virtual ns,
/// and the MPS2-AN386 core clock is 25 MHz.
const CORE_HZ: f64 = 25e6;

/// Steps shown on the bar before the per-sample part.
const STEPS: u64 = 6;

fn bar(samples: u64) -> ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(STEPS + samples)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] [{bar:30}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Sets the bar's message, or prints a plain line when stderr is not a terminal.
fn stage(bar: &ProgressBar, msg: &str) {
    if bar.is_hidden() {
        eprintln!("demo: {msg}");
    } else {
        bar.set_message(msg.to_owned());
    }
}

/// Runs a command capturing its output; on failure shows its stderr and fails naming it.
pub(crate) fn capture(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("{what}: cannot start {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The JSON object on the last line of `stdout`.
pub(crate) fn last_json(stdout: &str, what: &str) -> Result<Value> {
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| format!("{what}: no JSON summary in `{line}`"))
}

pub(crate) fn num(v: &Value, key: &str, what: &str) -> Result<f64> {
    v[key]
        .as_f64()
        .with_context(|| format!("{what}: `{key}` missing from its JSON summary {v}"))
}

/// What the board measured over the test split.
struct BoardRun {
    correct: usize,
    agree: usize,
    counts_agree: usize,
    spikes: u64,
    events: u64,
    cost: u64,
    unit: CostUnit,
    samples: usize,
}

/// `cargo xtask demo`.
pub fn run_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("demo", args, &["epochs", "samples"])?;
    let epochs: Option<usize> = o.get("epochs").map(str::parse).transpose()?;
    let max_samples: usize = o.num("samples", usize::MAX)?;
    let t0 = Instant::now();
    let dir = root().join("target/demo");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let bar = bar(360);

    stage(&bar, "building the snn tool (first time: several minutes)");
    capture(
        cargo()
            .current_dir(root())
            .args(["build", "-p", "snn-sdk", "--bin", "snn"]),
        "cargo build -p snn-sdk --bin snn",
    )?;
    let snn = root().join("target/debug/snn");
    bar.inc(1);

    stage(&bar, "training the digits model (models/zoo/digits.toml)");
    let run = dir.join("run");
    let config = root().join("models/zoo/digits.toml");
    let mut train = Command::new(&snn);
    train
        .arg("train")
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(&run)
        .args(["--overwrite", "--quiet", "--json"]);
    if let Some(e) = epochs {
        train.args(["--epochs", &e.to_string()]);
    }
    let trained = last_json(&capture(&mut train, "snn train")?, "snn train")?;
    let train_s = num(&trained, "wall_s", "snn train")?;
    bar.inc(1);

    stage(&bar, "quantising and exporting (snn export)");
    let model_path = dir.join("digits.snn");
    let exported = last_json(
        &capture(
            Command::new(&snn)
                .arg("export")
                .arg(&run)
                .arg("-o")
                .arg(&model_path)
                .arg("--json"),
            "snn export",
        )?,
        "snn export",
    )?;
    let float_acc = num(&exported, "float_accuracy", "snn export")?;
    bar.inc(1);

    stage(
        &bar,
        "host simulation with the integer engine (snn simulate)",
    );
    let sim_out = capture(
        Command::new(&snn)
            .arg("simulate")
            .arg(&model_path)
            .arg("--checkpoint")
            .arg(&run)
            .arg("--json"),
        "snn simulate",
    )?;
    let sim = last_json(&sim_out, "snn simulate")?;
    let host_acc = num(&sim, "accuracy", "snn simulate")?;
    // Per-sample lines: {"row", "label", "predicted"}.
    let mut rows: Vec<(u32, u16, u16)> = Vec::new();
    for line in sim_out.lines().filter(|l| l.contains("\"row\"")) {
        let v: Value = serde_json::from_str(line).context("snn simulate: per-sample line")?;
        let get = |k: &str| v[k].as_u64().with_context(|| format!("`{k}` in {line}"));
        rows.push((
            get("row")? as u32,
            get("label")? as u16,
            get("predicted")? as u16,
        ));
    }
    rows.truncate(max_samples);
    if rows.is_empty() {
        bail!("snn simulate listed no test samples");
    }
    bar.set_length(STEPS + rows.len() as u64);
    bar.inc(1);

    stage(
        &bar,
        "building the firmware for the emulated Cortex-M4 (mps2-an386)",
    );
    let elf_path = bar.suspend(|| build(Board::Mps2An386, None))?;
    let elf_bytes =
        std::fs::read(&elf_path).with_context(|| format!("read {}", elf_path.display()))?;
    let (fw_flash, fw_ram) = elf::flash_ram(&elf_bytes)?;
    bar.inc(1);

    stage(&bar, "booting QEMU and uploading the model");
    bar.suspend(|| ensure_qemu("qemu-system-arm"))?;
    let model =
        std::fs::read(&model_path).with_context(|| format!("read {}", model_path.display()))?;
    let log = dir.join("demo.defmt");
    let (mut qemu, mut client) = Qemu::spawn(&elf_path, &log).context("start qemu-system-arm")?;
    let info = client.info().context("Info from the board")?;
    client
        .load(&model)
        .context("upload the model to the board")?;
    bar.inc(1);

    stage(&bar, "inference on the board over the test split");
    let all = digits::load()?;
    let result = (|| -> Result<BoardRun> {
        let mut b = BoardRun {
            correct: 0,
            agree: 0,
            counts_agree: 0,
            spikes: 0,
            events: 0,
            cost: 0,
            unit: info.cost_unit,
            samples: rows.len(),
        };
        for &(row, label, host_pred) in &rows {
            let s = all
                .get(row as usize)
                .with_context(|| format!("row {row} is not in the digits data"))?;
            let f = digit_features(&s.pixels);
            let dev = client
                .infer(Input::Features(&f), row)
                .with_context(|| format!("inference of row {row} on the board"))?;
            let host = hil::host_infer(&model, &f, row)?;
            b.correct += usize::from(dev.predicted == label);
            b.agree += usize::from(dev.predicted == host_pred);
            b.counts_agree += usize::from(dev.counts.as_slice() == host.counts.as_slice());
            b.spikes += dev.layers.iter().map(|l| u64::from(l.spikes)).sum::<u64>();
            b.events += dev.synaptic_events;
            b.cost += dev.cost;
            bar.inc(1);
        }
        Ok(b)
    })();
    let exited = qemu.exited();
    drop(qemu);
    bar.finish_and_clear();
    let b = match result {
        Ok(b) => b,
        Err(e) => {
            if exited.is_some() {
                println!("demo: the board stopped; its log:");
                defmt_log::print(&elf_path, &log);
            }
            return Err(e);
        }
    };
    print_table(&Table {
        float_acc,
        host_acc,
        board: &b,
        model_bytes: model.len(),
        engine_ram: num(&exported, "ram_bytes", "snn export")? as usize,
        fw_flash,
        fw_ram,
        train_s,
        total: t0.elapsed(),
        model_path: &model_path,
    });
    if b.agree != b.samples || b.counts_agree != b.samples {
        bail!(
            "the board and the host engine disagree on {} of {} samples (run `cargo xtask hil \
             --model {}` for the list)",
            b.samples - b.counts_agree.min(b.agree),
            b.samples,
            model_path.display()
        );
    }
    Ok(())
}

struct Table<'a> {
    float_acc: f64,
    host_acc: f64,
    board: &'a BoardRun,
    model_bytes: usize,
    engine_ram: usize,
    fw_flash: u64,
    fw_ram: u64,
    train_s: f64,
    total: Duration,
    model_path: &'a Path,
}

fn print_table(t: &Table<'_>) {
    let b = t.board;
    let n = b.samples.max(1) as f64;
    let pct = |x: usize| 100.0 * x as f64 / n;
    let time = match b.unit {
        CostUnit::Instructions => {
            let instr = b.cost as f64 / n;
            format!(
                "{instr:.0} instructions = {:.2} ms at 25 MHz (virtual time, -icount shift=0; {:.2} per synaptic event)",
                1e3 * instr / CORE_HZ,
                b.cost as f64 / b.events.max(1) as f64
            )
        }
        CostUnit::Cycles => format!("{:.0} cycles", b.cost as f64 / n),
        _ => "not measured (the board has no counter)".to_owned(),
    };
    let rows: Vec<(&str, String)> = vec![
        ("samples (digits test split)", b.samples.to_string()),
        (
            "float accuracy (host, f32)",
            format!("{:.2} %", 100.0 * t.float_acc),
        ),
        (
            "integer accuracy (host engine)",
            format!("{:.2} %", 100.0 * t.host_acc),
        ),
        (
            "accuracy on the board (QEMU M4)",
            format!("{:.2} %", pct(b.correct)),
        ),
        (
            "host/board agreement",
            format!(
                "{:.2} % of predictions, {:.2} % of output spike counts identical",
                pct(b.agree),
                pct(b.counts_agree)
            ),
        ),
        (
            "spikes per inference",
            format!("{:.1}", b.spikes as f64 / n),
        ),
        (
            "synaptic events per inference",
            format!("{:.0}", b.events as f64 / n),
        ),
        (
            "flash used",
            format!(
                "{} B firmware + {} B model (uploaded: {})",
                t.fw_flash,
                t.model_bytes,
                t.model_path.display()
            ),
        ),
        (
            "RAM used",
            format!(
                "{} B firmware static (incl. model buffer) ; engine state {} B",
                t.fw_ram, t.engine_ram
            ),
        ),
        ("time per inference on the board", time),
        (
            "wall time",
            format!(
                "{:.1} s training, {:.1} s in total",
                t.train_s,
                t.total.as_secs_f64()
            ),
        ),
    ];
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let line = "-".repeat((w + 3 + rows.iter().map(|r| r.1.len()).max().unwrap_or(0)).min(100));
    println!("{line}");
    for (k, v) in rows {
        println!("{k:<w$} | {v}");
    }
    println!("{line}");
}
