//! The time-series path of `snn train`, `eval`, `export` and `simulate`: runs whose config has a
//! `[series]` table (see [`crate::data::series::source`]). Training is masked and each sample
//! keeps its own length ([`crate::train::series`]); the model is format v2 with the channel
//! constants fitted on the training file ([`crate::deploy::series`]); the integer engine runs
//! each sample for exactly its `T_i` steps.
//!
//! Series checkpoints hold the weights and the config (with `series.train`/`series.test` made
//! absolute); they carry no optimiser moments, so `--resume` is refused for them.
use std::path::{Path, PathBuf};

use super::run::{LoadedRun, SplitChoice};
use super::{CliError, CliResult};
use crate::data::series::input::SeriesInput;
use crate::data::series::source::SeriesSource;
use crate::data::series::SeriesSet;
use crate::net::Network;
use crate::train::checkpoint::{self, CheckpointMeta};
use crate::train::optim::{Adam, AdamConfig};
use crate::train::series::{accuracy_float, SeriesTrainOptions};
use crate::train::TrainConfig;

/// The config's `[series]` table, or an error for a config without one.
fn source(cfg: &TrainConfig) -> CliResult<&SeriesSource> {
    cfg.series
        .as_ref()
        .ok_or_else(|| CliError::input("the config has no [series] table"))
}

/// Loads the training and test files and fits the input on the training file; checks that the
/// network's input size and output layer match the data (errors name the field).
pub fn load(cfg: &TrainConfig) -> CliResult<(SeriesSet, SeriesSet, SeriesInput)> {
    let src = source(cfg)?;
    let (train, test) = src
        .load(cfg.base_dir.as_deref())
        .map_err(|e| CliError::input(e.to_string()))?;
    let input = SeriesInput::fit(src.encoder, &train);
    if cfg.network.input_size != input.inputs() {
        return Err(CliError::input(format!(
            "network.input_size = {} but {} has {} channels, which the {:?} encoder makes {} inputs",
            cfg.network.input_size,
            src.train.display(),
            train.channels,
            input.encoding,
            input.inputs()
        )));
    }
    let out = cfg.network.layers.last().map_or(0, |l| l.size);
    if out != train.classes.len() {
        return Err(CliError::input(format!(
            "the last [[network.layers]] has size = {out} but {} has {} classes",
            src.train.display(),
            train.classes.len()
        )));
    }
    Ok((train, test, input))
}

/// Trains a series config into `run_dir` and prints the summary (test accuracy on the test file).
pub fn train(mut cfg: TrainConfig, run_dir: &Path, resume: bool, json: bool) -> CliResult {
    if resume {
        return Err(CliError::input(
            "--resume is not supported for [series] runs (their checkpoints hold no optimiser state)",
        ));
    }
    let (train_set, test_set, input) = load(&cfg)?;
    let device = candle_core::Device::Cpu;
    let mut net = Network::new(&cfg.network, cfg.seed, &device)?;
    let opts = SeriesTrainOptions {
        epochs: cfg.train.epochs,
        batch_size: cfg.train.batch_size,
        lr: cfg.train.lr,
        seed: cfg.seed,
        grad_clip: cfg.train.grad_clip,
        weight_decay: cfg.train.weight_decay,
        loss: crate::train::series::SeriesLoss::from_config(&cfg.loss)?,
        ..SeriesTrainOptions::default()
    };
    let rep = crate::train::series::train(&mut net, &input, &train_set, &opts)?;
    let test_acc = accuracy_float(&net, &input, &test_set)?;
    let base = cfg.base_dir.clone();
    if let Some(s) = cfg.series.as_mut() {
        s.absolutize(base.as_deref());
    }
    std::fs::create_dir_all(run_dir)
        .map_err(|e| CliError::runtime(format!("cannot create {}: {e}", run_dir.display())))?;
    let opt = Adam::new(checkpoint::sorted_vars(&net), AdamConfig::default())?;
    let meta = CheckpointMeta {
        epoch: cfg.train.epochs,
        step: 0,
        optimizer_steps: 0,
        wall_s: rep.seconds,
        config_toml: cfg.to_toml_string(),
        budget_state: None,
    };
    let ckpt = checkpoint::save(run_dir, &net, &opt, &meta)?;
    crate::train::atomic::write(
        &run_dir.join(checkpoint::CONFIG_FILE),
        cfg.to_toml_string().as_bytes(),
    )?;
    if json {
        let v = serde_json::json!({
            "test_acc": test_acc,
            "train_samples_per_s": rep.samples_per_sec,
            "train_steps_per_s": rep.steps_per_sec,
            "last_loss": rep.last_loss,
            "wall_s": rep.seconds,
            "epochs": cfg.train.epochs,
            "checkpoint": ckpt,
            "run_dir": run_dir,
        });
        println!("{v}");
    } else {
        println!(
            "test accuracy {:.2}% ({} series of the test file), {:.0} train samples/s, {:.1} s; checkpoint {}",
            100.0 * test_acc,
            test_set.series.len(),
            rep.samples_per_sec,
            rep.seconds,
            ckpt.display()
        );
    }
    Ok(())
}

/// `snn eval` of a series run: float accuracy on the test file, the training file or both.
pub fn eval(run: &LoadedRun, split: SplitChoice, json: bool) -> CliResult {
    let (train_set, test_set, input) = load(&run.cfg)?;
    let src = source(&run.cfg)?;
    let (what, acc, n) = match split {
        SplitChoice::Test => (
            src.test.display().to_string(),
            accuracy_float(&run.net, &input, &test_set)?,
            test_set.series.len(),
        ),
        SplitChoice::Train => (
            src.train.display().to_string(),
            accuracy_float(&run.net, &input, &train_set)?,
            train_set.series.len(),
        ),
        SplitChoice::All => {
            let a = accuracy_float(&run.net, &input, &train_set)?;
            let b = accuracy_float(&run.net, &input, &test_set)?;
            let (na, nb) = (train_set.series.len(), test_set.series.len());
            (
                "training and test files".to_owned(),
                (a * na as f64 + b * nb as f64) / (na + nb).max(1) as f64,
                na + nb,
            )
        }
    };
    if json {
        let v = serde_json::json!({
            "accuracy": acc,
            "samples": n,
            "data": what,
            "epoch": run.epoch,
            "checkpoint": run.checkpoint,
        });
        println!("{v}");
    } else {
        println!(
            "{} (epoch {}) on {what}: accuracy {:.2} % ({n} series)",
            run.checkpoint.display(),
            run.epoch,
            100.0 * acc
        );
    }
    Ok(())
}

/// `snn export` of a series run: a format-v2 model (`time_steps` = the longest series of either
/// file), written atomically, then the integer engine on the test file against float accuracy.
pub fn export(run: &LoadedRun, out: Option<PathBuf>, name: Option<&str>, json: bool) -> CliResult {
    let (train_set, test_set, input) = load(&run.cfg)?;
    let longest = train_set.length_range().1.max(test_set.length_range().1);
    let name = name.unwrap_or(&run.cfg.name);
    let model =
        crate::deploy::series::export(&run.net, &input, name, longest, train_set.classes.len())?;
    let bytes = model
        .to_bytes()
        .map_err(|e| CliError::runtime(format!("cannot encode the model: {e}")))?;
    let path = out.unwrap_or_else(|| run.dir.join("model.snn"));
    crate::train::atomic::write(&path, &bytes)?;
    let float = accuracy_float(&run.net, &input, &test_set)?;
    let eng = crate::deploy::series::run_engine(&bytes, &test_set)?;
    if json {
        let v = serde_json::json!({
            "model": path,
            "bytes": bytes.len(),
            "encoding": format!("{:?}", input.encoding),
            "time_steps": longest,
            "float_accuracy": float,
            "accuracy": eng.accuracy,
            "spikes_per_inference": eng.spikes_per_inference,
        });
        println!("{v}");
    } else {
        println!(
            "wrote {} ({} bytes, format v2, {:?} input, up to {longest} steps)",
            path.display(),
            bytes.len(),
            input.encoding
        );
        println!(
            "{}: float {:.2} %, integer engine {:.2} %, {:.1} spikes/inference",
            run.cfg
                .series
                .as_ref()
                .map_or_else(String::new, |s| s.test.display().to_string()),
            100.0 * float,
            100.0 * eng.accuracy,
            eng.spikes_per_inference
        );
    }
    Ok(())
}

/// `snn simulate` of a continuous-input model: the integer engine over a series file (`data`,
/// read like the run's training file, `.ts` by default) or the run's test file, each sample for
/// its own `T_i` steps; with the run also its float accuracy.
pub fn simulate(
    model_path: &Path,
    bytes: &[u8],
    run: Option<&LoadedRun>,
    data: Option<&Path>,
    json: bool,
) -> CliResult {
    let (set, source, float) = match (run, data) {
        (Some(r), None) => {
            let (_, test, input) = load(&r.cfg)?;
            let f = accuracy_float(&r.net, &input, &test)?;
            let what = source(&r.cfg)?.test.display().to_string();
            (test, what, Some(f))
        }
        (r, Some(path)) => {
            let src = r.and_then(|r| r.cfg.series.clone());
            let set = match &src {
                Some(s) => s.read(path),
                None => crate::data::series::ts::read(path, Default::default()),
            }
            .map_err(|e| CliError::input(e.to_string()))?;
            (set, path.display().to_string(), None)
        }
        (None, None) => {
            return Err(CliError::input(format!(
                "{} takes time series: give --data FILE.ts or --checkpoint RUN (a [series] run)",
                model_path.display()
            )))
        }
    };
    let r = crate::deploy::series::run_engine(bytes, &set)?;
    for (i, (p, y)) in r.predictions.iter().zip(&set.labels).enumerate() {
        let len = set.series[i].len();
        if json {
            println!(
                "{}",
                serde_json::json!({"row": i, "label": y, "predicted": p, "steps": len})
            );
        } else {
            println!("row {i:>5}  label {y:>3}  predicted {p:>3}  steps {len:>5}");
        }
    }
    if json {
        let v = serde_json::json!({
            "accuracy": r.accuracy,
            "float_accuracy": float,
            "samples": set.series.len(),
            "spikes_per_inference": r.spikes_per_inference,
            "layer_rates": r.layer_rates,
        });
        println!("{v}");
    } else {
        println!("{} on {source}", model_path.display());
        println!(
            "accuracy {:.2} %{}, {:.1} spikes/inference, rates per layer {:?}",
            100.0 * r.accuracy,
            float.map_or_else(String::new, |f| format!(" (float {:.2} %)", 100.0 * f)),
            r.spikes_per_inference,
            r.layer_rates
        );
    }
    Ok(())
}
