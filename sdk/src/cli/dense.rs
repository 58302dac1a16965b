//! `snn dense --config CONFIG -o FILE [--epochs N] [--json]`: the non-spiking int8 baseline of a
//! spiking config. Trains a ReLU MLP of the config's shape on its data and split
//! ([`crate::train::mlp`]), quantises it to the int8 dense file ([`crate::deploy::dense`]),
//! writes the file atomically and reports float and int8 test accuracy.
use std::path::PathBuf;

use clap::Args;

use super::{CliError, CliResult};
use crate::deploy::dense::{accuracy, quantise};
use crate::train::mlp::{train, MlpOptions};
use crate::train::TrainConfig;

/// Options of `snn dense`.
#[derive(Args, Debug)]
pub struct DenseArgs {
    /// The spiking config whose shape, data, split, seed and optimiser settings to use.
    #[arg(long)]
    pub config: PathBuf,
    /// The dense model file to write (e.g. models/zoo/digits.dense).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Epochs [default: the config's train.epochs].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// One JSON summary line last.
    #[arg(long)]
    pub json: bool,
}

/// Runs `snn dense`.
pub fn run(args: DenseArgs) -> CliResult {
    let cfg = TrainConfig::from_toml_file(&args.config)?;
    if cfg.series.is_some() {
        return Err(CliError::input(format!(
            "{}: a [series] config (time series) has no dense baseline yet; use a tabular \
             config such as models/zoo/digits.toml",
            args.config.display()
        )));
    }
    let t = train(
        &cfg,
        MlpOptions {
            epochs: args.epochs,
        },
    )?;
    let bytes = quantise(&t.mlp, &t.split.train)?;
    let int8 = accuracy(&bytes, &t.split.test)?;
    crate::train::atomic::write(&args.out, &bytes)?;
    let macs: usize = t.mlp.sizes.windows(2).map(|w| w[0] * w[1]).sum();
    println!(
        "dense baseline {:?}: float test accuracy {:.2} % (train {:.2} %), int8 {:.2} % on {} \
         test samples; {} MACs per inference; wrote {} ({} bytes)",
        t.mlp.sizes,
        100.0 * t.test_accuracy,
        100.0 * t.train_accuracy,
        100.0 * int8,
        t.split.test.len(),
        macs,
        args.out.display(),
        bytes.len()
    );
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "sizes": t.mlp.sizes,
                "float_accuracy": t.test_accuracy,
                "int8_accuracy": int8,
                "test_samples": t.split.test.len(),
                "macs": macs,
                "bytes": bytes.len(),
                "out": args.out.display().to_string(),
            })
        );
    }
    Ok(())
}
