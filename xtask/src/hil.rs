//! `cargo xtask hil`: upload a model to a board, stream digits samples, compare every count with
//! the host engine (the same `snn_models` code), and fail listing each sample that differs.
use crate::args::Opts;
use crate::firmware::{build, flash, scratch, Board};
use crate::setup::{ensure_qemu, run};
use crate::{defmt_log, digits};
use anyhow::{bail, Context, Result};
use snn_hal::host::{digit_features, Client, Qemu};
use snn_hal::protocol::{CostUnit, InferResult, Input};
use snn_models::{decode, Engine, Requirements};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes (atomically) the seeded random digits-shaped model with `hidden` neurons; returns its path.
pub fn synthetic_model(hidden: u16) -> Result<PathBuf> {
    let bytes = snn_hal::synthetic::digits_model(hidden, 1)
        .map_err(|e| anyhow::anyhow!("synthetic model: {e}"))?;
    write_model(&format!("synthetic-digits-{hidden}.snnm"), &bytes)
}

/// Writes (atomically) the seeded random model that exercises sparse, recurrent, bias,
/// per-neuron leak, 4-bit and population-output paths; returns its path.
pub fn synthetic_rich_model() -> Result<PathBuf> {
    let bytes = snn_hal::synthetic::digits_model_rich(1)
        .map_err(|e| anyhow::anyhow!("synthetic model: {e}"))?;
    write_model("synthetic-digits-rich.snnm", &bytes)
}

fn write_model(name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let path = scratch()?.join(name);
    let tmp = path.with_extension("snnm.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("rename to {}", path.display()))?;
    Ok(path)
}

/// What the host engine computes for one sample.
pub struct HostRun {
    /// Output spike counts.
    pub counts: Vec<u16>,
    /// Spikes per layer.
    pub layers: Vec<u32>,
    /// Synaptic events.
    pub events: u64,
    /// Predicted class.
    pub predicted: u16,
    /// Rate-budget verdict per layer.
    pub budget_ok: Vec<bool>,
}

/// Runs one sample through the host engine.
pub fn host_infer(model: &[u8], features: &[u8], seed: u32) -> Result<HostRun> {
    let m = decode(model).map_err(|e| anyhow::anyhow!("model: {e}"))?;
    let r = Requirements::of(&m);
    let (mut a, mut b, mut c, mut d) = (
        vec![0; r.membrane],
        vec![0; r.current],
        vec![0; r.spikes],
        vec![0; r.out_counts],
    );
    let mut e = Engine::new(&m, &mut a, &mut b, &mut c, &mut d)
        .map_err(|e| anyhow::anyhow!("engine: {e}"))?;
    e.run_features(features, seed)
        .map_err(|e| anyhow::anyhow!("engine: {e}"))?;
    Ok(HostRun {
        counts: e.output_counts().to_vec(),
        layers: e.stats().layer_spikes[..m.layers.len()].to_vec(),
        events: e.stats().synaptic_events,
        predicted: e.predicted_class(),
        budget_ok: (0..m.layers.len()).map(|l| e.budget_ok(l)).collect(),
    })
}

/// Outcome of a hil run.
pub struct HilReport {
    /// Samples run.
    pub samples: usize,
    /// One line per differing sample.
    pub mismatches: Vec<String>,
    /// Device results, in sample order, with the host's synaptic events and neuron updates.
    pub results: Vec<InferResult>,
    /// Correct predictions against the labels (for information: the synthetic model is random).
    pub correct: usize,
    /// Spikes per layer over all samples.
    pub layer_totals: Vec<u64>,
    /// Counter unit of the device.
    pub unit: CostUnit,
    /// Name of the loaded model.
    pub model: String,
}

/// Loads `model` on the device behind `client` and compares `samples` digits rows with the host.
pub fn compare(client: &mut Client, model: &[u8], samples: usize) -> Result<HilReport> {
    let info = client.info().context("Info")?;
    let loaded = client.load(model).context("upload the model")?;
    println!(
        "xtask: {} (firmware {}, protocol {}) loaded `{}` ({} bytes, {} neurons); device takes up \
         to {} bytes / {} neurons",
        info.board,
        info.firmware,
        info.protocol,
        loaded.name,
        loaded.bytes,
        loaded.neurons,
        info.max_model_bytes,
        info.max_neurons
    );
    let rows = digits::last(samples)?;
    let mut rep = HilReport {
        samples: rows.len(),
        mismatches: Vec::new(),
        results: Vec::new(),
        correct: 0,
        layer_totals: Vec::new(),
        unit: info.cost_unit,
        model: loaded.name.to_string(),
    };
    for s in &rows {
        let f = digit_features(&s.pixels);
        let dev = client
            .infer(Input::Features(&f), s.row)
            .with_context(|| format!("infer row {}", s.row))?;
        let host = host_infer(model, &f, s.row)?;
        let dev_layers: Vec<u32> = dev.layers.iter().map(|l| l.spikes).collect();
        let dev_budget: Vec<bool> = dev.layers.iter().map(|l| l.budget_ok).collect();
        if dev.counts.as_slice() != host.counts.as_slice()
            || dev_layers != host.layers
            || dev_budget != host.budget_ok
            || dev.synaptic_events != host.events
            || dev.predicted != host.predicted
        {
            rep.mismatches.push(format!(
                "row {}: device counts {:?} layers {:?} budgets {:?} events {} class {}; host \
                 counts {:?} layers {:?} budgets {:?} events {} class {}",
                s.row,
                dev.counts.as_slice(),
                dev_layers,
                dev_budget,
                dev.synaptic_events,
                dev.predicted,
                host.counts,
                host.layers,
                host.budget_ok,
                host.events,
                host.predicted
            ));
        }
        if rep.layer_totals.len() < host.layers.len() {
            rep.layer_totals.resize(host.layers.len(), 0);
        }
        for (t, &n) in rep.layer_totals.iter_mut().zip(&host.layers) {
            *t += u64::from(n);
        }
        rep.correct += usize::from(dev.predicted == u16::from(s.label));
        rep.results.push(dev);
    }
    Ok(rep)
}

/// Runs hil on the emulated board; returns the report (the caller judges it).
pub fn on_qemu(model: &[u8], samples: usize) -> Result<HilReport> {
    ensure_qemu()?;
    let elf = build(Board::Mps2An386, None)?;
    let log = scratch()?.join("hil.defmt");
    let (mut qemu, mut client) = Qemu::spawn(&elf, &log)?;
    let rep = compare(&mut client, model, samples);
    let exited = qemu.exited();
    drop(qemu);
    if rep.is_err() || exited.is_some() {
        println!("xtask: firmware log:");
        defmt_log::print(&elf, &log);
    }
    rep
}

fn on_probe(board: Board, port: &Path, model: &[u8], samples: usize) -> Result<HilReport> {
    let elf = build(board, None)?;
    flash(board, &elf)?;
    run(Command::new("stty")
        .arg("-F")
        .arg(port)
        .args(["115200", "raw", "-echo"]))
    .with_context(|| format!("configure serial port {}", port.display()))?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(port)
        .with_context(|| format!("open serial port {}", port.display()))?;
    let mut client = Client::new(file.try_clone()?, file);
    compare(&mut client, model, samples)
}

/// Prints the report and fails on any mismatch or a silent layer.
pub fn judge(rep: &HilReport) -> Result<()> {
    let n = rep.samples.max(1) as f64;
    let events: u64 = rep.results.iter().map(|r| r.synaptic_events).sum();
    let cost: u64 = rep.results.iter().map(|r| r.cost).sum();
    let note = if rep.model.starts_with("synthetic") {
        " (random weights: chance level)"
    } else {
        ""
    };
    println!(
        "xtask hil: `{}`: {} samples, {} mismatches; accuracy {:.1}%{note}",
        rep.model,
        rep.samples,
        rep.mismatches.len(),
        100.0 * rep.correct as f64 / n
    );
    println!(
        "xtask hil: mean spikes per sample by layer: {:?}; mean synaptic events {:.0}",
        rep.layer_totals
            .iter()
            .map(|&t| (t as f64 / n).round())
            .collect::<Vec<_>>(),
        events as f64 / n
    );
    if rep.unit != CostUnit::None {
        println!(
            "xtask hil: {:?} per inference {:.0}, per synaptic event (all-in) {:.2}",
            rep.unit,
            cost as f64 / n,
            cost as f64 / events.max(1) as f64
        );
    }
    for m in &rep.mismatches {
        println!("  MISMATCH {m}");
    }
    if !rep.mismatches.is_empty() {
        bail!(
            "{} of {} samples differ between the board and the host engine",
            rep.mismatches.len(),
            rep.samples
        );
    }
    if let Some(l) = rep.layer_totals.iter().position(|&t| t == 0) {
        bail!("layer {l} never spiked: the run does not exercise every layer");
    }
    if rep.samples == 0 {
        bail!("no samples were run");
    }
    Ok(())
}

/// `cargo xtask hil [--board qemu|probe] [--model FILE] [--samples N] [--port DEV]`.
pub fn hil_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse(
        "hil",
        args,
        &[
            "board",
            "model",
            "samples",
            "port",
            "chip-board",
            "hidden",
            "synthetic",
        ],
    )?;
    let samples = o.num("samples", 300usize)?;
    let model_path = match (o.get("model"), o.get("synthetic").unwrap_or("plain")) {
        (Some(m), _) => PathBuf::from(m),
        (None, "plain") => synthetic_model(o.num("hidden", 128u16)?)?,
        (None, "rich") => synthetic_rich_model()?,
        (None, other) => bail!("`hil`: unknown --synthetic {other} (plain or rich)"),
    };
    let model =
        std::fs::read(&model_path).with_context(|| format!("read {}", model_path.display()))?;
    decode(&model).with_context(|| format!("{} is not a valid model", model_path.display()))?;
    let rep = match o.get("board").unwrap_or("qemu") {
        "qemu" => on_qemu(&model, samples)?,
        "probe" => {
            let board = Board::parse(o.get("chip-board").unwrap_or("nucleo-f446re"))?;
            let port = PathBuf::from(o.get("port").unwrap_or("/dev/ttyACM0"));
            on_probe(board, &port, &model, samples)?
        }
        other => bail!("`hil`: unknown --board {other} (qemu or probe)"),
    };
    judge(&rep)
}
