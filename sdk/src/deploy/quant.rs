//! Post-training quantisation: float layer parameters -> the fixed-point formats of `snn_models`.
//!
//! Units (see `models/FORMAT.md`): a layer has one power-of-two scale, `real = q * 2^-shift`, shared by
//! its feed-forward and recurrent weights, its biases, its threshold and its membranes. Weights are
//! `i8` (`-128..=127`) or `i4` (`-8..=7`, one per byte); the leak is Q0.16, `beta = leak / 2^16`.
//!
//! The shift is chosen from the weight range: the largest `s <= 30` with `max|w| * 2^s <= qmax + 1/2`
//! (so the largest weight rounds into range, nothing clips). [`QuantConfig::clip_shifts`] lets the
//! caller also try `s + 1`, `s + 2`, … which clip outliers for finer resolution; calibration
//! ([`crate::deploy::export`]) picks among them on training data.
use serde::{Deserialize, Serialize};
use snn_models::{Reset, LEAK_ONE};
use thiserror::Error;

/// Largest weight shift the format allows.
pub const MAX_SHIFT: u8 = snn_models::validate::MAX_SHIFT;

/// A layer's float parameters, as the training network holds them (plain slices, no tensors).
#[derive(Clone, Debug, PartialEq)]
pub struct FloatLayer {
    /// Presynaptic size.
    pub inputs: usize,
    /// Number of neurons.
    pub neurons: usize,
    /// Feed-forward weights `[neurons, inputs]`, row-major: `w_ff[i * inputs + j]` is `j -> i`.
    pub w_ff: Vec<f32>,
    /// Recurrent weights `[neurons, neurons]`: `w_rec[i * neurons + k]` is `k -> i`.
    pub w_rec: Option<Vec<f32>>,
    /// Per-neuron bias (membrane units of the float model).
    pub bias: Option<Vec<f32>>,
    /// Per-neuron membrane decay `beta` in `[0, 1)`.
    pub beta: Vec<f32>,
    /// Per-neuron synaptic decay `alpha` in `[0, 1]` of a current-based (`synaptic`) layer:
    /// `i = alpha·i + W x + b`, `u = beta·v + i`; `None` for a plain LIF.
    pub alpha: Option<Vec<f32>>,
    /// Firing threshold (> 0).
    pub threshold: f32,
    /// Reset after a spike.
    pub reset: Reset,
    /// Connectivity of `w_ff` (`false` = no synapse, stays exactly zero), same layout as `w_ff`.
    pub ff_mask: Option<Vec<bool>>,
    /// Connectivity of `w_rec`, same layout as `w_rec`.
    pub rec_mask: Option<Vec<bool>>,
    /// Dale's law sign of each presynaptic input of `w_ff` (+1 excitatory, -1 inhibitory, 0 free).
    pub ff_sign: Option<Vec<i8>>,
    /// Dale's law sign of each neuron's outgoing recurrent edges (+1, -1, 0 free).
    pub rec_sign: Option<Vec<i8>>,
    /// Firing-rate budget `(max_rate, min_rate)` in spikes/neuron/step, if one was set in training.
    pub budget: Option<(f32, f32)>,
    /// A non-spiking readout (the last layer only): `v = beta·v + W x + b`, never fires, and
    /// each class's value is `max_t v`; `threshold` and `reset` are not used.
    pub readout: bool,
}

impl FloatLayer {
    /// A dense layer with no recurrence, bias, masks or budget (handy for tests and tools).
    pub fn dense(inputs: usize, neurons: usize, w_ff: Vec<f32>, beta: f32, threshold: f32) -> Self {
        Self {
            inputs,
            neurons,
            w_ff,
            w_rec: None,
            bias: None,
            beta: vec![beta; neurons],
            alpha: None,
            threshold,
            reset: Reset::Subtract,
            ff_mask: None,
            rec_mask: None,
            ff_sign: None,
            rec_sign: None,
            budget: None,
            readout: false,
        }
    }

    /// Checks every length against `inputs`/`neurons` and every value's range.
    pub fn validate(&self, layer: usize) -> Result<(), QuantError> {
        let (n, m) = (self.neurons, self.inputs);
        let bad = |what: String| Err(QuantError::Shape { layer, what });
        if n == 0 || m == 0 || n > snn_models::MAX_NEURONS || m > snn_models::MAX_NEURONS {
            return bad(format!("{m} inputs x {n} neurons is outside 1..=65535"));
        }
        if self.w_ff.len() != n * m {
            return bad(format!(
                "w_ff has {} values, expected {n} x {m}",
                self.w_ff.len()
            ));
        }
        if let Some(r) = &self.w_rec {
            if r.len() != n * n {
                return bad(format!("w_rec has {} values, expected {n} x {n}", r.len()));
            }
        }
        let per_neuron = [("bias", self.bias.as_ref().map(Vec::len))]
            .into_iter()
            .chain([("beta", Some(self.beta.len()))])
            .chain([("alpha", self.alpha.as_ref().map(Vec::len))]);
        for (name, len) in per_neuron {
            if let Some(len) = len {
                if len != n {
                    return bad(format!("{name} has {len} values, expected {n}"));
                }
            }
        }
        if let Some(mask) = &self.ff_mask {
            if mask.len() != n * m {
                return bad(format!(
                    "ff_mask has {} values, expected {n} x {m}",
                    mask.len()
                ));
            }
        }
        if let Some(mask) = &self.rec_mask {
            if mask.len() != n * n || self.w_rec.is_none() {
                return bad(format!(
                    "rec_mask has {} values, expected {n} x {n} and recurrent weights",
                    mask.len()
                ));
            }
        }
        if let Some(s) = &self.ff_sign {
            if s.len() != m {
                return bad(format!("ff_sign has {} values, expected {m}", s.len()));
            }
        }
        if let Some(s) = &self.rec_sign {
            if s.len() != n {
                return bad(format!("rec_sign has {} values, expected {n}", s.len()));
            }
        }
        let finite = self.w_ff.iter().all(|w| w.is_finite())
            && self.w_rec.iter().flatten().all(|w| w.is_finite())
            && self.bias.iter().flatten().all(|w| w.is_finite());
        if !finite {
            return Err(QuantError::Value {
                layer,
                what: "a weight or bias is NaN or infinite".into(),
            });
        }
        if let Some(b) = self.beta.iter().find(|b| !(0.0..=1.0).contains(*b)) {
            return Err(QuantError::Value {
                layer,
                what: format!("beta {b} is outside [0, 1]"),
            });
        }
        if let Some(a) = self
            .alpha
            .iter()
            .flatten()
            .find(|a| !(0.0..=1.0).contains(*a))
        {
            return Err(QuantError::Value {
                layer,
                what: format!("alpha {a} is outside [0, 1]"),
            });
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(QuantError::Value {
                layer,
                what: format!("threshold {} is not a positive number", self.threshold),
            });
        }
        Ok(())
    }

    /// Largest absolute weight over feed-forward and recurrent weights (0 for an all-zero layer).
    pub fn max_abs_weight(&self) -> f32 {
        self.w_ff
            .iter()
            .chain(self.w_rec.iter().flatten())
            .fold(0.0f32, |a, w| a.max(w.abs()))
    }
}

impl FloatLayer {
    /// Converts the training network's parameters ([`crate::net::network::FloatLayer`]); a
    /// `synaptic` layer keeps its `alpha` (the engine's current-based synapse, format v3).
    pub fn from_network(
        l: &crate::net::network::FloatLayer,
        layer: usize,
    ) -> Result<Self, QuantError> {
        let synaptic = l.kind.is_synaptic();
        if synaptic != l.alpha.is_some() {
            return Err(QuantError::Value {
                layer,
                what: "a synaptic layer needs alpha, and only a synaptic layer has one".into(),
            });
        }
        Ok(Self {
            inputs: l.inputs,
            neurons: l.neurons,
            w_ff: l.w_ff.clone(),
            w_rec: l.w_rec.clone(),
            bias: l.bias.clone(),
            beta: l.beta.clone(),
            alpha: l.alpha.clone(),
            threshold: l.threshold,
            reset: l.reset.into(),
            ff_mask: l.ff_mask.clone(),
            rec_mask: l.rec_mask.clone(),
            ff_sign: l.ff_sign.clone(),
            rec_sign: l.rec_sign.clone(),
            budget: None,
            readout: l.kind.is_readout(),
        })
    }
}

/// Why a float network could not be quantised.
#[derive(Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum QuantError {
    /// A length does not match the layer's shape.
    #[error("layer {layer}: {what}")]
    Shape {
        /// Layer index.
        layer: usize,
        /// What is wrong.
        what: String,
    },
    /// A value is out of range.
    #[error("layer {layer}: {what}")]
    Value {
        /// Layer index.
        layer: usize,
        /// What is wrong.
        what: String,
    },
    /// The configuration is invalid.
    #[error("quantisation config: {0}")]
    Config(String),
}

/// Quantisation options (TOML `[quant]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuantConfig {
    /// Weight bit width: 8 (default) or 4.
    pub weight_bits: u8,
    /// Extra shifts beyond the no-clipping one that calibration may try (0 = never clip).
    pub clip_shifts: u8,
    /// Calibration samples (from the training split) used to pick among the shifts.
    pub calibration_samples: usize,
}

impl Default for QuantConfig {
    fn default() -> Self {
        Self {
            weight_bits: 8,
            clip_shifts: 2,
            calibration_samples: 256,
        }
    }
}

impl QuantConfig {
    /// Checks the bit width.
    pub fn validate(&self) -> Result<(), QuantError> {
        if self.weight_bits != 8 && self.weight_bits != 4 {
            return Err(QuantError::Config(format!(
                "weight_bits = {} (must be 8 or 4)",
                self.weight_bits
            )));
        }
        if self.clip_shifts > 8 {
            return Err(QuantError::Config(format!(
                "clip_shifts = {} (at most 8)",
                self.clip_shifts
            )));
        }
        Ok(())
    }
}

/// Largest representable weight for a bit width: 127 (i8) or 7 (i4).
pub fn qmax(bits: u8) -> i32 {
    if bits == 4 {
        7
    } else {
        127
    }
}

/// Smallest representable weight: -128 (i8) or -8 (i4).
pub fn qmin(bits: u8) -> i32 {
    -qmax(bits) - 1
}

/// The no-clipping shift: the largest `s` in `0..=30` with `round(max_abs * 2^s) <= qmax`, i.e.
/// `max_abs * 2^s < qmax + 1/2`. An all-zero layer gets 30 (biases/threshold then keep full
/// resolution, capped so the threshold still fits `i32`, see [`fit_shift`]).
pub fn range_shift(max_abs: f32, bits: u8) -> u8 {
    if max_abs <= 0.0 {
        return MAX_SHIFT;
    }
    let limit = f64::from(qmax(bits)) + 0.5;
    let mut s: u8 = 0;
    while s < MAX_SHIFT && f64::from(max_abs) * f64::from(1u32 << (s + 1)) < limit {
        s += 1;
    }
    s
}

/// Lowers `shift` until the threshold and every bias fit in `i32` with headroom: the threshold in
/// membrane units `thr * 2^s` must stay below `2^30` so a membrane can exceed it without saturating.
pub fn fit_shift(shift: u8, layer: &FloatLayer) -> u8 {
    let biggest = layer
        .bias
        .iter()
        .flatten()
        .fold(layer.threshold.abs(), |a, b| a.max(b.abs()));
    let mut s = shift.min(MAX_SHIFT);
    while s > 0 && f64::from(biggest) * f64::from(1u32 << s) >= f64::from(1u32 << 30) {
        s -= 1;
    }
    s
}

/// Rounds a real value to units of `2^-shift`, half away from zero, saturating to `i32`.
pub fn to_units(x: f32, shift: u8) -> i32 {
    let v = (f64::from(x) * f64::from(1u32 << shift)).round();
    v.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
}

/// `beta -> leak` in Q0.16: `leak = round(beta * 2^16)`, clamped to `0..=65535` (beta = 1 becomes
/// `1 - 2^-16`, the closest representable value).
pub fn beta_to_leak(beta: f32) -> u16 {
    (f64::from(beta) * f64::from(LEAK_ONE))
        .round()
        .clamp(0.0, f64::from(u16::MAX)) as u16
}

/// Rate in spikes/neuron/step -> Q1.15: `round(rate * 2^15)` clamped to `0..=RATE_ONE`.
pub fn rate_to_q15(rate: f32) -> u16 {
    (f64::from(rate) * f64::from(snn_models::RATE_ONE))
        .round()
        .clamp(0.0, f64::from(snn_models::RATE_ONE)) as u16
}

/// Quantises one weight: `q = clamp(round(w * 2^s), qmin, qmax)`; a masked-out synapse is exactly 0
/// and a Dale sign (+1/-1) clamps `q` to that sign (rounding alone never flips it, clipping neither;
/// this only repairs a float weight that already broke the sign).
pub fn quantize_weight(w: f32, shift: u8, bits: u8, present: bool, sign: i8) -> i8 {
    if !present {
        return 0;
    }
    let q = to_units(w, shift).clamp(qmin(bits), qmax(bits));
    let q = match sign {
        1 => q.max(0),
        -1 => q.min(0),
        _ => q,
    };
    q as i8
}

/// One quantised layer in the engine's layout (presynaptic-major weights), typed (not yet bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantLayer {
    /// Presynaptic size.
    pub inputs: usize,
    /// Number of neurons.
    pub neurons: usize,
    /// 8 or 4.
    pub weight_bits: u8,
    /// Scale exponent: real = `q * 2^-shift`.
    pub shift: u8,
    /// Feed-forward weights, `w_ff[pre * neurons + post]`.
    pub w_ff: Vec<i8>,
    /// Recurrent weights, `w_rec[pre * neurons + post]`.
    pub w_rec: Option<Vec<i8>>,
    /// Which stored feed-forward synapses exist (presynaptic-major); `None` = all.
    pub ff_mask: Option<Vec<bool>>,
    /// Which recurrent synapses exist (presynaptic-major); `None` = all.
    pub rec_mask: Option<Vec<bool>>,
    /// Per-neuron bias in membrane units.
    pub bias: Option<Vec<i32>>,
    /// Per-neuron Q0.16 leak.
    pub leak: Vec<u16>,
    /// Per-neuron Q0.16 synaptic decay of a current-based layer (`None`: plain LIF).
    pub alpha: Option<Vec<u16>>,
    /// Threshold in membrane units (>= 1).
    pub threshold: i32,
    /// Reset after a spike.
    pub reset: Reset,
    /// `(max_rate, min_rate)` in Q1.15.
    pub budget: (u16, u16),
    /// A non-spiking readout (the last layer only; format v3's `Output::MaxMembrane`).
    pub readout: bool,
}

/// Transposes `[rows, cols]` row-major into `[cols, rows]`.
fn transpose<T: Copy>(v: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(v.len());
    for c in 0..cols {
        for r in 0..rows {
            out.push(v[r * cols + c]);
        }
    }
    out
}

/// Quantises one layer at a given shift (see the module docs for every formula).
pub fn quantize_layer(layer: &FloatLayer, shift: u8, bits: u8) -> QuantLayer {
    let (n, m) = (layer.neurons, layer.inputs);
    let q_matrix = |w: &[f32], mask: Option<&Vec<bool>>, sign: Option<&Vec<i8>>, pre: usize| {
        // w is [post=n, pre] row-major; output is presynaptic-major.
        let mut out = vec![0i8; w.len()];
        for i in 0..n {
            for j in 0..pre {
                let k = i * pre + j;
                let present = mask.is_none_or(|mk| mk[k]);
                let s = sign.map_or(0, |s| s[j]);
                out[j * n + i] = quantize_weight(w[k], shift, bits, present, s);
            }
        }
        out
    };
    let w_ff = q_matrix(
        &layer.w_ff,
        layer.ff_mask.as_ref(),
        layer.ff_sign.as_ref(),
        m,
    );
    let w_rec = layer
        .w_rec
        .as_ref()
        .map(|r| q_matrix(r, layer.rec_mask.as_ref(), layer.rec_sign.as_ref(), n));
    let bias = layer
        .bias
        .as_ref()
        .map(|b| b.iter().map(|&x| to_units(x, shift)).collect());
    let (max_rate, min_rate) = layer.budget.unwrap_or((1.0, 0.0));
    QuantLayer {
        inputs: m,
        neurons: n,
        weight_bits: bits,
        shift,
        w_ff,
        w_rec,
        ff_mask: layer.ff_mask.as_ref().map(|mk| transpose(mk, n, m)),
        rec_mask: layer.rec_mask.as_ref().map(|mk| transpose(mk, n, n)),
        bias,
        leak: layer.beta.iter().map(|&b| beta_to_leak(b)).collect(),
        alpha: layer
            .alpha
            .as_ref()
            .map(|a| a.iter().map(|&x| beta_to_leak(x)).collect()),
        threshold: to_units(layer.threshold, shift).max(1),
        reset: layer.reset,
        budget: (
            rate_to_q15(max_rate),
            rate_to_q15(min_rate).min(rate_to_q15(max_rate)),
        ),
        readout: layer.readout,
    }
}

impl QuantLayer {
    /// The float layer these integers stand for: `w = q * 2^-shift`, `beta = leak / 2^16`
    /// (and `alpha` alike),
    /// `threshold = thr * 2^-shift`, `bias = b * 2^-shift` (the "float network with the quantised
    /// weights"). Masks and signs carry over.
    pub fn dequantize(&self) -> FloatLayer {
        let (n, m) = (self.neurons, self.inputs);
        let scale = 1.0 / f64::from(1u32 << self.shift);
        let real = |q: i32| (f64::from(q) * scale) as f32;
        let back = |w: &[i8], pre: usize| {
            let t = transpose(w, pre, n);
            t.into_iter()
                .map(|q| real(i32::from(q)))
                .collect::<Vec<_>>()
        };
        FloatLayer {
            inputs: m,
            neurons: n,
            w_ff: back(&self.w_ff, m),
            w_rec: self.w_rec.as_ref().map(|r| back(r, n)),
            bias: self
                .bias
                .as_ref()
                .map(|b| b.iter().map(|&x| real(x)).collect()),
            beta: self
                .leak
                .iter()
                .map(|&l| (f64::from(l) / f64::from(LEAK_ONE)) as f32)
                .collect(),
            alpha: self.alpha.as_ref().map(|a| {
                a.iter()
                    .map(|&l| (f64::from(l) / f64::from(LEAK_ONE)) as f32)
                    .collect()
            }),
            threshold: real(self.threshold),
            reset: self.reset,
            ff_mask: self.ff_mask.as_ref().map(|mk| transpose(mk, m, n)),
            rec_mask: self.rec_mask.as_ref().map(|mk| transpose(mk, n, n)),
            ff_sign: None,
            rec_sign: None,
            budget: Some((
                f32::from(self.budget.0) / f32::from(snn_models::RATE_ONE),
                f32::from(self.budget.1) / f32::from(snn_models::RATE_ONE),
            )),
            readout: self.readout,
        }
    }

    /// Nonzero feed-forward plus recurrent weights (the synapses a sparse file stores).
    pub fn nonzero_weights(&self) -> usize {
        self.w_ff
            .iter()
            .chain(self.w_rec.iter().flatten())
            .filter(|&&q| q != 0)
            .count()
    }
}

/// Quantises every layer at its no-clipping shift (no calibration data needed).
pub fn quantize(layers: &[FloatLayer], cfg: &QuantConfig) -> Result<Vec<QuantLayer>, QuantError> {
    cfg.validate()?;
    layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            l.validate(i)?;
            let s = fit_shift(range_shift(l.max_abs_weight(), cfg.weight_bits), l);
            Ok(quantize_layer(l, s, cfg.weight_bits))
        })
        .collect()
}

/// The shifts calibration may try for a layer: the no-clipping one, then up to `clip_shifts` more.
pub fn candidate_shifts(layer: &FloatLayer, cfg: &QuantConfig) -> Vec<u8> {
    let base = fit_shift(range_shift(layer.max_abs_weight(), cfg.weight_bits), layer);
    (0..=cfg.clip_shifts)
        .map(|k| fit_shift(base.saturating_add(k).min(MAX_SHIFT), layer))
        .fold(Vec::new(), |mut v, s| {
            if !v.contains(&s) {
                v.push(s);
            }
            v
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_shift_fits_the_largest_weight() {
        assert_eq!(range_shift(1.0, 8), 6); // 64 fits, 128 would not
        assert_eq!(range_shift(0.99, 8), 7); // 0.99 * 128 = 126.7 -> 127
        assert_eq!(range_shift(0.997, 8), 6); // 0.997 * 128 = 127.6 -> 128 clips
        assert_eq!(range_shift(1.0, 4), 2); // 4 fits, 8 would not
        assert_eq!(range_shift(300.0, 8), 0);
        assert_eq!(range_shift(0.0, 8), 30);
        for &m in &[0.003f32, 0.1, 0.5, 1.7, 20.0] {
            for bits in [4, 8] {
                let s = range_shift(m, bits);
                // Shift 0 is the floor: weights beyond qmax at scale 1 must clip.
                assert!(s == 0 || to_units(m, s) <= qmax(bits), "{m} {bits} {s}");
                if s < MAX_SHIFT {
                    assert!(
                        to_units(m, s + 1) > qmax(bits),
                        "{m} {bits} {s} not maximal"
                    );
                }
            }
        }
    }

    #[test]
    fn fit_shift_keeps_threshold_in_range() {
        let mut l = FloatLayer::dense(1, 1, vec![0.0], 0.9, 1.0);
        assert_eq!(fit_shift(30, &l), 29);
        l.threshold = 0.5;
        assert_eq!(fit_shift(30, &l), 30);
        l.bias = Some(vec![-4.0]);
        assert_eq!(fit_shift(30, &l), 27);
    }

    #[test]
    fn leak_and_rates_round_to_nearest() {
        assert_eq!(beta_to_leak(0.5), 32768);
        assert_eq!(beta_to_leak(1.0), u16::MAX);
        assert_eq!(beta_to_leak(0.0), 0);
        assert_eq!(beta_to_leak(0.9), 58982); // 58982.4
        assert_eq!(rate_to_q15(1.0), 32768);
        assert_eq!(rate_to_q15(0.05), 1638);
        assert_eq!(rate_to_q15(3.0), 32768);
    }

    #[test]
    fn masks_stay_zero_and_signs_hold() {
        // 2 inputs (input 0 excitatory, input 1 inhibitory) x 2 neurons.
        let mut l = FloatLayer::dense(2, 2, vec![0.5, -0.25, 0.9, 0.3], 0.9, 1.0);
        l.ff_mask = Some(vec![true, true, false, true]);
        l.ff_sign = Some(vec![1, -1]);
        let q = quantize_layer(&l, 7, 8);
        // presynaptic-major: [pre0->n0, pre0->n1, pre1->n0, pre1->n1]
        assert_eq!(q.w_ff, vec![64, 0, -32, 0]);
        assert_eq!(q.ff_mask, Some(vec![true, false, true, true]));
        assert_eq!(q.threshold, 128);
        let d = q.dequantize();
        assert_eq!(d.w_ff, vec![0.5, -0.25, 0.0, 0.0]);
        assert_eq!(d.ff_mask, l.ff_mask);
    }

    #[test]
    fn quantize_clips_saturates_and_roundtrips() {
        let l = FloatLayer::dense(1, 3, vec![2.0, -2.0, 0.26], 0.95, 1.0);
        let q = quantize_layer(&l, 8, 8);
        assert_eq!(q.w_ff, vec![127, -128, 67]);
        let q4 = quantize_layer(&l, 2, 4);
        assert_eq!(q4.w_ff, vec![7, -8, 1]);
        let auto = quantize(std::slice::from_ref(&l), &QuantConfig::default()).unwrap();
        assert_eq!(auto[0].shift, 5);
        assert_eq!(auto[0].w_ff, vec![64, -64, 8]);
        assert_eq!(auto[0].threshold, 32);
        assert_eq!(auto[0].leak, vec![62259; 3]);
    }

    #[test]
    fn bad_shapes_and_values_are_named() {
        let mut l = FloatLayer::dense(2, 2, vec![0.0; 3], 0.9, 1.0);
        let e = quantize(std::slice::from_ref(&l), &QuantConfig::default()).unwrap_err();
        assert_eq!(e.to_string(), "layer 0: w_ff has 3 values, expected 2 x 2");
        l.w_ff = vec![0.0, f32::NAN, 0.0, 0.0];
        assert!(quantize(std::slice::from_ref(&l), &QuantConfig::default())
            .unwrap_err()
            .to_string()
            .contains("NaN"));
        let cfg = QuantConfig {
            weight_bits: 5,
            ..QuantConfig::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("weight_bits = 5"));
    }

    #[test]
    fn candidates_start_at_the_range_shift() {
        let l = FloatLayer::dense(1, 1, vec![1.0], 0.9, 1.0);
        assert_eq!(candidate_shifts(&l, &QuantConfig::default()), vec![6, 7, 8]);
    }
}
