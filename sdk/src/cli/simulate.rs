//! `snn simulate MODEL [--run RUN] [--data FILE] [--split …] [--max-ram BYTES] [--json]`: the
//! integer engine (the device's code) over a data set, through the library's
//! [`crate::simulate`].
use std::path::PathBuf;

use clap::Args;

use super::run::{self, SplitChoice};
use super::ui::Work;
use super::{CliError, CliResult};
use crate::data::{Dataset, Samples};
use crate::encode::eval_seed;
use crate::quant::FloatLayer;
use crate::simulate::{agreement, check_ram, run_engine, run_float, Sample, SimReport};

/// Options of `snn simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// The model file (written by `snn export`).
    pub model: PathBuf,
    /// The training run the model was exported from: its data split is used, and its float
    /// network is run on the same spikes for `float_accuracy`.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Data file to simulate (every row) [default: the run's data set, else the bundled digits].
    /// Without --run, features are scaled with the data set's default scaling (digits: p*255/16).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// With --run and no --data: which part of the run's data set.
    #[arg(long, value_enum, default_value_t = SplitChoice::Test)]
    pub split: SplitChoice,
    /// Refuse a model whose engine state (RAM) exceeds this many bytes [default: no limit].
    #[arg(long)]
    pub max_ram: Option<usize>,
    /// Print the predicted class of every sample (row, label, prediction).
    #[arg(long)]
    pub predictions: bool,
    /// Print a one-line JSON summary as the last line of stdout (adds `rows`: the data rows run).
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Samples of `s` for the engine (seed = the row, as on the device).
pub fn engine_samples(s: &Samples) -> Vec<Sample<'_>> {
    (0..s.len())
        .map(|i| Sample {
            features: s.features_of(i),
            label: s.labels[i] as u16,
            seed: eval_seed(s.rows[i]),
        })
        .collect()
}

/// Every row of a data file without a run: digits scaling for digits, min-max over all rows
/// otherwise.
fn standalone(path: Option<&PathBuf>) -> CliResult<(String, Samples)> {
    let data = match path {
        None => crate::Digits::load()?,
        Some(p) if !p.exists() => {
            return Err(CliError::input(format!(
                "--data {}: no such file",
                p.display()
            )))
        }
        Some(p) => {
            let digits = crate::Digits::load_path(p);
            match digits {
                Ok(d) => d,
                Err(_) => Dataset::from_csv(p, &crate::csv::CsvOptions::default())?,
            }
        }
    };
    let split = data.split(0.0, 0, data.default_scaling)?;
    Ok((
        format!("{} (all {} rows)", data.name, data.len()),
        split.train,
    ))
}

/// Runs `snn simulate`.
pub fn run(args: SimulateArgs) -> CliResult {
    let bytes = crate::inspect::read_model(&args.model)?;
    let model = snn_models::decode(&bytes).map_err(|e| {
        CliError::input(format!(
            "{} is not a valid model: {e}",
            args.model.display()
        ))
    })?;
    if let Some(limit) = args.max_ram {
        check_ram(&model, limit)
            .map_err(|e| CliError::input(format!("{}: {e}", args.model.display())))?;
    }
    let loaded = args.run.as_deref().map(run::load).transpose()?;
    let (what, samples) = match (&loaded, &args.data) {
        (Some(l), Some(p)) => l.external_samples(p)?,
        (Some(l), None) => l.split_samples(args.split)?,
        (None, p) => standalone(p.as_ref())?,
    };
    if samples.num_features != usize::from(model.header.input_size) {
        return Err(CliError::input(format!(
            "{what} has {} features per sample but {} takes {} inputs",
            samples.num_features,
            args.model.display(),
            model.header.input_size
        )));
    }
    let xs = engine_samples(&samples);
    let mut work = Work::new("simulate", xs.len(), args.quiet || args.json);
    let mut reports: Vec<SimReport> = Vec::new();
    for chunk in xs.chunks(64) {
        reports.push(run_engine(&model, chunk)?);
        work.inc(chunk.len());
    }
    work.finish();
    let report = merge(reports);
    let float_accuracy = match &loaded {
        Some(l) => {
            let layers = l
                .net
                .layer_params()?
                .iter()
                .enumerate()
                .map(|(i, p)| FloatLayer::from_network(p, i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CliError::input(e.to_string()))?;
            let pred = run_float(&layers, &model.header, &xs)?;
            Some(agreement(&pred, &report.labels))
        }
        None => None,
    };
    if args.predictions {
        println!("row,label,predicted");
        for (i, p) in report.predictions.iter().enumerate() {
            println!("{},{},{p}", samples.rows[i], report.labels[i]);
        }
    }
    if args.json {
        let mut v: serde_json::Value = serde_json::from_str(&report.summary_json(float_accuracy))
            .map_err(|e| CliError::runtime(format!("summary: {e}")))?;
        v["data"] = what.into();
        v["rows"] = samples.rows.clone().into();
        println!("{v}");
    } else {
        println!("{} on {what}", args.model.display());
        print!("{}", report.render(float_accuracy));
    }
    Ok(())
}

/// Combines per-chunk reports (run in chunks only to show progress) into one.
fn merge(parts: Vec<SimReport>) -> SimReport {
    let n: usize = parts.iter().map(|p| p.samples).sum();
    let w = |p: &SimReport| p.samples as f64 / n.max(1) as f64;
    let mut out = SimReport {
        samples: n,
        accuracy: 0.0,
        predictions: Vec::with_capacity(n),
        labels: Vec::with_capacity(n),
        rates: parts.first().map(|p| p.rates.clone()).unwrap_or_default(),
        synaptic_events_per_inference: 0.0,
        input_spikes_per_inference: 0.0,
        ram_bytes: parts.first().map_or(0, |p| p.ram_bytes),
    };
    for r in &mut out.rates {
        r.rate = 0.0;
        r.samples_within_budget = 0.0;
    }
    for p in &parts {
        out.accuracy += p.accuracy * w(p);
        out.synaptic_events_per_inference += p.synaptic_events_per_inference * w(p);
        out.input_spikes_per_inference += p.input_spikes_per_inference * w(p);
        out.predictions.extend_from_slice(&p.predictions);
        out.labels.extend_from_slice(&p.labels);
        for (o, r) in out.rates.iter_mut().zip(&p.rates) {
            o.rate += r.rate * w(p);
            o.samples_within_budget += r.samples_within_budget * w(p);
        }
    }
    for r in &mut out.rates {
        r.within_budget = r.rate <= r.max_rate && r.rate >= r.min_rate;
    }
    out.accuracy = agreement(&out.predictions, &out.labels);
    out
}
