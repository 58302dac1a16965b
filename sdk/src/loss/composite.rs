//! A loss assembled from configuration: a list of `{type, params, lambda, layer}` terms.
//!
//! ```toml
//! [[loss]]
//! type = "balanced_population_mse"
//! params = { num_classes = 10, neurons_per_class = 4, correct_rate = 0.8, incorrect_rate = 0.05 }
//!
//! [[loss]]
//! type = "firing_rate_dist"
//! params = { metric = "sd" }
//! lambda = 0.1
//! layer = 0
//! ```
//!
//! `total = Σ_k lambda_k * term_k(recording of layer_k)`. A term whose lambda is zero is dropped
//! when the loss is built: it is never computed and never enters the autograd graph.

use super::criterion::{
    EntropyLoss, FiringRateDistLoss, FiringRateLoss, HebbianLoss, PopulationKL, StatePredictionLoss,
};
use super::{hardware, snntorch, LossError, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// The loss families a [`LossTerm`] can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// [`FiringRateLoss`]; params `metric`.
    FiringRate,
    /// [`FiringRateDistLoss`]; params `metric`.
    FiringRateDist,
    /// [`StatePredictionLoss`]; params `tau`.
    StatePrediction,
    /// [`HebbianLoss`] against the layer's recurrent weights.
    Hebbian,
    /// [`EntropyLoss`]; params `reg`, `eps`.
    Entropy,
    /// [`PopulationKL`] between `layer` and `other_layer`; params `symmetric`, `reg`, `reduction`.
    PopulationKl,
    /// `(mean rate of the layer - offset)^2`; params `offset` (the multiplier is `lambda`).
    FiringRateTarget,
    /// [`hardware::balanced_population_mse`]; params `num_classes`, `neurons_per_class`,
    /// `correct_rate`, `incorrect_rate`.
    BalancedPopulationMse,
    /// [`snntorch::mse_count`]; params `correct_rate`, `incorrect_rate`.
    MseCount,
    /// [`snntorch::ce_rate`].
    CeRate,
    /// [`snntorch::ce_count`].
    CeCount,
    /// [`snntorch::ce_max_membrane`] on the layer's membrane.
    CeMaxMembrane,
}

/// Which recorded signal of a layer a term reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// The layer's spikes.
    #[default]
    Spikes,
    /// The layer's membrane potentials.
    Membrane,
}

/// One configured term.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossTerm {
    /// Which loss.
    #[serde(rename = "type")]
    pub kind: LossKind,
    /// The loss's own parameters (a table; unknown keys are rejected when the loss is built).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub params: serde_json::Value,
    /// Weight of the term (finite, >= 0; 0 removes it).
    #[serde(default = "one")]
    pub lambda: f64,
    /// Layer index (0 = first hidden layer); absent means the output (last) layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// Second layer, only for `population_kl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_layer: Option<usize>,
    /// Signal read by the regularisers (`spikes` or `membrane`); classification losses ignore it.
    #[serde(default)]
    pub signal: Signal,
}

fn one() -> f64 {
    1.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateTargetParams {
    offset: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PopulationParams {
    num_classes: usize,
    neurons_per_class: usize,
    #[serde(default = "one")]
    correct_rate: f64,
    #[serde(default)]
    incorrect_rate: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountParams {
    #[serde(default = "one")]
    correct_rate: f64,
    #[serde(default)]
    incorrect_rate: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Clone, Debug)]
enum Built {
    FiringRate(FiringRateLoss),
    FiringRateDist(FiringRateDistLoss),
    StatePrediction(StatePredictionLoss),
    Hebbian(HebbianLoss),
    Entropy(EntropyLoss),
    PopulationKl(PopulationKL, usize),
    FiringRateTarget(f64),
    BalancedPopulation {
        classes: usize,
        per_class: usize,
        correct: f64,
        incorrect: f64,
    },
    MseCount {
        correct: f64,
        incorrect: f64,
    },
    CeRate,
    CeCount,
    CeMaxMembrane,
}

/// What the composite reads: per-layer recordings `[batch, time, neurons]` and the class targets.
#[derive(Clone, Copy, Debug)]
pub struct LossInputs<'a> {
    /// Spikes of every layer, input side first.
    pub spikes: &'a [Tensor],
    /// Membranes of every layer (may be empty if no term reads membranes).
    pub membranes: &'a [Tensor],
    /// Recurrent weight matrix `[N, N]` of every layer (`None` for feed-forward layers).
    pub recurrent: &'a [Option<Tensor>],
    /// Class indices `[batch]`.
    pub targets: &'a Tensor,
}

/// A built, validated composite loss.
#[derive(Clone, Debug)]
pub struct CompositeLoss {
    terms: Vec<(String, f64, Option<usize>, Signal, Built)>,
}

/// The total loss and each term's weighted value (for logs).
#[derive(Clone, Debug)]
pub struct CompositeOutput {
    /// `Σ_k lambda_k term_k`, differentiable.
    pub total: Tensor,
    /// `(name, lambda_k * term_k)` per active term, as plain numbers.
    pub parts: Vec<(String, f64)>,
}

fn params<T: for<'de> Deserialize<'de>>(
    index: usize,
    kind: LossKind,
    p: &serde_json::Value,
) -> Result<T> {
    let p = if p.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        p.clone()
    };
    serde_json::from_value(p).map_err(|e| LossError::Param {
        loss: "composite",
        param: "params",
        reason: format!("of term {index} ({kind:?}): {e}"),
    })
}

impl CompositeLoss {
    /// Validates and builds the terms; zero-lambda terms are dropped here.
    pub fn new(terms: &[LossTerm]) -> Result<Self> {
        let mut built = Vec::new();
        for (i, t) in terms.iter().enumerate() {
            if !t.lambda.is_finite() || t.lambda < 0.0 {
                return Err(LossError::Param {
                    loss: "composite",
                    param: "lambda",
                    reason: format!(
                        "of term {i} ({:?}) must be finite and >= 0, got {}",
                        t.kind, t.lambda
                    ),
                });
            }
            if t.other_layer.is_some() && t.kind != LossKind::PopulationKl {
                return Err(LossError::Param {
                    loss: "composite",
                    param: "other_layer",
                    reason: format!("of term {i} is only meaningful for population_kl"),
                });
            }
            let k = t.kind;
            let b = match k {
                LossKind::FiringRate => Built::FiringRate(params(i, k, &t.params)?),
                LossKind::FiringRateDist => Built::FiringRateDist(params(i, k, &t.params)?),
                LossKind::StatePrediction => Built::StatePrediction(params(i, k, &t.params)?),
                LossKind::Hebbian => Built::Hebbian(params(i, k, &t.params)?),
                LossKind::Entropy => Built::Entropy(params(i, k, &t.params)?),
                LossKind::PopulationKl => {
                    let other = t.other_layer.ok_or(LossError::Param {
                        loss: "composite",
                        param: "other_layer",
                        reason: format!("is required by term {i} (population_kl)"),
                    })?;
                    let c: PopulationKL = params(i, k, &t.params)?;
                    if c.reduction == super::criterion::Reduction::None {
                        return Err(LossError::Param {
                            loss: "composite",
                            param: "params",
                            reason: format!(
                                "of term {i}: population_kl reduction must be mean or sum here"
                            ),
                        });
                    }
                    Built::PopulationKl(c, other)
                }
                LossKind::FiringRateTarget => {
                    Built::FiringRateTarget(params::<RateTargetParams>(i, k, &t.params)?.offset)
                }
                LossKind::BalancedPopulationMse => {
                    let p: PopulationParams = params(i, k, &t.params)?;
                    Built::BalancedPopulation {
                        classes: p.num_classes,
                        per_class: p.neurons_per_class,
                        correct: p.correct_rate,
                        incorrect: p.incorrect_rate,
                    }
                }
                LossKind::MseCount => {
                    let p: CountParams = params(i, k, &t.params)?;
                    Built::MseCount {
                        correct: p.correct_rate,
                        incorrect: p.incorrect_rate,
                    }
                }
                LossKind::CeRate | LossKind::CeCount | LossKind::CeMaxMembrane => {
                    params::<NoParams>(i, k, &t.params)?;
                    match k {
                        LossKind::CeRate => Built::CeRate,
                        LossKind::CeCount => Built::CeCount,
                        _ => Built::CeMaxMembrane,
                    }
                }
            };
            if t.lambda == 0.0 {
                continue;
            }
            let name = match t.layer {
                Some(l) => format!("{k:?}@{l}"),
                None => format!("{k:?}@out"),
            };
            built.push((name, t.lambda, t.layer, t.signal, b));
        }
        if built.is_empty() {
            return Err(LossError::Param {
                loss: "composite",
                param: "terms",
                reason: "contain no term with a non-zero lambda".into(),
            });
        }
        Ok(Self { terms: built })
    }

    /// `(num_classes, neurons_per_class)` if a balanced population term is configured: accuracy
    /// must then be measured with [`hardware::population_decode`].
    pub fn population(&self) -> Option<(usize, usize)> {
        self.terms.iter().find_map(|t| match t.4 {
            Built::BalancedPopulation {
                classes, per_class, ..
            } => Some((classes, per_class)),
            _ => None,
        })
    }

    /// Evaluates every active term on the recording.
    pub fn forward(&self, x: &LossInputs<'_>) -> Result<CompositeOutput> {
        let mut total: Option<Tensor> = None;
        let mut parts = Vec::with_capacity(self.terms.len());
        for (name, lambda, layer, signal, b) in &self.terms {
            let pick = |l: Option<usize>, sig: Signal| -> Result<&Tensor> {
                let list = match sig {
                    Signal::Spikes => x.spikes,
                    Signal::Membrane => x.membranes,
                };
                let idx = l.unwrap_or(x.spikes.len().saturating_sub(1));
                list.get(idx).ok_or_else(|| LossError::Param {
                    loss: "composite",
                    param: "layer",
                    reason: format!(
                        "{name}: no {sig:?} recorded for layer {idx} ({} recorded)",
                        list.len()
                    ),
                })
            };
            let s = || pick(*layer, *signal);
            let spk = || pick(*layer, Signal::Spikes);
            let value = match b {
                Built::FiringRate(c) => c.forward(s()?)?,
                Built::FiringRateDist(c) => c.forward(s()?)?,
                Built::StatePrediction(c) => c.forward(s()?)?,
                Built::Entropy(c) => c.forward(s()?)?,
                Built::Hebbian(c) => {
                    let idx = layer.unwrap_or(x.spikes.len().saturating_sub(1));
                    let w = x
                        .recurrent
                        .get(idx)
                        .and_then(Option::as_ref)
                        .ok_or_else(|| LossError::Param {
                            loss: "composite",
                            param: "layer",
                            reason: format!("{name}: layer {idx} has no recurrent weights"),
                        })?;
                    c.forward(s()?, w)?
                }
                Built::PopulationKl(c, other) => c.forward(s()?, pick(Some(*other), *signal)?)?,
                Built::FiringRateTarget(offset) => s()?.mean_all()?.affine(1.0, -offset)?.sqr()?,
                Built::BalancedPopulation {
                    classes,
                    per_class,
                    correct,
                    incorrect,
                } => hardware::balanced_population_mse(
                    spk()?,
                    x.targets,
                    *classes,
                    *per_class,
                    *correct,
                    *incorrect,
                )?,
                Built::MseCount { correct, incorrect } => {
                    snntorch::mse_count(spk()?, x.targets, *correct, *incorrect)?
                }
                Built::CeRate => snntorch::ce_rate(spk()?, x.targets)?,
                Built::CeCount => snntorch::ce_count(spk()?, x.targets)?,
                Built::CeMaxMembrane => {
                    snntorch::ce_max_membrane(pick(*layer, Signal::Membrane)?, x.targets)?
                }
            };
            let weighted = if *lambda == 1.0 {
                value
            } else {
                value.affine(*lambda, 0.0)?
            };
            parts.push((
                name.clone(),
                weighted
                    .to_dtype(candle_core::DType::F64)?
                    .to_scalar::<f64>()?,
            ));
            total = Some(match total {
                None => weighted,
                Some(t) => (t + weighted)?,
            });
        }
        let total = total.ok_or(LossError::Param {
            loss: "composite",
            param: "terms",
            reason: "are empty".into(),
        })?;
        Ok(CompositeOutput { total, parts })
    }
}
