//! `snn simulate MODEL [--checkpoint RUN] [--data digits|FILE.csv] [--max-ram BYTES]
//! [--target CORE] [--board NAME] [--window W] [--threshold N] [--json]`: the integer engine (the
//! device's code) on the host over a data set (the library's [`crate::deploy::simulate`]), the
//! accuracy and mean latency of each decision rule ([`crate::deploy::decide`]), and the predicted
//! cost of one inference on a core or board ([`crate::deploy::cost`]).
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, CliResult};
use crate::deploy::cost::{Board, Core};
use crate::deploy::decide::DecisionReport;
use crate::deploy::simulate::{agreement, all_rows, check_ram, run_engine_with, run_float};
use crate::train::config::DecisionConfig;

/// Options of `snn simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Model file (.snn).
    pub model: PathBuf,
    /// Data set: `digits` (bundled) or a CSV file (no header, label last, min-max scaled over
    /// the file); for a continuous-input (series) model a `.ts` or sequence `.csv` file, for an
    /// event model an SHD `.h5` file or an N-MNIST directory (or, with a series --checkpoint, a
    /// file in the run's format; default there: the run's test data). Every row is run, seeded by its row index. Ignored when the checkpoint is known.
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
    /// Sliding-window decision rule: the class with most output spikes over the last W steps
    /// [default: the checkpoint config's `decision.window`, else 10].
    #[arg(long, value_name = "W")]
    pub window: Option<usize>,
    /// First-to-threshold decision rule: the first class whose output spike count reaches N
    /// [default: the checkpoint config's `decision.threshold`, else 5].
    #[arg(long, value_name = "N")]
    pub threshold: Option<u32>,
    /// Per-sample JSON lines ({"row", "label", "predicted", "window_predicted", ...}), then a
    /// one-line JSON summary last (with "decisions": accuracy and mean latency per rule).
    #[arg(long)]
    pub json: bool,
}

impl SimulateArgs {
    /// The decision rules: `--window`/`--threshold` over the run config's `[decision]` table
    /// (or the defaults), checked.
    pub fn rules(&self, config: Option<DecisionConfig>) -> CliResult<DecisionConfig> {
        let base = config.unwrap_or_default();
        let rules = DecisionConfig {
            window: self.window.unwrap_or(base.window),
            threshold: self.threshold.unwrap_or(base.threshold),
        };
        rules.validate().map_err(|e| {
            CliError::input(
                e.replace("decision.window", "--window")
                    .replace("decision.threshold", "--threshold"),
            )
        })?;
        Ok(rules)
    }
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
    let series_run = match (&args.checkpoint, model.header.encoding) {
        (Some(c), snn_models::Encoding::Events) => {
            Some(super::run::load(c)?).filter(|r| r.cfg.series.is_some())
        }
        _ => None,
    };
    let event_data = model.header.encoding == snn_models::Encoding::Events
        && args.data != "digits"
        && crate::data::series::source::SeriesFormat::guess(Path::new(&args.data)).is_events();
    if model.header.encoding.is_continuous() || series_run.is_some() || event_data {
        let run = match series_run {
            Some(r) => Some(r),
            None => args
                .checkpoint
                .as_deref()
                .map(super::run::load)
                .transpose()?,
        };
        let data = (args.data != "digits").then(|| PathBuf::from(&args.data));
        let rules = args.rules(run.as_ref().map(|r| r.cfg.decision))?;
        return super::series::simulate(
            &args.model,
            &bytes,
            run.as_ref(),
            data.as_deref(),
            rules,
            args.json,
            core.map(|c| (c, board)),
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
    let rules = args.rules(run.as_ref().map(|r| r.cfg.decision))?;
    let report = run_engine_with(&model, &samples, rules)?;
    let float_accuracy = match &run {
        Some(r) => {
            let pred = run_float(&r.float_layers()?, &model.header, &samples)?;
            Some(agreement(&pred, &report.labels))
        }
        None => None,
    };
    for ((x, p), d) in samples
        .iter()
        .zip(&report.predictions)
        .zip(&report.decisions.samples)
    {
        if args.json {
            let mut v = serde_json::json!({"row": x.seed, "label": x.label, "predicted": p});
            merge(&mut v, DecisionReport::sample_json(d));
            println!("{v}");
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
                println!("{}", b.cost_line(instructions, us));
            }
        }
    }
    Ok(())
}

/// Adds the fields of the JSON object `extra` to the object `v`.
pub(crate) fn merge(v: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(v), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
        v.extend(extra);
    }
}
