//! The training loop: seeded, reproducible epochs of encode → forward → loss → backward → clip →
//! Adam, with per-epoch evaluation, metrics, checkpoints, resume and a NaN/Inf stop.
//!
//! ```no_run
//! use snn_sdk::{Digits, Network, TrainConfig, Trainer};
//! let data = Digits::load()?;
//! let cfg = TrainConfig::from_toml_file("models/zoo/digits.toml")?;
//! let net = Network::new(&cfg.network, cfg.seed, &candle_core::Device::Cpu)?;
//! let report = Trainer::new(cfg, net)?.fit(&data)?;
//! println!("test accuracy {:.2}%", report.test_acc.unwrap_or(0.0) * 100.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Reproducibility: the split, the shuffling, the spike draws ([`crate::data::encode::train_seed`]) and
//! the initial weights all derive from `seed`, and the CPU kernels are deterministic for a given
//! thread count, so the same config gives the same loss curve on the same machine with the same
//! `RAYON_NUM_THREADS` (another thread count changes float summation order in the matrix
//! products, so the curves then differ in the last bits and drift apart).
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use crate::budget::{BudgetController, LayerRateReport, RateMeter};
use crate::data::encode::{eval_seed, train_seed, SpikeEncoder};
use crate::data::{Dataset, Digits, Samples, Split};
use crate::loss::composite::{CompositeLoss, LossInputs};
use crate::net::network::{LayerOutput, Network};
use crate::train::checkpoint::{self, CheckpointMeta};
use crate::train::config::{DataSource, TrainConfig};
use crate::train::metrics::{EpochMetrics, MetricsLog};
use crate::train::optim::Adam;
use crate::train::progress::{Progress, ProgressMode};
use crate::train::{Error, Result};

/// Samples per forward pass in evaluation.
const EVAL_BATCH: usize = 512;

/// What a finished training run reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Every epoch's metrics (including epochs of earlier runs when resumed).
    pub epochs: Vec<EpochMetrics>,
    /// Final test accuracy (0..1), `None` without a test split.
    pub test_acc: Option<f64>,
    /// Final train accuracy (0..1).
    pub train_acc: f64,
    /// Training throughput of this run: samples / seconds spent in training steps.
    pub train_samples_per_s: f64,
    /// Final mean firing rate per layer.
    pub rates: Vec<f64>,
    /// Wall-clock seconds of training (including earlier runs when resumed).
    pub wall_s: f64,
    /// The last checkpoint written, if the run has an output directory.
    pub checkpoint: Option<PathBuf>,
}

/// A hook called after every epoch (after the checkpoint is written).
pub type EpochHook = Box<dyn FnMut(&EpochMetrics, &Network) -> Result<()>>;

/// Trains a [`Network`] according to a [`TrainConfig`].
pub struct Trainer {
    cfg: TrainConfig,
    net: Network,
    opt: Adam,
    run_dir: Option<PathBuf>,
    progress: ProgressMode,
    done_epochs: usize,
    step: usize,
    wall_before: f64,
    history: Vec<EpochMetrics>,
    hook: Option<EpochHook>,
    budgets: BudgetController,
    extra: Option<CompositeLoss>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("run_dir", &self.run_dir)
            .field("done_epochs", &self.done_epochs)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl Trainer {
    /// A trainer for `net` (built from `cfg.network`); validates `cfg`.
    pub fn new(cfg: TrainConfig, net: Network) -> Result<Self> {
        cfg.validate().map_err(|message| {
            Error::Config(crate::train::config::ConfigError {
                file: "config".to_owned(),
                at: None,
                message,
            })
        })?;
        if net.config() != &cfg.network {
            return Err(Error::Data(
                "the network was not built from this config's [network] table".to_owned(),
            ));
        }
        let opt = Adam::new(checkpoint::sorted_vars(&net), cfg.train.adam())?;
        let sizes: Vec<usize> = cfg.network.layers.iter().map(|l| l.size).collect();
        let budgets = BudgetController::new(&cfg.budget, &sizes)?;
        let extra = if cfg.extra_loss.is_empty() {
            None
        } else {
            Some(CompositeLoss::new(&cfg.extra_loss)?)
        };
        Ok(Self {
            cfg,
            net,
            opt,
            run_dir: None,
            progress: ProgressMode::Quiet,
            done_epochs: 0,
            step: 0,
            wall_before: 0.0,
            history: Vec::new(),
            hook: None,
            budgets,
            extra,
        })
    }

    /// Writes `config.toml`, `checkpoint.safetensors` and `metrics.jsonl` into `dir`.
    pub fn run_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.run_dir = Some(dir.into());
        self
    }

    /// Shows progress (default: quiet).
    pub fn progress(mut self, mode: ProgressMode) -> Self {
        self.progress = mode;
        self
    }

    /// Calls `hook` after every epoch (after its checkpoint); an error from it stops training.
    pub fn on_epoch_end(
        mut self,
        hook: impl FnMut(&EpochMetrics, &Network) -> Result<()> + 'static,
    ) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Continues the run in `dir`: restores the weights, the Adam moments and step count, the
    /// epoch and step counters, the wall time and the metrics history from its checkpoint; the
    /// next epoch's shuffling and spikes are those an uninterrupted run would have drawn.
    /// The run directory becomes `dir`.
    pub fn resume(mut self, dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let ck = checkpoint::load(dir, self.net.device())?;
        ck.restore_network(&self.net)?;
        ck.restore_optimizer(&mut self.opt)?;
        // Grown synapses live in the masks: restore them when the checkpoint has any.
        if ck.tensors.keys().any(|k| k.starts_with("mask.")) {
            self.net
                .masks_mut()
                .load_tensors(&ck.tensors)
                .map_err(|e| crate::net::NetworkError::invalid("masks", e.to_string()))?;
        }
        if let Some(json) = &ck.meta.budget_state {
            let state: crate::budget::BudgetState =
                serde_json::from_str(json).map_err(|e| Error::Checkpoint {
                    path: ck.path.clone(),
                    reason: format!("metadata `snn.budget` is not a budget state: {e}"),
                })?;
            self.budgets.restore(&state)?;
        }
        self.done_epochs = ck.meta.epoch;
        self.step = ck.meta.step;
        self.wall_before = ck.meta.wall_s;
        self.history = MetricsLog::read(&dir.join(checkpoint::METRICS_FILE), ck.meta.epoch)?
            .epochs()
            .to_vec();
        self.run_dir = Some(dir.to_path_buf());
        Ok(self)
    }

    /// The network being trained.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// Epochs completed so far.
    pub fn epochs_done(&self) -> usize {
        self.done_epochs
    }

    /// Loads the data set the config names (`[data]`).
    pub fn load_data(cfg: &TrainConfig) -> Result<Dataset> {
        let data = match (cfg.data.source, cfg.data_path()) {
            (DataSource::Digits, None) => Digits::load(),
            (DataSource::Digits, Some(p)) => Digits::load_path(&p),
            (DataSource::Csv, Some(p)) => Dataset::from_csv(&p, &cfg.data.csv_options()),
            (DataSource::Synthetic, _) => {
                let out = cfg.network.layers.last().map_or(0, |l| l.size);
                crate::data::synthetic::bands(
                    cfg.network.input_size,
                    out / cfg.train.neurons_per_class.max(1),
                    cfg.data.samples_per_class.unwrap_or(40),
                    cfg.seed,
                )
            }
            (DataSource::Csv, None) => {
                return Err(Error::Data(
                    "data.path is required when data.source = \"csv\"".to_owned(),
                ))
            }
        };
        Ok(data?)
    }

    /// Splits and scales `data` as the config says.
    pub fn split(&self, data: &Dataset) -> Result<Split> {
        let d = &self.cfg.data;
        let scaling = d.scaling.unwrap_or(data.default_scaling);
        Ok(data.split(
            d.test_fraction,
            d.split_seed.unwrap_or(self.cfg.seed),
            scaling,
        )?)
    }

    fn check_shapes(&self, data: &Dataset) -> Result<()> {
        let n = &self.cfg.network;
        if n.input_size != data.num_features() {
            return Err(Error::Data(format!(
                "network.input_size is {} but {} has {} features per sample",
                n.input_size,
                data.name,
                data.num_features()
            )));
        }
        let want = data.num_classes * self.cfg.train.neurons_per_class;
        let last = n.layers.last().map_or(0, |l| l.size);
        if last != want {
            return Err(Error::Data(format!(
                "the last layer (network.layers[{}].size) has {last} neurons but {} has {} classes \
                 x train.neurons_per_class {} = {want}",
                n.layers.len() - 1,
                data.name,
                data.num_classes,
                self.cfg.train.neurons_per_class
            )));
        }
        Ok(())
    }

    /// Trains for the configured number of epochs (continuing after a resume) and returns the
    /// report. Stops with [`Error::NonFinite`] when the loss, a gradient or a parameter becomes
    /// NaN or infinite; the checkpoint on disk is then the last good one.
    pub fn fit(&mut self, data: &Dataset) -> Result<Report> {
        self.check_shapes(data)?;
        let split = self.split(data)?;
        let t = &self.cfg.train;
        let (epochs, batch_size) = (t.epochs, t.batch_size);
        let enc = SpikeEncoder::new(self.cfg.encoding, data.num_features(), t.time_steps)?;
        let steps_per_epoch = split.train.len().div_ceil(batch_size);
        if let Some(dir) = &self.run_dir {
            crate::train::atomic::write(
                &dir.join(checkpoint::CONFIG_FILE),
                self.cfg.to_toml_string().as_bytes(),
            )?;
        }
        let mut log = self
            .run_dir
            .as_ref()
            .map(|d| MetricsLog::new(d.join(checkpoint::METRICS_FILE), self.history.clone()));
        let progress = Progress::new(self.progress, epochs, steps_per_epoch, self.done_epochs);
        let start = Instant::now();
        let mut train_secs = 0f64;
        let mut train_samples = 0usize;
        let mut last_ckpt = self
            .run_dir
            .as_ref()
            .map(|d| d.join(checkpoint::CHECKPOINT_FILE))
            .filter(|p| p.exists());
        let device = self.net.device().clone();
        let result = (|| -> Result<()> {
            for epoch in self.done_epochs..epochs {
                let e1 = epoch + 1;
                let t0 = Instant::now();
                let batches = split.train.batches(
                    batch_size,
                    self.cfg.train.shuffle,
                    self.cfg.seed,
                    epoch as u64,
                );
                let (mut loss_sum, mut correct, mut seen) = (0f64, 0usize, 0usize);
                let mut lr = self.cfg.train.lr;
                for batch in &batches {
                    let x = enc.encode_batch(
                        &split.train,
                        batch,
                        |r| train_seed(r, epoch as u64),
                        &device,
                    )?;
                    let y = targets(&split.train, batch, &device)?;
                    let outs = self.net.forward(&x)?;
                    let task = self.loss(&outs, &y)?;
                    // Rate budgets: penalty or Lagrangian terms on every budgeted layer's rate.
                    let spikes: Vec<Tensor> = outs.iter().map(|o| o.spikes.clone()).collect();
                    let (budget_term, measured) = self.budgets.loss(&spikes)?;
                    let mut loss = match budget_term {
                        Some(b) => {
                            let b = b.to_dtype(task.dtype())?;
                            (task + b)?
                        }
                        None => task,
                    };
                    if let Some(extra) = &self.extra {
                        loss = (loss + self.extra_terms(extra, &outs, &spikes, &y)?)?;
                    }
                    let lv = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                    if !lv.is_finite() {
                        return Err(self.non_finite(e1, "the training loss", &last_ckpt));
                    }
                    let grads = loss.backward()?;
                    lr = self.cfg.train.schedule.lr(
                        self.cfg.train.lr,
                        self.step,
                        steps_per_epoch,
                        epochs,
                    );
                    // Masks (sparsity, Dale's law, plasticity, growth) hold across the step.
                    let before = self.net.snapshot()?;
                    let info = self.opt.step(&grads, lr)?;
                    self.net.after_step(before)?;
                    if !info.grad_norm.is_finite() {
                        return Err(self.non_finite(e1, "the gradient norm", &last_ckpt));
                    }
                    // Projected dual ascent on the rates of this batch (lagrange budgets).
                    self.budgets.update(&measured)?;
                    self.step += 1;
                    loss_sum += lv * batch.len() as f64;
                    correct += self.correct(&outs, &split.train, batch)?;
                    seen += batch.len();
                    progress.step(e1, lv);
                }
                let secs = t0.elapsed().as_secs_f64();
                train_secs += secs;
                train_samples += seen;
                if let Some(name) = self.non_finite_param()? {
                    return Err(self.non_finite(e1, &format!("parameter `{name}`"), &last_ckpt));
                }
                let (test_loss, test_acc, rates, layer_rates) = if split.test.is_empty() {
                    let (_, _, r, lr) = self.evaluate_detailed(&enc, &split.train)?;
                    (None, None, r, lr)
                } else {
                    let (l, a, r, lr) = self.evaluate_detailed(&enc, &split.test)?;
                    (Some(l), Some(a), r, lr)
                };
                self.done_epochs = e1;
                let m = EpochMetrics {
                    epoch: e1,
                    train_loss: loss_sum / seen.max(1) as f64,
                    train_acc: correct as f64 / seen.max(1) as f64,
                    test_loss,
                    test_acc,
                    rates,
                    lr,
                    wall_s: self.wall_before + start.elapsed().as_secs_f64(),
                    samples_per_s: seen as f64 / secs.max(1e-9),
                    layer_rates,
                };
                if let Some(dir) = &self.run_dir {
                    let meta = CheckpointMeta {
                        epoch: e1,
                        step: self.step,
                        optimizer_steps: self.opt.steps(),
                        wall_s: m.wall_s,
                        config_toml: self.cfg.to_toml_string(),
                        budget_state: if self.budgets.is_empty() {
                            None
                        } else {
                            Some(
                                serde_json::to_string(&self.budgets.state())
                                    .map_err(|e| Error::Data(e.to_string()))?,
                            )
                        },
                    };
                    last_ckpt = Some(checkpoint::save(dir, &self.net, &self.opt, &meta)?);
                }
                if let Some(log) = &mut log {
                    log.push(m.clone())?;
                }
                progress.epoch(&m);
                self.history.push(m.clone());
                if let Some(hook) = &mut self.hook {
                    hook(&m, &self.net)?;
                }
            }
            Ok(())
        })();
        progress.finish();
        result?;
        let last = self.history.last().cloned();
        Ok(Report {
            epochs: self.history.clone(),
            test_acc: last.as_ref().and_then(|m| m.test_acc),
            train_acc: last.as_ref().map_or(0.0, |m| m.train_acc),
            train_samples_per_s: if train_secs > 0.0 {
                train_samples as f64 / train_secs
            } else {
                last.as_ref().map_or(0.0, |m| m.samples_per_s)
            },
            rates: last.as_ref().map_or_else(Vec::new, |m| m.rates.clone()),
            wall_s: last.as_ref().map_or(self.wall_before, |m| m.wall_s),
            checkpoint: last_ckpt,
        })
    }

    fn non_finite(&self, epoch: usize, what: &str, ckpt: &Option<PathBuf>) -> Error {
        Error::NonFinite {
            epoch,
            step: self.step,
            what: what.to_owned(),
            checkpoint: match ckpt {
                Some(p) => format!("the last good checkpoint is {}", p.display()),
                None => "no checkpoint was written yet".to_owned(),
            },
        }
    }

    fn non_finite_param(&self) -> Result<Option<String>> {
        for (name, var) in self.opt.params() {
            let s = var
                .as_tensor()
                .to_dtype(DType::F64)?
                .abs()?
                .sum_all()?
                .to_scalar::<f64>()?;
            if !s.is_finite() {
                return Ok(Some(name.clone()));
            }
        }
        Ok(None)
    }

    /// The configured loss on the network outputs.
    fn loss(&self, outs: &[LayerOutput], y: &Tensor) -> Result<Tensor> {
        let last = outs
            .last()
            .ok_or_else(|| Error::Data("the network has no layers".into()))?;
        self.cfg.loss.classification_loss(
            &last.spikes,
            &last.mem,
            y,
            self.cfg.train.neurons_per_class,
        )
    }

    /// The `[[extra_loss]]` terms on this batch's recordings.
    fn extra_terms(
        &self,
        extra: &CompositeLoss,
        outs: &[LayerOutput],
        spikes: &[Tensor],
        y: &Tensor,
    ) -> Result<Tensor> {
        let membranes: Vec<Tensor> = outs.iter().map(|o| o.mem.clone()).collect();
        let recurrent: Vec<Option<Tensor>> = {
            let vars = self
                .net
                .varmap()
                .data()
                .lock()
                .map_err(|_| Error::Data("the network's variables are poisoned".into()))?;
            (0..outs.len())
                .map(|i| {
                    vars.get(&format!("layers.{i}.w_rec"))
                        .map(|v| v.as_tensor().clone())
                })
                .collect()
        };
        let out = extra.forward(&LossInputs {
            spikes,
            membranes: &membranes,
            recurrent: &recurrent,
            targets: y,
        })?;
        Ok(out.total)
    }

    /// Correct predictions in a batch: the class whose population spiked most (ties → lower
    /// class), or for a `readout` output the class with the largest maximum membrane, as the
    /// device's `Engine::predicted_class` decides.
    fn correct(&self, outs: &[LayerOutput], s: &Samples, batch: &[usize]) -> Result<usize> {
        let pred = if self.cfg.network.has_readout() {
            predict_readout(outs)?
        } else {
            predict(outs, self.cfg.train.neurons_per_class)?
        };
        Ok(pred
            .iter()
            .zip(batch)
            .filter(|&(&p, &i)| p == s.labels[i])
            .count())
    }

    /// Loss, accuracy and per-layer mean rates on `s` with the fixed evaluation spikes
    /// (seed = the sample's row in the data file, as on the device).
    fn evaluate_samples(&self, enc: &SpikeEncoder, s: &Samples) -> Result<(f64, f64, Vec<f64>)> {
        let (l, a, r, _) = self.evaluate_detailed(enc, s)?;
        Ok((l, a, r))
    }

    /// [`Self::evaluate_samples`] plus per-layer rate reports (per-neuron histogram, budget,
    /// current multipliers).
    fn evaluate_detailed(
        &self,
        enc: &SpikeEncoder,
        s: &Samples,
    ) -> Result<(f64, f64, Vec<f64>, Vec<LayerRateReport>)> {
        let device = self.net.device();
        let mut meter = RateMeter::new();
        let idx: Vec<usize> = (0..s.len()).collect();
        let (mut loss_sum, mut correct) = (0f64, 0usize);
        let mut rates = vec![0f64; self.net.num_layers()];
        for batch in idx.chunks(EVAL_BATCH) {
            let x = enc.encode_batch(s, batch, eval_seed, device)?;
            let y = targets(s, batch, device)?;
            let outs = self.net.forward(&x)?;
            let loss = self
                .loss(&outs, &y)?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
            loss_sum += loss * batch.len() as f64;
            correct += self.correct(&outs, s, batch)?;
            let spikes: Vec<Tensor> = outs.iter().map(|o| o.spikes.clone()).collect();
            meter.add(&spikes)?;
            for (r, o) in rates.iter_mut().zip(&outs) {
                *r += o
                    .spikes
                    .to_dtype(DType::F64)?
                    .mean_all()?
                    .to_scalar::<f64>()?
                    * batch.len() as f64;
            }
        }
        let n = s.len().max(1) as f64;
        Ok((
            loss_sum / n,
            correct as f64 / n,
            rates.iter().map(|r| r / n).collect(),
            meter.report(Some(&self.budgets)),
        ))
    }

    /// Evaluates on any scaled samples with the fixed evaluation spikes (seed = row):
    /// (loss, accuracy, per-layer rates). Used by `snn eval`.
    pub fn evaluate_on(&self, s: &Samples) -> Result<(f64, f64, Vec<f64>)> {
        let enc = SpikeEncoder::new(self.cfg.encoding, s.num_features, self.cfg.train.time_steps)?;
        self.evaluate_samples(&enc, s)
    }

    /// Evaluates on the config's test split: (loss, accuracy, per-layer rates).
    pub fn evaluate(&self, data: &Dataset) -> Result<(f64, f64, Vec<f64>)> {
        self.check_shapes(data)?;
        let split = self.split(data)?;
        let enc = SpikeEncoder::new(
            self.cfg.encoding,
            data.num_features(),
            self.cfg.train.time_steps,
        )?;
        self.evaluate_samples(&enc, &split.test)
    }
}

/// Class labels of `batch` as a `u32` tensor.
fn targets(s: &Samples, batch: &[usize], device: &Device) -> Result<Tensor> {
    let y: Vec<u32> = batch.iter().map(|&i| s.labels[i]).collect();
    Ok(Tensor::from_vec(y, batch.len(), device)?)
}

/// Predicted class per sample of a network ending in a `readout` layer: the class whose readout
/// membrane reached the largest value over the steps (`argmax_c max_t mem[t, c]`), ties to the
/// lower class (the device's rule, `snn_models::decision::readout_class`).
pub fn predict_readout(outs: &[LayerOutput]) -> Result<Vec<u32>> {
    let last = outs
        .last()
        .ok_or_else(|| Error::Data("the network has no layers".into()))?;
    let max: Vec<Vec<f32>> = last.mem.max(1)?.to_vec2()?;
    Ok(max
        .iter()
        .map(|row| {
            let mut best = (0u32, f32::NEG_INFINITY);
            for (c, &v) in row.iter().enumerate() {
                if v > best.1 {
                    best = (c as u32, v);
                }
            }
            best.0
        })
        .collect())
}

/// Predicted class per sample: most output spikes summed over each class's population, ties to
/// the lower class (the device's rule).
pub fn predict(outs: &[LayerOutput], neurons_per_class: usize) -> Result<Vec<u32>> {
    let last = outs
        .last()
        .ok_or_else(|| Error::Data("the network has no layers".into()))?;
    let counts: Vec<Vec<f32>> = last.spikes.sum(1)?.to_vec2()?;
    Ok(counts
        .iter()
        .map(|row| {
            let mut best = (0u32, f32::NEG_INFINITY);
            for (c, pop) in row.chunks(neurons_per_class.max(1)).enumerate() {
                let v: f32 = pop.iter().sum();
                if v > best.1 {
                    best = (c as u32, v);
                }
            }
            best.0
        })
        .collect())
}
