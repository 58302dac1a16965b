//! Spike encoding for training and evaluation, produced by the SAME encoder the device runs
//! (`snn_models::encode::Encoder`), written into a dense `[batch, time, inputs]` f32 tensor.
//!
//! Spike seeds: evaluation uses the sample's 0-based row in the data file ([`eval_seed`]), so a
//! host evaluation and the device see identical spikes; training draws fresh spikes every epoch
//! from [`train_seed`], which mixes the epoch into the row.
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use snn_models::encode::Encoder;
use snn_models::{Encoding, Header};

use crate::data::Result;
use crate::data::Samples;

/// The `[encoding]` table of the training config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EncodingConfig {
    /// Bernoulli rate coding: feature `q` spikes with probability `q / 256` each step.
    Rate {
        /// Model-level seed of the on-device xorshift32 generator (default 0).
        #[serde(default)]
        seed: u32,
    },
    /// Time-to-first-spike: one spike per feature `q >= threshold`, earlier when larger.
    Latency {
        /// Features below this never spike (default 1).
        #[serde(default = "one")]
        threshold: u8,
    },
    /// Delta coding: a spike where a feature rose by at least `threshold` since the last step.
    Delta {
        /// Minimum rise (default 1).
        #[serde(default = "one")]
        threshold: u8,
    },
}

fn one() -> u8 {
    1
}

impl Default for EncodingConfig {
    fn default() -> Self {
        Self::Rate { seed: 0 }
    }
}

impl EncodingConfig {
    /// The model-format encoding this config stands for.
    pub fn to_model(self) -> Encoding {
        match self {
            Self::Rate { seed } => Encoding::Rate { seed },
            Self::Latency { threshold } => Encoding::Latency { threshold },
            Self::Delta { threshold } => Encoding::Delta { threshold },
        }
    }
}

/// Spike seed of a sample in evaluation: its 0-based row in the data file.
pub fn eval_seed(row: u32) -> u32 {
    row
}

/// Spike seed of a sample in training epoch `epoch` (0-based):
/// `mix32(row + (epoch + 1) * 0x9E3779B9) | 0x8000_0000`, so every epoch draws new spikes and
/// (top bit set, rows < 2^31) never repeats an evaluation seed.
pub fn train_seed(row: u32, epoch: u64) -> u32 {
    let mut z = row.wrapping_add((epoch as u32).wrapping_add(1).wrapping_mul(0x9E37_79B9));
    z = (z ^ (z >> 16)).wrapping_mul(0x7FEB_352D);
    z = (z ^ (z >> 15)).wrapping_mul(0x846C_A68B);
    (z ^ (z >> 16)) | 0x8000_0000
}

/// Encodes `u8` feature vectors into spike tensors through the shared device encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpikeEncoder {
    encoding: Encoding,
    input_size: u16,
    time_steps: u16,
}

impl SpikeEncoder {
    /// An encoder for `input_size` features over `time_steps` steps.
    pub fn new(encoding: EncodingConfig, input_size: usize, time_steps: usize) -> Result<Self> {
        let fit = |v: usize, what: &str| {
            u16::try_from(v).ok().filter(|&v| v > 0).ok_or_else(|| {
                crate::data::DataError::Invalid(format!("{what} must be in 1..=65535, got {v}"))
            })
        };
        Ok(Self {
            encoding: encoding.to_model(),
            input_size: fit(input_size, "input_size")?,
            time_steps: fit(time_steps, "time_steps")?,
        })
    }

    /// Time steps per sample.
    pub fn time_steps(&self) -> usize {
        usize::from(self.time_steps)
    }

    /// The model header fields the encoder reads (name and class fields are placeholders).
    fn header(&self) -> Header<'static> {
        Header {
            name: "",
            input_size: self.input_size,
            time_steps: self.time_steps,
            encoding: self.encoding,
            num_classes: 1,
            neurons_per_class: 1,
        }
    }

    /// Writes one sample's spikes (`1.0` / `0.0`) into `out` (`time_steps * input_size`,
    /// step-major; must be zeroed) and returns the number of spikes.
    pub fn encode_into(&self, features: &[u8], seed: u32, out: &mut [f32]) -> Result<usize> {
        let header = self.header();
        let mut enc = Encoder::new(&header, features, seed)?;
        let n_in = usize::from(self.input_size);
        let mut idx = vec![0u16; n_in];
        let mut total = 0;
        for frame in out.chunks_exact_mut(n_in).take(self.time_steps()) {
            let n = enc.next_step(&mut idx)?;
            for &i in &idx[..n] {
                frame[usize::from(i)] = 1.0;
            }
            total += n;
        }
        Ok(total)
    }

    /// Encodes the samples `batch` of `samples` into a `[batch, time, inputs]` f32 tensor, the
    /// spike seed of each sample being `seed(row)`.
    pub fn encode_batch(
        &self,
        samples: &Samples,
        batch: &[usize],
        seed: impl Fn(u32) -> u32,
        device: &Device,
    ) -> Result<Tensor> {
        let per = self.time_steps() * usize::from(self.input_size);
        let mut buf = vec![0f32; batch.len() * per];
        for (out, &i) in buf.chunks_exact_mut(per).zip(batch) {
            self.encode_into(samples.features_of(i), seed(samples.rows[i]), out)?;
        }
        Ok(Tensor::from_vec(
            buf,
            (batch.len(), self.time_steps(), usize::from(self.input_size)),
            device,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_spikes_equal_the_device_encoder() {
        let enc = SpikeEncoder::new(EncodingConfig::Rate { seed: 3 }, 4, 5).unwrap();
        let feats = [0u8, 64, 200, 255];
        let mut out = vec![0f32; 20];
        enc.encode_into(&feats, 11, &mut out).unwrap();
        let header = enc.header();
        let mut dev = Encoder::new(&header, &feats, 11).unwrap();
        let mut idx = [0u16; 4];
        for t in 0..5 {
            let n = dev.next_step(&mut idx).unwrap();
            let mut want = [0f32; 4];
            for &i in &idx[..n] {
                want[usize::from(i)] = 1.0;
            }
            assert_eq!(&out[t * 4..t * 4 + 4], &want);
        }
        // Feature 0 never spikes.
        assert!(out.iter().step_by(4).all(|&s| s == 0.0));
    }

    #[test]
    fn train_seeds_change_per_epoch_and_avoid_eval_seeds() {
        assert_ne!(train_seed(5, 0), train_seed(5, 1));
        assert!(train_seed(5, 0) >= 0x8000_0000);
        assert_eq!(eval_seed(5), 5);
    }
}
