//! Per-layer firing-rate budgets: configuration, the training-time penalty / Lagrangian terms,
//! the multiplier updates, per-epoch rate statistics and the export to the model format.
//!
//! A layer's rate is spikes per neuron per step: for a `[batch, time, neurons]` recording `S`,
//! `r = mean(S)` (layer budget) or `r_i = mean_{b,t} S[b,t,i]` (per-neuron budget).
//!
//! ```toml
//! [[budget]]
//! layer = 0            # hidden layer index
//! max_rate = 0.05      # spikes / neuron / step
//! min_rate = 0.001     # optional floor
//! method = "lagrange"  # or "penalty"
//! multiplier_lr = 100.0  # lagrange only (the default)
//! # weight = 100.0    # penalty only
//! per_neuron = false   # true: every neuron under the cap, not just the layer mean
//! ```

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use snn_models::{RateBudget, RATE_ONE};

/// Errors of budget configuration and evaluation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// A budget entry is invalid.
    #[error("budget {index} (layer {layer}): {reason}")]
    Config {
        /// Position of the entry in the `[[budget]]` list.
        index: usize,
        /// The layer it names.
        layer: usize,
        /// What is wrong.
        reason: String,
    },
    /// The recording does not match the configured layers.
    #[error("budget: {0}")]
    Recording(String),
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result type of this module.
pub type Result<T> = std::result::Result<T, BudgetError>;

/// How a budget is enforced during training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetMethod {
    /// Fixed-weight hinge penalty `w * (relu(r - max)^2 + relu(min - r)^2)`.
    Penalty,
    /// Lagrange multipliers with projected dual ascent (see [`Multiplier`]).
    #[default]
    Lagrange,
}

/// Default penalty weight.
pub const DEFAULT_WEIGHT: f64 = 100.0;
/// Default multiplier learning rate (per training step). On Digits it tracked a 0.05 cap with
/// both `ce_count` and `balanced_population_mse`; 1 and 10 wound up under the latter's larger loss
/// scale and settled ~25 % under the cap, 10^4 diverged (BENCHMARKS.md, "Rate budgets").
pub const DEFAULT_MULTIPLIER_LR: f64 = 100.0;

/// One layer's budget as configured (`[[budget]]` in the training TOML).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerBudget {
    /// Layer index (0 = first layer after the input).
    pub layer: usize,
    /// Largest allowed rate, spikes per neuron per step, in (0, 1].
    pub max_rate: f64,
    /// Smallest allowed rate (0 = no floor).
    #[serde(default)]
    pub min_rate: f64,
    /// Penalty or Lagrange multipliers.
    #[serde(default)]
    pub method: BudgetMethod,
    /// Penalty weight `w` (penalty only; default [`DEFAULT_WEIGHT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Dual-ascent step size `eta` (lagrange only; default [`DEFAULT_MULTIPLIER_LR`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier_lr: Option<f64>,
    /// Constrain every neuron's rate instead of the layer mean.
    #[serde(default)]
    pub per_neuron: bool,
}

impl LayerBudget {
    /// Checks ranges and that `weight` / `multiplier_lr` match the method; `index` names the entry.
    pub fn validate(&self, index: usize) -> Result<()> {
        let bad = |reason: String| {
            Err(BudgetError::Config {
                index,
                layer: self.layer,
                reason,
            })
        };
        if !(self.max_rate > 0.0 && self.max_rate <= 1.0) {
            return bad(format!("max_rate must be in (0, 1], got {}", self.max_rate));
        }
        if !(self.min_rate >= 0.0 && self.min_rate < self.max_rate) {
            return bad(format!(
                "min_rate must be in [0, max_rate = {}), got {}",
                self.max_rate, self.min_rate
            ));
        }
        match self.method {
            BudgetMethod::Penalty if self.multiplier_lr.is_some() => {
                bad("multiplier_lr is only used by method = \"lagrange\"".into())
            }
            BudgetMethod::Lagrange if self.weight.is_some() => bad(
                "weight is only used by method = \"penalty\"; lagrange learns its multipliers"
                    .into(),
            ),
            _ => {
                for (name, v) in [
                    ("weight", self.weight),
                    ("multiplier_lr", self.multiplier_lr),
                ] {
                    if let Some(v) = v {
                        if !(v.is_finite() && v > 0.0) {
                            return bad(format!("{name} must be finite and > 0, got {v}"));
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// The budget in the model format's Q1.15 units. The cap is rounded up and the floor down, so
    /// the device check is never stricter than the trained budget.
    pub fn to_model(&self) -> RateBudget {
        let q = |r: f64, up: bool| {
            let x = r * f64::from(RATE_ONE);
            let x = if up { x.ceil() } else { x.floor() };
            x.clamp(0.0, f64::from(RATE_ONE)) as u16
        };
        RateBudget {
            max_rate: q(self.max_rate, true),
            min_rate: q(self.min_rate, false),
        }
    }
}

/// Validates a `[[budget]]` list for a network with `layers` layers (indices in range, no layer twice).
pub fn validate_budgets(budgets: &[LayerBudget], layers: usize) -> Result<()> {
    for (i, b) in budgets.iter().enumerate() {
        b.validate(i)?;
        if b.layer >= layers {
            return Err(BudgetError::Config {
                index: i,
                layer: b.layer,
                reason: format!("the network has {layers} layers"),
            });
        }
        if budgets[..i].iter().any(|o| o.layer == b.layer) {
            return Err(BudgetError::Config {
                index: i,
                layer: b.layer,
                reason: "layer budgeted twice".into(),
            });
        }
    }
    Ok(())
}

/// The per-layer budgets to store in an exported model: configured layers get
/// [`LayerBudget::to_model`], the others [`RateBudget::UNBOUNDED`].
pub fn export_budgets(budgets: &[LayerBudget], layers: usize) -> Result<Vec<RateBudget>> {
    validate_budgets(budgets, layers)?;
    let mut out = vec![RateBudget::UNBOUNDED; layers];
    for b in budgets {
        out[b.layer] = b.to_model();
    }
    Ok(out)
}

/// Per-layer budgets in the shape the exporter takes (`ExportOptions::budgets`): `Some` for the
/// configured layers ([`LayerBudget::to_model`]), `None` (unbounded) for the others.
pub fn model_budgets(budgets: &[LayerBudget], layers: usize) -> Result<Vec<Option<RateBudget>>> {
    validate_budgets(budgets, layers)?;
    let mut out = vec![None; layers];
    for b in budgets {
        out[b.layer] = Some(b.to_model());
    }
    Ok(out)
}

/// A Lagrange multiplier for one inequality constraint `g <= 0`, updated by projected dual ascent:
/// `lambda <- max(0, lambda + eta * g)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Multiplier {
    /// Current value (never negative).
    pub value: f64,
    /// Step size `eta`.
    pub lr: f64,
}

impl Multiplier {
    /// A multiplier starting at 0 with step size `lr`.
    pub fn new(lr: f64) -> Self {
        Self { value: 0.0, lr }
    }

    /// One projected ascent step on the measured constraint value `g` (`g > 0` means violated).
    pub fn update(&mut self, g: f64) {
        self.value = (self.value + self.lr * g).max(0.0);
    }
}

/// Enforcement state of one budget: its configuration and, for `lagrange`, its multipliers
/// (one per bound, or one per neuron and bound with `per_neuron`).
#[derive(Clone, Debug)]
struct Enforced {
    cfg: LayerBudget,
    upper: Vec<Multiplier>,
    lower: Vec<Multiplier>,
}

/// Rates measured in one forward pass: per budgeted layer, the per-neuron rates (plain numbers).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeasuredRates {
    /// `(layer, per-neuron rates)` for every budgeted layer, in configuration order.
    pub layers: Vec<(usize, Vec<f64>)>,
}

/// Applies the configured budgets during training.
///
/// Per step: `let (term, rates) = ctl.loss(&spikes)?` → add `term` to the task loss → backward
/// and optimiser step → `ctl.update(&rates)`. Rates come from the surrogate-gradient spikes, so the
/// budget terms are differentiable.
#[derive(Clone, Debug)]
pub struct BudgetController {
    enforced: Vec<Enforced>,
}

impl BudgetController {
    /// Builds the controller for a network whose layer `l` has `layer_sizes[l]` neurons.
    pub fn new(budgets: &[LayerBudget], layer_sizes: &[usize]) -> Result<Self> {
        validate_budgets(budgets, layer_sizes.len())?;
        let enforced = budgets
            .iter()
            .map(|b| {
                let n = if b.per_neuron {
                    layer_sizes[b.layer]
                } else {
                    1
                };
                let lr = b.multiplier_lr.unwrap_or(DEFAULT_MULTIPLIER_LR);
                Enforced {
                    cfg: b.clone(),
                    upper: vec![Multiplier::new(lr); n],
                    lower: if b.min_rate > 0.0 {
                        vec![Multiplier::new(lr); n]
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect();
        Ok(Self { enforced })
    }

    /// True if no budget is configured.
    pub fn is_empty(&self) -> bool {
        self.enforced.is_empty()
    }

    /// The budget terms to add to the loss, and the rates measured on the way.
    ///
    /// Layer budget (`r` = layer mean rate):
    /// - penalty: `w * (relu(r - max)^2 + relu(min - r)^2)`
    /// - lagrange: `lambda * (r - max) + lambda_min * (min - r)` (multipliers are constants here).
    ///
    /// Per-neuron budget: the same per neuron `r_i`, averaged over the layer's neurons
    /// (`mean_i`), so the multipliers have the same scale as a layer multiplier.
    /// Returns `None` as the term when no budget is configured.
    pub fn loss(&self, spikes: &[Tensor]) -> Result<(Option<Tensor>, MeasuredRates)> {
        let mut total: Option<Tensor> = None;
        let mut measured = MeasuredRates::default();
        for e in &self.enforced {
            let s = spikes.get(e.cfg.layer).ok_or_else(|| {
                BudgetError::Recording(format!(
                    "layer {} not recorded ({} layers given)",
                    e.cfg.layer,
                    spikes.len()
                ))
            })?;
            let (_, _, n) = s.dims3().map_err(|_| {
                BudgetError::Recording(format!(
                    "layer {} spikes have shape {:?}, expected [batch, time, neurons]",
                    e.cfg.layer,
                    s.dims()
                ))
            })?;
            let per_neuron = s.mean((0, 1))?; // [N]
            let rates_host = per_neuron.detach().to_dtype(DType::F64)?.to_vec1::<f64>()?;
            let r = if e.cfg.per_neuron {
                per_neuron
            } else {
                per_neuron.mean_keepdim(0)?
            }; // [N] or [1]
            if e.upper.len() != r.dim(0)? {
                return Err(BudgetError::Recording(format!(
                    "layer {} has {n} neurons, the budget was built for {}",
                    e.cfg.layer,
                    e.upper.len()
                )));
            }
            let term = match e.cfg.method {
                BudgetMethod::Penalty => {
                    let w = e.cfg.weight.unwrap_or(DEFAULT_WEIGHT);
                    let over = r.affine(1.0, -e.cfg.max_rate)?.relu()?.sqr()?;
                    let mut t = over;
                    if e.cfg.min_rate > 0.0 {
                        t = (t + r.affine(-1.0, e.cfg.min_rate)?.relu()?.sqr()?)?;
                    }
                    t.mean_all()?.affine(w, 0.0)?
                }
                BudgetMethod::Lagrange => {
                    let dev = r.device();
                    let lam = |m: &[Multiplier]| -> Result<Tensor> {
                        let v: Vec<f64> = m.iter().map(|m| m.value).collect();
                        Ok(Tensor::from_vec(v, m.len(), dev)?.to_dtype(r.dtype())?)
                    };
                    let mut t = (r.affine(1.0, -e.cfg.max_rate)? * lam(&e.upper)?)?;
                    if !e.lower.is_empty() {
                        t = (t + (r.affine(-1.0, e.cfg.min_rate)? * lam(&e.lower)?)?)?;
                    }
                    t.mean_all()?
                }
            };
            total = Some(match total {
                None => term,
                Some(acc) => (acc + term)?,
            });
            measured.layers.push((e.cfg.layer, rates_host));
        }
        Ok((total, measured))
    }

    /// One dual-ascent step for every `lagrange` budget on the rates of the last forward pass:
    /// `lambda <- max(0, lambda + eta (r - max))`, `lambda_min <- max(0, lambda_min + eta (min - r))`.
    pub fn update(&mut self, rates: &MeasuredRates) -> Result<()> {
        for e in &mut self.enforced {
            if e.cfg.method != BudgetMethod::Lagrange {
                continue;
            }
            let per = rates
                .layers
                .iter()
                .find(|(l, _)| *l == e.cfg.layer)
                .map(|(_, r)| r)
                .ok_or_else(|| {
                    BudgetError::Recording(format!(
                        "no measured rates for budgeted layer {}",
                        e.cfg.layer
                    ))
                })?;
            let r: Vec<f64> = if e.cfg.per_neuron {
                per.clone()
            } else {
                vec![per.iter().sum::<f64>() / per.len().max(1) as f64]
            };
            if r.len() != e.upper.len() {
                return Err(BudgetError::Recording(format!(
                    "layer {}: {} rates for {} multipliers",
                    e.cfg.layer,
                    r.len(),
                    e.upper.len()
                )));
            }
            for (m, &ri) in e.upper.iter_mut().zip(&r) {
                m.update(ri - e.cfg.max_rate);
            }
            for (m, &ri) in e.lower.iter_mut().zip(&r) {
                m.update(e.cfg.min_rate - ri);
            }
        }
        Ok(())
    }

    /// Current multipliers of the budget on `layer`: `(upper, lower)`, empty for penalty budgets'
    /// learned values (they have none) and for unbudgeted layers.
    pub fn multipliers(&self, layer: usize) -> (Vec<f64>, Vec<f64>) {
        self.enforced
            .iter()
            .find(|e| e.cfg.layer == layer && e.cfg.method == BudgetMethod::Lagrange)
            .map(|e| {
                (
                    e.upper.iter().map(|m| m.value).collect(),
                    e.lower.iter().map(|m| m.value).collect(),
                )
            })
            .unwrap_or_default()
    }

    /// The configured budget of `layer`, if any.
    pub fn budget(&self, layer: usize) -> Option<&LayerBudget> {
        self.enforced
            .iter()
            .find(|e| e.cfg.layer == layer)
            .map(|e| &e.cfg)
    }
}

/// The learned multipliers of every lagrange budget, for checkpoints (JSON in the metadata).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetState {
    /// `(layer, upper multipliers, lower multipliers)` per lagrange budget.
    pub layers: Vec<(usize, Vec<f64>, Vec<f64>)>,
}

impl BudgetController {
    /// The multipliers to store in a checkpoint.
    pub fn state(&self) -> BudgetState {
        BudgetState {
            layers: self
                .enforced
                .iter()
                .filter(|e| e.cfg.method == BudgetMethod::Lagrange)
                .map(|e| {
                    let v = |m: &[Multiplier]| m.iter().map(|m| m.value).collect();
                    (e.cfg.layer, v(&e.upper), v(&e.lower))
                })
                .collect(),
        }
    }

    /// Restores multipliers saved by [`Self::state`]; the budgets must be configured the same way.
    pub fn restore(&mut self, state: &BudgetState) -> Result<()> {
        let lagrange = self
            .enforced
            .iter()
            .filter(|e| e.cfg.method == BudgetMethod::Lagrange)
            .count();
        if state.layers.len() != lagrange {
            return Err(BudgetError::Recording(format!(
                "the checkpoint holds multipliers for {} budgets, the config has {lagrange} lagrange budgets",
                state.layers.len()
            )));
        }
        for (layer, upper, lower) in &state.layers {
            let e = self
                .enforced
                .iter_mut()
                .find(|e| e.cfg.layer == *layer && e.cfg.method == BudgetMethod::Lagrange)
                .ok_or_else(|| {
                    BudgetError::Recording(format!("the checkpoint has multipliers for layer {layer}, which has no lagrange budget"))
                })?;
            if upper.len() != e.upper.len() || lower.len() != e.lower.len() {
                return Err(BudgetError::Recording(format!(
                    "layer {layer}: the checkpoint has {}+{} multipliers, the config needs {}+{}",
                    upper.len(),
                    lower.len(),
                    e.upper.len(),
                    e.lower.len()
                )));
            }
            for (m, &v) in e
                .upper
                .iter_mut()
                .zip(upper)
                .chain(e.lower.iter_mut().zip(lower))
            {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(BudgetError::Recording(format!(
                        "layer {layer}: multiplier {v} is not finite and >= 0"
                    )));
                }
                m.value = v;
            }
        }
        Ok(())
    }
}

/// Accumulates per-neuron spike counts over many batches (an epoch, or an evaluation set).
#[derive(Clone, Debug, Default)]
pub struct RateMeter {
    sums: Vec<Vec<f64>>,
    steps: Vec<f64>,
}

impl RateMeter {
    /// An empty meter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one batch: `spikes[l]` is layer `l`'s `[batch, time, neurons]` recording.
    pub fn add(&mut self, spikes: &[Tensor]) -> Result<()> {
        if self.sums.len() < spikes.len() {
            self.sums.resize(spikes.len(), Vec::new());
            self.steps.resize(spikes.len(), 0.0);
        }
        for (l, s) in spikes.iter().enumerate() {
            let (b, t, n) = s.dims3().map_err(|_| {
                BudgetError::Recording(format!(
                    "layer {l} spikes have shape {:?}, expected [batch, time, neurons]",
                    s.dims()
                ))
            })?;
            let c = s
                .detach()
                .sum((0, 1))?
                .to_dtype(DType::F64)?
                .to_vec1::<f64>()?;
            let acc = &mut self.sums[l];
            if acc.is_empty() {
                acc.resize(n, 0.0);
            } else if acc.len() != n {
                return Err(BudgetError::Recording(format!(
                    "layer {l} changed from {} to {n} neurons",
                    acc.len()
                )));
            }
            for (a, v) in acc.iter_mut().zip(c) {
                *a += v;
            }
            self.steps[l] += (b * t) as f64;
        }
        Ok(())
    }

    /// Per-neuron rates of layer `l` so far (spikes per neuron per step).
    pub fn rates(&self, l: usize) -> Vec<f64> {
        match (self.sums.get(l), self.steps.get(l)) {
            (Some(s), Some(&steps)) if steps > 0.0 => s.iter().map(|v| v / steps).collect(),
            _ => Vec::new(),
        }
    }

    /// Number of layers seen.
    pub fn layers(&self) -> usize {
        self.sums.len()
    }

    /// Statistics of every layer, with budgets and multipliers from `ctl` if given.
    pub fn report(&self, ctl: Option<&BudgetController>) -> Vec<LayerRateReport> {
        (0..self.layers())
            .map(|l| {
                let rates = self.rates(l);
                let budget = ctl.and_then(|c| c.budget(l));
                let (upper, lower) = ctl.map(|c| c.multipliers(l)).unwrap_or_default();
                LayerRateReport::new(l, &rates, budget, &upper, &lower)
            })
            .collect()
    }
}

/// Histogram of per-neuron rates: `counts[k]` neurons with `edges[k] <= r < edges[k+1]`; the last
/// bin also takes everything at or above the last edge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateHistogram {
    /// Bin edges (lower bounds), ascending, starting at 0.
    pub edges: Vec<f64>,
    /// Neurons per bin.
    pub counts: Vec<u32>,
}

impl RateHistogram {
    /// `bins` equal bins over `[0, hi)` plus an overflow bin `[hi, ∞)`.
    pub fn new(rates: &[f64], hi: f64, bins: usize) -> Self {
        let bins = bins.max(1);
        let width = hi / bins as f64;
        let edges: Vec<f64> = (0..=bins).map(|k| k as f64 * width).collect();
        let mut counts = vec![0u32; bins + 1];
        for &r in rates {
            let k = if r >= hi {
                bins
            } else {
                ((r / width).floor().max(0.0) as usize).min(bins - 1)
            };
            counts[k] += 1;
        }
        Self { edges, counts }
    }
}

/// One layer's per-epoch rate log entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerRateReport {
    /// Layer index.
    pub layer: usize,
    /// Mean rate over neurons, batch and time.
    pub mean_rate: f64,
    /// Highest per-neuron rate.
    pub max_neuron_rate: f64,
    /// Standard deviation of the per-neuron rates (population SD).
    pub sd_neuron_rate: f64,
    /// Budget cap, if the layer has one.
    pub max_rate: Option<f64>,
    /// Budget floor, if the layer has one.
    pub min_rate: Option<f64>,
    /// Fraction of neurons above the cap.
    pub frac_over: Option<f64>,
    /// Upper-bound multiplier (mean over neurons for per-neuron budgets); lagrange only.
    pub multiplier: Option<f64>,
    /// Lower-bound multiplier (mean over neurons); lagrange with a floor only.
    pub multiplier_min: Option<f64>,
    /// Histogram of per-neuron rates: 10 bins over `[0, 2 max_rate)` (or `[0, 1)`) + overflow.
    pub histogram: RateHistogram,
}

impl LayerRateReport {
    /// Summarises per-neuron `rates` of `layer`.
    pub fn new(
        layer: usize,
        rates: &[f64],
        budget: Option<&LayerBudget>,
        upper: &[f64],
        lower: &[f64],
    ) -> Self {
        let n = rates.len().max(1) as f64;
        let mean = rates.iter().sum::<f64>() / n;
        let sd = (rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
        let avg = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let hi = budget.map_or(1.0, |b| (2.0 * b.max_rate).min(1.0));
        Self {
            layer,
            mean_rate: mean,
            max_neuron_rate: rates.iter().copied().fold(0.0, f64::max),
            sd_neuron_rate: sd,
            max_rate: budget.map(|b| b.max_rate),
            min_rate: budget.filter(|b| b.min_rate > 0.0).map(|b| b.min_rate),
            frac_over: budget.map(|b| rates.iter().filter(|&&r| r > b.max_rate).count() as f64 / n),
            multiplier: avg(upper),
            multiplier_min: avg(lower),
            histogram: RateHistogram::new(rates, hi, 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(toml_text: &str) -> LayerBudget {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn config_parses_with_defaults_and_rejects_mismatches() {
        let b = budget("layer = 0\nmax_rate = 0.05\n");
        assert_eq!(b.method, BudgetMethod::Lagrange);
        assert_eq!(b.min_rate, 0.0);
        b.validate(0).unwrap();
        let e = budget("layer = 1\nmax_rate = 0.05\nweight = 3.0\n")
            .validate(2)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("budget 2 (layer 1)") && e.contains("weight"),
            "{e}"
        );
        let e = budget("layer = 0\nmax_rate = 0.05\nmin_rate = 0.1\n")
            .validate(0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("min_rate"), "{e}");
        assert!(budget("layer = 0\nmax_rate = 0.0\n").validate(0).is_err());
        assert!(
            budget("layer = 0\nmax_rate = 0.1\nmethod = \"penalty\"\nmultiplier_lr = 1.0\n")
                .validate(0)
                .is_err()
        );
        assert!(toml::from_str::<LayerBudget>("layer = 0\nmax_rate = 0.1\nmax_rte = 1\n").is_err());
        let two = [
            budget("layer = 0\nmax_rate = 0.1\n"),
            budget("layer = 0\nmax_rate = 0.2\n"),
        ];
        assert!(validate_budgets(&two, 2)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert!(validate_budgets(&two[..1], 0).is_err());
    }

    #[test]
    fn export_rounds_towards_the_permissive_side() {
        let b = budget("layer = 1\nmax_rate = 0.05\nmin_rate = 0.001\n");
        let out = export_budgets(&[b], 3).unwrap();
        assert_eq!(out[0], RateBudget::UNBOUNDED);
        assert_eq!(out[2], RateBudget::UNBOUNDED);
        // 0.05 * 32768 = 1638.4 -> 1639; 0.001 * 32768 = 32.768 -> 32.
        assert_eq!(
            out[1],
            RateBudget {
                max_rate: 1639,
                min_rate: 32
            }
        );
        assert!(f64::from(out[1].max_rate) / f64::from(RATE_ONE) >= 0.05);
        let opt = model_budgets(
            &[budget("layer = 1\nmax_rate = 0.05\nmin_rate = 0.001\n")],
            3,
        )
        .unwrap();
        assert_eq!(opt, vec![None, Some(out[1]), None]);
    }

    #[test]
    fn multiplier_is_projected_at_zero() {
        let mut m = Multiplier::new(0.5);
        m.update(0.2);
        assert!((m.value - 0.1).abs() < 1e-15);
        m.update(-1.0);
        assert_eq!(m.value, 0.0);
    }

    #[test]
    fn state_round_trips_and_rejects_a_different_config() {
        let cfg = [budget(
            "layer = 1\nmax_rate = 0.1\nmin_rate = 0.01\nper_neuron = true\n",
        )];
        let mut a = BudgetController::new(&cfg, &[4, 3]).unwrap();
        let rates = MeasuredRates {
            layers: vec![(1, vec![0.3, 0.0, 0.05])],
        };
        a.update(&rates).unwrap();
        let st = a.state();
        assert_eq!(st.layers[0].1.len(), 3);
        let mut b = BudgetController::new(&cfg, &[4, 3]).unwrap();
        b.restore(&st).unwrap();
        assert_eq!(b.multipliers(1), a.multipliers(1));
        let other = [budget("layer = 1\nmax_rate = 0.1\n")];
        let mut c = BudgetController::new(&other, &[4, 3]).unwrap();
        assert!(c.restore(&st).unwrap_err().to_string().contains("layer 1"));
        let mut bad = st.clone();
        bad.layers[0].1[0] = -1.0;
        assert!(b.restore(&bad).is_err());
    }

    #[test]
    fn histogram_bins_and_overflow() {
        let h = RateHistogram::new(&[0.0, 0.01, 0.049, 0.05, 0.2, 1.0], 0.1, 10);
        assert_eq!(h.counts.len(), 11);
        assert_eq!(h.counts.iter().sum::<u32>(), 6);
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[4], 1);
        assert_eq!(h.counts[5], 1);
        assert_eq!(h.counts[10], 2);
    }
}
