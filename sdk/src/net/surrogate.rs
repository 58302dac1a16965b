//! Surrogate gradients for the spike non-linearity.
//!
//! The forward pass of every spiking layer is the Heaviside step `s = H(x)` with
//! `x = u - threshold` (spike iff `u >= threshold`). Its true derivative is zero almost
//! everywhere, so the backward pass replaces it by the derivative of a smooth function
//! (Neftci, Mostafa & Zenke 2019; snnTorch `snntorch.surrogate`). Every built-in surrogate
//! states both the smooth function (`smooth`) and its derivative (`grad`); the test suite
//! checks `grad` against a finite difference of `smooth`.
//!
//! Users can plug in their own surrogate by implementing [`SurrogateGradient`] and passing it
//! to [`crate::net::network::Network::set_surrogate`].

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::net::NetworkError;

/// A surrogate gradient: the derivative used in place of `dH(x)/dx` in backward.
pub trait SurrogateGradient: Send + Sync + fmt::Debug {
    /// Short name used in error messages and model cards.
    fn name(&self) -> &str;
    /// Surrogate derivative `dS/dx` at `x = u - threshold`.
    fn grad(&self, x: f32) -> f32;
    /// The smooth function whose derivative `grad` is (for documentation and tests), if any.
    fn smooth(&self, _x: f64) -> Option<f64> {
        None
    }
}

/// Which built-in surrogate to use (snnTorch names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SurrogateKind {
    /// `grad = 1 / (1 + k|x|)^2` (snnTorch `fast_sigmoid`, slope `k`, default 25).
    #[default]
    FastSigmoid,
    /// `grad = (a/2) / (1 + (pi/2 * a * x)^2)` (snnTorch `atan`, alpha `a`, default 2).
    Arctan,
    /// `grad = k * sig(kx) * (1 - sig(kx))` (snnTorch `sigmoid`, slope `k`, default 25).
    Sigmoid,
    /// `grad = max(0, 1 - |x|/w) / w` (triangle of half-width `w`, default 1, unit area).
    Triangular,
    /// `grad = 1` (straight-through estimator).
    StraightThrough,
}

/// Surrogate configuration as it appears in a layer's TOML table.
///
/// ```toml
/// surrogate = { kind = "fast_sigmoid", slope = 25.0 }
/// surrogate = { kind = "arctan", alpha = 2.0 }
/// surrogate = { kind = "triangular", width = 1.0 }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SurrogateConfig {
    /// Which surrogate.
    #[serde(default)]
    pub kind: SurrogateKind,
    /// Slope `k` of `fast_sigmoid` and `sigmoid` (default 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slope: Option<f64>,
    /// `alpha` of `arctan` (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Half-width of `triangular` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
}

/// Default slope of `fast_sigmoid` and `sigmoid` (snnTorch).
pub const DEFAULT_SLOPE: f64 = 25.0;
/// Default alpha of `arctan` (snnTorch).
pub const DEFAULT_ALPHA: f64 = 2.0;
/// Default half-width of `triangular`.
pub const DEFAULT_WIDTH: f64 = 1.0;

impl SurrogateConfig {
    /// Checks that only the parameter of the chosen kind is set and that it is positive and finite.
    pub fn validate(&self, at: &str) -> Result<(), NetworkError> {
        let (used, value): (&str, Option<f64>) = match self.kind {
            SurrogateKind::FastSigmoid | SurrogateKind::Sigmoid => ("slope", self.slope),
            SurrogateKind::Arctan => ("alpha", self.alpha),
            SurrogateKind::Triangular => ("width", self.width),
            SurrogateKind::StraightThrough => ("", None),
        };
        for (name, v) in [
            ("slope", self.slope),
            ("alpha", self.alpha),
            ("width", self.width),
        ] {
            if v.is_some() && name != used {
                return Err(NetworkError::invalid(
                    format!("{at}.surrogate.{name}"),
                    format!(
                        "is not a parameter of surrogate kind {:?}{}",
                        self.kind,
                        if used.is_empty() {
                            String::new()
                        } else {
                            format!(" (it takes `{used}`)")
                        }
                    ),
                ));
            }
        }
        if let Some(v) = value {
            if !(v.is_finite() && v > 0.0) {
                return Err(NetworkError::invalid(
                    format!("{at}.surrogate.{used}"),
                    format!("must be a positive finite number, got {v}"),
                ));
            }
        }
        Ok(())
    }

    /// The built-in surrogate this configuration describes.
    pub fn build(&self) -> Surrogate {
        match self.kind {
            SurrogateKind::FastSigmoid => Surrogate::FastSigmoid {
                slope: self.slope.unwrap_or(DEFAULT_SLOPE) as f32,
            },
            SurrogateKind::Arctan => Surrogate::Arctan {
                alpha: self.alpha.unwrap_or(DEFAULT_ALPHA) as f32,
            },
            SurrogateKind::Sigmoid => Surrogate::Sigmoid {
                slope: self.slope.unwrap_or(DEFAULT_SLOPE) as f32,
            },
            SurrogateKind::Triangular => Surrogate::Triangular {
                width: self.width.unwrap_or(DEFAULT_WIDTH) as f32,
            },
            SurrogateKind::StraightThrough => Surrogate::StraightThrough,
        }
    }
}

/// A surrogate as used by the layers: a built-in (monomorphised into the fused kernel) or a
/// user-defined [`SurrogateGradient`].
#[derive(Debug, Clone)]
pub enum Surrogate {
    /// `grad = 1 / (1 + slope*|x|)^2`; smooth function `x / (1 + slope*|x|)`.
    FastSigmoid {
        /// Slope `k`.
        slope: f32,
    },
    /// `grad = (alpha/2) / (1 + (pi/2*alpha*x)^2)`; smooth `atan(pi/2*alpha*x)/pi + 1/2`.
    Arctan {
        /// Sharpness `alpha`.
        alpha: f32,
    },
    /// `grad = slope*sig(slope*x)*(1 - sig(slope*x))`; smooth `sig(slope*x)`.
    Sigmoid {
        /// Slope `k`.
        slope: f32,
    },
    /// `grad = max(0, 1 - |x|/width)/width`; smooth: the piecewise quadratic ramp from 0 to 1.
    Triangular {
        /// Half-width of the triangle.
        width: f32,
    },
    /// `grad = 1`; smooth `x`.
    StraightThrough,
    /// A user-defined surrogate.
    Custom(Arc<dyn SurrogateGradient>),
}

impl Default for Surrogate {
    fn default() -> Self {
        SurrogateConfig::default().build()
    }
}

/// `fast_sigmoid` surrogate (see [`Surrogate::FastSigmoid`]).
#[derive(Debug, Clone, Copy)]
pub struct FastSigmoid(pub f32);
/// `arctan` surrogate (see [`Surrogate::Arctan`]).
#[derive(Debug, Clone, Copy)]
pub struct Arctan(pub f32);
/// `sigmoid` surrogate (see [`Surrogate::Sigmoid`]).
#[derive(Debug, Clone, Copy)]
pub struct Sigmoid(pub f32);
/// `triangular` surrogate (see [`Surrogate::Triangular`]).
#[derive(Debug, Clone, Copy)]
pub struct Triangular(pub f32);
/// Straight-through estimator (see [`Surrogate::StraightThrough`]).
#[derive(Debug, Clone, Copy)]
pub struct StraightThrough;

impl SurrogateGradient for FastSigmoid {
    fn name(&self) -> &str {
        "fast_sigmoid"
    }
    #[inline(always)]
    fn grad(&self, x: f32) -> f32 {
        // d/dx [x / (1 + k|x|)] = 1 / (1 + k|x|)^2
        let d = 1.0 + self.0 * x.abs();
        1.0 / (d * d)
    }
    fn smooth(&self, x: f64) -> Option<f64> {
        Some(x / (1.0 + self.0 as f64 * x.abs()))
    }
}

impl SurrogateGradient for Arctan {
    fn name(&self) -> &str {
        "arctan"
    }
    #[inline(always)]
    fn grad(&self, x: f32) -> f32 {
        // d/dx [atan(pi/2 a x)/pi + 1/2] = (a/2) / (1 + (pi/2 a x)^2)
        let z = std::f32::consts::FRAC_PI_2 * self.0 * x;
        0.5 * self.0 / (1.0 + z * z)
    }
    fn smooth(&self, x: f64) -> Option<f64> {
        let a = self.0 as f64;
        Some((std::f64::consts::FRAC_PI_2 * a * x).atan() / std::f64::consts::PI + 0.5)
    }
}

impl SurrogateGradient for Sigmoid {
    fn name(&self) -> &str {
        "sigmoid"
    }
    #[inline(always)]
    fn grad(&self, x: f32) -> f32 {
        // d/dx sig(kx) = k sig(kx) (1 - sig(kx))
        let s = 1.0 / (1.0 + (-self.0 * x).exp());
        self.0 * s * (1.0 - s)
    }
    fn smooth(&self, x: f64) -> Option<f64> {
        Some(1.0 / (1.0 + (-(self.0 as f64) * x).exp()))
    }
}

impl SurrogateGradient for Triangular {
    fn name(&self) -> &str {
        "triangular"
    }
    #[inline(always)]
    fn grad(&self, x: f32) -> f32 {
        // triangle of half-width w and unit area: max(0, 1 - |x|/w) / w
        let w = self.0;
        (1.0 - x.abs() / w).max(0.0) / w
    }
    fn smooth(&self, x: f64) -> Option<f64> {
        // integral of the triangle: 0 below -w, 1 above w, piecewise quadratic in between
        let w = self.0 as f64;
        let z = (x / w).clamp(-1.0, 1.0);
        Some(if z <= 0.0 {
            0.5 * (1.0 + z) * (1.0 + z)
        } else {
            1.0 - 0.5 * (1.0 - z) * (1.0 - z)
        })
    }
}

impl SurrogateGradient for StraightThrough {
    fn name(&self) -> &str {
        "straight_through"
    }
    #[inline(always)]
    fn grad(&self, _x: f32) -> f32 {
        1.0
    }
    fn smooth(&self, x: f64) -> Option<f64> {
        Some(x)
    }
}

impl Surrogate {
    /// Surrogate derivative at `x = u - threshold` (dynamic dispatch; kernels use [`Self::dispatch`]).
    pub fn grad(&self, x: f32) -> f32 {
        match self {
            Surrogate::FastSigmoid { slope } => FastSigmoid(*slope).grad(x),
            Surrogate::Arctan { alpha } => Arctan(*alpha).grad(x),
            Surrogate::Sigmoid { slope } => Sigmoid(*slope).grad(x),
            Surrogate::Triangular { width } => Triangular(*width).grad(x),
            Surrogate::StraightThrough => StraightThrough.grad(x),
            Surrogate::Custom(s) => s.grad(x),
        }
    }

    /// Name of the surrogate.
    pub fn name(&self) -> &str {
        match self {
            Surrogate::FastSigmoid { .. } => "fast_sigmoid",
            Surrogate::Arctan { .. } => "arctan",
            Surrogate::Sigmoid { .. } => "sigmoid",
            Surrogate::Triangular { .. } => "triangular",
            Surrogate::StraightThrough => "straight_through",
            Surrogate::Custom(s) => s.name(),
        }
    }

    /// Calls `f` with the concrete surrogate type, so hot loops are monomorphised per kind.
    pub fn dispatch<R>(&self, f: impl SurrogateVisitor<Output = R>) -> R {
        match self {
            Surrogate::FastSigmoid { slope } => f.visit(&FastSigmoid(*slope)),
            Surrogate::Arctan { alpha } => f.visit(&Arctan(*alpha)),
            Surrogate::Sigmoid { slope } => f.visit(&Sigmoid(*slope)),
            Surrogate::Triangular { width } => f.visit(&Triangular(*width)),
            Surrogate::StraightThrough => f.visit(&StraightThrough),
            Surrogate::Custom(s) => f.visit(s.as_ref()),
        }
    }
}

/// A computation generic over the concrete surrogate type (see [`Surrogate::dispatch`]).
pub trait SurrogateVisitor {
    /// Result of the computation.
    type Output;
    /// Runs the computation with surrogate `s`.
    fn visit<S: SurrogateGradient + ?Sized>(self, s: &S) -> Self::Output;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Box<dyn SurrogateGradient>> {
        vec![
            Box::new(FastSigmoid(25.0)),
            Box::new(FastSigmoid(3.0)),
            Box::new(Arctan(2.0)),
            Box::new(Arctan(0.5)),
            Box::new(Sigmoid(25.0)),
            Box::new(Sigmoid(4.0)),
            Box::new(Triangular(1.0)),
            Box::new(Triangular(0.3)),
            Box::new(StraightThrough),
        ]
    }

    #[test]
    fn grad_matches_finite_difference_of_smooth_function() {
        let h = 1e-5;
        for s in all() {
            for i in -200..=200 {
                // avoid the kinks of |x| and of the triangle's corners
                let x = i as f64 * 0.0137 + 0.0031;
                let fd = (s.smooth(x + h).unwrap() - s.smooth(x - h).unwrap()) / (2.0 * h);
                let g = s.grad(x as f32) as f64;
                assert!(
                    (fd - g).abs() <= 1e-4 * (1.0 + g.abs()),
                    "{} at x={x}: surrogate grad {g} vs finite difference {fd}",
                    s.name()
                );
            }
        }
    }

    #[test]
    fn snntorch_reference_values() {
        // peak values at x = 0 as in snnTorch: fast_sigmoid 1, atan alpha/2, sigmoid k/4
        assert_eq!(FastSigmoid(25.0).grad(0.0), 1.0);
        assert_eq!(Arctan(2.0).grad(0.0), 1.0);
        assert!((Sigmoid(25.0).grad(0.0) - 6.25).abs() < 1e-6);
        assert_eq!(Triangular(1.0).grad(0.0), 1.0);
        assert_eq!(Triangular(1.0).grad(1.5), 0.0);
        // fast_sigmoid at x = 0.1 with k = 25: 1/(1+2.5)^2
        assert!((FastSigmoid(25.0).grad(0.1) - 1.0 / 12.25).abs() < 1e-7);
    }

    #[test]
    fn config_rejects_foreign_and_bad_parameters() {
        let c = SurrogateConfig {
            kind: SurrogateKind::Arctan,
            slope: Some(3.0),
            ..Default::default()
        };
        let e = c.validate("layers[0]").unwrap_err().to_string();
        assert!(e.contains("layers[0].surrogate.slope"), "{e}");
        let c = SurrogateConfig {
            kind: SurrogateKind::Sigmoid,
            slope: Some(-1.0),
            ..Default::default()
        };
        let e = c.validate("layers[1]").unwrap_err().to_string();
        assert!(
            e.contains("layers[1].surrogate.slope") && e.contains("-1"),
            "{e}"
        );
        let c: SurrogateConfig = toml::from_str("kind = \"arctan\"\nalpha = 3.0").unwrap();
        assert!(matches!(c.build(), Surrogate::Arctan { alpha } if alpha == 3.0));
        assert!(toml::from_str::<SurrogateConfig>("kind = \"arctan\"\nbogus = 1").is_err());
    }
}
