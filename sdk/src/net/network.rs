//! A feed-forward stack of spiking layers (`leaky`, `recurrent`, `synaptic`) with its trainable
//! parameters in a candle [`VarMap`].
//!
//! ```no_run
//! use candle_core::{Device, Tensor};
//! use snn_sdk::net::network::{Network, NetworkConfig};
//! let cfg: NetworkConfig = toml::from_str(r#"
//!     input_size = 64
//!     [[layers]]
//!     size = 128
//!     [[layers]]
//!     size = 10
//!     reset = "none"
//! "#).unwrap();
//! let net = Network::new(&cfg, 42, &Device::Cpu).unwrap();
//! let x = Tensor::zeros((8, 25, 64), candle_core::DType::F32, &Device::Cpu).unwrap(); // [B, T, in]
//! let out = net.forward(&x).unwrap();            // one LayerOutput per layer
//! let counts = out[1].spikes.sum(1).unwrap();    // [B, 10] output spike counts
//! ```
//!
//! Every layer computes `I = W x + b` for all steps with one matmul and then runs the LIF
//! recurrence of [`crate::net::lif`] (`u[t] = beta*v[t-1] + I[t] + R s[t-1]`, spike when
//! `u >= threshold`, reset detached). Variables in the [`VarMap`] are named
//! `layers.{i}.{w_ff, bias, w_rec, beta_logit, alpha_logit, threshold}`; `w_ff` is `[out, in]`
//! and `w_rec` `[out, out]` (row = postsynaptic neuron, like `nn.Linear`).

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::net::fused::lif_layer_lengths;
use crate::net::init::linear_uniform;
use crate::net::layer::{LayerConfig, LayerKind, Reset};
use crate::net::lif::{lif_slow, LifOutput, LifParams};
use crate::net::surrogate::Surrogate;
use crate::net::{NetworkError, Result};
use crate::rng::SplitMix64;
use crate::structure::mask::{LayerMasks, MaskSet, MaskSnapshot, NeuronSign, StepReport};

/// The network architecture (`[network]` in a training config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Number of input channels (features).
    pub input_size: usize,
    /// The layers, input side first; the last one is the output layer.
    pub layers: Vec<LayerConfig>,
}

impl NetworkConfig {
    /// Checks sizes and every layer (errors name the field, e.g. `layers[1].threshold`).
    pub fn validate(&self) -> Result<()> {
        if self.input_size == 0 {
            return Err(NetworkError::invalid("input_size", "must be at least 1"));
        }
        if self.layers.is_empty() {
            return Err(NetworkError::invalid(
                "layers",
                "the network needs at least one layer",
            ));
        }
        if self.layers.len() > 8 {
            return Err(NetworkError::invalid(
                "layers",
                format!(
                    "{} layers given; the model format holds at most 8",
                    self.layers.len()
                ),
            ));
        }
        for (i, l) in self.layers.iter().enumerate() {
            l.validate(&format!("layers[{i}]"))?;
            if l.kind.is_readout() && i + 1 != self.layers.len() {
                return Err(NetworkError::invalid(
                    format!("layers[{i}].kind"),
                    "a `readout` layer never spikes, so it can only be the last layer",
                ));
            }
        }
        Ok(())
    }

    /// Whether the last layer is a non-spiking readout (`kind = "readout"`).
    pub fn has_readout(&self) -> bool {
        self.layers.last().is_some_and(|l| l.kind.is_readout())
    }
}

/// Spikes and membranes of one layer for a whole batch and all steps.
#[derive(Debug, Clone)]
pub struct LayerOutput {
    /// Spikes in {0, 1}, `[B, T, N]`.
    pub spikes: Tensor,
    /// Membrane potential before reset (`u[t]`, compared with the threshold), `[B, T, N]`.
    pub mem: Tensor,
}

impl From<LifOutput> for LayerOutput {
    fn from(o: LifOutput) -> Self {
        Self {
            spikes: o.spikes,
            mem: o.mem,
        }
    }
}

/// Float parameters of one layer, for quantisation and export (row-major plain vectors).
#[derive(Debug, Clone, PartialEq)]
pub struct FloatLayer {
    /// Neuron model.
    pub kind: LayerKind,
    /// Number of inputs (presynaptic neurons).
    pub inputs: usize,
    /// Number of neurons.
    pub neurons: usize,
    /// Feed-forward weights `[neurons, inputs]`, row-major (`w_ff[post*inputs + pre]`).
    pub w_ff: Vec<f32>,
    /// Recurrent weights `[neurons, neurons]` (`w_rec[post*neurons + pre]`), recurrent only.
    pub w_rec: Option<Vec<f32>>,
    /// Bias per neuron, if the layer has one.
    pub bias: Option<Vec<f32>>,
    /// Membrane decay per neuron, in (0, 1).
    pub beta: Vec<f32>,
    /// Synaptic decay per neuron (`synaptic` layers only; the integer engine's current-based synapse).
    pub alpha: Option<Vec<f32>>,
    /// Firing threshold (one per layer).
    pub threshold: f32,
    /// Reset mechanism.
    pub reset: Reset,
    /// Connectivity of `w_ff` (`false` = no synapse, exactly zero), same layout as `w_ff`.
    pub ff_mask: Option<Vec<bool>>,
    /// Connectivity of `w_rec`, same layout as `w_rec`.
    pub rec_mask: Option<Vec<bool>>,
    /// Dale's-law sign of each presynaptic input of `w_ff` (+1 E, -1 I, 0 free or mixed).
    pub ff_sign: Option<Vec<i8>>,
    /// Dale's-law sign of each neuron's outgoing recurrent edges (+1, -1, 0 free or mixed).
    pub rec_sign: Option<Vec<i8>>,
}

/// The masks of one layer's weights (see [`Network::layer_masks`]).
#[derive(Debug, Clone, Copy)]
pub struct LayerMaskRefs<'a> {
    /// Masks of `w_ff`, if configured.
    pub ff: Option<&'a LayerMasks>,
    /// Masks of `w_rec`, if configured.
    pub rec: Option<&'a LayerMasks>,
}

/// Connectivity as booleans and per-presynaptic-neuron signs, as export wants them.
fn mask_export(m: Option<&LayerMasks>) -> (Option<Vec<bool>>, Option<Vec<i8>>) {
    let Some(m) = m else { return (None, None) };
    let conn = m.sparsity().map(|s| s.iter().map(|&x| x != 0.0).collect());
    let sign = m.ei().map(|_| {
        m.neuron_signs()
            .iter()
            .map(|s| match s {
                NeuronSign::Excitatory => 1,
                NeuronSign::Inhibitory => -1,
                _ => 0,
            })
            .collect()
    });
    (conn, sign)
}

/// A decay in (0, 1): fixed, or learnt through a logit (`beta = sigmoid(p)`).
#[derive(Debug, Clone)]
enum Decay {
    Fixed(Tensor),
    Logit(Var),
}

impl Decay {
    fn new(
        value: f64,
        learn: bool,
        per_neuron: bool,
        n: usize,
        name: String,
        vars: &mut HashMap<String, Var>,
        dev: &Device,
    ) -> Result<Self> {
        let len = if per_neuron { n } else { 1 };
        if learn {
            let logit = (value / (1.0 - value)).ln() as f32;
            let var = Var::from_tensor(&Tensor::full(logit, len, dev)?)?;
            vars.insert(name, var.clone());
            Ok(Decay::Logit(var))
        } else {
            Ok(Decay::Fixed(Tensor::full(value as f32, len, dev)?))
        }
    }

    /// The decay as a `[n]` tensor (differentiable w.r.t. the logit when learnt).
    fn tensor(&self, n: usize) -> candle_core::Result<Tensor> {
        let t = match self {
            Decay::Fixed(t) => t.clone(),
            Decay::Logit(v) => candle_nn::ops::sigmoid(v.as_tensor())?,
        };
        t.broadcast_as(n)?.contiguous()
    }
}

#[derive(Debug, Clone)]
struct Layer {
    cfg: LayerConfig,
    inputs: usize,
    w_ff: Var,
    bias: Option<Var>,
    w_rec: Option<Var>,
    beta: Decay,
    alpha: Option<Decay>,
    threshold: Var,
    surrogate: Surrogate,
}

impl Layer {
    fn threshold(&self, n: usize) -> candle_core::Result<Tensor> {
        let t = if self.cfg.learn_threshold {
            self.threshold.as_tensor().clone()
        } else {
            self.threshold.as_tensor().detach()
        };
        t.broadcast_as(n)?.contiguous()
    }

    /// `I = x W^T + b` for all steps at once with a dense matmul and the effective (masked)
    /// weights: `[B, T, in] -> [B, T, N]` (the reference path; the fused op does its own
    /// event-driven projection).
    fn currents(&self, x: &Tensor, w_ff: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t, i) = x.dims3()?;
        let n = self.cfg.size;
        let y = x.reshape((b * t, i))?.matmul(&w_ff.t()?)?;
        let y = match &self.bias {
            Some(bias) => y.broadcast_add(bias.as_tensor())?,
            None => y,
        };
        y.reshape((b, t, n))
    }

    /// Runs the layer with the given effective (masked) weights.
    fn run(
        &self,
        x: &Tensor,
        fused: bool,
        w_ff: &Tensor,
        w_rec: Option<&Tensor>,
        lengths: Option<&[usize]>,
    ) -> candle_core::Result<LifOutput> {
        let n = self.cfg.size;
        let beta = self.beta.tensor(n)?;
        // A readout never fires: its threshold is the largest float, so `u >= thr` never holds,
        // the reset term is `0 * thr = 0` and every surrogate's derivative there is 0.
        let thr = if self.cfg.kind.is_readout() {
            Tensor::full(f32::MAX, n, x.device())?
        } else {
            self.threshold(n)?
        };
        let alpha = self.alpha.as_ref().map(|a| a.tensor(n)).transpose()?;
        let p = LifParams {
            beta: &beta,
            threshold: &thr,
            alpha: alpha.as_ref(),
            w_rec,
            reset: self.cfg.reset,
            surrogate: &self.surrogate,
        };
        if fused {
            let bias = self.bias.as_ref().map(|b| b.as_tensor());
            lif_layer_lengths(x, Some(w_ff), bias, &p, lengths)
        } else {
            let o = lif_slow(&self.currents(x, w_ff)?, &p)?;
            match lengths {
                None => Ok(o),
                Some(l) => {
                    // the reference computes the padding too and zeroes it afterwards
                    let (b, t, _) = x.dims3()?;
                    let m: Vec<f32> = l
                        .iter()
                        .flat_map(|&li| (0..t).map(move |k| f32::from(u8::from(k < li))))
                        .collect();
                    let m = Tensor::from_vec(m, (b, t, 1), x.device())?;
                    Ok(LifOutput {
                        spikes: o.spikes.broadcast_mul(&m)?,
                        mem: o.mem.broadcast_mul(&m)?,
                    })
                }
            }
        }
    }
}

/// A stack of spiking layers with trainable parameters (see the module docs).
///
/// Cloning shares the variables (the [`VarMap`] is reference-counted).
#[derive(Clone)]
pub struct Network {
    config: NetworkConfig,
    varmap: VarMap,
    layers: Vec<Layer>,
    device: Device,
    /// Masked weights; `mask_index[layer] = [ff, rec]` indexes into it.
    masks: MaskSet,
    mask_index: Vec<[Option<usize>; 2]>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("config", &self.config)
            .field("layers", &self.layers)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl Network {
    /// Builds a network from `cfg` (validated first) with parameters drawn deterministically from
    /// `seed`: weights and biases `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` (PyTorch `nn.Linear`),
    /// decays and thresholds from the config.
    pub fn new(cfg: &NetworkConfig, seed: u64, device: &Device) -> Result<Self> {
        cfg.validate()?;
        let varmap = VarMap::new();
        let mut layers = Vec::with_capacity(cfg.layers.len());
        let mut masks = MaskSet::new(seed);
        let mut mask_index = Vec::with_capacity(cfg.layers.len());
        {
            let mut vars = varmap.data().lock().expect("fresh VarMap lock");
            let mut inputs = cfg.input_size;
            for (li, lc) in cfg.layers.iter().enumerate() {
                let n = lc.size;
                let name = |p: &str| format!("layers.{li}.{p}");
                let stream = |k: u64| SplitMix64::stream(seed, (li as u64) * 16 + k);
                let w_ff = Var::from_vec(
                    linear_uniform(&mut stream(0), n * inputs, inputs),
                    (n, inputs),
                    device,
                )?;
                vars.insert(name("w_ff"), w_ff.clone());
                let bias = if lc.bias {
                    let b = Var::from_vec(linear_uniform(&mut stream(1), n, inputs), n, device)?;
                    vars.insert(name("bias"), b.clone());
                    Some(b)
                } else {
                    None
                };
                let w_rec = if lc.kind.is_recurrent() {
                    let w =
                        Var::from_vec(linear_uniform(&mut stream(2), n * n, n), (n, n), device)?;
                    vars.insert(name("w_rec"), w.clone());
                    Some(w)
                } else {
                    None
                };
                let beta = Decay::new(
                    lc.initial_beta(),
                    lc.learn_beta,
                    lc.beta_per_neuron,
                    n,
                    name("beta_logit"),
                    &mut vars,
                    device,
                )?;
                let alpha = if lc.kind.is_synaptic() {
                    Some(Decay::new(
                        lc.initial_alpha(),
                        lc.learn_alpha,
                        lc.beta_per_neuron,
                        n,
                        name("alpha_logit"),
                        &mut vars,
                        device,
                    )?)
                } else {
                    None
                };
                let mut idx = [None, None];
                for (slot, mc, var, shape) in [
                    (0, &lc.masks, Some(&w_ff), [n, inputs]),
                    (1, &lc.rec_masks, w_rec.as_ref(), [n, n]),
                ] {
                    let (Some(var), false) = (var, mc.is_empty()) else {
                        continue;
                    };
                    let field = format!("layers[{li}].{}", ["masks", "rec_masks"][slot]);
                    let bad = |e: crate::structure::mask::MaskError| {
                        NetworkError::invalid(&field, e.to_string())
                    };
                    let wname = name(["w_ff", "w_rec"][slot]);
                    let lm = mc
                        .build(&wname, shape, seed, (li as u64) * 16 + 8 + slot as u64)
                        .map_err(bad)?;
                    idx[slot] = Some(masks.push(var.clone(), lm).map_err(bad)?);
                }
                mask_index.push(idx);
                let threshold = Var::from_tensor(&Tensor::full(lc.threshold as f32, 1, device)?)?;
                if lc.learn_threshold {
                    vars.insert(name("threshold"), threshold.clone());
                }
                layers.push(Layer {
                    cfg: lc.clone(),
                    inputs,
                    w_ff,
                    bias,
                    w_rec,
                    beta,
                    alpha,
                    threshold,
                    surrogate: lc.surrogate.build(),
                });
                inputs = n;
            }
        }
        masks
            .init_weights()
            .map_err(|e| NetworkError::invalid("layers", e.to_string()))?;
        let net = Self {
            config: cfg.clone(),
            varmap,
            layers,
            device: device.clone(),
            masks,
            mask_index,
        };
        net.check_dale()?;
        Ok(net)
    }

    /// Dale's law across layers: a neuron labelled E (or I) by its layer's `rec_masks` must have
    /// the same label in the next layer's `masks` (all its outgoing edges share one sign).
    fn check_dale(&self) -> Result<()> {
        for li in 0..self.layers.len().saturating_sub(1) {
            let (Some(rec), Some(next)) = (self.layer_masks(li).rec, self.layer_masks(li + 1).ff)
            else {
                continue;
            };
            if rec.ei().is_none() || next.ei().is_none() {
                continue;
            }
            let (a, b) = (rec.neuron_signs(), next.neuron_signs());
            let labelled =
                |s: &NeuronSign| matches!(s, NeuronSign::Excitatory | NeuronSign::Inhibitory);
            if let Some(j) =
                (0..a.len()).find(|&j| labelled(&a[j]) && labelled(&b[j]) && a[j] != b[j])
            {
                return Err(NetworkError::invalid(
                    format!("layers[{}].masks", li + 1),
                    format!(
                        "Dale's law: neuron {j} of layer {li} is {:?} in layers[{li}].rec_masks but {:?} here",
                        a[j], b[j]
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The masks of layer `layer`'s weights (none configured: both `None`).
    pub fn layer_masks(&self, layer: usize) -> LayerMaskRefs<'_> {
        let idx = self.mask_index.get(layer).copied().unwrap_or([None, None]);
        let get = |i: Option<usize>| i.and_then(|i| self.masks.get(i)).map(|p| p.masks());
        LayerMaskRefs {
            ff: get(idx[0]),
            rec: get(idx[1]),
        }
    }

    /// All masked weights with their masks (for checkpoints: `to_tensors` / `load_tensors`).
    /// A cloned `Network` shares the weight variables but has its own copy of the masks.
    pub fn masks(&self) -> &MaskSet {
        &self.masks
    }

    /// Mutable access to the masks (e.g. to restore grown masks from a checkpoint).
    pub fn masks_mut(&mut self) -> &mut MaskSet {
        &mut self.masks
    }

    /// Projects every masked weight onto its constraints now (zeros, E/I signs).
    pub fn enforce_constraints(&self) -> Result<()> {
        self.masks
            .enforce()
            .map_err(|e| NetworkError::invalid("masks", e.to_string()))
    }

    /// One optimiser step with the masks applied (plasticity, sparsity, Dale's law, growth); use
    /// instead of `opt.step(grads)` when layers have masks.
    pub fn step<O: candle_nn::Optimizer>(
        &mut self,
        opt: &mut O,
        grads: &candle_core::backprop::GradStore,
    ) -> Result<StepReport> {
        self.masks
            .step(opt, grads)
            .map_err(|e| NetworkError::invalid("masks", e.to_string()))
    }

    /// For an optimiser that is not a `candle_nn::Optimizer`: call before its step, then
    /// [`after_step`](Self::after_step) after it.
    pub fn snapshot(&self) -> Result<MaskSnapshot> {
        self.masks
            .snapshot()
            .map_err(|e| NetworkError::invalid("masks", e.to_string()))
    }

    /// Applies plasticity, sparsity, Dale's law and growth after an optimiser step.
    pub fn after_step(&mut self, before: MaskSnapshot) -> Result<StepReport> {
        self.masks
            .after_step(before)
            .map_err(|e| NetworkError::invalid("masks", e.to_string()))
    }

    /// The weight layer `layer` uses in the forward pass: `W ⊙ M` when masked, else `W`.
    fn effective(&self, layer: usize, slot: usize, var: &Var) -> Result<Tensor> {
        match self.mask_index[layer][slot].and_then(|i| self.masks.get(i)) {
            Some(p) => p
                .effective()
                .map_err(|e| NetworkError::invalid("masks", e.to_string())),
            None => Ok(var.as_tensor().clone()),
        }
    }

    /// The configuration the network was built from.
    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// All trainable variables (for an optimiser such as `candle_nn::AdamW`).
    pub fn vars(&self) -> Vec<Var> {
        self.varmap.all_vars()
    }

    /// The variables by name (for safetensors save/load: `varmap().save(path)` / `load`).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Mutable access to the variables (e.g. `VarMap::load` of a checkpoint).
    pub fn varmap_mut(&mut self) -> &mut VarMap {
        &mut self.varmap
    }

    /// Number of layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Replaces the surrogate gradient of layer `layer` (e.g. with a user-defined
    /// [`crate::net::surrogate::SurrogateGradient`] wrapped in [`Surrogate::Custom`]).
    pub fn set_surrogate(&mut self, layer: usize, surrogate: Surrogate) -> Result<()> {
        let n = self.layers.len();
        let l = self.layers.get_mut(layer).ok_or_else(|| {
            NetworkError::invalid("layer", format!("index {layer} out of range (0..{n})"))
        })?;
        l.surrogate = surrogate;
        Ok(())
    }

    fn check_input(&self, x: &Tensor) -> Result<()> {
        let dims = x.dims();
        if dims.len() != 3 || dims[2] != self.config.input_size {
            return Err(NetworkError::Input(format!(
                "expected [batch, time, {}] but got {:?}",
                self.config.input_size, dims
            )));
        }
        if dims[0] == 0 || dims[1] == 0 {
            return Err(NetworkError::Input(format!(
                "batch and time must both be at least 1, got {dims:?}"
            )));
        }
        if x.dtype() != DType::F32 {
            return Err(NetworkError::Input(format!(
                "expected f32 input, got {:?}",
                x.dtype()
            )));
        }
        Ok(())
    }

    fn run(&self, x: &Tensor, fused: bool, lengths: Option<&[usize]>) -> Result<Vec<LayerOutput>> {
        self.check_input(x)?;
        if let Some(l) = lengths {
            let (b, t, _) = x.dims3()?;
            if l.len() != b || l.iter().any(|&li| li > t) {
                return Err(NetworkError::Input(format!(
                    "lengths must be {b} values of at most {t} steps, got {l:?}"
                )));
            }
        }
        let mut outs: Vec<LayerOutput> = Vec::with_capacity(self.layers.len());
        for (li, layer) in self.layers.iter().enumerate() {
            let input = match outs.last() {
                Some(o) => &o.spikes,
                None => x,
            };
            let w_ff = self.effective(li, 0, &layer.w_ff)?;
            let w_rec = match &layer.w_rec {
                Some(w) => Some(self.effective(li, 1, w)?),
                None => None,
            };
            let o = layer.run(input, fused, &w_ff, w_rec.as_ref(), lengths)?;
            outs.push(o.into());
        }
        Ok(outs)
    }

    /// Runs the network on `x` (`[B, T, input_size]`, f32) with the fused multi-step op;
    /// returns the spikes and membranes of every layer.
    pub fn forward(&self, x: &Tensor) -> Result<Vec<LayerOutput>> {
        self.run(x, true, None)
    }

    /// [`Self::forward`] on a padded batch: sample `b` runs its first `lengths[b]` steps; every
    /// layer's spikes and membranes after them are 0, padded inputs are never read, and padding
    /// costs no work (`crate::net::fused`). Valid steps equal those of `forward`.
    pub fn forward_lengths(&self, x: &Tensor, lengths: &[usize]) -> Result<Vec<LayerOutput>> {
        self.run(x, true, Some(lengths))
    }

    /// Same as [`Self::forward`] but built from per-step candle ops (the autograd reference).
    pub fn forward_reference(&self, x: &Tensor) -> Result<Vec<LayerOutput>> {
        self.run(x, false, None)
    }

    /// Same as [`Self::forward_lengths`] but built from per-step candle ops: the whole padded
    /// batch is computed, then every output after a sample's length is set to 0.
    pub fn forward_reference_lengths(
        &self,
        x: &Tensor,
        lengths: &[usize],
    ) -> Result<Vec<LayerOutput>> {
        self.run(x, false, Some(lengths))
    }

    /// The current float parameters of every layer (for quantisation and export).
    pub fn layer_params(&self) -> Result<Vec<FloatLayer>> {
        self.layers
            .iter()
            .enumerate()
            .map(|(li, l)| {
                let n = l.cfg.size;
                let flat = |v: &Var| v.as_tensor().flatten_all()?.to_vec1::<f32>();
                let m = self.layer_masks(li);
                let (ff_mask, ff_sign) = mask_export(m.ff);
                let (rec_mask, rec_sign) = mask_export(m.rec);
                Ok(FloatLayer {
                    kind: l.cfg.kind,
                    inputs: l.inputs,
                    neurons: n,
                    w_ff: flat(&l.w_ff)?,
                    w_rec: l.w_rec.as_ref().map(flat).transpose()?,
                    bias: l.bias.as_ref().map(flat).transpose()?,
                    beta: l.beta.tensor(n)?.to_vec1::<f32>()?,
                    alpha: l
                        .alpha
                        .as_ref()
                        .map(|a| a.tensor(n)?.to_vec1::<f32>())
                        .transpose()?,
                    threshold: l.threshold.as_tensor().to_vec1::<f32>()?[0],
                    reset: l.cfg.reset,
                    ff_mask,
                    rec_mask,
                    ff_sign,
                    rec_sign,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(src: &str) -> NetworkConfig {
        toml::from_str(src).unwrap()
    }

    #[test]
    fn builds_deterministically_and_runs() -> Result<()> {
        let c =
            cfg("input_size = 6\n[[layers]]\nsize = 5\n[[layers]]\nsize = 3\nkind = \"recurrent\"");
        let dev = Device::Cpu;
        let a = Network::new(&c, 3, &dev)?;
        let b = Network::new(&c, 3, &dev)?;
        let d = Network::new(&c, 4, &dev)?;
        assert_eq!(a.layer_params()?, b.layer_params()?);
        assert_ne!(a.layer_params()?, d.layer_params()?);
        let p = a.layer_params()?;
        assert_eq!(p[0].w_ff.len(), 30);
        assert_eq!(p[1].w_rec.as_ref().unwrap().len(), 9);
        assert!((p[0].beta[0] - 0.9).abs() < 1e-7);
        let x = Tensor::ones((2, 4, 6), DType::F32, &dev)?;
        let out = a.forward(&x)?;
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].spikes.dims(), &[2, 4, 3]);
        assert_eq!(out[0].mem.dims(), &[2, 4, 5]);
        let names: Vec<String> = a.varmap().data().lock().unwrap().keys().cloned().collect();
        assert!(names.contains(&"layers.1.w_rec".to_string()), "{names:?}");
        Ok(())
    }

    #[test]
    fn config_errors_name_the_field() {
        let e = Network::new(
            &cfg("input_size = 6\n[[layers]]\nsize = 5\nbeta = 1.2"),
            0,
            &Device::Cpu,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("layers[0].beta"), "{e}");
        let e = Network::new(&cfg("input_size = 6\nlayers = []"), 0, &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("layers:"), "{e}");
        assert!(toml::from_str::<NetworkConfig>("input_size = 6\nlayer = []").is_err());
    }

    #[test]
    fn wrong_input_shape_is_reported() -> Result<()> {
        let net = Network::new(
            &cfg("input_size = 6\n[[layers]]\nsize = 5"),
            0,
            &Device::Cpu,
        )?;
        let x = Tensor::ones((2, 4, 7), DType::F32, &Device::Cpu)?;
        let e = net.forward(&x).unwrap_err().to_string();
        assert!(
            e.contains("[batch, time, 6]") && e.contains("[2, 4, 7]"),
            "{e}"
        );
        Ok(())
    }
}
