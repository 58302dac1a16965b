//! `snn simulate MODEL [--checkpoint RUN] [--data digits|FILE.csv] [--max-ram BYTES]
//! [--target CORE] [--board NAME] [--json]`: the integer engine (the device's code) on the host
//! over a data set (the library's [`crate::deploy::simulate`]), and the predicted cost of one
//! inference on a core or board ([`crate::deploy::cost`]).
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, CliResult};
use crate::deploy::cost::{Board, Core};
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
    /// Predict instructions per inference on this core (cortex-m0, cortex-m3, cortex-m4,
    /// cortex-m7, cortex-m33, rv32) from its `cargo xtask bench-fw` fit.
    #[arg(long, value_name = "CORE")]
    pub target: Option<String>,
    /// Also (or instead of --target) a board (nucleo-f446re, nrf52840-dk, rp-pico, esp32c3,
    /// microbit): its core, and the time (µs) and energy (µJ) per inference at its clock and
    /// datasheet run current (lower bounds: one instruction per cycle, the chip alone).
    #[arg(long, value_name = "NAME")]
    pub board: Option<String>,
    /// Per-sample JSON lines ({"row", "label", "predicted"}), then a one-line JSON summary last.
    #[arg(long)]
    pub json: bool,
}

/// Runs `snn simulate`.
pub fn run(args: SimulateArgs) -> CliResult {
    let board = args
        .board
        .as_deref()
        .map(Board::parse)
        .transpose()
        .map_err(|e| CliError::input(format!("--board: {e}")))?;
    let core = match (args.target.as_deref(), board) {
        (Some(t), _) => {
            Some(Core::parse(t).map_err(|e| CliError::input(format!("--target: {e}")))?)
        }
        (None, Some(b)) => Some(b.core),
        (None, None) => None,
    };
    if let (Some(c), Some(b)) = (core, board) {
        if c != b.core {
            return Err(CliError::input(format!(
                "--target {} but --board {} has a {}",
                c.name(),
                b.name,
                b.core.name()
            )));
        }
    }
    let dense =
        std::fs::read(&args.model).is_ok_and(|b| b.starts_with(&snn_models::dense::DENSE_MAGIC));
    if dense {
        return Err(CliError::input(format!(
            "{} is a dense int8 baseline (snn dense), not a spiking model: its accuracy is \
             printed by snn dense, its cost on each core by cargo xtask bench-dense",
            args.model.display()
        )));
    }
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
    let neurons: f64 = model.layers.iter().map(|l| f64::from(l.neurons)).sum();
    let updates = neurons * f64::from(model.header.time_steps);
    let cost = core.map(|c| {
        let instructions = c.instructions(report.synaptic_events_per_inference, updates);
        (c, instructions, board.map(|b| (b, b.micros(instructions))))
    });
    if args.json {
        let mut v: serde_json::Value = serde_json::from_str(&report.summary_json(float_accuracy))
            .map_err(|e| CliError::input(format!("summary: {e}")))?;
        if let Some((c, instructions, timed)) = cost {
            v["target"] = serde_json::json!(c.name());
            v["instructions_per_inference"] = serde_json::json!(instructions);
            if let Some((b, us)) = timed {
                v["board"] = serde_json::json!(b.name);
                v["clock_mhz"] = serde_json::json!(b.clock_mhz);
                v["micros_per_inference_min"] = serde_json::json!(us);
                v["micro_joules_per_inference_min"] =
                    serde_json::json!(b.micro_joules(instructions));
                v["run_ma"] = serde_json::json!(b.run_ma);
                v["supply_v"] = serde_json::json!(b.supply_v);
            }
        }
        println!("{v}");
    } else {
        println!("{} on {source}", args.model.display());
        print!("{}", report.render(float_accuracy));
        if let Some((c, instructions, timed)) = cost {
            let k = c.coefficients();
            println!(
                "{}: {instructions:.0} instructions per inference predicted ({:.2} x {:.0} events \
                 + {:.2} x {updates:.0} neuron updates + {:.0}, fitted by cargo xtask bench-fw)",
                c.name(),
                k.per_event,
                report.synaptic_events_per_inference,
                k.per_update,
                k.fixed
            );
            if let Some((b, us)) = timed {
                println!(
                    "{}: at least {us:.0} µs and {:.2} µJ per inference at {} MHz (one \
                     instruction per cycle; {} mA at {} V, {})",
                    b.name,
                    b.micro_joules(instructions),
                    b.clock_mhz,
                    b.run_ma,
                    b.supply_v,
                    b.source
                );
            }
        }
    }
    Ok(())
}
