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
    /// Print a one-line JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `snn eval`.
pub fn run(args: EvalArgs) -> CliResult {
    let loaded = run::load(&args.run)?;
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
