//! Training a network on time series: padded batches of the device's own input
//! ([`crate::data::series::input::SeriesInput`]), a cross-entropy on the spike counts of each
//! sample's valid steps (padding masked out), and float accuracy on the same counts. A network
//! ending in a non-spiking `readout` is trained and decided on its maximum membrane over each
//! sample's valid steps instead ([`masked_max_membrane`]; padding never counts).
//!
//! Each series is encoded once per run ([`Encoded`]); a batch pads them to its longest
//! and runs [`Network::forward_lengths`], so every sample stops at its own `T_i` and the
//! padding costs no work and yields no spikes (a step costs the same in a batch of unequal
//! lengths as in one of equal lengths, `cargo bench -p snn-sdk --bench train_step -- series`).
use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use crate::data::series::input::SeriesInput;
use crate::data::series::SeriesSet;
use crate::data::SplitMix64;
use crate::net::Network;
use crate::train::config::LossConfig;
use crate::train::optim::{Adam, AdamConfig, OptimizerKind};
use crate::train::{Error, Result};

/// The loss on each sample's output spike counts over its valid steps `c[b, i]`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum SeriesLoss {
    /// `-(1/B) sum_b log softmax(c[b])[y_b]` (snnTorch's `ce_count_loss` on the valid steps).
    #[default]
    CeCount,
    /// Squared error of the rates `c[b, i] / T_b` against `correct` for the target class and
    /// `incorrect` for the others, `(1/(B N)) sum_{b,i} (c[b,i]/T_b - target[b,i])^2`
    /// (snnTorch's `mse_count_loss` per valid step, so samples of every length ask for the
    /// same rates).
    MseRate {
        /// Target rate of the correct class.
        correct: f64,
        /// Target rate of the other classes.
        incorrect: f64,
    },
    /// Cross-entropy on each output neuron's maximum membrane over the sample's valid steps,
    /// `m[b, i] = max_{t < T_b} v[b, t, i]`, `-(1/B) sum_b log softmax(m[b])[y_b]`
    /// (snnTorch's `ce_max_membrane_loss` on the valid steps; the loss of a `readout` layer).
    MaxMembrane,
}

impl SeriesLoss {
    /// The series loss of a config's `[loss]`: `ce_count` as is, `mse_count` per valid step
    /// (its rates become [`SeriesLoss::MseRate`]'s targets), `ce_max_membrane` on the valid
    /// steps; the others have no series form yet.
    pub fn from_config(loss: &LossConfig) -> Result<Self> {
        match *loss {
            LossConfig::CeCount => Ok(Self::CeCount),
            LossConfig::CeMaxMembrane => Ok(Self::MaxMembrane),
            LossConfig::MseCount {
                correct_rate,
                incorrect_rate,
            } => Ok(Self::MseRate {
                correct: correct_rate,
                incorrect: incorrect_rate,
            }),
            ref other => Err(Error::Data(format!(
                "loss {other:?} is not supported for [series] training; use ce_count, mse_count or \
                 ce_max_membrane"
            ))),
        }
    }
}

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
    /// Decoupled weight decay (AdamW) of every parameter; 0 = plain Adam.
    pub weight_decay: f64,
    /// Standard deviation of Gaussian noise added to every valid input value of a training
    /// batch (inputs are standardised on the training split, so this is in training standard
    /// deviations of each channel); 0 = none. Evaluation and the device see clean inputs.
    pub input_noise: f32,
    /// The loss on the output counts.
    pub loss: SeriesLoss,
}

impl Default for SeriesTrainOptions {
    fn default() -> Self {
        Self {
            epochs: 80,
            batch_size: 32,
            lr: 0.005,
            seed: 0,
            grad_clip: Some(5.0),
            weight_decay: 0.0,
            input_noise: 0.0,
            loss: SeriesLoss::CeCount,
        }
    }
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

/// The network inputs of a set of series, encoded once (`SeriesInput::encode`, the device's
/// input), to be padded into batches.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// `[T_i, inputs]` step-major per series.
    rows: Vec<Vec<f32>>,
    /// Network inputs per step.
    inputs: usize,
}

impl Encoded {
    /// Encodes every series of `set`.
    pub fn new(input: &SeriesInput, set: &SeriesSet) -> Result<Self> {
        let rows = set
            .series
            .iter()
            .map(|s| input.encode(s))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Self {
            rows,
            inputs: input.inputs(),
        })
    }

    /// Valid steps of series `i`.
    pub fn len_of(&self, i: usize) -> usize {
        self.rows[i].len() / self.inputs.max(1)
    }

    /// The padded batch of series `idx`: `x [B, T_max, inputs]` (0 after each end) and the
    /// lengths `T_i`.
    pub fn batch(&self, idx: &[usize], device: &Device) -> Result<(Tensor, Vec<usize>)> {
        let n = self.inputs;
        let lengths: Vec<usize> = idx.iter().map(|&i| self.len_of(i)).collect();
        let steps = lengths.iter().copied().max().unwrap_or(0).max(1);
        let mut x = vec![0f32; idx.len() * steps * n];
        for (b, &i) in idx.iter().enumerate() {
            let e = &self.rows[i];
            x[b * steps * n..b * steps * n + e.len()].copy_from_slice(e);
        }
        let x = Tensor::from_vec(x, (idx.len(), steps, n), device)?;
        Ok((x, lengths))
    }

    /// [`Self::batch`] with Gaussian noise of standard deviation `std` (Box-Muller on `rng`)
    /// added to every valid input value; the padding stays 0.
    pub fn noisy_batch(
        &self,
        idx: &[usize],
        std: f32,
        rng: &mut crate::rng::SplitMix64,
        device: &Device,
    ) -> Result<(Tensor, Vec<usize>)> {
        let n = self.inputs;
        let lengths: Vec<usize> = idx.iter().map(|&i| self.len_of(i)).collect();
        let steps = lengths.iter().copied().max().unwrap_or(0).max(1);
        let mut x = vec![0f32; idx.len() * steps * n];
        for (b, &i) in idx.iter().enumerate() {
            let e = &self.rows[i];
            for (o, &v) in x[b * steps * n..b * steps * n + e.len()].iter_mut().zip(e) {
                let (u1, u2) = (rng.next_f32().max(f32::MIN_POSITIVE), rng.next_f32());
                let z = (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
                *o = v + std * z;
            }
        }
        let x = Tensor::from_vec(x, (idx.len(), steps, n), device)?;
        Ok((x, lengths))
    }
}

/// Output spike counts over each sample's valid steps, `[B, N]`.
pub fn masked_counts(spikes: &Tensor, mask: &Tensor) -> Result<Tensor> {
    Ok(spikes.broadcast_mul(mask)?.sum(1)?)
}

/// What a padded step's membrane becomes before the maximum: far below any membrane a network
/// reaches, so padding never holds a sample's maximum (finite, so no `inf - inf` in a gradient).
const PADDING_MEMBRANE: f32 = -1e30;

/// The membranes `v [B, T, N]` of a padded batch with every step at or after a sample's own
/// length `T_b` pushed to [`PADDING_MEMBRANE`]: `v'[b, t] = v[b, t] + (t < T_b ? 0 : -1e30)`
/// (a valid step's value is unchanged bit for bit). Its maximum over time is
/// [`masked_max_membrane`]'s; `ce_max_membrane` on it is [`SeriesLoss::MaxMembrane`].
pub fn mask_padding_membrane(mem: &Tensor, lengths: &[usize]) -> Result<Tensor> {
    let (b, t, _) = mem.dims3()?;
    if lengths.len() != b {
        return Err(Error::Data(format!(
            "{} lengths for a batch of {b} samples",
            lengths.len()
        )));
    }
    let mut pad = vec![0f32; b * t];
    for (row, &len) in pad.chunks_exact_mut(t.max(1)).zip(lengths) {
        row[len.min(t)..].fill(PADDING_MEMBRANE);
    }
    let pad = Tensor::from_vec(pad, (b, t, 1), mem.device())?.to_dtype(mem.dtype())?;
    Ok(mem.broadcast_add(&pad)?)
}

/// Each output neuron's maximum membrane over each sample's own valid steps, `[B, N]`:
/// `m[b, i] = max_{t < T_b} v[b, t, i]` (a readout's class values; padding never counts, so a
/// sample's maxima are the same alone as in any padded batch).
pub fn masked_max_membrane(mem: &Tensor, lengths: &[usize]) -> Result<Tensor> {
    Ok(mask_padding_membrane(mem, lengths)?.max(1)?)
}

/// The float class of each row of `values [B, N]`: the largest value, ties to the lowest
/// class (the device's `readout_class` and `predict` rule).
fn argmax_rows(values: &Tensor) -> Result<Vec<usize>> {
    Ok(values
        .to_vec2::<f32>()?
        .iter()
        .map(|row| {
            let mut best = 0;
            for (k, &c) in row.iter().enumerate() {
                if c > row[best] {
                    best = k;
                }
            }
            best
        })
        .collect())
}

/// Trains `net` on `set` with the masked count cross-entropy
/// `-(1/B) sum_b log softmax(sum_{t < T_b} s[b, t])[y_b]` (or `opts.loss`).
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
            kind: if opts.weight_decay > 0.0 {
                OptimizerKind::Adamw
            } else {
                OptimizerKind::Adam
            },
            weight_decay: opts.weight_decay,
            ..AdamConfig::default()
        },
    )?;
    if let Some(restore) = hooks.restore {
        restore(&mut opt)?;
    }
    let per_epoch = set.series.len().div_ceil(opts.batch_size.max(1));
    let total = opts.epochs * per_epoch;
    let enc = Encoded::new(input, set)?;
    let mut rng = SplitMix64::new(opts.seed);
    let mut noise_rng = crate::rng::SplitMix64::stream(opts.seed, 1);
    let (mut seconds, mut samples, mut steps) = (0f64, 0usize, 0usize);
    let mut step_no = hooks.start_epoch.min(opts.epochs) * per_epoch;
    let mut last_loss = f64::NAN;
    for epoch in 0..opts.epochs {
        let mut order: Vec<usize> = (0..set.series.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        if epoch < hooks.start_epoch {
            // replay the skipped epoch's noise draws too, so a resumed run equals an
            // uninterrupted one with input noise as well
            if opts.input_noise > 0.0 {
                for batch in order.chunks(opts.batch_size.max(1)) {
                    enc.noisy_batch(batch, opts.input_noise, &mut noise_rng, &device)?;
                }
            }
            continue;
        }
        let (mut sum, mut n) = (0f64, 0usize);
        for batch in order.chunks(opts.batch_size.max(1)) {
            let t0 = Instant::now();
            let (x, lengths) = if opts.input_noise > 0.0 {
                enc.noisy_batch(batch, opts.input_noise, &mut noise_rng, &device)?
            } else {
                enc.batch(batch, &device)?
            };
            let y: Vec<u32> = batch.iter().map(|&i| set.labels[i] as u32).collect();
            let y = Tensor::from_vec(y, batch.len(), &device)?;
            let outs = net.forward_lengths(&x, &lengths)?;
            let last = outs.last().ok_or_else(|| Error::Data("no layers".into()))?;
            // spikes after each sample's end are 0: the plain sum counts valid steps only
            let counts = last.spikes.sum(1)?;
            let loss = match opts.loss {
                SeriesLoss::MaxMembrane => crate::loss::snntorch::ce_max_membrane(
                    &mask_padding_membrane(&last.mem, &lengths)?,
                    &y,
                )?,
                SeriesLoss::CeCount => crate::loss::snntorch::ce_count(&counts.unsqueeze(1)?, &y)?,
                SeriesLoss::MseRate { correct, incorrect } => {
                    let k = counts.dim(1)?;
                    let inv: Vec<f32> = lengths.iter().map(|&l| 1.0 / l.max(1) as f32).collect();
                    let inv = Tensor::from_vec(inv, (lengths.len(), 1), &device)?;
                    let rates = counts.broadcast_mul(&inv)?;
                    let mut t = vec![incorrect as f32; batch.len() * k];
                    for (b, &i) in batch.iter().enumerate() {
                        t[b * k + set.labels[i]] = correct as f32;
                    }
                    let t = Tensor::from_vec(t, (batch.len(), k), &device)?;
                    (rates - t)?.sqr()?.mean_all()?
                }
            };
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
            steps += lengths.iter().sum::<usize>();
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

/// Float accuracy of `net` on `set` ([`predictions_float`] against the labels).
pub fn accuracy_float(net: &Network, input: &SeriesInput, set: &SeriesSet) -> Result<f64> {
    let correct = predictions_float(net, input, set)?
        .iter()
        .zip(&set.labels)
        .filter(|(p, y)| p == y)
        .count();
    Ok(correct as f64 / set.series.len().max(1) as f64)
}

/// The float network's class for every series of `set`, as the device decides: most output
/// spikes over the valid steps, or, for a network ending in a `readout`, the largest maximum
/// membrane over the valid steps ([`masked_max_membrane`]); ties to the lower class.
pub fn predictions_float(
    net: &Network,
    input: &SeriesInput,
    set: &SeriesSet,
) -> Result<Vec<usize>> {
    let device = net.device().clone();
    let readout = net.config().has_readout();
    let enc = Encoded::new(input, set)?;
    let idx: Vec<usize> = (0..set.series.len()).collect();
    let mut out = Vec::with_capacity(idx.len());
    for batch in idx.chunks(64) {
        let (x, lengths) = enc.batch(batch, &device)?;
        let outs = net.forward_lengths(&x, &lengths)?;
        let last = outs.last().ok_or_else(|| Error::Data("no layers".into()))?;
        let values = if readout {
            masked_max_membrane(&last.mem, &lengths)?
        } else {
            last.spikes.sum(1)?
        };
        out.extend(argmax_rows(&values)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::series::input::SeriesEncoding;
    use crate::data::series::Series;
    use crate::net::NetworkConfig;
    use candle_core::Device;

    /// Two classes: channel 0 rises or falls over the series' own length (5-12 steps).
    fn toy(n: usize, seed: u64) -> SeriesSet {
        let mut rng = crate::rng::SplitMix64::new(seed);
        let (mut series, mut labels) = (Vec::new(), Vec::new());
        for i in 0..n {
            let y = i % 2;
            let len = 5 + (rng.next_u64() % 8) as usize;
            let mut values = Vec::new();
            for t in 0..len {
                let trend = t as f32 / len as f32;
                values.push(if y == 1 { trend } else { -trend } + 0.1 * rng.next_f32());
                values.push(rng.uniform(-1.0, 1.0));
            }
            series.push(Series {
                channels: 2,
                values,
            });
            labels.push(y);
        }
        SeriesSet {
            name: "toy".into(),
            channels: 2,
            classes: vec!["fall".into(), "rise".into()],
            series,
            labels,
        }
    }

    #[test]
    fn batches_pad_at_the_end_and_report_each_length() -> Result<()> {
        let set = toy(6, 3);
        let input = SeriesInput::fit(SeriesEncoding::Direct, &set);
        let enc = Encoded::new(&input, &set)?;
        let (x, lengths) = enc.batch(&[0, 1, 2], &Device::Cpu)?;
        let want: Vec<usize> = (0..3).map(|i| set.series[i].len()).collect();
        assert_eq!(lengths, want);
        let t = *want.iter().max().unwrap();
        assert_eq!(x.dims(), &[3, t, 2]);
        let x = x.to_vec3::<f32>()?;
        for (b, &l) in want.iter().enumerate() {
            assert_eq!(x[b][..l].concat(), input.encode(&set.series[b])?);
            assert!(x[b][l..].iter().flatten().all(|&v| v == 0.0));
        }
        Ok(())
    }

    /// A readout network (2 -> 8 LIF -> 2 non-spiking readout).
    fn readout_net(seed: u64) -> Network {
        let cfg: NetworkConfig = toml::from_str(
            "input_size = 2\n[[layers]]\nsize = 8\n[[layers]]\nsize = 2\nkind = \"readout\"\n\
             reset = \"none\"\nbeta = 0.9",
        )
        .unwrap();
        Network::new(&cfg, seed, &Device::Cpu).unwrap()
    }

    #[test]
    fn a_padded_step_never_holds_the_maximum() -> Result<()> {
        // Two samples of 2 and 4 steps; the short one's valid membranes are all negative, its
        // padding 0 (what `forward_lengths` outputs there).
        let v = Tensor::from_vec(
            vec![
                -3f32, -1.0, -2.0, -5.0, 0.0, 0.0, 0.0, 0.0, //
                1.0, 2.0, 4.0, -1.0, 3.0, 0.5, -2.0, 7.0,
            ],
            (2, 4, 2),
            &Device::Cpu,
        )?;
        let m = masked_max_membrane(&v, &[2, 4])?.to_vec2::<f32>()?;
        assert_eq!(m, vec![vec![-2.0, -1.0], vec![4.0, 7.0]]);
        assert!(mask_padding_membrane(&v, &[2]).is_err());
        Ok(())
    }

    #[test]
    fn a_readout_sample_has_the_same_maxima_and_loss_alone_and_padded_in_a_batch() -> Result<()> {
        let set = toy(8, 3);
        let input = SeriesInput::fit(SeriesEncoding::Direct, &set);
        let enc = Encoded::new(&input, &set)?;
        let all: Vec<usize> = (0..set.series.len()).collect();
        let y_of = |idx: &[usize]| {
            let y: Vec<u32> = idx.iter().map(|&i| set.labels[i] as u32).collect();
            Tensor::from_vec(y, idx.len(), &Device::Cpu)
        };
        let ce = |mem: &Tensor, lengths: &[usize], idx: &[usize]| -> Result<f32> {
            let l = crate::loss::snntorch::ce_max_membrane(
                &mask_padding_membrane(mem, lengths)?,
                &y_of(idx)?,
            )?;
            Ok(l.to_scalar::<f32>()?)
        };
        let mut padding_would_win = 0;
        for seed in 0..3 {
            let net = readout_net(seed);
            let (x, lengths) = enc.batch(&all, &Device::Cpu)?;
            let longest = *lengths.iter().max().unwrap();
            let mem = &net.forward_lengths(&x, &lengths)?[1].mem;
            let batch = masked_max_membrane(mem, &lengths)?.to_vec2::<f32>()?;
            let unmasked = mem.max(1)?.to_vec2::<f32>()?;
            let mut own_losses = 0f32;
            for (b, &i) in all.iter().enumerate() {
                let (x1, l1) = enc.batch(&[i], &Device::Cpu)?;
                let m1 = &net.forward_lengths(&x1, &l1)?[1].mem;
                let alone = masked_max_membrane(m1, &l1)?.to_vec2::<f32>()?;
                assert_eq!(
                    alone[0], batch[b],
                    "seed {seed}, sample {i} of {} steps",
                    l1[0]
                );
                own_losses += ce(m1, &l1, &[i])?;
                if lengths[b] < longest && unmasked[b] != batch[b] {
                    padding_would_win += 1;
                }
            }
            let batch_loss = ce(mem, &lengths, &all)?;
            let mean = own_losses / all.len() as f32;
            assert!(
                (batch_loss - mean).abs() <= 1e-5 * mean.abs().max(1.0),
                "seed {seed}: batch loss {batch_loss} vs the mean of the samples' own {mean}"
            );
        }
        // Some short sample's maximum is negative, so a maximum over the padding (0) would
        // differ: the masking is what makes the two agree.
        assert!(
            padding_would_win > 0,
            "no sample where the padding could win"
        );
        Ok(())
    }

    #[test]
    fn a_readout_network_learns_the_toy_task_on_its_maximum_membrane() -> Result<()> {
        let (train_set, test_set) = (toy(80, 1), toy(40, 2));
        let input = SeriesInput::fit(SeriesEncoding::Direct, &train_set);
        let mut net = readout_net(1);
        let before = accuracy_float(&net, &input, &test_set)?;
        // The readout sits on a plateau for its first ~50 steps, then learns within ~30.
        let opts = SeriesTrainOptions {
            epochs: 40,
            batch_size: 16,
            lr: 0.01,
            seed: 7,
            loss: SeriesLoss::MaxMembrane,
            ..SeriesTrainOptions::default()
        };
        let rep = train(&mut net, &input, &train_set, &opts)?;
        assert!(rep.last_loss.is_finite());
        let acc = accuracy_float(&net, &input, &test_set)?;
        assert!(
            acc >= 0.9,
            "readout accuracy {acc} (before training {before})"
        );
        Ok(())
    }

    #[test]
    fn the_rate_loss_comes_from_mse_count_and_others_are_refused() {
        let mse = LossConfig::MseCount {
            correct_rate: 0.8,
            incorrect_rate: 0.1,
        };
        assert_eq!(
            SeriesLoss::from_config(&mse).unwrap(),
            SeriesLoss::MseRate {
                correct: 0.8,
                incorrect: 0.1
            }
        );
        assert_eq!(
            SeriesLoss::from_config(&LossConfig::CeCount).unwrap(),
            SeriesLoss::CeCount
        );
        assert_eq!(
            SeriesLoss::from_config(&LossConfig::CeMaxMembrane).unwrap(),
            SeriesLoss::MaxMembrane
        );
        let e = SeriesLoss::from_config(&LossConfig::CeRate)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[series]") && e.contains("mse_count") && e.contains("ce_max_membrane"),
            "{e}"
        );
    }

    #[test]
    fn both_losses_and_noise_learn_the_toy_task() -> Result<()> {
        let (train_set, test_set) = (toy(80, 1), toy(40, 2));
        let input = SeriesInput::fit(SeriesEncoding::Direct, &train_set);
        let cfg: NetworkConfig = toml::from_str(
            "input_size = 2\n[[layers]]\nsize = 16\nkind = \"recurrent\"\n[[layers]]\nsize = 2",
        )
        .unwrap();
        for loss in [
            SeriesLoss::CeCount,
            SeriesLoss::MseRate {
                correct: 0.8,
                incorrect: 0.1,
            },
        ] {
            let mut net = Network::new(&cfg, 1, &Device::Cpu)?;
            let opts = SeriesTrainOptions {
                epochs: 15,
                batch_size: 16,
                lr: 0.01,
                seed: 7,
                input_noise: 0.1,
                weight_decay: 1e-4,
                loss,
                ..SeriesTrainOptions::default()
            };
            let rep = train(&mut net, &input, &train_set, &opts)?;
            assert!(rep.last_loss.is_finite());
            let acc = accuracy_float(&net, &input, &test_set)?;
            assert!(acc >= 0.9, "{loss:?}: accuracy {acc}");
        }
        Ok(())
    }
}
