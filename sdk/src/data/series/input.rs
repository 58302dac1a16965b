//! The input side of a series model: the continuous encoding, its per-channel constants fitted
//! on the training split, and the network input of a series, computed by
//! `snn_models::encode::encode_frame` so training sees exactly the device's input. Padding
//! semantics: see the [module doc](super).
use candle_core::{Device, Tensor};
use snn_models::owned::OwnedChannels;
use snn_models::Encoding;

use super::{ChannelFit, Series, SeriesSet};
use crate::data::Result;

/// How the channels of a series reach the network (the model's encoding).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SeriesEncoding {
    /// Each channel's quantised value as input current every step (`Encoding::Direct`).
    #[default]
    Direct,
    /// Up/down spikes when a channel moved `threshold_std` standard deviations since its last
    /// spike (`Encoding::SendOnDelta`).
    SendOnDelta {
        /// Threshold in training standard deviations.
        threshold_std: f32,
    },
    /// Sigma-delta up/down spikes with a threshold of `threshold_std` standard deviations
    /// (`Encoding::SigmaDelta`).
    SigmaDelta {
        /// Threshold in training standard deviations.
        threshold_std: f32,
    },
    /// Binned event streams: each step's 0/1 inputs are the input spikes (`Encoding::Events`,
    /// nothing fitted; format version 1). The encoder of `shd`, `nmnist` and `synthetic_events`.
    Events,
}

/// The fitted input side of a series model: encoding and per-channel constants (fitted on the
/// training split only, stored in the model file).
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesInput {
    /// The model encoding.
    pub encoding: Encoding,
    /// Per-channel constants, as stored in the model.
    pub channels: OwnedChannels,
    /// Channels of a frame.
    pub num_channels: usize,
}

impl SeriesInput {
    /// Fits offsets and scales (and delta thresholds) on `train`.
    pub fn fit(encoding: SeriesEncoding, train: &SeriesSet) -> Self {
        if encoding == SeriesEncoding::Events {
            return Self {
                encoding: Encoding::Events,
                channels: OwnedChannels::default(),
                num_channels: train.channels,
            };
        }
        let fit = ChannelFit::fit(train.channels, &train.series);
        let (encoding, channels) = match encoding {
            SeriesEncoding::Direct => (
                Encoding::Direct,
                OwnedChannels::direct(&fit.offset, &fit.scale),
            ),
            SeriesEncoding::SendOnDelta { threshold_std } => (
                Encoding::SendOnDelta,
                OwnedChannels::delta(&fit.offset, &fit.scale, &fit.thresholds(threshold_std)),
            ),
            SeriesEncoding::SigmaDelta { threshold_std } => (
                Encoding::SigmaDelta,
                OwnedChannels::delta(&fit.offset, &fit.scale, &fit.thresholds(threshold_std)),
            ),
            SeriesEncoding::Events => (Encoding::Events, OwnedChannels::default()),
        };
        Self {
            encoding,
            channels,
            num_channels: train.channels,
        }
    }

    /// Network inputs: channels for direct input and events, two per channel for the delta
    /// encoders.
    pub fn inputs(&self) -> usize {
        match self.encoding {
            Encoding::Events => self.num_channels,
            e => self.num_channels * e.inputs_per_channel(),
        }
    }

    /// The network input of one series, `[T_i, inputs]` step-major, exactly what the engine
    /// feeds its first layer: `q / 256` per channel (direct) or 0/1 spikes (delta).
    pub fn encode(&self, s: &Series) -> Result<Vec<f32>> {
        if self.encoding == Encoding::Events {
            return Ok(s.values.clone());
        }
        let n = self.inputs();
        let channels = self.channels.as_channels();
        let mut state = vec![0i32; self.num_channels];
        let mut idx = vec![0u16; n];
        let mut out = vec![0f32; s.len() * n];
        for t in 0..s.len() {
            let k = snn_models::encode::encode_frame(
                self.encoding,
                &channels,
                s.step(t),
                &mut state,
                &mut idx,
            )?;
            let row = &mut out[t * n..(t + 1) * n];
            if matches!(self.encoding, Encoding::Direct) {
                for (o, &q) in row.iter_mut().zip(&idx[..k]) {
                    *o = f32::from(q as i16) / 256.0;
                }
            } else {
                for &i in &idx[..k] {
                    row[usize::from(i)] = 1.0;
                }
            }
        }
        Ok(out)
    }

    /// A padded batch: `x [B, T_max, inputs]` (zero after each sample's end) and the mask
    /// `[B, T_max, 1]` (1 on valid steps).
    pub fn batch(&self, series: &[&Series], device: &Device) -> Result<(Tensor, Tensor)> {
        let n = self.inputs();
        let steps = series.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut x = vec![0f32; series.len() * steps * n];
        let mut mask = vec![0f32; series.len() * steps];
        for (b, s) in series.iter().enumerate() {
            let e = self.encode(s)?;
            x[b * steps * n..b * steps * n + e.len()].copy_from_slice(&e);
            mask[b * steps..b * steps + s.len()].fill(1.0);
        }
        Ok((
            Tensor::from_vec(x, (series.len(), steps, n), device)?,
            Tensor::from_vec(mask, (series.len(), steps, 1), device)?,
        ))
    }
}
