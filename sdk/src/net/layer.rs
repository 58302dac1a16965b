//! Configuration of one spiking layer (`[[network.layers]]` in TOML): kind, size, leak,
//! threshold, reset, bias and surrogate, with snnTorch names and defaults.

use serde::{Deserialize, Serialize};

use crate::net::surrogate::SurrogateConfig;
use crate::net::NetworkError;
use crate::structure::mask::LayerMaskConfig;

/// Which neuron model a layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    /// Leaky integrate-and-fire (snnTorch `Leaky`): `u[t] = beta*v[t-1] + W x[t] + b`.
    #[default]
    Leaky,
    /// LIF with all-to-all recurrent weights fed by the layer's own spikes of the previous step
    /// (snnTorch `RLeaky`, `all_to_all=True`): `u[t] = beta*v[t-1] + W x[t] + R s[t-1] + b`.
    Recurrent,
    /// Two-state LIF with a synaptic current (snnTorch `Synaptic`):
    /// `i[t] = alpha*i[t-1] + W x[t] + b`, `u[t] = beta*v[t-1] + i[t]`.
    Synaptic,
    /// A `synaptic` layer with all-to-all recurrent weights into its current (snnTorch
    /// `RSynaptic`, NIR's CubaLIF in a cycle): `i[t] = alpha*i[t-1] + W x[t] + R s[t-1] + b`,
    /// `u[t] = beta*v[t-1] + i[t]`.
    RecurrentSynaptic,
    /// A non-spiking leaky-integrator readout (NIR `LI` / `I`, snnTorch's and Norse's
    /// membrane readout), only as the last layer: `v[t] = beta*v[t-1] + W x[t] + b`, no
    /// threshold, no reset, no spikes; each class's value is `max_t v[t]` over the sample's
    /// steps and the decision its argmax (trained with `ce_max_membrane`; on the integer engine
    /// format v3's `Output::MaxMembrane`).
    Readout,
    /// A `readout` fed through a synaptic current (NIR `CubaLI`):
    /// `i[t] = alpha*i[t-1] + W x[t] + b`, `v[t] = beta*v[t-1] + i[t]`, no spikes; the last
    /// layer only (on the integer engine a current-based readout, format v3).
    SynapticReadout,
}

impl LayerKind {
    /// Whether the layer has recurrent weights (`recurrent`, `recurrent_synaptic`).
    pub fn is_recurrent(self) -> bool {
        matches!(self, Self::Recurrent | Self::RecurrentSynaptic)
    }

    /// Whether the layer has a synaptic current (`synaptic`, `recurrent_synaptic`).
    pub fn is_synaptic(self) -> bool {
        matches!(
            self,
            Self::Synaptic | Self::RecurrentSynaptic | Self::SynapticReadout
        )
    }

    /// Whether the layer is a non-spiking readout (`readout`, `synaptic_readout`).
    pub fn is_readout(self) -> bool {
        matches!(self, Self::Readout | Self::SynapticReadout)
    }
}

/// What happens to the membrane after a spike (snnTorch `reset_mechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    /// `v[t] = u[t] - s[t]*threshold` (snnTorch default).
    #[default]
    Subtract,
    /// `v[t] = u[t]*(1 - s[t])`.
    Zero,
    /// `v[t] = u[t]`.
    None,
}

impl From<Reset> for snn_models::Reset {
    fn from(r: Reset) -> Self {
        match r {
            Reset::Subtract => snn_models::Reset::Subtract,
            Reset::Zero => snn_models::Reset::Zero,
            Reset::None => snn_models::Reset::None,
        }
    }
}

/// Default membrane decay `beta` (used when neither `beta` nor `tau` is given).
pub const DEFAULT_BETA: f64 = 0.9;
/// Default firing threshold (snnTorch).
pub const DEFAULT_THRESHOLD: f64 = 1.0;
/// Default synaptic decay `alpha` of `synaptic` layers.
pub const DEFAULT_ALPHA: f64 = 0.8;

fn default_threshold() -> f64 {
    DEFAULT_THRESHOLD
}
fn default_true() -> bool {
    true
}

/// One layer of a [`crate::net::network::NetworkConfig`].
///
/// The leak is given either as `beta` directly (default 0.9) or as a time constant `tau` with
/// step `dt` (default 1), in which case `beta = exp(-dt/tau)`; giving both is an error.
/// Learnable decays (`learn_beta`, `learn_alpha`) are stored as logits `p` with
/// `beta = sigmoid(p)`, so they stay strictly inside (0, 1) whatever the optimiser does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    /// Neuron model (`leaky`, `recurrent`, `synaptic`, `recurrent_synaptic`, `readout`,
    /// `synaptic_readout`; default `leaky`).
    #[serde(default)]
    pub kind: LayerKind,
    /// Number of neurons.
    pub size: usize,
    /// Membrane decay per step, in (0, 1) (default 0.9 unless `tau` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// Membrane time constant (alternative to `beta`: `beta = exp(-dt/tau)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<f64>,
    /// Simulation step for `tau` (default 1, same unit as `tau`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dt: Option<f64>,
    /// Train `beta` (sigmoid parametrisation, stays in (0, 1)).
    #[serde(default)]
    pub learn_beta: bool,
    /// One `beta` per neuron instead of one per layer.
    #[serde(default)]
    pub beta_per_neuron: bool,
    /// Synaptic current decay (`synaptic` layers only; default 0.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Train `alpha` (`synaptic` only; sigmoid parametrisation like `beta`, per neuron when
    /// `beta_per_neuron`).
    #[serde(default)]
    pub learn_alpha: bool,
    /// Firing threshold (default 1.0, > 0).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Train the (per-layer) threshold.
    #[serde(default)]
    pub learn_threshold: bool,
    /// Reset after a spike (`subtract`, `zero`, `none`; default `subtract`).
    #[serde(default)]
    pub reset: Reset,
    /// Add a learnable bias to the input current (default true).
    #[serde(default = "default_true")]
    pub bias: bool,
    /// Surrogate gradient of the spike (default `fast_sigmoid`, slope 25).
    #[serde(default)]
    pub surrogate: SurrogateConfig,
    /// Masks of the feed-forward weight `[size, inputs]`: sparsity, Dale's law, plasticity,
    /// growth (see [`crate::structure::mask`]; default none).
    #[serde(default, skip_serializing_if = "LayerMaskConfig::is_empty")]
    pub masks: LayerMaskConfig,
    /// Masks of the recurrent weight `[size, size]` (`recurrent` layers only).
    #[serde(default, skip_serializing_if = "LayerMaskConfig::is_empty")]
    pub rec_masks: LayerMaskConfig,
}

impl Default for LayerConfig {
    fn default() -> Self {
        Self {
            kind: LayerKind::Leaky,
            size: 0,
            beta: None,
            tau: None,
            dt: None,
            learn_beta: false,
            beta_per_neuron: false,
            alpha: None,
            learn_alpha: false,
            threshold: DEFAULT_THRESHOLD,
            learn_threshold: false,
            reset: Reset::Subtract,
            bias: true,
            surrogate: SurrogateConfig::default(),
            masks: LayerMaskConfig::default(),
            rec_masks: LayerMaskConfig::default(),
        }
    }
}

impl LayerConfig {
    /// A default layer of `kind` with `size` neurons.
    pub fn new(kind: LayerKind, size: usize) -> Self {
        Self {
            kind,
            size,
            ..Self::default()
        }
    }

    /// The initial membrane decay: `beta`, or `exp(-dt/tau)`, or 0.9.
    pub fn initial_beta(&self) -> f64 {
        match (self.beta, self.tau) {
            (Some(b), _) => b,
            (None, Some(tau)) => (-self.dt.unwrap_or(1.0) / tau).exp(),
            (None, None) => DEFAULT_BETA,
        }
    }

    /// The initial synaptic decay (`synaptic` layers; 0 for the others).
    pub fn initial_alpha(&self) -> f64 {
        match self.kind {
            k if k.is_synaptic() => self.alpha.unwrap_or(DEFAULT_ALPHA),
            _ => 0.0,
        }
    }

    /// Checks every field; `at` names the layer in error messages (e.g. `layers[1]`).
    pub fn validate(&self, at: &str) -> Result<(), NetworkError> {
        let bad =
            |field: &str, msg: String| Err(NetworkError::invalid(format!("{at}.{field}"), msg));
        if self.size == 0 {
            return bad("size", "must be at least 1".into());
        }
        if self.size > u16::MAX as usize {
            return bad(
                "size",
                format!(
                    "{} exceeds the engine limit of {} neurons",
                    self.size,
                    u16::MAX
                ),
            );
        }
        if self.beta.is_some() && self.tau.is_some() {
            return bad(
                "tau",
                "give either `beta` or `tau` (with `dt`), not both".into(),
            );
        }
        if self.dt.is_some() && self.tau.is_none() {
            return bad("dt", "only meaningful together with `tau`".into());
        }
        if let Some(tau) = self.tau {
            if !(tau.is_finite() && tau > 0.0) {
                return bad(
                    "tau",
                    format!("must be a positive finite number, got {tau}"),
                );
            }
        }
        if let Some(dt) = self.dt {
            if !(dt.is_finite() && dt > 0.0) {
                return bad("dt", format!("must be a positive finite number, got {dt}"));
            }
        }
        let beta = self.initial_beta();
        let beta_field = if self.beta.is_some() { "beta" } else { "tau" };
        // A fixed decay may be 0 (a stateless threshold unit) or 1 (integrate-and-fire, as
        // NIR's `Threshold` and `IF` import); a learnt one is a sigmoid, strictly inside.
        if self.learn_beta && !(beta > 0.0 && beta < 1.0) {
            return bad(
                beta_field,
                format!("a learnt decay beta must lie strictly between 0 and 1, got {beta}"),
            );
        }
        if !(0.0..=1.0).contains(&beta) {
            return bad(
                beta_field,
                format!("the decay beta must lie in [0, 1], got {beta}"),
            );
        }
        if !self.kind.is_synaptic() {
            if self.alpha.is_some() {
                return bad(
                    "alpha",
                    "only `synaptic` layers have a synaptic decay".into(),
                );
            }
            if self.learn_alpha {
                return bad(
                    "learn_alpha",
                    "only `synaptic` layers have a synaptic decay".into(),
                );
            }
        } else {
            let alpha = self.initial_alpha();
            if !(alpha > 0.0 && alpha < 1.0) {
                return bad(
                    "alpha",
                    format!("must lie strictly between 0 and 1, got {alpha}"),
                );
            }
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return bad(
                "threshold",
                format!("must be a positive finite number, got {}", self.threshold),
            );
        }
        if self.kind.is_readout() {
            if self.reset != Reset::None {
                return bad(
                    "reset",
                    "a `readout` layer never spikes, so it has no reset: set `reset = \"none\"`"
                        .into(),
                );
            }
            if self.learn_threshold {
                return bad(
                    "learn_threshold",
                    "a `readout` layer has no threshold to learn".into(),
                );
            }
        }
        if !self.kind.is_recurrent() && !self.rec_masks.is_empty() {
            return bad(
                "rec_masks",
                "only `recurrent` layers have a recurrent weight to mask".into(),
            );
        }
        self.surrogate.validate(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_snntorch() {
        let c: LayerConfig = toml::from_str("size = 10").unwrap();
        assert_eq!(c.kind, LayerKind::Leaky);
        assert_eq!(c.initial_beta(), 0.9);
        assert_eq!(c.threshold, 1.0);
        assert_eq!(c.reset, Reset::Subtract);
        assert!(c.bias);
        c.validate("layers[0]").unwrap();
    }

    #[test]
    fn tau_gives_exponential_decay() {
        let c: LayerConfig = toml::from_str("size = 4\ntau = 20.0\ndt = 2.0").unwrap();
        assert!((c.initial_beta() - (-0.1f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn invalid_fields_are_named() {
        let cases = [
            ("size = 0", "layers[2].size"),
            ("size = 3\nbeta = 1.5", "layers[2].beta"),
            ("size = 3\nbeta = 1.0\nlearn_beta = true", "layers[2].beta"),
            ("size = 3\nbeta = 0.5\ntau = 3.0", "layers[2].tau"),
            ("size = 3\nalpha = 0.5", "layers[2].alpha"),
            (
                "size = 3\nkind = \"synaptic\"\nalpha = 1.5",
                "layers[2].alpha",
            ),
            ("size = 3\nthreshold = -1.0", "layers[2].threshold"),
        ];
        for (src, field) in cases {
            let c: LayerConfig = toml::from_str(src).unwrap();
            let e = c.validate("layers[2]").unwrap_err().to_string();
            assert!(e.contains(field), "{src}: {e}");
        }
        assert!(toml::from_str::<LayerConfig>("size = 3\nbetta = 0.5").is_err());
    }
}
