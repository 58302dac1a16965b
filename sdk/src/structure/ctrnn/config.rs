//! CTRNN configuration: nn4n names and defaults, TOML-loadable, validated.

use serde::{Deserialize, Serialize};

use crate::structure::generators::Structure;
use crate::structure::mask::{MaskValue, PerLayer};

/// Layer names in order: `W_in` `[N, N_in]`, `W_hid` `[N, N]`, `W_out` `[N_out, N]`.
pub const LAYER_NAMES: [&str; 3] = ["input", "hidden", "output"];

/// Firing-rate nonlinearity `f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(x, 0)` (nn4n default).
    #[default]
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `max(tanh(x), 0)`.
    Retanh,
}

/// Named weight initialisations (`fan_in` = the layer's input count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightKind {
    /// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` (nn4n default).
    Uniform,
    /// `N(0, 1) / sqrt(fan_in)`.
    Normal,
    /// All zeros.
    Zero,
}

/// A layer's initial weights: a named distribution or an explicit `[out, in]` matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WeightInit {
    /// Drawn from a distribution.
    Named(WeightKind),
    /// Given row by row (`[out][in]`).
    Explicit(Vec<Vec<f64>>),
}

impl Default for WeightInit {
    fn default() -> Self {
        WeightInit::Named(WeightKind::Uniform)
    }
}

/// Named bias initialisations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BiasKind {
    /// No bias at all (nn4n default `None`).
    #[default]
    None,
    /// A trainable bias starting at 0.
    Zero,
    /// `N(0, 1) / sqrt(fan_in)`.
    Normal,
    /// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`.
    Uniform,
}

/// A layer's bias: named or explicit values (one per output neuron).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BiasInit {
    /// Named initialisation.
    Named(BiasKind),
    /// Explicit values.
    Explicit(Vec<f64>),
}

impl Default for BiasInit {
    fn default() -> Self {
        BiasInit::Named(BiasKind::None)
    }
}

/// How the hidden state starts each forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InitState {
    /// `v[0] = 0` every trial.
    #[default]
    Zero,
    /// `v[0]` = the last state of the previous forward pass (detached; same batch size).
    Keep,
    /// `v[0]` is a trainable vector `[N]`, shared by the batch.
    Learn,
}

/// A continuous-time RNN (nn4n `CTRNN`): names and defaults as nn4n.
///
/// Dynamics (`alpha = dt / tau`, `r = f(v)`):
/// `v[t+1] = (1 - alpha) v[t] + alpha (W_hid r[t] + b_hid + W_in u[t] + b_in)`,
/// `y[t] = W_out r[t+1] + b_out`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CtrnnConfig {
    /// `[input, hidden, output]` sizes.
    pub dims: [usize; 3],
    /// Firing-rate nonlinearity.
    pub activation: Activation,
    /// Biases of the input, hidden and output layers (one value broadcasts).
    pub biases: PerLayer<BiasInit>,
    /// Weight initialisation of the three layers (one value broadcasts).
    pub weights: PerLayer<WeightInit>,
    /// Time constant (same unit as `dt`).
    pub tau: f64,
    /// Integration step.
    pub dt: f64,
    /// Std of Gaussian noise added to `v` each step in training mode (carried to the next step).
    pub preact_noise: f64,
    /// Std of Gaussian noise added to `f(v)` each step in training mode (not added to `v`).
    pub postact_noise: f64,
    /// Initial hidden state.
    pub init_state: InitState,
    /// Sparsity masks (0 = no synapse) per layer.
    pub sparsity_masks: PerLayer<MaskValue>,
    /// E/I (Dale's law) masks per layer: per-presynaptic-neuron labels or a sign matrix.
    pub ei_masks: PerLayer<MaskValue>,
    /// Per-synapse learning-rate scales per layer.
    pub plasticity_masks: PerLayer<MaskValue>,
    /// Per-location growth probabilities per optimiser step.
    pub synapse_growth_masks: PerLayer<MaskValue>,
    /// Require Dale's law on every layer (then every layer needs an E/I mask).
    pub positivity_constraints: bool,
    /// Whether hidden neurons may connect to themselves (false adds a zero-diagonal mask).
    pub self_connections: bool,
    /// Generate sparsity (and E/I) masks with a structure generator instead of giving them.
    pub structure: Option<Structure>,
}

impl Default for CtrnnConfig {
    fn default() -> Self {
        Self {
            dims: [1, 100, 1],
            activation: Activation::Relu,
            biases: PerLayer::default(),
            weights: PerLayer::default(),
            tau: 100.0,
            dt: 10.0,
            preact_noise: 0.0,
            postact_noise: 0.0,
            init_state: InitState::Zero,
            sparsity_masks: PerLayer::default(),
            ei_masks: PerLayer::default(),
            plasticity_masks: PerLayer::default(),
            synapse_growth_masks: PerLayer::default(),
            positivity_constraints: false,
            self_connections: true,
            structure: None,
        }
    }
}

impl CtrnnConfig {
    /// `alpha = dt / tau`.
    pub fn alpha(&self) -> f64 {
        self.dt / self.tau
    }

    /// Weight shapes `[out, in]` of the input, hidden and output layers.
    pub fn weight_shapes(&self) -> [[usize; 2]; 3] {
        let [i, n, o] = self.dims;
        [[n, i], [n, n], [o, n]]
    }

    /// Parses a TOML document and validates it.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let cfg: Self = toml::from_str(text).map_err(|e| format!("CTRNN config: {e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks sizes, time constants, noise, per-layer lists and explicit shapes; the error names
    /// the setting, the layer and both shapes.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(k) = self.dims.iter().position(|&d| d == 0) {
            return Err(format!(
                "dims[{k}] ({}) must be > 0 (dims = [input, hidden, output])",
                LAYER_NAMES[k]
            ));
        }
        if !(self.tau.is_finite() && self.tau > 0.0) {
            return Err(format!("tau must be finite and > 0, got {}", self.tau));
        }
        if !(self.dt.is_finite() && self.dt > 0.0 && self.dt <= self.tau) {
            return Err(format!(
                "dt must be in (0, tau] so that alpha = dt / tau is in (0, 1]; got dt = {}, tau = {}",
                self.dt, self.tau
            ));
        }
        for (name, v) in [
            ("preact_noise", self.preact_noise),
            ("postact_noise", self.postact_noise),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be finite and >= 0, got {v}"));
            }
        }
        let shapes = self.weight_shapes();
        for (k, w) in self.weights.resolve("weights", 3)?.iter().enumerate() {
            if let WeightInit::Explicit(rows) = w {
                let got = [rows.len(), rows.first().map_or(0, Vec::len)];
                if got != shapes[k] || rows.iter().any(|r| r.len() != shapes[k][1]) {
                    return Err(format!(
                        "weights[{k}] ({} layer): explicit matrix has shape {got:?}, expected [out, in] = {:?}",
                        LAYER_NAMES[k], shapes[k]
                    ));
                }
                if rows.iter().flatten().any(|x| !x.is_finite()) {
                    return Err(format!(
                        "weights[{k}] ({} layer): explicit values must be finite",
                        LAYER_NAMES[k]
                    ));
                }
            }
        }
        for (k, b) in self.biases.resolve("biases", 3)?.iter().enumerate() {
            if let BiasInit::Explicit(v) = b {
                if v.len() != shapes[k][0] {
                    return Err(format!(
                        "biases[{k}] ({} layer): {} values given, the layer has {} neurons",
                        LAYER_NAMES[k],
                        v.len(),
                        shapes[k][0]
                    ));
                }
            }
        }
        let mut ei = self.ei_masks.resolve_masks("ei_masks", 3)?;
        if let Some(st) = &self.structure {
            let given = |m: &PerLayer<MaskValue>, name| -> Result<bool, String> {
                Ok(m.resolve_masks(name, 3)?.iter().any(|v| !v.is_none()))
            };
            if given(&self.sparsity_masks, "sparsity_masks")? || given(&self.ei_masks, "ei_masks")?
            {
                return Err(
                    "structure generates sparsity_masks and ei_masks; give either a structure or the masks, not both"
                        .into(),
                );
            }
            // Validate the generator's numbers (cheap: masks are only built, not used).
            let m = st
                .build(self.dims, 0)
                .map_err(|e| format!("structure: {e}"))?;
            if m.ei.is_some() {
                ei = vec![MaskValue::Fill(1.0); 3];
            }
        }
        if self.positivity_constraints {
            if let Some(k) = ei.iter().position(MaskValue::is_none) {
                return Err(format!(
                    "positivity_constraints = true needs an E/I mask for every layer, but ei_masks[{k}] ({} layer) is missing",
                    LAYER_NAMES[k]
                ));
            }
        }
        for (name, m) in [
            ("sparsity_masks", &self.sparsity_masks),
            ("plasticity_masks", &self.plasticity_masks),
            ("synapse_growth_masks", &self.synapse_growth_masks),
        ] {
            m.resolve_masks(name, 3)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_nn4n_and_toml_parses() {
        let d = CtrnnConfig::default();
        assert_eq!(d.dims, [1, 100, 1]);
        assert_eq!(d.alpha(), 0.1);
        let c = CtrnnConfig::from_toml(
            r#"
            dims = [2, 3, 1]
            activation = "retanh"
            weights = ["normal", "uniform", [[1.0, 0.0, -1.0]]]
            biases = "zero"
            ei_masks = [1.0, 1.0, -1.0]
            "#,
        )
        .unwrap();
        assert_eq!(c.activation, Activation::Retanh);
        assert_eq!(c.biases, PerLayer::All(BiasInit::Named(BiasKind::Zero)));
        let back = CtrnnConfig::from_toml(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn errors_name_the_problem() {
        let e = CtrnnConfig::from_toml(
            "dims = [2, 3, 1]\nweights = [\"normal\", \"uniform\", [[1.0, 0.0]]]",
        )
        .unwrap_err();
        assert!(
            e.contains("weights[2]") && e.contains("[1, 2]") && e.contains("[1, 3]"),
            "{e}"
        );
        let e = CtrnnConfig::from_toml("positivity_constraints = true").unwrap_err();
        assert!(e.contains("ei_masks[0]"), "{e}");
        let e = CtrnnConfig::from_toml("dt = 200").unwrap_err();
        assert!(e.contains("alpha"), "{e}");
        let e = CtrnnConfig::from_toml("dtt = 2").unwrap_err();
        assert!(e.contains("dtt"), "{e}");
    }
}
