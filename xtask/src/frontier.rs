//! `cargo xtask frontier`: accuracy against instructions per inference on the emulated
//! Cortex-M4, spiking digits configurations (time steps, rate or latency coding, hidden size, a
//! hidden-layer rate budget, a non-spiking readout, epochs) against dense int8 baselines (hidden
//! sizes), to answer issue #16 item 4: is there a spiking configuration cheaper than the dense
//! baseline at no more than one point below its accuracy?
//!
//! Each variant is `models/zoo/digits.toml` with a few values replaced, trained and exported by
//! `snn` (`train`, `export --qat-epochs 1`, `simulate`: integer-engine accuracy on the test split)
//! or `snn dense` (int8 accuracy on the same split), and trained once more on the training rows
//! alone with a fifth of them held out (`holdout`): the validation accuracy on which the question
//! is decided; the test accuracy is reported. The trained models are cached (`cache`, keyed by
//! the config texts); the instructions are measured every run on the emulated M4, the mean over
//! the last N digits rows (`hil` for the spiking model — every count checked against the host —,
//! `bench-dense` for the dense one — every logit checked). Writes
//! `target/frontier/frontier.json`, prints a table and draws `docs/frontier.svg` with
//! `snn plot frontier`.
mod cache;
mod holdout;

use crate::args::Opts;
use crate::demo::{capture, last_json, num};
use crate::firmware::Board;
use crate::setup::{cargo, root};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One spiking configuration: time steps, encoding, hidden size, hidden rate budget, output.
#[derive(Clone, Copy)]
struct Spiking {
    steps: usize,
    latency: bool,
    hidden: usize,
    budget: Option<f64>,
    /// A non-spiking `readout` output layer (max-membrane decision, `ce_max_membrane`) instead
    /// of spiking output neurons counted (`mse_count`).
    readout: bool,
    /// Training epochs; `None`: the zoo config's 40.
    epochs: Option<usize>,
}

/// A spiking configuration with the zoo config's values but those named.
const fn sp(steps: usize, latency: bool, hidden: usize) -> Spiking {
    Spiking {
        steps,
        latency,
        hidden,
        budget: None,
        readout: false,
        epochs: None,
    }
}

/// [`sp`] with a readout output layer trained for `epochs`.
const fn ro(steps: usize, latency: bool, hidden: usize, epochs: usize) -> Spiking {
    Spiking {
        readout: true,
        epochs: Some(epochs),
        ..sp(steps, latency, hidden)
    }
}

impl Spiking {
    fn label(&self) -> String {
        format!(
            "{} T={} H={}{}{}{}",
            if self.latency { "latency" } else { "rate" },
            self.steps,
            self.hidden,
            if self.readout { " readout" } else { "" },
            self.epochs
                .map(|e| format!(" {e} epochs"))
                .unwrap_or_default(),
            self.budget
                .map(|b| format!(" budget {b}"))
                .unwrap_or_default()
        )
    }
}

/// The spiking configurations measured: the first eight the zoo model's output (spike counts),
/// then non-spiking readouts at few steps and small hidden layers, each the best of its
/// neighbours on the validation holdout in a sweep of T = 3 … 8, H = 24 … 64, 40 … 250 epochs
/// and hidden budgets 0.2, 0.3 (BENCHMARKS.md, "The frontier").
const SPIKING: [Spiking; 16] = [
    sp(25, false, 128),
    sp(10, false, 128),
    sp(5, false, 128),
    Spiking {
        budget: Some(0.02),
        ..sp(10, false, 128)
    },
    sp(10, true, 128),
    sp(5, true, 128),
    sp(5, true, 32),
    sp(5, false, 32),
    ro(3, false, 32, 150),
    ro(4, false, 32, 150),
    Spiking {
        budget: Some(0.3),
        ..ro(4, false, 32, 150)
    },
    ro(4, false, 24, 150),
    ro(4, false, 48, 80),
    ro(5, false, 32, 150),
    ro(6, false, 48, 150),
    ro(5, true, 64, 80),
];

/// Hidden sizes of the dense baselines.
const DENSE_HIDDEN: [usize; 4] = [16, 32, 64, 128];

/// `digits.toml` with the values of `v` replaced: time steps, encoding, hidden size, epochs;
/// a readout output layer (no threshold, reset or surrogate; `ce_max_membrane`); a hidden rate
/// budget appended. `data_path`: train on that digits file instead of the bundled set.
fn config(base: &str, v: &Spiking, data_path: Option<&Path>) -> String {
    let mut section = "";
    let mut layer = 0;
    let mut out: Vec<String> = Vec::new();
    for l in base.lines() {
        if l.starts_with('[') {
            section = l;
            if l.starts_with("[[network.layers]]") {
                layer += 1;
            }
        }
        let output_layer = section.starts_with("[[network.layers]]") && layer == 2;
        let line = if l.starts_with("time_steps") {
            format!("time_steps = {}", v.steps)
        } else if l.starts_with("epochs") && v.epochs.is_some() {
            format!("epochs = {}", v.epochs.unwrap_or(0))
        } else if section.starts_with("[data]") && l.starts_with("source") && data_path.is_some() {
            let p = data_path
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            format!("{l}\npath = {}", json!(p))
        } else if section.starts_with("[encoding]") && v.latency && l.starts_with("kind") {
            "kind = \"latency\"".to_string()
        } else if section.starts_with("[encoding]") && v.latency && l.starts_with("seed") {
            // The latency encoder draws nothing: it has no seed.
            continue;
        } else if section.starts_with("[loss]") && v.readout && l.starts_with("kind") {
            "kind = \"ce_max_membrane\"".to_string()
        } else if section.starts_with("[loss]") && v.readout && l.contains("_rate") {
            // The spike-count targets of mse_count: a readout has no spikes.
            continue;
        } else if output_layer && v.readout && l.starts_with("[[network.layers]]") {
            format!("{l}\nkind = \"readout\"")
        } else if output_layer && v.readout && l.starts_with("reset") {
            "reset = \"none\"".to_string()
        } else if output_layer
            && v.readout
            && (l.starts_with("threshold") || l.starts_with("surrogate"))
        {
            continue;
        } else if l.starts_with("size = 128") {
            format!("size = {}", v.hidden)
        } else {
            l.to_string()
        };
        out.push(line);
    }
    if let Some(b) = v.budget {
        // A top-level array of tables may follow the [network] tables in TOML.
        out.push(format!(
            "\n[[budget]]\nlayer = 0\nmax_rate = {b}\nmethod = \"lagrange\"\nmultiplier_lr = 100.0"
        ));
    }
    out.join("\n") + "\n"
}

/// Writes `text` to `path` through a temporary file and a rename.
fn write(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))
}

/// Where the frontier works: its directory, the `snn` binary, the zoo config, the validation
/// holdout's data file.
struct Work {
    dir: PathBuf,
    snn: PathBuf,
    base: String,
    train_rows: PathBuf,
}

impl Work {
    /// The `snn` command with `--threads n`.
    fn snn(&self, threads: &str) -> Command {
        let mut c = Command::new(&self.snn);
        c.args(["--threads", threads]);
        c
    }

    /// Writes `text` as `<name>.toml` and trains it into `run-<name>`; the train JSON summary.
    fn train(&self, name: &str, text: &str) -> Result<(PathBuf, Value)> {
        let cfg = self.dir.join(format!("{name}.toml"));
        write(&cfg, text)?;
        let run = self.dir.join(format!("run-{name}"));
        let out = capture(
            self.snn("2")
                .args(["train", "--config"])
                .arg(&cfg)
                .arg("--out")
                .arg(&run)
                .args(["--overwrite", "--quiet", "--json"]),
            "snn train",
        )?;
        Ok((run, last_json(&out, "snn train")?))
    }
}

/// The arguments of `snn export`, part of the cache key.
const EXPORT_ARGS: [&str; 3] = ["--qat-epochs", "1", "--json"];

/// The cache key of a variant: its config texts and the export arguments.
fn key(text: &str, validation: &str) -> String {
    format!("{text}\n# validation run:\n{validation}\n# export: {EXPORT_ARGS:?}\n")
}

/// Trains, exports and simulates one spiking variant (or takes it from the cache).
fn spiking_model(w: &Work, v: &Spiking) -> Result<cache::Entry> {
    let tag = v.label().replace([' ', '='], "_");
    let text = config(&w.base, v, None);
    let val_text = config(&w.base, v, Some(&w.train_rows));
    let key = key(&text, &val_text);
    if let Some(e) = cache::lookup(&w.dir, &tag, &key) {
        println!(
            "frontier: {} trained before with this config (cached)",
            v.label()
        );
        return Ok(e);
    }
    println!("frontier: training {}", v.label());
    let (run, _) = w.train(&tag, &text)?;
    let model = w.dir.join(format!("{tag}.snn"));
    capture(
        w.snn("1")
            .arg("export")
            .arg(&run)
            .arg("-o")
            .arg(&model)
            .args(EXPORT_ARGS),
        "snn export",
    )?;
    let sim = last_json(
        &capture(
            w.snn("2")
                .arg("simulate")
                .arg(&model)
                .arg("--checkpoint")
                .arg(&run)
                .arg("--json"),
            "snn simulate",
        )?,
        "snn simulate",
    )?;
    let (_, val) = w.train(&format!("{tag}-validation"), &val_text)?;
    let e = cache::Entry {
        model,
        test: 100.0 * num(&sim, "accuracy", "snn simulate")?,
        validation: 100.0 * num(&val, "test_acc", "snn train (validation)")?,
    };
    cache::store(&w.dir, &tag, &key, &e)?;
    Ok(e)
}

/// One measured point of the frontier.
#[derive(Clone)]
struct Point {
    label: String,
    validation: f64,
    test: f64,
    instructions: f64,
    /// Mean synaptic events per inference (spiking only).
    events: Option<f64>,
}

/// A spiking variant's model, measured by `hil` on the emulated M4 (every count checked).
fn spiking(w: &Work, v: &Spiking, samples: usize) -> Result<Point> {
    let e = spiking_model(w, v)?;
    let bytes = std::fs::read(&e.model).with_context(|| format!("read {}", e.model.display()))?;
    let rep = crate::hil::on_qemu(Board::Mps2An386, &bytes, samples)?;
    crate::hil::judge(&rep)?;
    let n = rep.samples.max(1) as f64;
    let cost: u64 = rep.results.iter().map(|r| r.cost).sum();
    let events: u64 = rep.results.iter().map(|r| r.synaptic_events).sum();
    Ok(Point {
        label: v.label(),
        validation: e.validation,
        test: e.test,
        instructions: cost as f64 / n,
        events: Some(events as f64 / n),
    })
}

/// Trains and quantises one dense baseline (or takes it from the cache), then measures it by
/// `bench-dense` on the emulated M4 (every logit checked).
fn dense(w: &Work, hidden: usize, samples: usize) -> Result<Point> {
    let v = sp(25, false, hidden);
    let tag = format!("dense-{hidden}");
    let text = config(&w.base, &v, None);
    let val_text = config(&w.base, &v, Some(&w.train_rows));
    let key = key(&text, &val_text);
    let e = match cache::lookup(&w.dir, &tag, &key) {
        Some(e) => {
            println!("frontier: dense H={hidden} trained before with this config (cached)");
            e
        }
        None => {
            println!("frontier: training dense H={hidden}");
            let acc = |name: &str, text: &str| -> Result<(PathBuf, f64)> {
                let cfg = w.dir.join(format!("{name}.toml"));
                write(&cfg, text)?;
                let model = w.dir.join(format!("{name}.dense"));
                let out = capture(
                    w.snn("2")
                        .args(["dense", "--config"])
                        .arg(&cfg)
                        .arg("-o")
                        .arg(&model)
                        .arg("--json"),
                    "snn dense",
                )?;
                let v = last_json(&out, "snn dense")?;
                Ok((model, 100.0 * num(&v, "int8_accuracy", "snn dense")?))
            };
            let (model, test) = acc(&tag, &text)?;
            let (_, validation) = acc(&format!("{tag}-validation"), &val_text)?;
            let e = cache::Entry {
                model,
                test,
                validation,
            };
            cache::store(&w.dir, &tag, &key, &e)?;
            e
        }
    };
    let r = crate::bench_dense::on_qemu(Board::Mps2An386, &e.model, samples)?;
    Ok(Point {
        label: format!("H={hidden}"),
        validation: e.validation,
        test: e.test,
        instructions: r.instructions,
        events: None,
    })
}

/// Writes the holdout's data files and checks that the test rows are the SDK's test split:
/// a latency-coded run (no random draws) must score the same accuracy and loss on the test rows
/// read as a file (`snn eval --data`) as on its own test split.
fn holdout_files(w: &Work) -> Result<()> {
    let rows = crate::digits::load()?;
    let test = holdout::test_rows(&rows, 0, 0.2);
    let train: Vec<bool> = test.iter().map(|t| !t).collect();
    write(&w.train_rows, &holdout::csv(&rows, &train))?;
    let test_rows = w.dir.join("digits-test-rows.csv");
    write(&test_rows, &holdout::csv(&rows, &test))?;
    let check = Spiking {
        epochs: Some(1),
        ..sp(5, true, 16)
    };
    let (run, _) = w.train("split-check", &config(&w.base, &check, None))?;
    let eval = |data: Option<&Path>| -> Result<Value> {
        let mut c = w.snn("2");
        c.arg("eval").arg(&run).arg("--json");
        if let Some(d) = data {
            c.arg("--data").arg(d);
        }
        last_json(&capture(&mut c, "snn eval")?, "snn eval")
    };
    let (own, file) = (eval(None)?, eval(Some(&test_rows))?);
    for k in ["samples", "accuracy", "loss"] {
        if own[k] != file[k] {
            bail!(
                "the frontier's validation holdout (xtask/src/frontier/holdout.rs) no longer \
                 matches the SDK's digits split: `{k}` is {} on the test split but {} on {}",
                own[k],
                file[k],
                test_rows.display()
            );
        }
    }
    Ok(())
}

/// `cargo xtask frontier [--samples N]`.
pub fn run_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("frontier", args, &["samples"])?;
    let samples = o.num("samples", 300usize)?;
    let started = std::time::Instant::now();
    let dir = root().join("target/frontier");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    capture(
        cargo()
            .current_dir(root())
            .args(["build", "-p", "snn-sdk", "--bin", "snn"]),
        "cargo build -p snn-sdk --bin snn",
    )?;
    let w = Work {
        snn: root().join("target/debug/snn"),
        base: std::fs::read_to_string(root().join("models/zoo/digits.toml"))?,
        train_rows: dir.join("digits-train-rows.csv"),
        dir,
    };
    holdout_files(&w)?;
    let mut dense_points = Vec::new();
    for h in DENSE_HIDDEN {
        let p = dense(&w, h, samples)?;
        println!(
            "frontier: dense int8 {}: validation {:.2} %, test {:.2} %, {:.0} instructions on \
             the M4",
            p.label, p.validation, p.test, p.instructions
        );
        dense_points.push(p);
    }
    let mut spiking_points = Vec::new();
    for v in &SPIKING {
        let p = spiking(&w, v, samples)?;
        println!(
            "frontier: spiking {}: validation {:.2} %, test {:.2} %, {:.0} instructions on the \
             M4, {:.0} synaptic events",
            p.label,
            p.validation,
            p.test,
            p.instructions,
            p.events.unwrap_or(0.0)
        );
        spiking_points.push(p);
    }
    // The question of the issue: the dense baseline of the zoo shape (H = 128), decided on the
    // validation holdout.
    let d = dense_points
        .iter()
        .find(|p| p.label == "H=128")
        .cloned()
        .context("the H=128 dense baseline")?;
    let wins = |p: &Point| p.instructions < d.instructions && p.validation >= d.validation - 1.0;
    println!(
        "| family | configuration | validation | test accuracy | M4 instr / inference | \
         synaptic events | ÷ dense H=128 | verdict (validation) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---|");
    for (fam, pts) in [("dense int8", &dense_points), ("spiking", &spiking_points)] {
        for p in pts.iter() {
            let verdict = if wins(p) {
                "cheaper, within 1 point"
            } else if p.instructions < d.instructions {
                "cheaper, > 1 point worse"
            } else {
                "costlier"
            };
            println!(
                "| {fam} | {} | {:.2} % | {:.2} % | {:.0} | {} | {:.2}x | {verdict} |",
                p.label,
                p.validation,
                p.test,
                p.instructions,
                p.events.map(|e| format!("{e:.0}")).unwrap_or_default(),
                p.instructions / d.instructions
            );
        }
    }
    let winners: Vec<&Point> = spiking_points.iter().filter(|p| wins(p)).collect();
    println!(
        "frontier: {} spiking configuration is cheaper than the dense baseline ({:.0} \
         instructions, validation {:.2} %, test {:.2} %) on the M4 within 1 point of its \
         validation accuracy{}",
        if winners.is_empty() { "no" } else { "a" },
        d.instructions,
        d.validation,
        d.test,
        winners
            .iter()
            .map(|p| format!(
                "\n  {}: {:.0} instructions, validation {:.2} %, test {:.2} % (dense test {:.2} %)",
                p.label, p.instructions, p.validation, p.test, d.test
            ))
            .collect::<String>()
    );
    let to_json = |pts: &[Point]| -> Vec<Value> {
        let mut pts = pts.to_vec();
        pts.sort_by(|a, b| a.instructions.total_cmp(&b.instructions));
        pts.iter()
            .map(|p| {
                json!({"instructions": p.instructions, "accuracy": p.test, "label": p.label,
                       "validation": p.validation, "events": p.events})
            })
            .collect()
    };
    let data = json!({"core": "cortex-m4", "samples": samples, "series": [
        {"name": "dense int8 (ReLU MLP)", "points": to_json(&dense_points)},
        {"name": "spiking (integer engine)", "points": to_json(&spiking_points)},
    ]});
    let json_path = w.dir.join("frontier.json");
    write(&json_path, &data.to_string())?;
    let svg: PathBuf = root().join("docs/frontier.svg");
    std::fs::create_dir_all(root().join("docs"))?;
    capture(
        Command::new(&w.snn)
            .args(["plot", "frontier"])
            .arg(&json_path)
            .arg("-o")
            .arg(&svg)
            .args([
                "--title",
                "Digits on the Cortex-M4: test accuracy vs instructions",
            ]),
        "snn plot frontier",
    )?;
    println!("{data}");
    println!(
        "frontier: wrote {} and {} ({:.0} s)",
        json_path.display(),
        svg.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> String {
        std::fs::read_to_string(root().join("models/zoo/digits.toml")).unwrap()
    }

    #[test]
    fn the_zoo_values_give_the_zoo_config() {
        // Only the values named change: the zoo's own values reproduce its text.
        let b = base();
        assert_eq!(config(&b, &sp(25, false, 128), None), b);
    }

    #[test]
    fn a_readout_variant_is_a_readout_config() {
        let v = Spiking {
            budget: Some(0.05),
            ..ro(4, true, 48, 150)
        };
        let t = config(&base(), &v, Some(Path::new("/x/rows.csv")));
        let lines: Vec<&str> = t.lines().collect();
        for l in [
            "time_steps = 4",
            "epochs = 150",
            "kind = \"latency\"",
            "kind = \"ce_max_membrane\"",
            "size = 48",
            "kind = \"readout\"",
            "reset = \"none\"",
            "path = \"/x/rows.csv\"",
            "max_rate = 0.05",
        ] {
            assert!(lines.contains(&l), "`{l}` missing from\n{t}");
        }
        // The hidden layer keeps its threshold and reset; the readout has neither threshold nor
        // surrogate, and the loss no spike-count targets.
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("threshold")).count(),
            1
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("surrogate")).count(),
            1
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("reset = \"subtract\""))
                .count(),
            1
        );
        assert!(!t.contains("correct_rate") && !t.contains("seed = 0                 # model"));
        // A readout is the last layer: `kind` follows the second layer's header.
        let second = t.match_indices("[[network.layers]]").nth(1).unwrap().0;
        assert!(t[second..].starts_with("[[network.layers]]\nkind = \"readout\""));
        // Whatever changes, the cache key changes.
        let other = config(
            &base(),
            &ro(4, true, 48, 151),
            Some(Path::new("/x/rows.csv")),
        );
        assert_ne!(key(&t, &t), key(&other, &t));
        assert_ne!(key(&t, &t), key(&t, &other));
    }

    #[test]
    fn labels_are_distinct() {
        let mut labels: Vec<String> = SPIKING.iter().map(Spiking::label).collect();
        labels.sort();
        labels.dedup();
        assert_eq!(
            labels.len(),
            SPIKING.len(),
            "two variants would share a cache entry"
        );
    }
}
