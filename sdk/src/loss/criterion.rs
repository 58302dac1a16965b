//! Regularisation criteria on recorded states, named as in nn4n / the RNN-regulariser literature.
//!
//! `mu_i` below is the mean of neuron `i` over batch and time (its firing rate when the states are
//! spikes). Each criterion is a small serde-configurable struct with a `forward` method.

use super::{dims_btn, div_scalar, LossError, Result};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};

/// Per-neuron mean over batch and time, `[neurons]`.
pub(crate) fn neuron_means(loss: &'static str, states: &Tensor) -> Result<Tensor> {
    dims_btn(loss, "states", states)?;
    Ok(states.mean((0, 1))?)
}

/// Population standard deviation (divide by `N`) of a `[N]` vector.
pub(crate) fn population_sd(v: &Tensor) -> Result<Tensor> {
    let centred = v.broadcast_sub(&v.mean_all()?)?;
    Ok(centred.sqr()?.mean_all()?.sqrt()?)
}

/// Norm used by [`FiringRateLoss`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateMetric {
    /// `mean_i |mu_i|`.
    #[default]
    L1,
    /// `mean_i mu_i^2`.
    L2,
}

/// Penalises the mean activity of a population: `mean_i |mu_i|` (l1) or `mean_i mu_i^2` (l2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FiringRateLoss {
    /// Which norm of the per-neuron means.
    pub metric: RateMetric,
}

impl FiringRateLoss {
    /// The loss of a `[batch, time, neurons]` recording.
    pub fn forward(&self, states: &Tensor) -> Result<Tensor> {
        let mu = neuron_means("firing_rate", states)?;
        Ok(match self.metric {
            RateMetric::L1 => mu.abs()?.mean_all()?,
            RateMetric::L2 => mu.sqr()?.mean_all()?,
        })
    }
}

/// Spread measure used by [`FiringRateDistLoss`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistMetric {
    /// Population standard deviation of `mu`: `sqrt(mean_i (mu_i - mean(mu))^2)`.
    #[default]
    Sd,
    /// Coefficient of variation: `SD(mu) / mean(mu)` (undefined for an all-silent population).
    Cv,
    /// Mean absolute deviation: `mean_i |mu_i - mean(mu)|`.
    Mad,
    /// Maximum absolute deviation: `max_i |mu_i - mean(mu)|`.
    Maxad,
}

/// Penalises an uneven distribution of activity across the neurons of a population.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FiringRateDistLoss {
    /// Which spread measure of the per-neuron means.
    pub metric: DistMetric,
}

impl FiringRateDistLoss {
    /// The loss of a `[batch, time, neurons]` recording.
    pub fn forward(&self, states: &Tensor) -> Result<Tensor> {
        let mu = neuron_means("firing_rate_dist", states)?;
        let mean = mu.mean_all()?;
        Ok(match self.metric {
            DistMetric::Sd => population_sd(&mu)?,
            DistMetric::Cv => (population_sd(&mu)? / mean)?,
            DistMetric::Mad => mu.broadcast_sub(&mean)?.abs()?.mean_all()?,
            DistMetric::Maxad => mu.broadcast_sub(&mean)?.abs()?.max(0)?,
        })
    }
}

/// Penalises fast state changes: `mean_{b, t < T - tau, i} (S[b,t,i] - S[b,t+tau,i])^2`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatePredictionLoss {
    /// Prediction horizon in steps (at least 1, less than the recording length).
    pub tau: usize,
}

impl Default for StatePredictionLoss {
    fn default() -> Self {
        Self { tau: 1 }
    }
}

impl StatePredictionLoss {
    /// The loss of a `[batch, time, neurons]` recording with more than `tau` steps.
    pub fn forward(&self, states: &Tensor) -> Result<Tensor> {
        const LOSS: &str = "state_prediction";
        let (_, t, _) = dims_btn(LOSS, "states", states)?;
        if self.tau == 0 || self.tau >= t {
            return Err(LossError::Param {
                loss: LOSS,
                param: "tau",
                reason: format!(
                    "must be in 1..{t} (the recording has {t} steps), got {}",
                    self.tau
                ),
            });
        }
        let now = states.narrow(1, 0, t - self.tau)?;
        let later = states.narrow(1, self.tau, t - self.tau)?;
        Ok((now - later)?.sqr()?.mean_all()?)
    }
}

/// Hebbian regulariser on a weight matrix:
/// `mean_b | Σ_ij W_ij (1/T) Σ_t S[b,t,i] S[b,t,j] |` (`W` is `[N, N]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HebbianLoss {}

impl HebbianLoss {
    /// The loss of a `[batch, time, neurons]` recording and an `[N, N]` weight matrix.
    pub fn forward(&self, states: &Tensor, weights: &Tensor) -> Result<Tensor> {
        const LOSS: &str = "hebbian";
        let (_, t, n) = dims_btn(LOSS, "states", states)?;
        if weights.dims() != [n, n] {
            return Err(LossError::Shape {
                loss: LOSS,
                what: "weights",
                got: weights.dims().to_vec(),
                expected: format!("[{n}, {n}] (neurons x neurons)"),
            });
        }
        // Co-activity C[b] = S[b]^T S[b] / T, [B, N, N].
        let co = div_scalar(
            &states.transpose(1, 2)?.contiguous()?.matmul(states)?,
            t as f64,
        )?;
        Ok(co.broadcast_mul(weights)?.sum((1, 2))?.abs()?.mean_all()?)
    }
}

/// Entropy of the normalised population activity per step, plus an activity regulariser.
///
/// `p = S / (Σ_i S + eps)`; `loss = mean_{b,t} -Σ_i p_i ln(p_i + eps) + reg * mean_{b,t} ||S[b,t]||^2`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntropyLoss {
    /// Weight of the squared-activity term.
    pub reg: f64,
    /// Keeps the normalisation and the log finite for silent steps.
    pub eps: f64,
}

impl Default for EntropyLoss {
    fn default() -> Self {
        Self {
            reg: 0.0,
            eps: 1e-8,
        }
    }
}

impl EntropyLoss {
    /// The loss of a `[batch, time, neurons]` recording.
    pub fn forward(&self, states: &Tensor) -> Result<Tensor> {
        dims_btn("entropy", "states", states)?;
        let total = states.sum_keepdim(D::Minus1)?.affine(1.0, self.eps)?;
        let p = states.broadcast_div(&total)?;
        let h = (&p * p.affine(1.0, self.eps)?.log()?)?
            .sum(D::Minus1)?
            .neg()?
            .mean_all()?;
        if self.reg == 0.0 {
            return Ok(h);
        }
        let act = states.sqr()?.sum(D::Minus1)?.mean_all()?;
        Ok((h + act.affine(self.reg, 0.0)?)?)
    }
}

/// How [`PopulationKL`] reduces the per-neuron divergences.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// Mean over neurons.
    #[default]
    Mean,
    /// Sum over neurons.
    Sum,
    /// No reduction: a `[neurons]` tensor (the regulariser is added to every entry).
    None,
}

/// Gaussian KL divergence between two populations, neuron by neuron.
///
/// With means `m` and population variances `v` (divide by `B T`) over batch and time:
/// `KL(0 || 1)_i = 0.5 (ln(v1_i / v0_i) + (v0_i + (m0_i - m1_i)^2) / v1_i - 1)`.
/// `symmetric` averages both directions. The result is reduced over neurons, then
/// `reg * (mean_{b,t} ||S0[b,t]||^2 + mean_{b,t} ||S1[b,t]||^2)` is added.
/// A neuron with zero variance gives an infinite divergence.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PopulationKL {
    /// Average `KL(0||1)` and `KL(1||0)`.
    pub symmetric: bool,
    /// Weight of the squared-activity term.
    pub reg: f64,
    /// Reduction over neurons.
    pub reduction: Reduction,
}

impl Default for PopulationKL {
    fn default() -> Self {
        Self {
            symmetric: true,
            reg: 0.001,
            reduction: Reduction::Mean,
        }
    }
}

impl PopulationKL {
    /// The divergence between two `[batch, time, neurons]` recordings of equal shape.
    pub fn forward(&self, states_0: &Tensor, states_1: &Tensor) -> Result<Tensor> {
        const LOSS: &str = "population_kl";
        let d0 = dims_btn(LOSS, "states_0", states_0)?;
        let d1 = dims_btn(LOSS, "states_1", states_1)?;
        if d0.2 != d1.2 {
            return Err(LossError::Shape {
                loss: LOSS,
                what: "states_1",
                got: states_1.dims().to_vec(),
                expected: format!("{} neurons like states_0", d0.2),
            });
        }
        let stats = |s: &Tensor| -> Result<(Tensor, Tensor)> {
            let m = s.mean((0, 1))?;
            let v = s.broadcast_sub(&m)?.sqr()?.mean((0, 1))?;
            Ok((m, v))
        };
        let (m0, v0) = stats(states_0)?;
        let (m1, v1) = stats(states_1)?;
        let kl = |ma: &Tensor, va: &Tensor, mb: &Tensor, vb: &Tensor| -> Result<Tensor> {
            let log_ratio = (vb / va)?.log()?;
            let quad = ((va + (ma - mb)?.sqr()?)? / vb)?;
            Ok((log_ratio + quad)?.affine(0.5, -0.5)?)
        };
        let mut per_neuron = kl(&m0, &v0, &m1, &v1)?;
        if self.symmetric {
            per_neuron = (per_neuron + kl(&m1, &v1, &m0, &v0)?)?.affine(0.5, 0.0)?;
        }
        let reduced = match self.reduction {
            Reduction::Mean => per_neuron.mean_all()?,
            Reduction::Sum => per_neuron.sum_all()?,
            Reduction::None => per_neuron,
        };
        if self.reg == 0.0 {
            return Ok(reduced);
        }
        let act = |s: &Tensor| -> Result<Tensor> { Ok(s.sqr()?.sum(D::Minus1)?.mean_all()?) };
        let reg = (act(states_0)? + act(states_1)?)?.affine(self.reg, 0.0)?;
        Ok(reduced.broadcast_add(&reg)?)
    }
}
