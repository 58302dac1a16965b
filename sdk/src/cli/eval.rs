//! `snn eval RUN [--data FILE] [--split test|train|all] [--json]`: float accuracy of a checkpoint.
use std::path::PathBuf;

use clap::Args;

use super::run::{self, SplitChoice};
use super::CliResult;
use crate::train::Trainer;

/// Options of `snn eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Run directory written by `snn train` (or its checkpoint.safetensors).
    pub run: PathBuf,
    /// Evaluate every row of this data file instead (read with the run's [data] options, scaled
    /// as in training; for a [series] run, a file or directory in its [series] format).
    /// Default: the run's own data set.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Which part of the run's data set to evaluate (ignored with --data).
    #[arg(long, value_enum, default_value_t = SplitChoice::Test)]
    pub split: SplitChoice,
    /// Drive the float network with this input spike train instead (a T × inputs array of 0/1
    /// as .json, .csv or .npy) and print every step's output spikes (with --json: one JSON line
    /// `{"steps", "spikes": [[0/1 per output neuron] per step], "counts"}`, plus for a
    /// `readout` output `"readout": {"membrane": [[v per neuron] per step], "max", "class"}`).
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    pub spikes: Option<PathBuf>,
    /// Print a one-line JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `snn eval`.
pub fn run(args: EvalArgs) -> CliResult {
    let loaded = run::load(&args.run)?;
    if let Some(file) = &args.spikes {
        let train = crate::nir::spikes::read_train(file)?;
        let driven = crate::nir::spikes::drive_all(&loaded.net, &train)?;
        let out = driven.spikes.last().cloned().unwrap_or_default();
        let counts: Vec<u32> = (0..out.first().map_or(0, Vec::len))
            .map(|i| out.iter().map(|r| u32::from(r[i])).sum())
            .collect();
        // A readout output: its membrane per step, the per-class maximum and the decision.
        let readout = driven.readout.as_ref().map(|mem| {
            let max: Vec<f32> = (0..mem.first().map_or(0, Vec::len))
                .map(|i| mem.iter().map(|r| r[i]).fold(f32::NEG_INFINITY, f32::max))
                .collect();
            let class = max
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (c, &v)| if v > b.1 { (c, v) } else { b },
                )
                .0;
            (mem, max, class)
        });
        if args.json {
            let mut v = serde_json::json!({ "steps": out.len(), "spikes": out, "counts": counts });
            if let Some((mem, max, class)) = &readout {
                v["readout"] = serde_json::json!({ "membrane": mem, "max": max, "class": class });
            }
            println!("{v}");
        } else if let Some((mem, max, class)) = &readout {
            for (t, r) in mem.iter().enumerate() {
                let s: Vec<String> = r.iter().map(|x| format!("{x:9.4}")).collect();
                println!("{t:5} {}", s.join(" "));
            }
            println!("readout max {max:?}  class {class}");
        } else {
            for (t, r) in out.iter().enumerate() {
                let s: String = r.iter().map(|&x| if x == 1 { '|' } else { '.' }).collect();
                println!("{t:5} {s}");
            }
            println!("counts {counts:?}");
        }
        return Ok(());
    }
    if loaded.cfg.series.is_some() {
        return super::series::eval(&loaded, args.split, args.data.as_deref(), args.json);
    }
    let (what, samples) = match &args.data {
        Some(path) => loaded.external_samples(path)?,
        None => loaded.split_samples(args.split)?,
    };
    let trainer = Trainer::new(loaded.cfg.clone(), loaded.net.clone())?;
    let (loss, acc, rates) = trainer.evaluate_on(&samples)?;
    if args.json {
        let v = serde_json::json!({
            "accuracy": acc,
            "loss": loss,
            "samples": samples.len(),
            "rates": rates,
            "data": what,
            "epoch": loaded.epoch,
            "checkpoint": loaded.checkpoint,
        });
        println!("{v}");
    } else {
        let rates: Vec<String> = rates.iter().map(|r| format!("{r:.4}")).collect();
        println!(
            "{} (epoch {}) on {what}: accuracy {:.2} %, loss {loss:.4}, rates per layer [{}] spikes/neuron/step",
            loaded.checkpoint.display(),
            loaded.epoch,
            100.0 * acc,
            rates.join(", ")
        );
    }
    Ok(())
}
