//! Connectivity masks and weight constraints for one weight matrix: sparsity, Dale's law (E/I),
//! per-synapse plasticity and synapse growth; plus [`MaskSet`], which applies them to a model's
//! weight variables around every optimiser step.
//!
//! Every weight matrix is `[out, in]` (row = postsynaptic neuron, column = presynaptic neuron),
//! the layout of `torch.nn.Linear` and of the nn4n/RNNLoss shapes. The rules, per synapse `(i, j)`:
//! - sparsity `m_ij ∈ {0, 1}`: the forward pass uses `W ⊙ M` and every optimiser step ends with
//!   `w_ij = 0` where `m_ij = 0`, so absent synapses stay exactly zero for all of training;
//! - E/I sign `e_ij ∈ {+1, -1, 0}` (normally one label per presynaptic neuron `j`, Dale's law):
//!   rectification `w_ij = max(w_ij, 0)` if `e_ij = +1`, `min(w_ij, 0)` if `e_ij = -1`, applied
//!   after every step and before each training forward pass; at init `w_ij = e_ij |w_ij|` and the
//!   excitatory and inhibitory totals are balanced (see [`LayerMasks::balance_ei`]);
//! - plasticity `p_ij >= 0`: a learning-rate scale. With `w⁻` before and `w⁺` after the optimiser
//!   step, `w_ij = w⁻_ij + p_ij (w⁺_ij - w⁻_ij)`; `p_ij = 0` keeps `w⁻_ij` bit for bit. (For SGD
//!   and Adam(W) the update is linear in the learning rate, so this is exactly a per-synapse
//!   learning rate; nn4n instead scales the gradient, which Adam normalises away.)
//! - growth `g_ij ∈ [0, 1]`: after each step, an absent synapse (`m_ij = 0`) becomes present with
//!   probability `g_ij` (one Bernoulli draw per absent synapse per step, seeded); it starts at
//!   weight 0 and learns from the next step on. Without growth, `m` never changes.

mod rng;
mod spec;

pub use rng::SeedRng;
pub use spec::{MaskValue, PerLayer};

use serde::{Deserialize, Serialize};

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use candle_nn::Optimizer;

/// What went wrong while building or applying masks.
#[derive(Debug, thiserror::Error)]
pub enum MaskError {
    /// A mask's shape does not match its weight matrix.
    #[error(
        "{layer}: {mask} has shape {got:?}, but the layer's weight is [out, in] = {expected:?}"
    )]
    Shape {
        /// Layer name.
        layer: String,
        /// Mask kind (`sparsity_masks`, `ei_masks`, …).
        mask: &'static str,
        /// Weight shape `[out, in]`.
        expected: [usize; 2],
        /// Shape given.
        got: Vec<usize>,
    },
    /// A mask value is out of range (e.g. a negative plasticity or a growth probability > 1).
    #[error("{layer}: {mask}[{row}][{col}] = {value} is invalid: {why}")]
    Value {
        /// Layer name.
        layer: String,
        /// Mask kind.
        mask: &'static str,
        /// Row (postsynaptic neuron).
        row: usize,
        /// Column (presynaptic neuron).
        col: usize,
        /// Offending value.
        value: f64,
        /// What the value must be.
        why: &'static str,
    },
    /// Another inconsistency, explained in the message.
    #[error("{layer}: {msg}")]
    Invalid {
        /// Layer name.
        layer: String,
        /// What is wrong.
        msg: String,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias for mask operations.
pub type Result<T> = std::result::Result<T, MaskError>;

/// Mask names as used in configs and messages.
const SPARSITY: &str = "sparsity_masks";
const EI: &str = "ei_masks";
const PLASTICITY: &str = "plasticity_masks";
const GROWTH: &str = "synapse_growth_masks";

/// The masks of one `[out, in]` weight matrix, stored row-major as f32.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerMasks {
    name: String,
    rows: usize,
    cols: usize,
    sparsity: Option<Vec<f32>>,
    ei: Option<Vec<f32>>,
    plasticity: Option<Vec<f32>>,
    growth: Option<Vec<f32>>,
}

/// E/I label of a presynaptic neuron, read from its column of the E/I mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeuronSign {
    /// Every constrained outgoing edge is excitatory.
    Excitatory,
    /// Every constrained outgoing edge is inhibitory.
    Inhibitory,
    /// Some edges excitatory, some inhibitory (not Dale's law).
    Mixed,
    /// No constraint on this neuron's edges.
    Free,
}

impl LayerMasks {
    /// No masks on a `[rows, cols]` (`[out, in]`) weight named `name` (used in error messages).
    pub fn new(name: impl Into<String>, rows: usize, cols: usize) -> Self {
        Self {
            name: name.into(),
            rows,
            cols,
            sparsity: None,
            ei: None,
            plasticity: None,
            growth: None,
        }
    }

    /// Builds all four masks from config values; `self_connections = false` adds a zero diagonal
    /// to the sparsity mask (square matrices only).
    pub fn from_values(
        name: impl Into<String>,
        shape: [usize; 2],
        sparsity: &MaskValue,
        ei: &MaskValue,
        plasticity: &MaskValue,
        growth: &MaskValue,
        self_connections: bool,
    ) -> Result<Self> {
        let mut m = Self::new(name, shape[0], shape[1]);
        m.sparsity = m.expand(SPARSITY, sparsity)?;
        m.ei = m.expand(EI, ei)?;
        m.plasticity = m.expand(PLASTICITY, plasticity)?;
        m.growth = m.expand(GROWTH, growth)?;
        m.normalise_and_check()?;
        if !self_connections {
            m = m.without_self_connections()?;
        }
        Ok(m)
    }

    /// Sets the sparsity mask from a row-major `[out, in]` slice (nonzero = synapse present).
    pub fn with_sparsity(mut self, values: &[f32]) -> Result<Self> {
        self.sparsity = Some(self.check_len(SPARSITY, values)?);
        self.normalise_and_check()?;
        Ok(self)
    }

    /// Sets a full E/I sign matrix (row-major `[out, in]`; > 0 E, < 0 I, 0 free).
    pub fn with_ei(mut self, values: &[f32]) -> Result<Self> {
        self.ei = Some(self.check_len(EI, values)?);
        self.normalise_and_check()?;
        Ok(self)
    }

    /// Sets Dale's-law labels, one per presynaptic neuron (`+1` E, `-1` I): every outgoing edge
    /// of neuron `j` (column `j`) gets its sign.
    pub fn with_ei_labels(self, labels: &[f32]) -> Result<Self> {
        let v = MaskValue::Labels(labels.iter().map(|&x| x as f64).collect());
        let ei = self.expand(EI, &v)?;
        let mut m = self;
        m.ei = ei;
        m.normalise_and_check()?;
        Ok(m)
    }

    /// Sets per-synapse learning-rate scales (row-major `[out, in]`, each >= 0).
    pub fn with_plasticity(mut self, values: &[f32]) -> Result<Self> {
        self.plasticity = Some(self.check_len(PLASTICITY, values)?);
        self.normalise_and_check()?;
        Ok(self)
    }

    /// Sets per-location growth probabilities (row-major `[out, in]`, each in `[0, 1]`).
    pub fn with_growth(mut self, values: &[f32]) -> Result<Self> {
        self.growth = Some(self.check_len(GROWTH, values)?);
        self.normalise_and_check()?;
        Ok(self)
    }

    /// Adds a zero diagonal to the sparsity mask (no neuron connects to itself).
    pub fn without_self_connections(mut self) -> Result<Self> {
        if self.rows != self.cols {
            return Err(MaskError::Invalid {
                layer: self.name.clone(),
                msg: format!(
                    "self_connections = false needs a square weight, this one is [{}, {}]",
                    self.rows, self.cols
                ),
            });
        }
        let n = self.rows;
        let m = self.sparsity.get_or_insert_with(|| vec![1.0; n * n]);
        for i in 0..n {
            m[i * n + i] = 0.0;
        }
        Ok(self)
    }

    /// Layer name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Weight shape `[out, in]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// Sparsity mask (1 = synapse, 0 = none), row-major, if any.
    pub fn sparsity(&self) -> Option<&[f32]> {
        self.sparsity.as_deref()
    }

    /// E/I sign mask (+1, -1, 0 = free), row-major, if any.
    pub fn ei(&self) -> Option<&[f32]> {
        self.ei.as_deref()
    }

    /// Plasticity (learning-rate scale) mask, row-major, if any.
    pub fn plasticity(&self) -> Option<&[f32]> {
        self.plasticity.as_deref()
    }

    /// Growth probability mask, row-major, if any.
    pub fn growth(&self) -> Option<&[f32]> {
        self.growth.as_deref()
    }

    /// True if any mask is set.
    pub fn is_empty(&self) -> bool {
        self.sparsity.is_none()
            && self.ei.is_none()
            && self.plasticity.is_none()
            && self.growth.is_none()
    }

    /// Fraction of present synapses (1.0 without a sparsity mask).
    pub fn density(&self) -> f64 {
        match &self.sparsity {
            None => 1.0,
            Some(m) if m.is_empty() => 1.0,
            Some(m) => m.iter().filter(|&&v| v != 0.0).count() as f64 / m.len() as f64,
        }
    }

    /// The E/I label of each presynaptic neuron (column), from the E/I mask's present entries.
    pub fn neuron_signs(&self) -> Vec<NeuronSign> {
        let Some(ei) = &self.ei else {
            return vec![NeuronSign::Free; self.cols];
        };
        (0..self.cols)
            .map(|j| {
                let (mut pos, mut neg) = (false, false);
                for i in 0..self.rows {
                    let k = i * self.cols + j;
                    if self.sparsity.as_ref().is_some_and(|m| m[k] == 0.0)
                        && self.growth.as_ref().is_none_or(|g| g[k] == 0.0)
                    {
                        continue;
                    }
                    pos |= ei[k] > 0.0;
                    neg |= ei[k] < 0.0;
                }
                match (pos, neg) {
                    (true, false) => NeuronSign::Excitatory,
                    (false, true) => NeuronSign::Inhibitory,
                    (true, true) => NeuronSign::Mixed,
                    (false, false) => NeuronSign::Free,
                }
            })
            .collect()
    }

    /// Number of (excitatory, inhibitory) presynaptic neurons.
    pub fn ei_counts(&self) -> (usize, usize) {
        let s = self.neuron_signs();
        (
            s.iter().filter(|&&x| x == NeuronSign::Excitatory).count(),
            s.iter().filter(|&&x| x == NeuronSign::Inhibitory).count(),
        )
    }

    /// Projects weights onto the constraints: absent synapses to exactly 0, then E/I
    /// rectification (`max(w, 0)` for E, `min(w, 0)` for I).
    pub fn project(&self, w: &mut [f32]) {
        if let Some(m) = &self.sparsity {
            for (w, &m) in w.iter_mut().zip(m) {
                if m == 0.0 {
                    *w = 0.0;
                }
            }
        }
        if let Some(e) = &self.ei {
            for (w, &e) in w.iter_mut().zip(e) {
                if (e > 0.0 && *w < 0.0) || (e < 0.0 && *w > 0.0) {
                    *w = 0.0;
                }
            }
        }
    }

    /// Number of weights breaking a constraint: nonzero where no synapse is, or of the wrong sign.
    pub fn violations(&self, w: &[f32]) -> usize {
        (0..w.len())
            .filter(|&k| {
                let absent = self.sparsity.as_ref().is_some_and(|m| m[k] == 0.0);
                let e = self.ei.as_ref().map_or(0.0, |e| e[k]);
                (absent && w[k] != 0.0) || (e > 0.0 && w[k] < 0.0) || (e < 0.0 && w[k] > 0.0)
            })
            .count()
    }

    /// Initial weights from freshly drawn ones: absent synapses zeroed, E/I signs imposed as
    /// `w = e |w|` (so no draw is wasted), then [`balance_ei`](Self::balance_ei).
    pub fn init_weights(&self, w: &mut [f32]) {
        if let Some(m) = &self.sparsity {
            for (w, &m) in w.iter_mut().zip(m) {
                if m == 0.0 {
                    *w = 0.0;
                }
            }
        }
        if let Some(e) = &self.ei {
            for (w, &e) in w.iter_mut().zip(e) {
                // `-0.0` is never produced: a zero stays `+0.0`.
                if e > 0.0 {
                    *w = w.abs();
                } else if e < 0.0 && *w != 0.0 {
                    *w = -w.abs();
                }
            }
            self.balance_ei(w);
        }
    }

    /// Balances excitation and inhibition: with `E = Σ_{e>0} w` and `I = Σ_{e<0} |w|`, the larger
    /// side is scaled by `min(E, I) / max(E, I)`, so the layer's weights sum to zero (as nn4n).
    /// Nothing happens if either side is zero.
    pub fn balance_ei(&self, w: &mut [f32]) {
        let Some(e) = &self.ei else { return };
        let (mut exc, mut inh) = (0.0f64, 0.0f64);
        for (&w, &e) in w.iter().zip(e) {
            if e > 0.0 {
                exc += w as f64;
            } else if e < 0.0 {
                inh -= w as f64;
            }
        }
        if exc <= 0.0 || inh <= 0.0 {
            return;
        }
        let (scale_sign, scale) = if exc > inh {
            (1.0, inh / exc)
        } else {
            (-1.0, exc / inh)
        };
        for (w, &e) in w.iter_mut().zip(e) {
            if e * scale_sign > 0.0 {
                *w = (*w as f64 * scale) as f32;
            }
        }
    }

    /// Applies plasticity to one step: `w = old + p (new - old)`, exactly `old` where `p = 0`.
    pub fn scale_update(&self, old: &[f32], new: &mut [f32]) {
        let Some(p) = &self.plasticity else { return };
        for ((n, &o), &p) in new.iter_mut().zip(old).zip(p) {
            if p == 0.0 {
                *n = o;
            } else if p != 1.0 {
                *n = o + p * (*n - o);
            }
        }
    }

    /// One growth round: each absent synapse becomes present with its growth probability.
    /// Returns how many grew. Without a sparsity mask every synapse is present, so none grow.
    pub fn grow(&mut self, rng: &mut SeedRng) -> usize {
        let (Some(m), Some(g)) = (&mut self.sparsity, &self.growth) else {
            return 0;
        };
        let mut grown = 0;
        for (m, &g) in m.iter_mut().zip(g) {
            if *m == 0.0 && g > 0.0 && rng.bernoulli(g as f64) {
                *m = 1.0;
                grown += 1;
            }
        }
        grown
    }

    /// The sparsity mask as an f32 tensor `[out, in]` on `device`, for `W ⊙ M` in the forward pass.
    pub fn sparsity_tensor(&self, device: &Device) -> Result<Option<Tensor>> {
        match &self.sparsity {
            None => Ok(None),
            Some(m) => Ok(Some(Tensor::from_slice(m, (self.rows, self.cols), device)?)),
        }
    }

    /// Converts one config value to a row-major matrix, checking its shape.
    fn expand(&self, mask: &'static str, v: &MaskValue) -> Result<Option<Vec<f32>>> {
        let (r, c) = (self.rows, self.cols);
        Ok(match v {
            MaskValue::None => None,
            MaskValue::Fill(x) => Some(vec![*x as f32; r * c]),
            MaskValue::Labels(l) => {
                if l.len() != c {
                    return Err(MaskError::Invalid {
                        layer: self.name.clone(),
                        msg: format!(
                            "{mask}: a list of {} numbers gives one value per presynaptic neuron, \
                             but the layer has {c} inputs (weight [out, in] = [{r}, {c}])",
                            l.len()
                        ),
                    });
                }
                Some((0..r * c).map(|k| l[k % c] as f32).collect())
            }
            MaskValue::Matrix(rows) => {
                let bad_row = rows.iter().position(|row| row.len() != c);
                if rows.len() != r || bad_row.is_some() {
                    let got_cols = bad_row.map_or(c, |i| rows[i].len());
                    return Err(MaskError::Shape {
                        layer: self.name.clone(),
                        mask,
                        expected: [r, c],
                        got: vec![rows.len(), got_cols],
                    });
                }
                Some(rows.iter().flatten().map(|&x| x as f32).collect())
            }
        })
    }

    fn check_len(&self, mask: &'static str, values: &[f32]) -> Result<Vec<f32>> {
        if values.len() != self.rows * self.cols {
            return Err(MaskError::Shape {
                layer: self.name.clone(),
                mask,
                expected: [self.rows, self.cols],
                got: vec![values.len()],
            });
        }
        Ok(values.to_vec())
    }

    /// Maps sparsity to {0, 1} and E/I to {-1, 0, +1}; checks ranges.
    fn normalise_and_check(&mut self) -> Result<()> {
        let cols = self.cols.max(1);
        let bad = |mask: &'static str, k: usize, value: f32, why: &'static str| MaskError::Value {
            layer: self.name.clone(),
            mask,
            row: k / cols,
            col: k % cols,
            value: value as f64,
            why,
        };
        let checks: [Check<'_>; 4] = [
            (
                SPARSITY,
                &self.sparsity,
                |x| x.is_finite(),
                "must be a finite number (0 = no synapse)",
            ),
            (
                EI,
                &self.ei,
                |x| x.is_finite(),
                "must be a finite number (sign gives E/I)",
            ),
            (
                PLASTICITY,
                &self.plasticity,
                |x| x.is_finite() && x >= 0.0,
                "a learning-rate scale must be finite and >= 0",
            ),
            (
                GROWTH,
                &self.growth,
                |x| (0.0..=1.0).contains(&x),
                "a growth probability must be in [0, 1]",
            ),
        ];
        for (mask, values, ok, why) in checks {
            if let Some(v) = values {
                if let Some(k) = v.iter().position(|&x| !ok(x)) {
                    return Err(bad(mask, k, v[k], why));
                }
            }
        }
        if let Some(m) = &mut self.sparsity {
            m.iter_mut()
                .for_each(|x| *x = if *x != 0.0 { 1.0 } else { 0.0 });
        }
        if let Some(e) = &mut self.ei {
            e.iter_mut()
                .for_each(|x| *x = x.signum() * (*x != 0.0) as u8 as f32);
        }
        Ok(())
    }
}

/// The masks of one weight matrix of a spiking layer, as written in a network config
/// (`[layers.masks]` for the feed-forward weight, `[layers.rec_masks]` for the recurrent one).
///
/// `sparsity` (a matrix, or one value) and `density` (a random mask with that fraction of
/// synapses, drawn from the network seed) are alternatives; so are `ei` (labels per presynaptic
/// neuron or a sign matrix) and `exc_pct` (the first `round(exc_pct * inputs)` presynaptic neurons
/// excitatory, the rest inhibitory — use the same `exc_pct` for a layer's `rec_masks` and the next
/// layer's `masks` so each neuron has one sign on all its outgoing edges).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LayerMaskConfig {
    /// Sparsity mask (0 = no synapse).
    pub sparsity: MaskValue,
    /// Random sparsity with this density in `[0, 1]` instead of `sparsity`.
    pub density: Option<f64>,
    /// E/I signs (Dale's law).
    pub ei: MaskValue,
    /// Fraction of excitatory presynaptic neurons instead of `ei`.
    pub exc_pct: Option<f64>,
    /// Per-synapse learning-rate scales (>= 0; 0 freezes).
    pub plasticity: MaskValue,
    /// Per-location growth probability per optimiser step.
    pub growth: MaskValue,
    /// Whether a neuron may connect to itself (square weights only; false zeroes the diagonal).
    pub self_connections: bool,
}

impl Default for LayerMaskConfig {
    fn default() -> Self {
        Self {
            sparsity: MaskValue::None,
            density: None,
            ei: MaskValue::None,
            exc_pct: None,
            plasticity: MaskValue::None,
            growth: MaskValue::None,
            self_connections: true,
        }
    }
}

impl LayerMaskConfig {
    /// True when no mask is configured.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Builds the masks of a `[rows, cols]` weight named `name`; random parts come from
    /// `SeedRng::derive(seed, stream)`.
    pub fn build(
        &self,
        name: &str,
        shape: [usize; 2],
        seed: u64,
        stream: u64,
    ) -> Result<LayerMasks> {
        let [rows, cols] = shape;
        let invalid = |msg: String| MaskError::Invalid {
            layer: name.to_string(),
            msg,
        };
        let sparsity = match (self.density, &self.sparsity) {
            (Some(_), v) if !v.is_none() => {
                return Err(invalid(
                    "give either `sparsity` or `density`, not both".into(),
                ))
            }
            (Some(d), _) if !(0.0..=1.0).contains(&d) => {
                return Err(invalid(format!("density must be in [0, 1], got {d}")))
            }
            (Some(d), _) => {
                let mut rng = SeedRng::derive(seed, stream);
                MaskValue::from_row_major(
                    &(0..rows * cols)
                        .map(|_| rng.bernoulli(d) as u8 as f32)
                        .collect::<Vec<_>>(),
                    rows,
                    cols,
                )
            }
            (None, v) => v.clone(),
        };
        let ei = match (self.exc_pct, &self.ei) {
            (Some(_), v) if !v.is_none() => {
                return Err(invalid("give either `ei` or `exc_pct`, not both".into()))
            }
            (Some(e), _) if !(0.0..=1.0).contains(&e) => {
                return Err(invalid(format!("exc_pct must be in [0, 1], got {e}")))
            }
            (Some(e), _) => {
                let n_exc = (e * cols as f64).round() as usize;
                MaskValue::Labels(
                    (0..cols)
                        .map(|j| if j < n_exc { 1.0 } else { -1.0 })
                        .collect(),
                )
            }
            (None, v) => v.clone(),
        };
        LayerMasks::from_values(
            name,
            shape,
            &sparsity,
            &ei,
            &self.plasticity,
            &self.growth,
            self.self_connections,
        )
    }
}

/// One range check: mask name, values, predicate, and what a valid value is.
type Check<'a> = (
    &'static str,
    &'a Option<Vec<f32>>,
    fn(f32) -> bool,
    &'static str,
);

/// A trainable weight variable together with its masks.
#[derive(Debug, Clone)]
pub struct MaskedParam {
    var: Var,
    masks: LayerMasks,
    mask_tensor: Option<Tensor>,
}

impl MaskedParam {
    /// The weight variable `[out, in]`.
    pub fn var(&self) -> &Var {
        &self.var
    }

    /// Its masks.
    pub fn masks(&self) -> &LayerMasks {
        &self.masks
    }

    /// The weight the forward pass uses: `W ⊙ M` (just `W` without a sparsity mask).
    /// Differentiable: gradients of absent synapses are zero.
    pub fn effective(&self) -> Result<Tensor> {
        let w = self.var.as_tensor();
        Ok(match &self.mask_tensor {
            Some(m) => w.mul(m)?,
            None => w.clone(),
        })
    }
}

/// What one constrained optimiser step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Synapses grown in this step, per masked parameter (in registration order).
    pub grown: Vec<usize>,
}

/// The weights (before an optimiser step) of the parameters that have a plasticity mask; taken by
/// [`MaskSet::snapshot`], consumed by [`MaskSet::after_step`].
#[derive(Debug)]
pub struct MaskSnapshot(Vec<Option<Vec<f32>>>);

/// Names of the four mask kinds in tensor files (`mask.<param>.<kind>`).
pub const MASK_KINDS: [&str; 4] = ["sparsity", "ei", "plasticity", "growth"];

/// The masked weight variables of a model and the seeded RNG for growth; applies plasticity,
/// sparsity, Dale's law and growth around each optimiser step (see the module docs).
///
/// With a `candle_nn::Optimizer` use [`step`](Self::step); with any other optimiser wrap its step:
/// `let s = set.snapshot()?; opt.step(..)?; set.after_step(s)?;`.
#[derive(Debug, Clone)]
pub struct MaskSet {
    params: Vec<MaskedParam>,
    rng: SeedRng,
}

impl MaskSet {
    /// An empty set whose growth draws are fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            params: Vec::new(),
            rng: SeedRng::derive(seed, 0x6D61_736B),
        }
    }

    /// Registers a weight variable and its masks; the shapes must agree. Returns its index.
    pub fn push(&mut self, var: Var, masks: LayerMasks) -> Result<usize> {
        let dims = var.as_tensor().dims().to_vec();
        if dims != masks.shape() {
            return Err(MaskError::Shape {
                layer: masks.name.clone(),
                mask: "masks",
                expected: [
                    dims.first().copied().unwrap_or(0),
                    dims.get(1).copied().unwrap_or(0),
                ],
                got: masks.shape().to_vec(),
            });
        }
        let mask_tensor = masks.sparsity_tensor(var.as_tensor().device())?;
        self.params.push(MaskedParam {
            var,
            masks,
            mask_tensor,
        });
        Ok(self.params.len() - 1)
    }

    /// The registered parameters.
    pub fn params(&self) -> &[MaskedParam] {
        &self.params
    }

    /// Parameter `i`.
    pub fn get(&self, i: usize) -> Option<&MaskedParam> {
        self.params.get(i)
    }

    /// Replaces the masks of parameter `i` (same shape), e.g. when loading a saved model.
    pub fn set_masks(&mut self, i: usize, masks: LayerMasks) -> Result<()> {
        let p = &mut self.params[i];
        if masks.shape() != p.masks.shape() {
            return Err(MaskError::Shape {
                layer: masks.name.clone(),
                mask: "masks",
                expected: p.masks.shape(),
                got: masks.shape().to_vec(),
            });
        }
        p.mask_tensor = masks.sparsity_tensor(p.var.as_tensor().device())?;
        p.masks = masks;
        Ok(())
    }

    /// Initialises every registered weight with [`LayerMasks::init_weights`].
    pub fn init_weights(&self) -> Result<()> {
        for p in &self.params {
            if p.masks.is_empty() {
                continue;
            }
            let mut w = flat(p.var.as_tensor())?;
            p.masks.init_weights(&mut w);
            set_flat(&p.var, w)?;
        }
        Ok(())
    }

    /// Projects every registered weight onto its constraints (sparsity zeros, E/I signs).
    pub fn enforce(&self) -> Result<()> {
        for p in &self.params {
            if p.masks.sparsity.is_none() && p.masks.ei.is_none() {
                continue;
            }
            let mut w = flat(p.var.as_tensor())?;
            if p.masks.violations(&w) > 0 {
                p.masks.project(&mut w);
                set_flat(&p.var, w)?;
            }
        }
        Ok(())
    }

    /// Copies the weights that have a plasticity mask (call right before the optimiser step).
    pub fn snapshot(&self) -> Result<MaskSnapshot> {
        Ok(MaskSnapshot(
            self.params
                .iter()
                .map(|p| match p.masks.plasticity {
                    Some(_) => flat(p.var.as_tensor()).map(Some),
                    None => Ok(None),
                })
                .collect::<Result<_>>()?,
        ))
    }

    /// Finishes a step (call right after the optimiser step): scales each update by its
    /// plasticity, projects onto sparsity and E/I, then lets synapses grow.
    pub fn after_step(&mut self, before: MaskSnapshot) -> Result<StepReport> {
        let mut report = StepReport::default();
        for (p, old) in self.params.iter_mut().zip(before.0) {
            if p.masks.is_empty() {
                report.grown.push(0);
                continue;
            }
            let mut w = flat(p.var.as_tensor())?;
            if let Some(old) = old {
                p.masks.scale_update(&old, &mut w);
            }
            p.masks.project(&mut w);
            set_flat(&p.var, w)?;
            let grown = p.masks.grow(&mut self.rng);
            if grown > 0 {
                p.mask_tensor = p.masks.sparsity_tensor(p.var.as_tensor().device())?;
            }
            report.grown.push(grown);
        }
        Ok(report)
    }

    /// One constrained optimiser step: [`snapshot`](Self::snapshot), `opt.step(grads)`,
    /// [`after_step`](Self::after_step).
    pub fn step<O: Optimizer>(&mut self, opt: &mut O, grads: &GradStore) -> Result<StepReport> {
        let before = self.snapshot()?;
        opt.step(grads)?;
        self.after_step(before)
    }

    /// The current masks as tensors named `mask.<param name>.<kind>` (for checkpoints: growth
    /// changes the sparsity masks during training).
    pub fn to_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::new();
        for p in &self.params {
            let m = &p.masks;
            let [r, c] = m.shape();
            for (kind, values) in
                MASK_KINDS
                    .iter()
                    .zip([m.sparsity(), m.ei(), m.plasticity(), m.growth()])
            {
                if let Some(v) = values {
                    out.push((
                        format!("mask.{}.{kind}", m.name),
                        Tensor::from_slice(v, (r, c), &Device::Cpu)?,
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Replaces every parameter's masks by the ones in `tensors` (as written by
    /// [`to_tensors`](Self::to_tensors)); a parameter with no tensors gets no masks.
    pub fn load_tensors(
        &mut self,
        tensors: &std::collections::HashMap<String, Tensor>,
    ) -> Result<()> {
        for i in 0..self.params.len() {
            let [r, c] = self.params[i].masks.shape();
            let name = self.params[i].masks.name.clone();
            let mut m = LayerMasks::new(name.clone(), r, c);
            for kind in MASK_KINDS {
                let Some(t) = tensors.get(&format!("mask.{name}.{kind}")) else {
                    continue;
                };
                let v = flat(t)?;
                m = match kind {
                    "sparsity" => m.with_sparsity(&v)?,
                    "ei" => m.with_ei(&v)?,
                    "plasticity" => m.with_plasticity(&v)?,
                    _ => m.with_growth(&v)?,
                };
            }
            self.set_masks(i, m)?;
        }
        Ok(())
    }
}

/// A tensor's values as a flat f32 vector.
pub(crate) fn flat(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1::<f32>()?)
}

/// Sets a variable from a flat f32 vector of its element count (keeping its shape and dtype).
fn set_flat(var: &Var, w: Vec<f32>) -> Result<()> {
    let t = var.as_tensor();
    let new = Tensor::from_vec(w, t.shape(), t.device())?.to_dtype(t.dtype())?;
    var.set(&new)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> LayerMasks {
        LayerMasks::new("hidden", 2, 3)
    }

    #[test]
    fn shape_errors_name_the_layer_and_both_shapes() {
        let e = LayerMasks::from_values(
            "hidden",
            [2, 3],
            &MaskValue::Matrix(vec![vec![1.0; 3]; 3]),
            &MaskValue::None,
            &MaskValue::None,
            &MaskValue::None,
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("hidden") && e.contains("[2, 3]") && e.contains("[3, 3]"),
            "{e}"
        );
        let e = layer()
            .with_ei_labels(&[1.0, -1.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 numbers") && e.contains("3 inputs"), "{e}");
        let e = layer()
            .with_growth(&[0.0, 0.0, 0.0, 0.0, 1.5, 0.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("synapse_growth_masks[1][1] = 1.5"), "{e}");
        let e = layer().without_self_connections().unwrap_err().to_string();
        assert!(e.contains("square"), "{e}");
    }

    #[test]
    fn project_zeroes_absent_and_rectifies_signs() {
        let m = layer()
            .with_sparsity(&[1.0, 0.0, 1.0, 1.0, 1.0, 0.0])
            .unwrap()
            .with_ei_labels(&[1.0, -1.0, -1.0])
            .unwrap();
        let mut w = [0.5, 0.7, 0.3, -0.2, -0.4, -0.9];
        assert_eq!(m.violations(&w), 4);
        m.project(&mut w);
        assert_eq!(w, [0.5, 0.0, 0.0, 0.0, -0.4, 0.0]);
        assert_eq!(m.violations(&w), 0);
        assert_eq!(m.ei_counts(), (1, 2));
    }

    #[test]
    fn init_balances_excitation_and_inhibition() {
        let m = LayerMasks::new("h", 3, 3)
            .with_ei_labels(&[1.0, 1.0, -1.0])
            .unwrap()
            .without_self_connections()
            .unwrap();
        let mut w = [0.3, -0.2, 0.5, 0.1, 0.4, -0.6, 0.9, 0.8, 0.7];
        m.init_weights(&mut w);
        assert_eq!(m.violations(&w), 0);
        assert_eq!((w[0], w[4], w[8]), (0.0, 0.0, 0.0));
        let sum: f32 = w.iter().sum();
        assert!(sum.abs() < 1e-6, "sum {sum}");
        assert!(w.iter().filter(|&&x| x != 0.0).count() == 6);
    }

    #[test]
    fn zero_plasticity_keeps_the_old_value_bit_for_bit() {
        let m = layer()
            .with_plasticity(&[0.0, 0.5, 1.0, 2.0, 0.0, 1.0])
            .unwrap();
        let old = [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6];
        let mut new = [9.0f32, 1.2, 1.3, 1.4, f32::NAN, 1.6];
        m.scale_update(&old, &mut new);
        assert_eq!(new[0].to_bits(), old[0].to_bits());
        assert_eq!(new[4].to_bits(), old[4].to_bits());
        assert!((new[1] - 0.7).abs() < 1e-6 && (new[3] - 2.4).abs() < 1e-6);
        assert_eq!(new[2], 1.3);
    }

    #[test]
    fn growth_only_where_allowed() {
        let mut m = layer()
            .with_sparsity(&[0.0; 6])
            .unwrap()
            .with_growth(&[1.0, 0.0, 1.0, 0.0, 0.0, 0.0])
            .unwrap();
        let mut rng = SeedRng::new(1);
        assert_eq!(m.grow(&mut rng), 2);
        assert_eq!(m.sparsity().unwrap(), &[1.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(m.grow(&mut rng), 0);
    }
}
