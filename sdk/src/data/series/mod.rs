//! Time series and event streams as samples: the sample types, padded and masked batches, the
//! per-channel constants of the continuous encoders, and the loaders (one file each).
//!
//! A sample is a static vector (as in [`crate::data`]), a multichannel time series
//! [`Series`] (`T_i x C` real values with its own length `T_i`) or an [`EventStream`]
//! (`(time, channel[, polarity])` events, binned to steps by [`EventStream::bin`]).
//!
//! **Padding and the end of a sample.** A batch of unequal lengths is padded at the *end* to its
//! longest sample ([`pad_series`]); `mask[b][t] = 1` for `t < T_b`, else 0, and padded values are
//! 0. Spike counts, losses and rate meters use only the masked (valid) steps. Because the network
//! is causal, padded steps come after every valid step and cannot change them, so the padded
//! batch computes exactly what `T_b` steps from rest compute. The integer engine never sees
//! padding: `Engine::run_values` / `run_spike_steps` run exactly `T_b` steps after a reset (see
//! `models/FORMAT.md`, "Samples of their own length"). A sample ends after its last step; nothing
//! carries over to the next sample.
//!
//! **Event streams as samples.** An event stream is binned ([`EventStream::bin`]) into steps of
//! `dt`: input `i` is 1 at step `t` when at least one event of its (pooled, per-polarity) channel
//! falls in `[t dt, (t + 1) dt)`, else 0 ([`binned_set`]). The sample's own length `T_i` ends
//! with the step of its last kept event (events at or after the maximum duration are dropped);
//! a stream with no kept event is one silent step. The network sees exactly these 0/1 inputs,
//! and the integer engine runs the same steps as spike lists (`run_spike_steps`, encoding
//! `events`). Trailing silence after the last event is not part of the sample: a silent step
//! can still move membranes (leak, recurrence), so training, host simulation and the device
//! agree because all three stop at `T_i`.
//!
//! Loaders: [`ts`] (UEA/UCR `.ts`, plain or gzip), [`seqcsv`] (a CSV of sequences),
//! [`nmnist`] (N-MNIST binary events), [`shd`] (SHD/SSC HDF5), [`synthetic`] (seeded event
//! streams of SHD's shape). [`input`]: the fitted continuous encoding of a model.
//! Training is `crate::train::series`, export and the engine run `crate::deploy::series`.
pub mod error;
pub mod input;
pub mod nmnist;
pub mod seqcsv;
pub mod shd;
pub mod source;
pub mod synthetic;
pub mod ts;

pub use error::SeriesError;

/// A multichannel time series: `len()` steps of `channels` real values, step-major
/// (`values[t * channels + c]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Values per step.
    pub channels: usize,
    /// `len() * channels` values, step `t` at `t * channels`.
    pub values: Vec<f32>,
}

impl Series {
    /// Number of steps `T_i`.
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.channels).unwrap_or(0)
    }

    /// True when the series has no steps.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values of step `t`.
    pub fn step(&self, t: usize) -> &[f32] {
        &self.values[t * self.channels..(t + 1) * self.channels]
    }
}

/// A labelled set of time series, with the class names in label order.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSet {
    /// Name of the problem (from the file, or the file stem).
    pub name: String,
    /// Channels of every series.
    pub channels: usize,
    /// Class names; label `k` is `classes[k]`.
    pub classes: Vec<String>,
    /// The series.
    pub series: Vec<Series>,
    /// One label per series, below `classes.len()`.
    pub labels: Vec<usize>,
}

impl SeriesSet {
    /// Shortest and longest series length.
    pub fn length_range(&self) -> (usize, usize) {
        let lens = self.series.iter().map(Series::len);
        (lens.clone().min().unwrap_or(0), lens.max().unwrap_or(0))
    }
}

/// One event: a time in microseconds, a channel and an optional polarity (`true` = ON).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Time since the start of the sample, microseconds.
    pub time_us: u64,
    /// Channel (a pixel, a cochlea unit, ...).
    pub channel: u32,
    /// Polarity for sensors that have one.
    pub polarity: Option<bool>,
}

/// A stream of events over `channels` channels, in time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventStream {
    /// Number of channels (events name channels below it).
    pub channels: u32,
    /// The events, by time.
    pub events: Vec<Event>,
}

/// How an event stream becomes input spikes per step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Binning {
    /// Step length, microseconds (> 0).
    pub dt_us: u64,
    /// Events at or after this time are dropped; the sample has
    /// `ceil(max_duration_us / dt_us)` steps at most.
    pub max_duration_us: u64,
    /// Channels pooled into one input: channel `c` feeds input `c / pool` (>= 1).
    pub pool: u32,
    /// Two inputs per (pooled) channel, ON at `2k`, OFF at `2k + 1`, for events with a polarity.
    pub polarity_channels: bool,
}

impl Binning {
    /// Inputs after pooling and polarity: `ceil(channels / pool) * (2 if polarity else 1)`.
    pub fn inputs(&self, channels: u32) -> usize {
        let pooled = channels.div_ceil(self.pool.max(1)) as usize;
        if self.polarity_channels {
            2 * pooled
        } else {
            pooled
        }
    }

    /// Steps of a full-length sample: `ceil(max_duration_us / dt_us)`.
    pub fn max_steps(&self) -> usize {
        self.max_duration_us.div_ceil(self.dt_us.max(1)) as usize
    }
}

impl EventStream {
    /// Bins the stream into steps: step `t` lists, ascending and without repeats, the inputs
    /// with at least one event in `[t dt, (t + 1) dt)`. The sample ends with the step of its last
    /// kept event (its own length `T_i`), at most [`Binning::max_steps`].
    pub fn bin(&self, b: &Binning) -> Vec<Vec<u16>> {
        let dt = b.dt_us.max(1);
        let pool = b.pool.max(1);
        let mut steps: Vec<Vec<u16>> = Vec::new();
        for e in &self.events {
            if e.time_us >= b.max_duration_us || e.channel >= self.channels {
                continue;
            }
            let t = (e.time_us / dt) as usize;
            let k = e.channel / pool;
            let input = if b.polarity_channels {
                2 * k + u32::from(e.polarity == Some(false))
            } else {
                k
            };
            if steps.len() <= t {
                steps.resize(t + 1, Vec::new());
            }
            steps[t].push(input as u16);
        }
        for s in &mut steps {
            s.sort_unstable();
            s.dedup();
        }
        steps
    }
}

/// Bins every stream of `set` into a [`SeriesSet`] of 0/1 inputs per step (see the module
/// doc): channels = [`Binning::inputs`] of the streams' channels, `T_i` = the binned length (at
/// least one step). Dense: `T_i x inputs` values per sample, so pool wide sensors.
pub fn binned_set(name: &str, set: &nmnist::EventSet, b: &Binning) -> SeriesSet {
    let channels = set.streams.first().map_or(0, |s| s.channels);
    let inputs = b.inputs(channels);
    let series = set
        .streams
        .iter()
        .map(|s| {
            let steps = s.bin(b);
            let mut values = vec![0f32; steps.len().max(1) * inputs];
            for (t, step) in steps.iter().enumerate() {
                for &i in step {
                    values[t * inputs + usize::from(i)] = 1.0;
                }
            }
            Series {
                channels: inputs,
                values,
            }
        })
        .collect();
    SeriesSet {
        name: name.to_owned(),
        channels: inputs,
        classes: set.classes.clone(),
        series,
        labels: set.labels.clone(),
    }
}

/// Splits `set` into `(rest, held)`: `round(fraction x n_k)` series of each class `k` held out
/// (at least one when the class has two or more), drawn by a seeded shuffle; order within each
/// part follows the file.
pub fn holdout(set: &SeriesSet, fraction: f64, seed: u64) -> (SeriesSet, SeriesSet) {
    let mut rng = crate::data::SplitMix64::new(seed ^ 0x0004_01d0_u64);
    let mut held = vec![false; set.series.len()];
    for k in 0..set.classes.len() {
        let mut idx: Vec<usize> = (0..set.labels.len())
            .filter(|&i| set.labels[i] == k)
            .collect();
        rng.shuffle(&mut idx);
        let mut n = (fraction * idx.len() as f64).round() as usize;
        if fraction > 0.0 && idx.len() >= 2 {
            n = n.clamp(1, idx.len() - 1);
        }
        for &i in &idx[..n.min(idx.len())] {
            held[i] = true;
        }
    }
    let part = |want: bool, suffix: &str| SeriesSet {
        name: format!("{}{suffix}", set.name),
        channels: set.channels,
        classes: set.classes.clone(),
        series: (0..set.series.len())
            .filter(|&i| held[i] == want)
            .map(|i| set.series[i].clone())
            .collect(),
        labels: (0..set.labels.len())
            .filter(|&i| held[i] == want)
            .map(|i| set.labels[i])
            .collect(),
    };
    (part(false, ""), part(true, " (held out)"))
}

/// A batch of series padded at the end to the longest: `values` is `[B, T_max, C]` (padding 0),
/// `mask` is `[B, T_max]` with 1 on valid steps, `lengths[b] = T_b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Padded {
    /// Longest length in the batch.
    pub steps: usize,
    /// Channels.
    pub channels: usize,
    /// `[B, T_max, C]` values, zero on padded steps.
    pub values: Vec<f32>,
    /// `[B, T_max]`: 1.0 on valid steps, 0.0 on padding.
    pub mask: Vec<f32>,
    /// Valid steps of each sample.
    pub lengths: Vec<usize>,
}

/// Pads `batch` at the end to its longest series (see the module doc for the semantics).
pub fn pad_series(batch: &[&Series]) -> Padded {
    let channels = batch.first().map_or(0, |s| s.channels);
    let steps = batch.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut values = vec![0f32; batch.len() * steps * channels];
    let mut mask = vec![0f32; batch.len() * steps];
    for (b, s) in batch.iter().enumerate() {
        let n = s.len() * channels;
        values[b * steps * channels..b * steps * channels + n].copy_from_slice(&s.values[..n]);
        mask[b * steps..b * steps + s.len()].fill(1.0);
    }
    Padded {
        steps,
        channels,
        values,
        mask,
        lengths: batch.iter().map(|s| s.len()).collect(),
    }
}

/// Per-channel encoder constants fitted on a training split: `offset` = mean, `scale` =
/// `256 / std` (so one standard deviation is 256 in the engine's `q` units, `x_hat = 1`), and
/// for the delta encoders `threshold = round(delta_std * 256)` in `q` units (at least 1).
/// A constant channel (std 0) gets scale 256.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelFit {
    /// Mean of each channel over every valid step of every training series.
    pub offset: Vec<f32>,
    /// `256 / std` of each channel.
    pub scale: Vec<f32>,
}

impl ChannelFit {
    /// Fits mean and standard deviation per channel over every step of `series` (f64 sums).
    pub fn fit<'a>(channels: usize, series: impl IntoIterator<Item = &'a Series>) -> Self {
        let mut n = 0f64;
        let mut sum = vec![0f64; channels];
        let mut sq = vec![0f64; channels];
        for s in series {
            for frame in s.values.chunks_exact(channels) {
                n += 1.0;
                for (c, &x) in frame.iter().enumerate() {
                    sum[c] += f64::from(x);
                    sq[c] += f64::from(x) * f64::from(x);
                }
            }
        }
        let n = n.max(1.0);
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let scale = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| {
                let std = (q / n - m * m).max(0.0).sqrt();
                if std > 1e-12 {
                    (256.0 / std) as f32
                } else {
                    256.0
                }
            })
            .collect();
        Self {
            offset: mean.iter().map(|&m| m as f32).collect(),
            scale,
        }
    }

    /// Delta thresholds of `delta_std` standard deviations, in `q` units (at least 1).
    pub fn thresholds(&self, delta_std: f32) -> Vec<u16> {
        let t = (delta_std * 256.0).round().clamp(1.0, f32::from(u16::MAX)) as u16;
        vec![t; self.offset.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(channels: usize, values: &[f32]) -> Series {
        Series {
            channels,
            values: values.to_vec(),
        }
    }

    #[test]
    fn padding_is_at_the_end_and_masked() {
        let a = s(2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = s(2, &[7.0, 8.0]);
        let p = pad_series(&[&a, &b]);
        assert_eq!(p.steps, 3);
        assert_eq!(p.lengths, [3, 1]);
        assert_eq!(
            p.values,
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(p.mask, [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn channel_fit_is_mean_and_256_over_std() {
        // Channel 0: 1, 3 (mean 2, std 1); channel 1: constant 5.
        let fit = ChannelFit::fit(2, [&s(2, &[1.0, 5.0]), &s(2, &[3.0, 5.0])]);
        assert_eq!(fit.offset, [2.0, 5.0]);
        assert_eq!(fit.scale, [256.0, 256.0]);
        assert_eq!(fit.thresholds(0.25), [64, 64]);
        assert_eq!(fit.thresholds(0.0), [1, 1]);
    }

    #[test]
    fn binning_pools_splits_polarity_and_dedups() {
        let ev = |t, c, p| Event {
            time_us: t,
            channel: c,
            polarity: Some(p),
        };
        let stream = EventStream {
            channels: 6,
            events: vec![
                ev(0, 5, true),
                ev(10, 4, true),   // pooled with 5 -> input 2*2 = 4, same step: once
                ev(999, 0, false), // step 0, OFF -> 1
                ev(2500, 1, true), // step 2
                ev(9000, 1, true), // past max_duration: dropped
            ],
        };
        let b = Binning {
            dt_us: 1000,
            max_duration_us: 5000,
            pool: 2,
            polarity_channels: true,
        };
        assert_eq!(b.inputs(6), 6);
        assert_eq!(b.max_steps(), 5);
        assert_eq!(stream.bin(&b), vec![vec![1, 4], vec![], vec![0]]);
        let set = nmnist::EventSet {
            classes: vec!["a".into()],
            streams: vec![
                stream,
                EventStream {
                    channels: 6,
                    events: vec![],
                },
            ],
            labels: vec![0, 0],
        };
        let bs = binned_set("x", &set, &b);
        assert_eq!(bs.channels, 6);
        assert_eq!(bs.series[0].len(), 3);
        assert_eq!(bs.series[0].step(0), [0.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
        assert_eq!(bs.series[0].step(2), [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(bs.series[1].len(), 1, "an empty stream is one silent step");
        assert!(bs.series[1].values.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn holdout_is_stratified_seeded_and_disjoint() {
        let set = SeriesSet {
            name: "h".into(),
            channels: 1,
            classes: vec!["a".into(), "b".into()],
            series: (0..20).map(|i| s(1, &[i as f32])).collect(),
            labels: (0..20).map(|i| usize::from(i >= 15)).collect(),
        };
        let (rest, held) = holdout(&set, 0.2, 3);
        assert_eq!(held.labels.iter().filter(|&&y| y == 0).count(), 3);
        assert_eq!(held.labels.iter().filter(|&&y| y == 1).count(), 1);
        assert_eq!(rest.series.len() + held.series.len(), 20);
        for h in &held.series {
            assert!(!rest.series.contains(h));
        }
        assert_eq!(holdout(&set, 0.2, 3).1, held);
        assert_ne!(holdout(&set, 0.2, 4).1, held);
    }
}
