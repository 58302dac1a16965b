//! Quantising the dense baseline ([`crate::net::mlp::Mlp`]) to the int8 file of
//! `snn_models::dense`, and running that file (the device's code) over a split.
//!
//! Per layer `l`, symmetric, with the input scale `s_0 = 1/127` (`x = feature >> 1`):
//! - weights `s_w = max|W| / 127`, `w_q = round(W / s_w)` in `-127..=127`;
//! - bias `b_q = round(b / (s_in · s_w))`, clamped to `±2^30`;
//! - hidden output scale `s_out = max(activation) / 127` over the training split (calibration);
//!   requantisation `m / 2^(32+s) ≈ s_in · s_w / s_out` with the largest shift `s ≤ 31` that
//!   keeps `m < 2^31` (the most precise multiplier; so the ratio must be below 1/2), and `s_in`
//!   of the next layer is `s_out`;
//! - the last layer's accumulators are the logits (scale `s_in · s_w`; argmax needs no scale).
use candle_core::Device;
use snn_models::dense::{
    decode_dense, encode_dense, infer, DenseBuffers, DenseLayerSpec, MAX_DENSE_BIAS,
};

use crate::data::Samples;
use crate::net::mlp::Mlp;
use crate::train::mlp::inputs;
use crate::train::{Error, Result};

/// `(m, s)` with `m / 2^(32+s) ≈ ratio`, `0 < m < 2^31`, `s ≤ 31` as large as fits.
pub fn requant(ratio: f64) -> Option<(i32, u8)> {
    if !(ratio.is_finite() && ratio > 0.0) {
        return None;
    }
    (0..=31u8).rev().find_map(|s| {
        let m = (ratio * 2f64.powi(32 + i32::from(s))).round();
        (m >= 1.0 && m < f64::from(i32::MAX)).then_some((m as i32, s))
    })
}

/// The int8 dense file of `mlp`, activation scales calibrated on `calib`.
pub fn quantise(mlp: &Mlp, calib: &Samples) -> Result<Vec<u8>> {
    let dev = Device::Cpu;
    let idx: Vec<usize> = (0..calib.len()).collect();
    let acts = mlp.activations(&inputs(calib, &idx, &dev)?)?;
    let n = mlp.weights.len();
    let mut s_in = 1.0 / 127.0;
    let mut layers = Vec::new();
    for (l, act) in acts.iter().enumerate() {
        let w: Vec<Vec<f32>> = mlp.weights[l].as_tensor().to_vec2()?;
        let b: Vec<f32> = mlp.biases[l].as_tensor().to_vec1()?;
        let max_w = w
            .iter()
            .flatten()
            .fold(0f64, |m, &v| m.max(f64::from(v).abs()))
            .max(1e-12);
        let s_w = max_w / 127.0;
        let weights: Vec<i8> = w
            .iter()
            .flatten()
            .map(|&v| (f64::from(v) / s_w).round().clamp(-127.0, 127.0) as i8)
            .collect();
        let bias: Vec<i32> = b
            .iter()
            .map(|&v| {
                (f64::from(v) / (s_in * s_w))
                    .round()
                    .clamp(-f64::from(MAX_DENSE_BIAS), f64::from(MAX_DENSE_BIAS))
                    as i32
            })
            .collect();
        let (multiplier, shift, s_out) = if l + 1 < n {
            let max_a = act.max_keepdim(0)?.max_keepdim(1)?.flatten_all()?;
            let max_a = f64::from(max_a.to_vec1::<f32>()?[0]).max(1e-6);
            let s_out = max_a / 127.0;
            let (m, s) = requant(s_in * s_w / s_out).ok_or_else(|| {
                Error::Data(format!(
                    "dense layer {l}: requantisation ratio {} out of range",
                    s_in * s_w / s_out
                ))
            })?;
            (m, s, s_out)
        } else {
            (0, 0, 0.0)
        };
        layers.push(DenseLayerSpec {
            inputs: mlp.sizes[l] as u16,
            outputs: mlp.sizes[l + 1] as u16,
            multiplier,
            shift,
            bias,
            weights,
        });
        s_in = s_out;
    }
    encode_dense(&layers).map_err(|e| Error::Data(format!("dense model: {e}")))
}

/// Predictions of the dense file on every sample of `s` (the portable kernel: the same bits as
/// every board's).
pub fn predict(bytes: &[u8], s: &Samples) -> Result<Vec<u16>> {
    let model = decode_dense(bytes).map_err(|e| Error::Data(format!("dense model: {e}")))?;
    let w = model.max_width();
    let (mut a, mut b) = (vec![0i8; w], vec![0i8; w]);
    let mut packed = vec![0u32; DenseBuffers::packed_len(w)];
    let mut logits = vec![0i32; model.outputs()];
    (0..s.len())
        .map(|i| {
            let mut bufs = DenseBuffers {
                a: &mut a,
                b: &mut b,
                packed: &mut packed,
            };
            infer(&model, s.features_of(i), &mut bufs, &mut logits)
                .map_err(|e| Error::Data(format!("dense inference, sample {i}: {e}")))
        })
        .collect()
}

/// Accuracy of the dense file on `s`.
pub fn accuracy(bytes: &[u8], s: &Samples) -> Result<f64> {
    let p = predict(bytes, s)?;
    let ok = p
        .iter()
        .zip(&s.labels)
        .filter(|(p, l)| u32::from(**p) == **l)
        .count();
    Ok(ok as f64 / s.len().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requantisation_is_the_most_precise_that_fits() {
        let (m, s) = requant(1e-3).unwrap();
        assert!((f64::from(m) / 2f64.powi(32 + i32::from(s)) - 1e-3).abs() < 1e-12);
        assert!(
            f64::from(m) * 2.0 >= f64::from(i32::MAX),
            "m = {m} could take one more bit"
        );
        assert_eq!(requant(0.4).unwrap().1, 0);
        assert!(requant(0.0).is_none() && requant(f64::NAN).is_none() && requant(1.0).is_none());
    }
}
