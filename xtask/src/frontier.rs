//! `cargo xtask frontier`: accuracy against instructions per inference on the emulated
//! Cortex-M4, spiking digits configurations (time steps, rate or latency coding, hidden size, a
//! hidden-layer rate budget) against dense int8 baselines (hidden sizes), to answer issue #16
//! item 4: is there a spiking configuration cheaper than the dense baseline at no more than one
//! point below its accuracy?
//!
//! Each variant is `models/zoo/digits.toml` with a few values replaced, trained and exported by
//! `snn` (`train`, `export --qat-epochs 1`, `simulate`: integer-engine accuracy on the test split)
//! or `snn dense` (int8 accuracy on the same split); its instructions are the mean over the last
//! N digits rows on the emulated M4 (`hil` for the spiking model — every count checked against
//! the host —, `bench-dense` for the dense one — every logit checked). Writes
//! `target/frontier/frontier.json`, prints a table and draws `docs/frontier.svg` with
//! `snn plot frontier`.
use crate::args::Opts;
use crate::demo::{capture, last_json, num};
use crate::firmware::Board;
use crate::setup::{cargo, root};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One spiking configuration: time steps, encoding, hidden size, hidden rate budget.
struct Spiking {
    steps: usize,
    latency: bool,
    hidden: usize,
    budget: Option<f64>,
}

impl Spiking {
    fn label(&self) -> String {
        format!(
            "{} T={} H={}{}",
            if self.latency { "latency" } else { "rate" },
            self.steps,
            self.hidden,
            self.budget
                .map(|b| format!(" budget {b}"))
                .unwrap_or_default()
        )
    }
}

/// The spiking configurations measured.
const SPIKING: [Spiking; 8] = [
    Spiking {
        steps: 25,
        latency: false,
        hidden: 128,
        budget: None,
    },
    Spiking {
        steps: 10,
        latency: false,
        hidden: 128,
        budget: None,
    },
    Spiking {
        steps: 5,
        latency: false,
        hidden: 128,
        budget: None,
    },
    Spiking {
        steps: 10,
        latency: false,
        hidden: 128,
        budget: Some(0.02),
    },
    Spiking {
        steps: 10,
        latency: true,
        hidden: 128,
        budget: None,
    },
    Spiking {
        steps: 5,
        latency: true,
        hidden: 128,
        budget: None,
    },
    Spiking {
        steps: 5,
        latency: true,
        hidden: 32,
        budget: None,
    },
    Spiking {
        steps: 5,
        latency: false,
        hidden: 32,
        budget: None,
    },
];

/// Hidden sizes of the dense baselines.
const DENSE_HIDDEN: [usize; 4] = [16, 32, 64, 128];

/// `digits.toml` with the time steps, encoding, hidden size and budget replaced.
fn config(base: &str, steps: usize, latency: bool, hidden: usize, budget: Option<f64>) -> String {
    let mut section = "";
    let mut out: Vec<String> = Vec::new();
    for l in base.lines() {
        if l.starts_with('[') {
            section = l;
        }
        let line = if l.starts_with("time_steps") {
            format!("time_steps = {steps}")
        } else if section.starts_with("[encoding]") && latency && l.starts_with("kind") {
            "kind = \"latency\"".to_string()
        } else if section.starts_with("[encoding]") && latency && l.starts_with("seed") {
            // The latency encoder draws nothing: it has no seed.
            continue;
        } else if l.starts_with("size = 128") {
            format!("size = {hidden}")
        } else {
            l.to_string()
        };
        out.push(line);
    }
    if let Some(b) = budget {
        // A top-level array of tables may follow the [network] tables in TOML.
        out.push(format!(
            "\n[[budget]]\nlayer = 0\nmax_rate = {b}\nmethod = \"lagrange\"\nmultiplier_lr = 100.0"
        ));
    }
    out.join("\n") + "\n"
}

fn write(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))
}

/// The result measured for `text` at `samples` (the variant's config) by an earlier run, if any.
fn cached(result: &Path, text: &str, samples: usize) -> Option<(f64, f64)> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(result).ok()?).ok()?;
    (v["config"].as_str()? == text && v["samples"].as_u64()? == samples as u64)
        .then(|| Some((v["accuracy"].as_f64()?, v["instructions"].as_f64()?)))?
}

/// Runs `measure` unless `cached` has the result of the same config and samples; stores it.
fn measure_once(
    dir: &Path,
    tag: &str,
    text: &str,
    samples: usize,
    measure: impl FnOnce(&Path) -> Result<(f64, f64)>,
) -> Result<(f64, f64)> {
    let result = dir.join(format!("{tag}.result.json"));
    if let Some(r) = cached(&result, text, samples) {
        return Ok(r);
    }
    let cfg = dir.join(format!("{tag}.toml"));
    write(&cfg, text)?;
    let (acc, instr) = measure(&cfg)?;
    let v = json!({"config": text, "samples": samples, "accuracy": acc, "instructions": instr});
    write(&result, &v.to_string())?;
    Ok((acc, instr))
}

/// Trains, exports and simulates one spiking variant; returns (accuracy %, M4 instructions).
fn spiking(snn: &Path, dir: &Path, base: &str, v: &Spiking, samples: usize) -> Result<(f64, f64)> {
    let tag = v.label().replace([' ', '='], "_");
    let text = config(base, v.steps, v.latency, v.hidden, v.budget);
    measure_once(dir, &tag, &text, samples, |cfg| {
        spiking_run(snn, dir, &tag, cfg, samples)
    })
}

/// The measurement of [`spiking`].
fn spiking_run(
    snn: &Path,
    dir: &Path,
    tag: &str,
    cfg: &Path,
    samples: usize,
) -> Result<(f64, f64)> {
    let run = dir.join(format!("run-{tag}"));
    capture(
        Command::new(snn)
            .args(["--threads", "2", "train", "--config"])
            .arg(cfg)
            .arg("--out")
            .arg(&run)
            .args(["--overwrite", "--quiet", "--json"]),
        "snn train",
    )?;
    let model = dir.join(format!("{tag}.snn"));
    capture(
        Command::new(snn)
            .args(["--threads", "1", "export"])
            .arg(&run)
            .arg("-o")
            .arg(&model)
            .args(["--qat-epochs", "1", "--json"]),
        "snn export",
    )?;
    let sim = last_json(
        &capture(
            Command::new(snn)
                .arg("simulate")
                .arg(&model)
                .arg("--checkpoint")
                .arg(&run)
                .arg("--json"),
            "snn simulate",
        )?,
        "snn simulate",
    )?;
    let acc = 100.0 * num(&sim, "accuracy", "snn simulate")?;
    let bytes = std::fs::read(&model)?;
    let rep = crate::hil::on_qemu(Board::Mps2An386, &bytes, samples)?;
    crate::hil::judge(&rep)?;
    let cost: u64 = rep.results.iter().map(|r| r.cost).sum();
    Ok((acc, cost as f64 / rep.samples.max(1) as f64))
}

/// Trains and quantises one dense baseline; returns (int8 accuracy %, M4 instructions).
fn dense(snn: &Path, dir: &Path, base: &str, hidden: usize, samples: usize) -> Result<(f64, f64)> {
    let text = config(base, 25, false, hidden, None);
    measure_once(dir, &format!("dense-{hidden}"), &text, samples, |cfg| {
        dense_run(snn, dir, cfg, hidden, samples)
    })
}

/// The measurement of [`dense`].
fn dense_run(
    snn: &Path,
    dir: &Path,
    cfg: &Path,
    hidden: usize,
    samples: usize,
) -> Result<(f64, f64)> {
    let model = dir.join(format!("dense-{hidden}.dense"));
    let out = last_json(
        &capture(
            Command::new(snn)
                .args(["--threads", "2", "dense", "--config"])
                .arg(cfg)
                .arg("-o")
                .arg(&model)
                .arg("--json"),
            "snn dense",
        )?,
        "snn dense",
    )?;
    let acc = 100.0 * num(&out, "int8_accuracy", "snn dense")?;
    let r = crate::bench_dense::on_qemu(Board::Mps2An386, &model, samples)?;
    Ok((acc, r.instructions))
}

/// `cargo xtask frontier [--samples N]`.
pub fn run_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("frontier", args, &["samples"])?;
    let samples = o.num("samples", 300usize)?;
    let dir = root().join("target/frontier");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    capture(
        cargo()
            .current_dir(root())
            .args(["build", "-p", "snn-sdk", "--bin", "snn"]),
        "cargo build -p snn-sdk --bin snn",
    )?;
    let snn = root().join("target/debug/snn");
    let base = std::fs::read_to_string(root().join("models/zoo/digits.toml"))?;
    let mut dense_points = Vec::new();
    for h in DENSE_HIDDEN {
        let (acc, instr) = dense(&snn, &dir, &base, h, samples)?;
        println!("frontier: dense int8 H={h}: {acc:.2} %, {instr:.0} instructions on the M4");
        dense_points.push((instr, acc, format!("H={h}")));
    }
    let mut spiking_points = Vec::new();
    for v in &SPIKING {
        let (acc, instr) = spiking(&snn, &dir, &base, v, samples)?;
        println!(
            "frontier: spiking {}: {acc:.2} %, {instr:.0} instructions on the M4",
            v.label()
        );
        spiking_points.push((instr, acc, v.label()));
    }
    // The question of the issue: the dense baseline of the zoo shape (H = 128).
    let (d_instr, d_acc, _) = dense_points
        .iter()
        .find(|p| p.2 == "H=128")
        .cloned()
        .context("the H=128 dense baseline")?;
    println!(
        "| family | configuration | test accuracy | M4 instructions/inference | vs dense H=128 |"
    );
    println!("|---|---|---:|---:|---|");
    for (fam, pts) in [("dense int8", &dense_points), ("spiking", &spiking_points)] {
        for (instr, acc, label) in pts.iter() {
            let verdict = if *instr < d_instr && *acc >= d_acc - 1.0 {
                "cheaper, within 1 point"
            } else if *instr < d_instr {
                "cheaper, > 1 point worse"
            } else {
                "costlier"
            };
            println!(
                "| {fam} | {label} | {acc:.2} % | {instr:.0} | {:.2}x, {verdict} |",
                instr / d_instr
            );
        }
    }
    let found = spiking_points
        .iter()
        .any(|(i, a, _)| *i < d_instr && *a >= d_acc - 1.0);
    println!(
        "frontier: {} spiking configuration is cheaper than the dense baseline ({d_instr:.0} \
         instructions, {d_acc:.2} %) on the M4 within 1 point of its accuracy",
        if found { "a" } else { "no" }
    );
    let to_json = |pts: &[(f64, f64, String)]| -> Vec<Value> {
        let mut pts = pts.to_vec();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        pts.iter()
            .map(|(i, a, l)| json!({"instructions": i, "accuracy": a, "label": l}))
            .collect()
    };
    let data = json!({"core": "cortex-m4", "samples": samples, "series": [
        {"name": "dense int8 (ReLU MLP)", "points": to_json(&dense_points)},
        {"name": "spiking (integer engine)", "points": to_json(&spiking_points)},
    ]});
    let json_path = dir.join("frontier.json");
    write(&json_path, &data.to_string())?;
    let svg: PathBuf = root().join("docs/frontier.svg");
    std::fs::create_dir_all(root().join("docs"))?;
    capture(
        Command::new(&snn)
            .args(["plot", "frontier"])
            .arg(&json_path)
            .arg("-o")
            .arg(&svg)
            .args([
                "--title",
                "Digits on the Cortex-M4: accuracy vs instructions",
            ]),
        "snn plot frontier",
    )?;
    println!("{data}");
    println!(
        "frontier: wrote {} and {}",
        json_path.display(),
        svg.display()
    );
    Ok(())
}
