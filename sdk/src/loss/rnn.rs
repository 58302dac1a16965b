//! `RNNLoss`: the composite task + regulariser loss of nn4n-style rate/spiking RNN training.

use super::criterion::{neuron_means, population_sd};
use super::{LossError, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Lambda-weighted sum of a task MSE and weight / activity regularisers.
///
/// `loss = lambda_mse * mean (pred - label)^2`
/// `     + lambda_in  * ||W_in||_F^2  / (N_in N)`   (`W_in` is `[N, N_in]`)
/// `     + lambda_hid * ||W_hid||_F^2 / (N N)`      (`W_hid` is `[N, N]`)
/// `     + lambda_out * ||W_out||_F^2 / (N_out N)`  (`W_out` is `[N_out, N]`)
/// `     + lambda_fr * mean S^2 + lambda_fr_sd * SD(mu) + lambda_fr_cv * SD(mu) / mean(mu)`,
/// with `S` the hidden states `[batch, time, N]` and `mu` their per-neuron means.
/// A zero lambda adds nothing: its term is neither computed nor part of the autograd graph, and
/// its input may be absent.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RNNLoss {
    /// Weight of the task MSE.
    pub lambda_mse: f64,
    /// Weight of the input-weight magnitude term.
    pub lambda_in: f64,
    /// Weight of the hidden (recurrent) weight magnitude term.
    pub lambda_hid: f64,
    /// Weight of the output-weight magnitude term.
    pub lambda_out: f64,
    /// Weight of the mean squared activity term.
    pub lambda_fr: f64,
    /// Weight of the SD of the per-neuron mean activity.
    pub lambda_fr_sd: f64,
    /// Weight of the coefficient of variation of the per-neuron mean activity.
    pub lambda_fr_cv: f64,
}

impl Default for RNNLoss {
    /// Task MSE only (`lambda_mse = 1`, all regularisers off), as in nn4n.
    fn default() -> Self {
        Self {
            lambda_mse: 1.0,
            lambda_in: 0.0,
            lambda_hid: 0.0,
            lambda_out: 0.0,
            lambda_fr: 0.0,
            lambda_fr_sd: 0.0,
            lambda_fr_cv: 0.0,
        }
    }
}

/// The tensors [`RNNLoss`] reads; a tensor only needs to be present if its lambda is non-zero.
#[derive(Clone, Copy, Debug, Default)]
pub struct RnnLossInputs<'a> {
    /// Network output, any shape equal to `label`'s.
    pub pred: Option<&'a Tensor>,
    /// Target output.
    pub label: Option<&'a Tensor>,
    /// Hidden states `[batch, time, N]`.
    pub states: Option<&'a Tensor>,
    /// Input weights `[N, N_in]`.
    pub w_in: Option<&'a Tensor>,
    /// Hidden weights `[N, N]`.
    pub w_hid: Option<&'a Tensor>,
    /// Output weights `[N_out, N]`.
    pub w_out: Option<&'a Tensor>,
}

fn need<'a>(t: Option<&'a Tensor>, lambda: &'static str, what: &'static str) -> Result<&'a Tensor> {
    t.ok_or(LossError::Param {
        loss: "rnn_loss",
        param: lambda,
        reason: format!("is non-zero but no `{what}` tensor was given"),
    })
}

impl RNNLoss {
    /// Every lambda must be finite and non-negative.
    pub fn validate(&self) -> Result<()> {
        for (param, v) in self.lambdas() {
            if !v.is_finite() || v < 0.0 {
                return Err(LossError::Param {
                    loss: "rnn_loss",
                    param,
                    reason: format!("must be finite and >= 0, got {v}"),
                });
            }
        }
        Ok(())
    }

    fn lambdas(&self) -> [(&'static str, f64); 7] {
        [
            ("lambda_mse", self.lambda_mse),
            ("lambda_in", self.lambda_in),
            ("lambda_hid", self.lambda_hid),
            ("lambda_out", self.lambda_out),
            ("lambda_fr", self.lambda_fr),
            ("lambda_fr_sd", self.lambda_fr_sd),
            ("lambda_fr_cv", self.lambda_fr_cv),
        ]
    }

    /// The weighted sum (a scalar; an all-zero configuration is rejected, there would be no loss).
    pub fn forward(&self, x: &RnnLossInputs<'_>) -> Result<Tensor> {
        self.validate()?;
        let mut terms: Vec<Tensor> = Vec::new();
        let frob = |w: &Tensor, denom: f64| -> Result<Tensor> {
            Ok(w.sqr()?.sum_all()?.affine(1.0 / denom, 0.0)?)
        };
        let dims2 = |w: &Tensor, what: &'static str| -> Result<(usize, usize)> {
            w.dims2().map_err(|_| LossError::Shape {
                loss: "rnn_loss",
                what,
                got: w.dims().to_vec(),
                expected: "a matrix".into(),
            })
        };
        if self.lambda_mse != 0.0 {
            let pred = need(x.pred, "lambda_mse", "pred")?;
            let label = need(x.label, "lambda_mse", "label")?;
            terms.push(
                (pred - label)?
                    .sqr()?
                    .mean_all()?
                    .affine(self.lambda_mse, 0.0)?,
            );
        }
        if self.lambda_in != 0.0 {
            let w = need(x.w_in, "lambda_in", "w_in")?;
            let (n, n_in) = dims2(w, "w_in")?;
            terms.push(frob(w, (n * n_in) as f64)?.affine(self.lambda_in, 0.0)?);
        }
        if self.lambda_hid != 0.0 {
            let w = need(x.w_hid, "lambda_hid", "w_hid")?;
            let (n, m) = dims2(w, "w_hid")?;
            terms.push(frob(w, (n * m) as f64)?.affine(self.lambda_hid, 0.0)?);
        }
        if self.lambda_out != 0.0 {
            let w = need(x.w_out, "lambda_out", "w_out")?;
            let (n_out, n) = dims2(w, "w_out")?;
            terms.push(frob(w, (n_out * n) as f64)?.affine(self.lambda_out, 0.0)?);
        }
        if self.lambda_fr != 0.0 {
            let s = need(x.states, "lambda_fr", "states")?;
            terms.push(s.sqr()?.mean_all()?.affine(self.lambda_fr, 0.0)?);
        }
        if self.lambda_fr_sd != 0.0 || self.lambda_fr_cv != 0.0 {
            let which = if self.lambda_fr_sd != 0.0 {
                "lambda_fr_sd"
            } else {
                "lambda_fr_cv"
            };
            let mu = neuron_means("rnn_loss", need(x.states, which, "states")?)?;
            let sd = population_sd(&mu)?;
            if self.lambda_fr_cv != 0.0 {
                terms.push((&sd / mu.mean_all()?)?.affine(self.lambda_fr_cv, 0.0)?);
            }
            if self.lambda_fr_sd != 0.0 {
                terms.push(sd.affine(self.lambda_fr_sd, 0.0)?);
            }
        }
        let mut it = terms.into_iter();
        let first = it.next().ok_or(LossError::Param {
            loss: "rnn_loss",
            param: "lambda_*",
            reason: "are all zero: nothing to optimise".into(),
        })?;
        it.try_fold(first, |acc, t| Ok((acc + t)?))
    }
}
