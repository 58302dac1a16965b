//! Adam / AdamW with global-norm gradient clipping and saveable state.
//!
//! Written here rather than wrapping `candle_nn::AdamW` so that the moments and step count can be
//! saved in a checkpoint and restored on `--resume`. The update is PyTorch's (and candle-nn's):
//! `m = b1 m + (1-b1) g`, `v = b2 v + (1-b2) g^2`, `m^ = m/(1-b1^t)`, `v^ = v/(1-b2^t)`,
//! `theta -= lr m^ / (sqrt(v^) + eps)`. Weight decay: AdamW decays decoupled,
//! `theta *= 1 - lr wd` before the update; Adam adds `wd theta` to the gradient (L2).
use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::train::{Error, Result};

/// Which optimiser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam (Kingma & Ba 2015); `weight_decay` is an L2 term added to the gradient.
    #[default]
    Adam,
    /// AdamW (Loshchilov & Hutter 2019); decoupled weight decay.
    Adamw,
}

/// Hyper-parameters of [`Adam`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Adam or AdamW.
    pub kind: OptimizerKind,
    /// First-moment decay `b1`.
    pub beta1: f64,
    /// Second-moment decay `b2`.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
    /// Weight decay (see [`OptimizerKind`]).
    pub weight_decay: f64,
    /// Clip gradients to this global L2 norm (over all parameters) when set.
    pub grad_clip: Option<f64>,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Adam,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            grad_clip: None,
        }
    }
}

/// What one optimiser step saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    /// Global L2 norm of the gradients before clipping.
    pub grad_norm: f64,
    /// Factor the gradients were multiplied by (1 when not clipped).
    pub clip_scale: f64,
}

/// Adam / AdamW over named parameters.
#[derive(Debug)]
pub struct Adam {
    cfg: AdamConfig,
    params: Vec<(String, Var)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    t: u64,
}

impl Adam {
    /// An optimiser for `params` (name, variable); names key the saved state.
    pub fn new(params: Vec<(String, Var)>, cfg: AdamConfig) -> Result<Self> {
        let mut m = Vec::with_capacity(params.len());
        for (_, p) in &params {
            m.push(p.as_tensor().zeros_like()?);
        }
        let v = m.clone();
        Ok(Self {
            cfg,
            params,
            m,
            v,
            t: 0,
        })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The parameters being optimised.
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    /// Global L2 norm of the gradients of the parameters (absent gradients count as zero).
    pub fn grad_norm(&self, grads: &GradStore) -> Result<f64> {
        let mut sq = 0f64;
        for (_, p) in &self.params {
            if let Some(g) = grads.get(p.as_tensor()) {
                sq += g
                    .to_dtype(DType::F64)?
                    .sqr()?
                    .sum_all()?
                    .to_scalar::<f64>()?;
            }
        }
        Ok(sq.sqrt())
    }

    /// One update with learning rate `lr`: clips by global norm if configured, then applies Adam.
    /// Parameters without a gradient are left alone (their moments are not advanced). When the
    /// gradient norm is NaN or infinite nothing is changed and the returned `grad_norm` says so,
    /// so the caller can stop with the parameters still finite.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<StepInfo> {
        let grad_norm = self.grad_norm(grads)?;
        if !grad_norm.is_finite() {
            return Ok(StepInfo {
                grad_norm,
                clip_scale: 0.0,
            });
        }
        let clip_scale = match self.cfg.grad_clip {
            Some(max) if grad_norm > max => max / (grad_norm + 1e-12),
            _ => 1.0,
        };
        self.t += 1;
        let c = self.cfg;
        let bc1 = 1.0 - c.beta1.powf(self.t as f64);
        let bc2 = 1.0 - c.beta2.powf(self.t as f64);
        for (i, (_, p)) in self.params.iter().enumerate() {
            let Some(g) = grads.get(p.as_tensor()) else {
                continue;
            };
            let mut g = if clip_scale != 1.0 {
                (g * clip_scale)?
            } else {
                g.clone()
            };
            let theta = p.as_tensor();
            if c.weight_decay != 0.0 && c.kind == OptimizerKind::Adam {
                g = (g + (theta * c.weight_decay)?)?;
            }
            let m = ((&self.m[i] * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
            let v = ((&self.v[i] * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let m_hat = (&m / bc1)?;
            let v_hat = (&v / bc2)?;
            let mut next = theta.clone();
            if c.weight_decay != 0.0 && c.kind == OptimizerKind::Adamw {
                next = (next * (1.0 - lr * c.weight_decay))?;
            }
            let upd = ((m_hat / (v_hat.sqrt()? + c.eps)?)? * lr)?;
            p.set(&(next - upd)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(StepInfo {
            grad_norm,
            clip_scale,
        })
    }

    /// The optimiser state as named tensors (`m.<param>`, `v.<param>`) for a checkpoint; the
    /// step count is returned separately.
    pub fn state(&self) -> (HashMap<String, Tensor>, u64) {
        let mut map = HashMap::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            map.insert(format!("m.{name}"), self.m[i].clone());
            map.insert(format!("v.{name}"), self.v[i].clone());
        }
        (map, self.t)
    }

    /// Restores a state saved by [`Adam::state`]; every parameter's moments must be present with
    /// the right shape.
    pub fn load_state(&mut self, map: &HashMap<String, Tensor>, steps: u64) -> Result<()> {
        for (i, (name, p)) in self.params.iter().enumerate() {
            for (key, slot) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                let full = format!("{key}.{name}");
                let t = map.get(&full).ok_or_else(|| Error::Checkpoint {
                    path: "optimizer.safetensors".into(),
                    reason: format!("missing optimiser tensor `{full}`"),
                })?;
                if t.dims() != p.as_tensor().dims() {
                    return Err(Error::Checkpoint {
                        path: "optimizer.safetensors".into(),
                        reason: format!(
                            "optimiser tensor `{full}` has shape {:?}, the parameter has {:?}",
                            t.dims(),
                            p.as_tensor().dims()
                        ),
                    });
                }
                *slot = t
                    .to_dtype(p.as_tensor().dtype())?
                    .to_device(p.as_tensor().device())?;
            }
        }
        self.t = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Adam on f(x) = (x - 3)^2 converges; clipping bounds the first step to lr.
    #[test]
    fn adam_minimises_a_quadratic_and_clips() {
        let x = Var::new(&[0f32], &Device::Cpu).unwrap();
        let cfg = AdamConfig {
            grad_clip: Some(1.0),
            ..AdamConfig::default()
        };
        let mut opt = Adam::new(vec![("x".into(), x.clone())], cfg).unwrap();
        for i in 0..2000 {
            let loss = (x.as_tensor() - 3.0)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            let g = loss.backward().unwrap();
            let info = opt.step(&g, 0.05).unwrap();
            if i == 0 {
                assert!((info.grad_norm - 6.0).abs() < 1e-6);
                assert!((info.clip_scale - 1.0 / 6.0).abs() < 1e-6);
            }
        }
        let v = x.as_tensor().to_vec1::<f32>().unwrap()[0];
        assert!((v - 3.0).abs() < 1e-2, "x = {v}");
        assert_eq!(opt.steps(), 2000);
    }
}
