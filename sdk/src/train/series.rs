//! Training a network on time series: padded batches of the device's own input
//! ([`crate::data::series::input::SeriesInput`]), a cross-entropy on the spike counts of each
//! sample's valid steps (padding masked out), and float accuracy on the same counts.
use std::time::Instant;

use candle_core::{DType, Tensor};

use crate::data::series::input::SeriesInput;
use crate::data::series::{Series, SeriesSet};
use crate::data::SplitMix64;
use crate::net::Network;
use crate::train::optim::{Adam, AdamConfig};
use crate::train::{Error, Result};

/// Training hyper-parameters of [`train`].
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesTrainOptions {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Adam learning rate (cosine-decayed to 1 % over the run).
    pub lr: f64,
    /// Shuffling seed.
    pub seed: u64,
    /// Gradient-norm clip.
    pub grad_clip: Option<f64>,
}

/// What [`train`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesTrainReport {
    /// Mean loss of the last epoch.
    pub last_loss: f64,
    /// Training seconds (forward + backward + step).
    pub seconds: f64,
    /// Samples trained per second.
    pub samples_per_sec: f64,
    /// Valid steps trained per second (sum of `T_i`).
    pub steps_per_sec: f64,
}

/// Restores the optimiser of a resumed run.
pub type RestoreFn<'a> = &'a dyn Fn(&mut Adam) -> Result<()>;
/// Called after every epoch with the network, the optimiser, the epoch (1-based) and its loss.
pub type EpochFn<'a> = &'a mut dyn FnMut(&Network, &Adam, usize, f64) -> Result<()>;

/// A resumed start and a per-epoch report for [`train_with`]; the default is a fresh run with
/// no reports.
#[derive(Default)]
pub struct SeriesHooks<'a> {
    /// Epochs already trained (a resumed run): their shuffles are replayed and the learning-rate
    /// schedule continues from their last step, so the run goes on as if never stopped.
    pub start_epoch: usize,
    /// Restores the optimiser of a resumed run (moments and step count) before the first step.
    pub restore: Option<RestoreFn<'a>>,
    /// Called after every epoch with the network, the optimiser, the epoch (1-based) and the
    /// epoch's mean loss: validation reports and checkpoints.
    pub on_epoch: Option<EpochFn<'a>>,
}

/// Output spike counts over each sample's valid steps, `[B, N]`.
pub fn masked_counts(spikes: &Tensor, mask: &Tensor) -> Result<Tensor> {
    Ok(spikes.broadcast_mul(mask)?.sum(1)?)
}

/// Trains `net` on `set` with the masked count cross-entropy
/// `-(1/B) sum_b log softmax(sum_{t < T_b} s[b, t])[y_b]`.
pub fn train(
    net: &mut Network,
    input: &SeriesInput,
    set: &SeriesSet,
    opts: &SeriesTrainOptions,
) -> Result<SeriesTrainReport> {
    train_with(net, input, set, opts, SeriesHooks::default())
}

/// [`train`] with a resumed start and per-epoch reports ([`SeriesHooks`]).
pub fn train_with(
    net: &mut Network,
    input: &SeriesInput,
    set: &SeriesSet,
    opts: &SeriesTrainOptions,
    mut hooks: SeriesHooks<'_>,
) -> Result<SeriesTrainReport> {
    if set.series.is_empty() {
        return Err(Error::Data("the training set has no series".into()));
    }
    let device = net.device().clone();
    let params = net
        .varmap()
        .data()
        .lock()
        .map_err(|_| Error::Data("parameter map lock poisoned".into()))?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<Vec<_>>();
    let mut params = params;
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let mut opt = Adam::new(
        params,
        AdamConfig {
            grad_clip: opts.grad_clip,
            ..AdamConfig::default()
        },
    )?;
    if let Some(restore) = hooks.restore {
        restore(&mut opt)?;
    }
    let per_epoch = set.series.len().div_ceil(opts.batch_size.max(1));
    let total = opts.epochs * per_epoch;
    let mut rng = SplitMix64::new(opts.seed);
    let (mut seconds, mut samples, mut steps) = (0f64, 0usize, 0usize);
    let mut step_no = hooks.start_epoch.min(opts.epochs) * per_epoch;
    let mut last_loss = f64::NAN;
    for epoch in 0..opts.epochs {
        let mut order: Vec<usize> = (0..set.series.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        if epoch < hooks.start_epoch {
            continue;
        }
        let (mut sum, mut n) = (0f64, 0usize);
        for batch in order.chunks(opts.batch_size.max(1)) {
            let t0 = Instant::now();
            let series: Vec<&Series> = batch.iter().map(|&i| &set.series[i]).collect();
            let (x, mask) = input.batch(&series, &device)?;
            let y: Vec<u32> = batch.iter().map(|&i| set.labels[i] as u32).collect();
            let y = Tensor::from_vec(y, batch.len(), &device)?;
            let outs = net.forward(&x)?;
            let last = outs.last().ok_or_else(|| Error::Data("no layers".into()))?;
            let counts = masked_counts(&last.spikes, &mask)?;
            let loss = crate::loss::snntorch::ce_count(&counts.unsqueeze(1)?, &y)?;
            let lv = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if !lv.is_finite() {
                return Err(Error::Data(format!(
                    "training loss became {lv} at step {step_no}; lower the learning rate"
                )));
            }
            let grads = loss.backward()?;
            let progress = step_no as f64 / total.max(1) as f64;
            let lr =
                opts.lr * (0.01 + 0.99 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()));
            let before = net.snapshot()?;
            opt.step(&grads, lr)?;
            net.after_step(before)?;
            seconds += t0.elapsed().as_secs_f64();
            samples += batch.len();
            steps += series.iter().map(|s| s.len()).sum::<usize>();
            step_no += 1;
            sum += lv * batch.len() as f64;
            n += batch.len();
        }
        last_loss = sum / n.max(1) as f64;
        if let Some(f) = hooks.on_epoch.as_mut() {
            f(net, &opt, epoch + 1, last_loss)?;
        }
    }
    Ok(SeriesTrainReport {
        last_loss,
        seconds,
        samples_per_sec: samples as f64 / seconds.max(1e-9),
        steps_per_sec: steps as f64 / seconds.max(1e-9),
    })
}

/// Float accuracy of `net` on `set` (prediction: most output spikes over the valid steps, ties
/// to the lower class, as on the device).
pub fn accuracy_float(net: &Network, input: &SeriesInput, set: &SeriesSet) -> Result<f64> {
    let device = net.device().clone();
    let mut correct = 0usize;
    let idx: Vec<usize> = (0..set.series.len()).collect();
    for batch in idx.chunks(64) {
        let series: Vec<&Series> = batch.iter().map(|&i| &set.series[i]).collect();
        let (x, mask) = input.batch(&series, &device)?;
        let outs = net.forward(&x)?;
        let last = outs.last().ok_or_else(|| Error::Data("no layers".into()))?;
        let counts = masked_counts(&last.spikes, &mask)?.to_vec2::<f32>()?;
        for (row, &i) in counts.iter().zip(batch) {
            let mut best = 0;
            for (k, &c) in row.iter().enumerate() {
                if c > row[best] {
                    best = k;
                }
            }
            correct += usize::from(best == set.labels[i]);
        }
    }
    Ok(correct as f64 / set.series.len().max(1) as f64)
}
