//! The time-series path of `snn train`, `eval`, `export` and `simulate`: runs whose config has a
//! `[series]` table (see [`crate::data::series::source`]). Training is masked and each sample
//! keeps its own length ([`crate::train::series`]); a continuous-input model is format v2 with the channel
//! constants fitted on the training file ([`crate::deploy::series`]); the integer engine runs
//! each sample for exactly its `T_i` steps.
//!
//! Series checkpoints hold the weights, the Adam moments, the epoch and the config (with
//! `series.train`/`series.test` made absolute); one is written after every epoch, so
//! `snn train --resume` continues a run exactly where it stopped. With `series.validation` the
//! held-out part of the training file is scored after every epoch.
use crate::deploy::cost::{Board, Core};
use std::path::{Path, PathBuf};

use super::run::{LoadedRun, SplitChoice};
use super::{CliError, CliResult};
use crate::data::series::input::SeriesInput;
use crate::data::series::source::{SeriesFormat, SeriesSource};
use crate::data::series::SeriesSet;
use crate::net::Network;
use crate::train::checkpoint::{self, CheckpointMeta};
use crate::train::optim::Adam;
use crate::train::series::{accuracy_float, SeriesHooks, SeriesTrainOptions};
use crate::train::TrainConfig;

/// The config's `[series]` table, or an error for a config without one.
fn source(cfg: &TrainConfig) -> CliResult<&SeriesSource> {
    cfg.series
        .as_ref()
        .ok_or_else(|| CliError::input("the config has no [series] table"))
}

/// Loads the training and test data (and the validation holdout) and fits the input on the
/// training part; checks that the network's input size and output layer match the data (errors
/// name the field).
pub fn load(cfg: &TrainConfig) -> CliResult<(SeriesSet, SeriesSet, SeriesInput)> {
    let (train, _, test, input) = load_parts(cfg)?;
    Ok((train, test, input))
}

/// [`load`] with the validation holdout (`None` without `series.validation`).
#[allow(clippy::type_complexity)]
pub fn load_parts(
    cfg: &TrainConfig,
) -> CliResult<(SeriesSet, Option<SeriesSet>, SeriesSet, SeriesInput)> {
    let src = source(cfg)?;
    let parts = src
        .load_parts(cfg.base_dir.as_deref())
        .map_err(|e| CliError::input(e.to_string()))?;
    let (train, validation, test) = (parts.train, parts.validation, parts.test);
    let input = SeriesInput::fit(src.encoder, &train);
    if cfg.network.input_size != input.inputs() {
        return Err(CliError::input(format!(
            "network.input_size = {} but {} has {} channels, which the {:?} encoder makes {} inputs",
            cfg.network.input_size,
            train_name(src),
            train.channels,
            input.encoding,
            input.inputs()
        )));
    }
    let out = cfg.network.layers.last().map_or(0, |l| l.size);
    if out != train.classes.len() {
        return Err(CliError::input(format!(
            "the last [[network.layers]] has size = {out} but {} has {} classes",
            train_name(src),
            train.classes.len()
        )));
    }
    Ok((train, validation, test, input))
}

/// Trains a series config into `run_dir` (a checkpoint after every epoch; with `resume`, from
/// the run's checkpoint on) and prints the summary (test accuracy on the test data).
pub fn train(mut cfg: TrainConfig, run_dir: &Path, resume: bool, json: bool) -> CliResult {
    let (train_set, val_set, test_set, input) = load_parts(&cfg)?;
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
    let base = cfg.base_dir.clone();
    if let Some(s) = cfg.series.as_mut() {
        s.absolutize(base.as_deref());
    }
    let config_toml = cfg.to_toml_string();
    let previous = if resume {
        let ck = checkpoint::load(run_dir, &device)?;
        ck.restore_network(&net)?;
        if ck.meta.epoch >= cfg.train.epochs {
            return Err(CliError::input(format!(
                "{} already trained {} epochs; pass --epochs N (the total, above {}) to train on",
                run_dir.display(),
                ck.meta.epoch,
                ck.meta.epoch
            )));
        }
        if !json {
            eprintln!(
                "resuming {} after epoch {} (weights, Adam moments and step, epoch restored)",
                run_dir.display(),
                ck.meta.epoch
            );
        }
        Some(ck)
    } else {
        None
    };
    std::fs::create_dir_all(run_dir)
        .map_err(|e| CliError::runtime(format!("cannot create {}: {e}", run_dir.display())))?;
    crate::train::atomic::write(
        &run_dir.join(checkpoint::CONFIG_FILE),
        config_toml.as_bytes(),
    )?;
    let start_epoch = previous.as_ref().map_or(0, |c| c.meta.epoch);
    let wall_before = previous.as_ref().map_or(0.0, |c| c.meta.wall_s);
    let mut validation = Vec::new();
    let started = std::time::Instant::now();
    let mut on_epoch = |net: &Network, opt: &Adam, epoch: usize, loss: f64| {
        let val = match &val_set {
            Some(v) => Some(accuracy_float(net, &input, v)?),
            None => None,
        };
        if let Some(a) = val {
            validation.push(serde_json::json!({"epoch": epoch, "loss": loss, "validation_acc": a}));
        }
        if !json {
            let v = val.map_or_else(String::new, |a| {
                format!(", validation accuracy {:.2} %", 100.0 * a)
            });
            eprintln!("epoch {epoch}/{}: loss {loss:.4}{v}", opts.epochs);
        }
        let meta = CheckpointMeta {
            epoch,
            step: 0,
            optimizer_steps: opt.steps(),
            wall_s: wall_before + started.elapsed().as_secs_f64(),
            config_toml: config_toml.clone(),
            budget_state: None,
        };
        checkpoint::save(run_dir, net, opt, &meta)?;
        Ok(())
    };
    let restore = |opt: &mut Adam| match &previous {
        Some(ck) => ck.restore_optimizer(opt),
        None => Ok(()),
    };
    let hooks = SeriesHooks {
        start_epoch,
        restore: Some(&restore),
        on_epoch: Some(&mut on_epoch),
    };
    let rep = crate::train::series::train_with(&mut net, &input, &train_set, &opts, hooks)?;
    let test_acc = accuracy_float(&net, &input, &test_set)?;
    let ckpt = run_dir.join(checkpoint::CHECKPOINT_FILE);
    let val_acc = validation.last().and_then(|v| v["validation_acc"].as_f64());
    if json {
        let v = serde_json::json!({
            "test_acc": test_acc,
            "validation_acc": val_acc,
            "validation": validation,
            "train_samples_per_s": rep.samples_per_sec,
            "train_steps_per_s": rep.steps_per_sec,
            "last_loss": rep.last_loss,
            "wall_s": rep.seconds,
            "epochs": cfg.train.epochs,
            "resumed_from_epoch": start_epoch,
            "checkpoint": ckpt,
            "run_dir": run_dir,
        });
        println!("{v}");
    } else {
        let v = val_acc.map_or_else(String::new, |a| {
            format!(
                "validation accuracy {:.2}% ({} series held out of the training data), ",
                100.0 * a,
                val_set.as_ref().map_or(0, |s| s.series.len())
            )
        });
        println!(
            "{v}test accuracy {:.2}% ({} test series), {:.0} train samples/s, {:.1} s; checkpoint {}",
            100.0 * test_acc,
            test_set.series.len(),
            rep.samples_per_sec,
            rep.seconds,
            ckpt.display()
        );
    }
    Ok(())
}

/// What the test data of `src` is, for messages: the test file, or the holdout.
fn test_name(src: &SeriesSource) -> String {
    if src.format == SeriesFormat::SyntheticEvents {
        "the synthetic test streams".to_owned()
    } else if src.test.as_os_str().is_empty() {
        format!(
            "the test holdout ({} %) of {}",
            100.0 * src.test_fraction,
            src.train.display()
        )
    } else {
        src.test.display().to_string()
    }
}

/// What the training data of `src` is, for messages.
fn train_name(src: &SeriesSource) -> String {
    if src.format == SeriesFormat::SyntheticEvents {
        "the synthetic training streams".to_owned()
    } else {
        src.train.display().to_string()
    }
}

/// `snn eval` of a series run: float accuracy on the test data, the training data or both, or
/// on `data` read in the run's `[series]` format.
pub fn eval(run: &LoadedRun, split: SplitChoice, data: Option<&Path>, json: bool) -> CliResult {
    let (train_set, test_set, input) = load(&run.cfg)?;
    let src = source(&run.cfg)?;
    let external = data
        .map(|p| src.read(p).map_err(|e| CliError::input(e.to_string())))
        .transpose()?;
    if let Some(set) = &external {
        if set.channels != train_set.channels || set.classes != train_set.classes {
            return Err(CliError::input(format!(
                "--data {}: {} channels and classes {:?}, but the run was trained on {} channels and classes {:?}",
                data.map_or_else(String::new, |p| p.display().to_string()),
                set.channels,
                set.classes,
                train_set.channels,
                train_set.classes
            )));
        }
    }
    let (what, acc, n) = match (split, &external) {
        (_, Some(set)) => (
            data.map_or_else(String::new, |p| p.display().to_string()),
            accuracy_float(&run.net, &input, set)?,
            set.series.len(),
        ),
        (split, None) => match split {
            SplitChoice::Test => (
                test_name(src),
                accuracy_float(&run.net, &input, &test_set)?,
                test_set.series.len(),
            ),
            SplitChoice::Train => (
                train_name(src),
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
        },
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
    let float_pred = crate::train::series::predictions_float(&run.net, &input, &test_set)?;
    let float = accuracy_of(&float_pred, &test_set.labels);
    let eng = crate::deploy::series::run_engine(&bytes, &test_set)?;
    // Fidelity: the fraction of test series the integer engine decides as the float network.
    let agreement = float_pred
        .iter()
        .zip(&eng.predictions)
        .filter(|(f, p)| **f == usize::from(**p))
        .count() as f64
        / float_pred.len().max(1) as f64;
    let decided_by = if model.output.is_readout() {
        "max membrane"
    } else {
        "spike count"
    };
    if json {
        let v = serde_json::json!({
            "model": path,
            "bytes": bytes.len(),
            "encoding": format!("{:?}", input.encoding),
            "time_steps": longest,
            "float_accuracy": float,
            "accuracy": eng.accuracy,
            "agreement": agreement,
            "readout": model.output.is_readout(),
            "spikes_per_inference": eng.spikes_per_inference,
        });
        println!("{v}");
    } else {
        println!(
            "wrote {} ({} bytes, format v{}, {:?} input, up to {longest} steps)",
            path.display(),
            bytes.len(),
            u16::from_le_bytes([bytes[4], bytes[5]]),
            input.encoding
        );
        println!(
            "{}: float {:.2} %, integer engine {:.2} % ({decided_by}), decisions agree on \
             {:.2} %, {:.1} spikes/inference",
            run.cfg.series.as_ref().map_or_else(String::new, test_name),
            100.0 * float,
            100.0 * eng.accuracy,
            100.0 * agreement,
            eng.spikes_per_inference
        );
    }
    Ok(())
}

/// Fraction of `predicted` equal to `labels`.
fn accuracy_of(predicted: &[usize], labels: &[usize]) -> f64 {
    let correct = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
    correct as f64 / predicted.len().max(1) as f64
}

/// How to read a data file given without a run: the format its name suggests
/// ([`SeriesFormat::guess`]) at default settings, the event binning running for the model's
/// `time_steps` of the default 10 ms, with pooling when the model has fewer inputs than the
/// format's channels (SHD's 700, an N-MNIST 34 x 34 sensor's 2 x 1156).
pub fn data_source(path: &Path, model_bytes: &[u8]) -> SeriesSource {
    let mut src = SeriesSource::new(SeriesFormat::guess(path), path.to_path_buf());
    if src.format.is_events() {
        if let Ok(m) = snn_models::decode(model_bytes) {
            src.max_duration_ms = src.dt_ms * f64::from(m.header.time_steps.max(1));
            let inputs = u32::from(m.header.input_size.max(1));
            let raw = match src.format {
                SeriesFormat::Nmnist => u32::from(src.sensor[0]) * u32::from(src.sensor[1]),
                _ => crate::data::series::shd::SHD_CHANNELS,
            };
            let per = if src.format == SeriesFormat::Nmnist {
                2
            } else {
                1
            };
            src.pool = (1..=raw)
                .find(|p| raw.div_ceil(*p) * per == inputs)
                .unwrap_or(1);
        }
    }
    src
}

/// `snn simulate` of a continuous-input model: the integer engine over a series file (`data`,
/// read like the run's training file, `.ts` by default) or the run's test file, each sample for
/// its own `T_i` steps; with the run also its float accuracy.
pub fn simulate(
    model_path: &Path,
    bytes: &[u8],
    run: Option<&LoadedRun>,
    data: Option<&Path>,
    rules: crate::train::config::DecisionConfig,
    json: bool,
    cost: Option<(Core, Option<Board>)>,
) -> CliResult {
    let (set, source, float) = match (run, data) {
        (Some(r), None) => {
            let (_, test, input) = load(&r.cfg)?;
            let f = accuracy_float(&r.net, &input, &test)?;
            let what = test_name(source(&r.cfg)?);
            (test, what, Some(f))
        }
        (r, Some(path)) => {
            let src = r
                .and_then(|r| r.cfg.series.clone())
                .unwrap_or_else(|| data_source(path, bytes));
            let set = src
                .read(path)
                .map_err(|e| CliError::input(e.to_string()))?;
            (set, path.display().to_string(), None)
        }
        (None, None) => {
            return Err(CliError::input(format!(
                "{} takes time series or event streams: give --data FILE (.ts, .csv, .h5, an N-MNIST directory) or --checkpoint RUN (a [series] run)",
                model_path.display()
            )))
        }
    };
    let r = crate::deploy::series::run_engine_with(bytes, &set, rules)?;
    for (i, (p, y)) in r.predictions.iter().zip(&set.labels).enumerate() {
        let len = set.series[i].len();
        if json {
            let mut v = serde_json::json!({"row": i, "label": y, "predicted": p, "steps": len});
            if let Some(d) = r.decisions.samples.get(i) {
                super::simulate::merge(
                    &mut v,
                    crate::deploy::decide::DecisionReport::sample_json(d),
                );
            }
            println!("{v}");
        } else {
            println!("row {i:>5}  label {y:>3}  predicted {p:>3}  steps {len:>5}");
        }
    }
    // One inference of a series model is the whole series streamed step by step.
    let model = snn_models::decode(bytes).map_err(|e| CliError::input(e.to_string()))?;
    let neurons: f64 = model.layers.iter().map(|l| f64::from(l.neurons)).sum();
    let updates = neurons * r.steps_per_inference;
    let cost = cost.map(|(c, board)| {
        let instructions = c.series_instructions(r.synaptic_events_per_inference, updates);
        (c, instructions, board.map(|b| (b, b.micros(instructions))))
    });
    if json {
        let mut v = serde_json::json!({
            "accuracy": r.accuracy,
            "float_accuracy": float,
            "samples": set.series.len(),
            "spikes_per_inference": r.spikes_per_inference,
            "synaptic_events_per_inference": r.synaptic_events_per_inference,
            "steps_per_inference": r.steps_per_inference,
            "layer_rates": r.layer_rates,
            "decisions": r.decisions.json(),
        });
        if let Some((c, instructions, timed)) = cost {
            v["target"] = serde_json::json!(c.name());
            v["instructions_per_inference"] = serde_json::json!(instructions);
            if let Some((b, us)) = timed {
                v["board"] = serde_json::json!(b.name);
                v["clock_mhz"] = serde_json::json!(b.clock_mhz);
                v["micros_per_inference_min"] = serde_json::json!(us);
                v["micro_joules_per_inference_min"] =
                    serde_json::json!(b.micro_joules(instructions));
            }
        }
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
        print!("{}", r.decisions.render());
        if let Some((c, instructions, timed)) = cost {
            let k = c.stream_coefficients();
            println!(
                "{}: {instructions:.0} instructions per inference (one whole series of {:.1} \
                 steps streamed) predicted ({:.2} x {:.0} events + {:.2} x {updates:.0} neuron \
                 updates + {:.0}, streams fitted by cargo xtask bench-fw)",
                c.name(),
                r.steps_per_inference,
                k.per_event,
                r.synaptic_events_per_inference,
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
