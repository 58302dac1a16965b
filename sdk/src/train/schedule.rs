//! Learning-rate schedules, evaluated at every optimiser step from the fractional epoch.
use serde::{Deserialize, Serialize};

/// The `[train.schedule]` table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// `lr = base`.
    #[default]
    Constant,
    /// Cosine annealing from `base` to `min_lr` over the run, after an optional linear warm-up:
    /// `lr(e) = min_lr + (base - min_lr) * (1 + cos(pi * e / E)) / 2` for fractional epoch `e` of
    /// `E`; during warm-up (`e < warmup_epochs`) `lr = base * (e + 1/S) / warmup_epochs`
    /// (`S` steps per epoch).
    Cosine {
        /// Final learning rate (default 0).
        #[serde(default)]
        min_lr: f64,
        /// Epochs of linear warm-up (default 0).
        #[serde(default)]
        warmup_epochs: f64,
    },
    /// Step decay: `lr = base * gamma ^ floor(epoch / step_epochs)`.
    Step {
        /// Epochs between decays (>= 1).
        step_epochs: usize,
        /// Factor per decay, in (0, 1].
        gamma: f64,
    },
}

impl Schedule {
    /// The learning rate at global step `step` (0-based) of a run of `epochs` epochs of
    /// `steps_per_epoch` steps, for base rate `base`.
    pub fn lr(&self, base: f64, step: usize, steps_per_epoch: usize, epochs: usize) -> f64 {
        let spe = steps_per_epoch.max(1) as f64;
        let e = step as f64 / spe;
        match *self {
            Self::Constant => base,
            Self::Cosine {
                min_lr,
                warmup_epochs,
            } => {
                if e < warmup_epochs {
                    return base * ((e + 1.0 / spe) / warmup_epochs).min(1.0);
                }
                let total = (epochs as f64).max(1e-9);
                let p = (e / total).clamp(0.0, 1.0);
                min_lr + (base - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            }
            Self::Step { step_epochs, gamma } => {
                let k = (step / steps_per_epoch.max(1)) / step_epochs.max(1);
                base * gamma.powi(k as i32)
            }
        }
    }

    /// Checks the parameters; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Self::Constant => Ok(()),
            Self::Cosine {
                min_lr,
                warmup_epochs,
            } => {
                if !(min_lr >= 0.0 && min_lr.is_finite()) {
                    return Err(format!("train.schedule.min_lr must be >= 0, got {min_lr}"));
                }
                if !(warmup_epochs >= 0.0 && warmup_epochs.is_finite()) {
                    return Err(format!(
                        "train.schedule.warmup_epochs must be >= 0, got {warmup_epochs}"
                    ));
                }
                Ok(())
            }
            Self::Step { step_epochs, gamma } => {
                if step_epochs == 0 {
                    return Err("train.schedule.step_epochs must be >= 1, got 0".to_owned());
                }
                if !(gamma > 0.0 && gamma <= 1.0) {
                    return Err(format!(
                        "train.schedule.gamma must be in (0, 1], got {gamma}"
                    ));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let c = Schedule::Cosine {
            min_lr: 0.0,
            warmup_epochs: 0.0,
        };
        assert_eq!(c.lr(1.0, 0, 10, 4), 1.0);
        assert!((c.lr(1.0, 20, 10, 4) - 0.5).abs() < 1e-12);
        assert!(c.lr(1.0, 40, 10, 4).abs() < 1e-12);
        let s = Schedule::Step {
            step_epochs: 2,
            gamma: 0.5,
        };
        assert_eq!(s.lr(1.0, 19, 10, 9), 1.0);
        assert_eq!(s.lr(1.0, 20, 10, 9), 0.5);
        assert_eq!(s.lr(1.0, 45, 10, 9), 0.25);
        assert_eq!(Schedule::Constant.lr(0.3, 99, 10, 1), 0.3);
    }
}
