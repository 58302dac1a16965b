//! Quantisation-aware fine-tuning: train through fake-quantised parameters with a straight-through
//! estimator (STE), so the float network settles where its quantised copy (what the integer engine
//! runs) classifies well.
//!
//! Each optimiser step: the float ("latent") parameters `w` are saved; every weight, bias and
//! threshold variable is replaced by its fake-quantised value `fq(w) = clamp(round(w 2^s), qmin,
//! qmax) 2^-s` (biases and thresholds only rounded, as the format stores them in `i32`), with the
//! layer's range shift `s` ([`crate::deploy::quant::range_shift`], recomputed from the latent weights every
//! step); forward and backward run at that point; the latent values are restored and the optimiser
//! applies the gradient to them. That is the STE `d fq(w)/dw := 1` (BinaryConnect-style), written
//! without touching the network's forward. The leak (`beta -> round(beta 2^16)/2^16`) is already
//! within 2^-17 of beta; decay rounding in the engine (half a membrane unit per step) is not modelled.
use crate::data::encode::{train_seed, SpikeEncoder};
use crate::data::Samples;
use crate::deploy::quant::{fit_shift, qmax, qmin, range_shift, FloatLayer};
use crate::net::network::Network;
use crate::train::config::LossConfig;
use crate::train::optim::{Adam, AdamConfig};
use crate::train::{Error, Result};
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

/// QAT options (TOML `[qat]`, or `snn export --qat-epochs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QatConfig {
    /// Fine-tuning passes over the training split (0 = no QAT).
    pub epochs: usize,
    /// Learning rate (constant; default 5e-4, a tenth of the usual training rate).
    pub lr: f64,
    /// Samples per step.
    pub batch_size: usize,
    /// Weight bit width the fake quantiser targets (8 or 4).
    pub weight_bits: u8,
    /// Seed of the shuffling.
    pub seed: u64,
}

impl Default for QatConfig {
    fn default() -> Self {
        Self {
            epochs: 2,
            lr: 5e-4,
            batch_size: 128,
            weight_bits: 8,
            seed: 0,
        }
    }
}

/// Fake quantisation of a weight tensor at shift `s`: `clamp(round(w 2^s), qmin, qmax) 2^-s`.
pub fn fake_quant_weights(w: &Tensor, shift: u8, bits: u8) -> candle_core::Result<Tensor> {
    let scale = f64::from(1u32 << shift);
    (w * scale)?
        .round()?
        .clamp(f64::from(qmin(bits)), f64::from(qmax(bits)))?
        / scale
}

/// Fake quantisation of a bias or threshold: `round(x 2^s) 2^-s` (stored as `i32`, no clamp).
pub fn fake_quant_units(x: &Tensor, shift: u8) -> candle_core::Result<Tensor> {
    let scale = f64::from(1u32 << shift);
    (x * scale)?.round()? / scale
}

/// The variables of layer `i` that the fake quantiser replaces, with their kind.
fn quantised_vars(net: &Network, layer: usize) -> Vec<(Var, bool)> {
    let data = net.varmap().data().lock();
    let Ok(map) = data else { return Vec::new() };
    let mut out = Vec::new();
    for (name, is_weight) in [
        ("w_ff", true),
        ("w_rec", true),
        ("bias", false),
        ("threshold", false),
    ] {
        if let Some(v) = map.get(&format!("layers.{layer}.{name}")) {
            out.push((v.clone(), is_weight));
        }
    }
    out
}

/// Current range shift of every layer (what export at `clip_shifts = 0` will use).
pub fn layer_shifts(net: &Network, bits: u8) -> Result<Vec<u8>> {
    let params = net.layer_params()?;
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let l = FloatLayer::from_network(p, i).map_err(|e| Error::Data(e.to_string()))?;
            Ok(fit_shift(range_shift(l.max_abs_weight(), bits), &l))
        })
        .collect()
}

/// Replaces every quantised variable by its fake-quantised value; returns the latent values.
fn swap_in_quantised(net: &Network, shifts: &[u8], bits: u8) -> Result<Vec<(Var, Tensor)>> {
    let mut saved = Vec::new();
    for (layer, &s) in shifts.iter().enumerate() {
        for (var, is_weight) in quantised_vars(net, layer) {
            let latent = var.as_tensor().copy()?;
            let q = if is_weight {
                fake_quant_weights(&latent, s, bits)?
            } else {
                fake_quant_units(&latent, s)?
            };
            var.set(&q)?;
            saved.push((var, latent));
        }
    }
    Ok(saved)
}

/// Fine-tunes `net` in place through fake-quantised parameters (see the module docs); returns the
/// mean training loss of each epoch.
pub fn finetune(
    net: &Network,
    train: &Samples,
    encoder: &SpikeEncoder,
    loss: &LossConfig,
    neurons_per_class: usize,
    cfg: &QatConfig,
) -> Result<Vec<f64>> {
    let params: Vec<(String, Var)> = {
        let data = net
            .varmap()
            .data()
            .lock()
            .map_err(|_| Error::Data("network variables are poisoned".into()))?;
        let mut v: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let mut adam = Adam::new(params, AdamConfig::default())?;
    let dev = net.device().clone();
    let mut losses = Vec::with_capacity(cfg.epochs);
    for epoch in 0..cfg.epochs {
        let (mut sum, mut count) = (0.0, 0usize);
        for batch in train.batches(cfg.batch_size, true, cfg.seed, epoch as u64 + 1000) {
            let x = encoder.encode_batch(
                train,
                &batch,
                |r| train_seed(r, epoch as u64 + 1000),
                &dev,
            )?;
            let y: Vec<u32> = batch.iter().map(|&i| train.labels[i]).collect();
            let y = Tensor::new(y, &dev)?;
            let shifts = layer_shifts(net, cfg.weight_bits)?;
            let saved = swap_in_quantised(net, &shifts, cfg.weight_bits)?;
            let step = (|| -> Result<_> {
                let outs = net.forward(&x)?;
                let last = outs
                    .last()
                    .ok_or_else(|| Error::Data("network has no layers".into()))?;
                // The training loop's loss; rate budgets and `[[extra_loss]]` terms are not part of QAT.
                let l = loss.classification_loss(&last.spikes, &last.mem, &y, neurons_per_class)?;
                let grads = l.backward()?;
                Ok((l.to_dtype(DType::F64)?.to_scalar::<f64>()?, grads))
            })();
            for (var, latent) in &saved {
                var.set(latent)?;
            }
            let (value, grads) = step?;
            if !value.is_finite() {
                return Err(Error::NonFinite {
                    epoch: epoch + 1,
                    step: count,
                    what: "the QAT loss".into(),
                    checkpoint: "the checkpoint on disk is unchanged".into(),
                });
            }
            adam.step(&grads, cfg.lr)?;
            sum += value;
            count += 1;
        }
        losses.push(sum / count.max(1) as f64);
    }
    Ok(losses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn fake_quant_matches_the_integer_quantiser() -> candle_core::Result<()> {
        let w = [0.26f32, -2.0, 1.999, 0.0, -0.0039];
        let t = Tensor::new(&w, &Device::Cpu)?;
        let q = fake_quant_weights(&t, 6, 8)?.to_vec1::<f32>()?;
        for (x, fq) in w.iter().zip(q) {
            let int = crate::deploy::quant::quantize_weight(*x, 6, 8, true, 0);
            assert_eq!(fq, f32::from(int) / 64.0, "{x}");
        }
        let u = fake_quant_units(&Tensor::new(&[1.01f32, -3.3], &Device::Cpu)?, 4)?;
        assert_eq!(u.to_vec1::<f32>()?, vec![1.0, -3.3125]);
        Ok(())
    }
}
