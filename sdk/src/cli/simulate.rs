//! `snn simulate MODEL [--checkpoint RUN] [--data digits|FILE.csv] [--max-ram BYTES] [--json]`:
//! the integer engine (the device's code) on the host over a data set (the library's
//! [`crate::deploy::simulate`]).
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, CliResult};
use crate::deploy::simulate::{agreement, all_rows, check_ram, run_engine, run_float};

/// Options of `snn simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Model file (.snn).
    pub model: PathBuf,
    /// Data set: `digits` (bundled) or a CSV file (no header, label last, min-max scaled over
    /// the file); for a continuous-input (series) model a `.ts` file (or, with a series
    /// --checkpoint, a file in the run's format; default there: the run's test file). Every row is run, seeded by its row index. Ignored when the checkpoint is known.
    #[arg(long, default_value = "digits")]
    pub data: String,
    /// Training checkpoint of the model: runs its test split (as in training) and reports
    /// float_accuracy [default: the checkpoint named in the model card, when it exists].
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Refuse a model whose engine state needs more than BYTES of RAM [default: no limit].
    #[arg(long, value_name = "BYTES")]
    pub max_ram: Option<usize>,
    /// Per-sample JSON lines ({"row", "label", "predicted"}), then a one-line JSON summary last.
    #[arg(long)]
    pub json: bool,
}

/// Runs `snn simulate`.
pub fn run(args: SimulateArgs) -> CliResult {
    let bytes = crate::deploy::inspect::read_model(&args.model)?;
    let model = snn_models::decode(&bytes).map_err(|e| {
        CliError::input(format!(
            "{} is not a valid model: {e}",
            args.model.display()
        ))
    })?;
    if let Some(limit) = args.max_ram {
        check_ram(&model, limit)
            .map_err(|e| CliError::input(format!("refusing {}: {e}", args.model.display())))?;
    }
    if model.header.encoding.is_continuous() {
        let run = args
            .checkpoint
            .as_deref()
            .map(super::run::load)
            .transpose()?;
        let data = (args.data != "digits").then(|| PathBuf::from(&args.data));
        return super::series::simulate(
            &args.model,
            &bytes,
            run.as_ref(),
            data.as_deref(),
            args.json,
        );
    }
    let from_card = || -> Option<PathBuf> {
        let card =
            std::fs::read_to_string(crate::deploy::card::ModelCard::path_for(&args.model)).ok()?;
        let card: crate::deploy::card::ModelCard = serde_json::from_str(&card).ok()?;
        let p = PathBuf::from(card.provenance?.checkpoint);
        p.exists().then_some(p)
    };
    let checkpoint = args.checkpoint.clone().or_else(from_card);
    if let Some(c) = checkpoint.as_deref().filter(|c| !c.exists()) {
        return Err(CliError::input(format!(
            "--checkpoint {}: no such file or directory",
            c.display()
        )));
    }
    let run = checkpoint
        .as_deref()
        .map(crate::deploy::export::load_run)
        .transpose()?;
    let owned_rows;
    let (rows, source) = match &run {
        Some(r) => (
            &r.split.test,
            format!("test split of {}", r.checkpoint.display()),
        ),
        None => {
            let data = if args.data == "digits" {
                crate::data::Digits::load()?
            } else {
                crate::data::Dataset::from_csv(Path::new(&args.data), &Default::default())?
            };
            owned_rows = all_rows(&data);
            (
                &owned_rows,
                format!("all {} rows of {}", owned_rows.len(), args.data),
            )
        }
    };
    let input = usize::from(model.header.input_size);
    if rows.num_features != input {
        return Err(CliError::input(format!(
            "the data have {} features per row but the model expects {input} inputs",
            rows.num_features
        )));
    }
    let samples = crate::deploy::export::samples_of(rows);
    let report = run_engine(&model, &samples)?;
    let float_accuracy = match &run {
        Some(r) => {
            let pred = run_float(&r.float_layers()?, &model.header, &samples)?;
            Some(agreement(&pred, &report.labels))
        }
        None => None,
    };
    for (x, p) in samples.iter().zip(&report.predictions) {
        if args.json {
            println!(
                "{}",
                serde_json::json!({"row": x.seed, "label": x.label, "predicted": p})
            );
        } else {
            println!(
                "row {:>5}  label {:>3}  predicted {:>3}",
                x.seed, x.label, p
            );
        }
    }
    if args.json {
        println!("{}", report.summary_json(float_accuracy));
    } else {
        println!("{} on {source}", args.model.display());
        print!("{}", report.render(float_accuracy));
    }
    Ok(())
}
