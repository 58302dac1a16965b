//! Continuous-time rate RNN (nn4n `CTRNN`) on candle, with sparsity / Dale's-law / plasticity /
//! growth masks on all three weight matrices.
//!
//! Per step, with `alpha = dt / tau`, `r = f(v)` and inputs `u[t]`:
//! `v[t+1] = (1 - alpha) v[t] + alpha (W_hid r[t] + b_hid + W_in u[t] + b_in) + sigma_pre ε`,
//! `r[t+1] = f(v[t+1]) + sigma_post ξ`, `y[t] = W_out r[t+1] + b_out`,
//! where the noises `ε, ξ ~ N(0, 1)` exist only in training mode. Pre-activation noise lives in
//! `v` and is carried on; post-activation noise is added to the rate only (as nn4n, that noisy
//! rate is what the recurrence and the readout see, but it never enters `v`).
//! Weights are `[out, in]`: `W_in` `[N, N_in]`, `W_hid` `[N, N]`, `W_out` `[N_out, N]`; the
//! states returned are the rates `r` `[B, T, N]` — the shapes nn4n's `RNNLoss` uses.

mod config;
mod io;

pub use config::{
    Activation, BiasInit, BiasKind, CtrnnConfig, InitState, WeightInit, WeightKind, LAYER_NAMES,
};

use std::sync::Mutex;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, IndexOp, Tensor, Var};
use candle_nn::Optimizer;

use crate::structure::mask::{
    LayerMasks, MaskError, MaskSet, MaskValue, PerLayer, SeedRng, StepReport,
};

/// Errors of the CTRNN.
#[derive(Debug, thiserror::Error)]
pub enum CtrnnError {
    /// The configuration is invalid (message names the setting).
    #[error("invalid CTRNN config: {0}")]
    Config(String),
    /// The input tensor has the wrong shape.
    #[error("CTRNN input: {0}")]
    Input(String),
    /// A mask is invalid.
    #[error(transparent)]
    Mask(#[from] MaskError),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A saved model is inconsistent or unreadable.
    #[error("{path}: {msg}")]
    Load {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        msg: String,
    },
}

/// Result alias for the CTRNN.
pub type Result<T> = std::result::Result<T, CtrnnError>;

/// What a forward pass returns.
#[derive(Debug, Clone)]
pub struct CtrnnOutput {
    /// Readout `y` `[B, T, N_out]`.
    pub output: Tensor,
    /// Hidden rates `r = f(v)` (with post-activation noise in training) `[B, T, N]`.
    pub states: Tensor,
    /// Hidden state `v` after the last step `[B, N]`.
    pub last_state: Tensor,
}

/// Dale's law across layers: hidden neuron `j`'s outgoing edges are column `j` of `W_hid` and of
/// `W_out`, so where both E/I masks label it, the labels must agree.
fn check_dale(masks: &MaskSet) -> Result<()> {
    use crate::structure::mask::NeuronSign::{Excitatory, Inhibitory};
    let p = masks.params();
    let (hid, out) = (p[1].masks(), p[2].masks());
    if hid.ei().is_none() || out.ei().is_none() {
        return Ok(());
    }
    let (a, b) = (hid.neuron_signs(), out.neuron_signs());
    let labelled = |s| matches!(s, Excitatory | Inhibitory);
    match (0..a.len()).find(|&j| labelled(a[j]) && labelled(b[j]) && a[j] != b[j]) {
        None => Ok(()),
        Some(j) => Err(CtrnnError::Config(format!(
            "Dale's law: hidden neuron {j} is {:?} in ei_masks[1] (hidden) but {:?} in ei_masks[2] (output)",
            a[j], b[j]
        ))),
    }
}

/// The effective (masked) weights of a CTRNN, owned, in the autograd graph: what nn4n's
/// `RNNLoss` regularises.
#[derive(Debug, Clone)]
pub struct CtrnnWeights {
    /// `W_in` `[N, N_in]`.
    pub w_in: Tensor,
    /// `W_hid` `[N, N]`.
    pub w_hid: Tensor,
    /// `W_out` `[N_out, N]`.
    pub w_out: Tensor,
}

impl CtrnnWeights {
    /// Everything [`RNNLoss`](crate::loss::rnn::RNNLoss) reads: prediction `out.output`, `label`,
    /// hidden rates `out.states` `[B, T, N]` and the three weights.
    pub fn loss_inputs<'a>(
        &'a self,
        out: &'a CtrnnOutput,
        label: &'a Tensor,
    ) -> crate::loss::rnn::RnnLossInputs<'a> {
        crate::loss::rnn::RnnLossInputs {
            pred: Some(&out.output),
            label: Some(label),
            states: Some(&out.states),
            w_in: Some(&self.w_in),
            w_hid: Some(&self.w_hid),
            w_out: Some(&self.w_out),
        }
    }
}

/// A continuous-time RNN with masked, constrained weights (see the module docs).
#[derive(Debug)]
pub struct Ctrnn {
    cfg: CtrnnConfig,
    seed: u64,
    device: Device,
    /// `W_in`, `W_hid`, `W_out` are entries 0, 1, 2 (always registered, masks may be empty).
    masks: MaskSet,
    biases: [Option<Var>; 3],
    learned_state: Option<Var>,
    kept_state: Mutex<Option<Tensor>>,
    noise_rng: Mutex<SeedRng>,
    training: bool,
}

impl Ctrnn {
    /// Builds a CTRNN: validates the config, draws weights and biases from `seed` (own RNG, one
    /// stream per layer), applies masks (zeros, E/I signs, E/I balance). Starts in training mode.
    pub fn new(cfg: &CtrnnConfig, seed: u64, device: &Device) -> Result<Self> {
        cfg.validate().map_err(CtrnnError::Config)?;
        let shapes = cfg.weight_shapes();
        let weights = cfg
            .weights
            .resolve("weights", 3)
            .map_err(CtrnnError::Config)?;
        let biases = cfg
            .biases
            .resolve("biases", 3)
            .map_err(CtrnnError::Config)?;
        let resolve = |m: &PerLayer<MaskValue>, name: &str| {
            m.resolve_masks(name, 3).map_err(CtrnnError::Config)
        };
        let mut sparsity = resolve(&cfg.sparsity_masks, "sparsity_masks")?;
        let mut ei = resolve(&cfg.ei_masks, "ei_masks")?;
        if let Some(st) = &cfg.structure {
            let m = st
                .build(cfg.dims, seed)
                .map_err(|e| CtrnnError::Config(format!("structure: {e}")))?;
            if let PerLayer::Each(v) = m.sparsity_masks() {
                sparsity = v;
            }
            if let PerLayer::Each(v) = m.ei_masks() {
                ei = v;
            }
        }
        let plasticity = resolve(&cfg.plasticity_masks, "plasticity_masks")?;
        let growth = resolve(&cfg.synapse_growth_masks, "synapse_growth_masks")?;

        let mut masks = MaskSet::new(seed);
        let mut bias_vars: [Option<Var>; 3] = [None, None, None];
        for k in 0..3 {
            let [rows, cols] = shapes[k];
            let mut rng = SeedRng::derive(seed, 1 + k as u64);
            let bound = 1.0 / (cols as f64).sqrt();
            let w: Vec<f32> = match &weights[k] {
                WeightInit::Named(WeightKind::Uniform) => (0..rows * cols)
                    .map(|_| rng.uniform_range(-bound, bound) as f32)
                    .collect(),
                WeightInit::Named(WeightKind::Normal) => (0..rows * cols)
                    .map(|_| (rng.normal() * bound) as f32)
                    .collect(),
                WeightInit::Named(WeightKind::Zero) => vec![0.0; rows * cols],
                WeightInit::Explicit(m) => m.iter().flatten().map(|&x| x as f32).collect(),
            };
            let var = Var::from_tensor(&Tensor::from_vec(w, (rows, cols), device)?)?;
            let lm = LayerMasks::from_values(
                LAYER_NAMES[k],
                shapes[k],
                &sparsity[k],
                &ei[k],
                &plasticity[k],
                &growth[k],
                k != 1 || cfg.self_connections,
            )?;
            masks.push(var, lm)?;
            let b: Option<Vec<f32>> = match &biases[k] {
                BiasInit::Named(BiasKind::None) => None,
                BiasInit::Named(BiasKind::Zero) => Some(vec![0.0; rows]),
                BiasInit::Named(BiasKind::Uniform) => Some(
                    (0..rows)
                        .map(|_| rng.uniform_range(-bound, bound) as f32)
                        .collect(),
                ),
                BiasInit::Named(BiasKind::Normal) => {
                    Some((0..rows).map(|_| (rng.normal() * bound) as f32).collect())
                }
                BiasInit::Explicit(v) => Some(v.iter().map(|&x| x as f32).collect()),
            };
            bias_vars[k] = match b {
                Some(b) => Some(Var::from_tensor(&Tensor::from_vec(b, rows, device)?)?),
                None => None,
            };
        }
        masks.init_weights()?;
        check_dale(&masks)?;
        let learned_state = match cfg.init_state {
            InitState::Learn => Some(Var::zeros(cfg.dims[1], DType::F32, device)?),
            _ => None,
        };
        Ok(Self {
            cfg: cfg.clone(),
            seed,
            device: device.clone(),
            masks,
            biases: bias_vars,
            learned_state,
            kept_state: Mutex::new(None),
            noise_rng: Mutex::new(SeedRng::derive(seed, 0x6E6F_6973)),
            training: true,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CtrnnConfig {
        &self.cfg
    }

    /// The seed the network was built from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Training mode: noise on, constraints enforced before each forward pass (nn4n `train()`).
    pub fn train(&mut self) {
        self.training = true;
    }

    /// Evaluation mode: no noise, no constraint enforcement (nn4n `eval()`).
    pub fn eval(&mut self) {
        self.training = false;
    }

    /// True in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Every trainable variable: the three weights, the biases that exist, the learned state.
    pub fn vars(&self) -> Vec<Var> {
        let mut v: Vec<Var> = self
            .masks
            .params()
            .iter()
            .map(|p| p.var().clone())
            .collect();
        v.extend(self.biases.iter().flatten().cloned());
        v.extend(self.learned_state.iter().cloned());
        v
    }

    /// Effective (masked) input weight `W_in` `[N, N_in]`, in the autograd graph.
    pub fn w_in(&self) -> Result<Tensor> {
        self.weight(0)
    }

    /// Effective (masked) recurrent weight `W_hid` `[N, N]`, in the autograd graph.
    pub fn w_hid(&self) -> Result<Tensor> {
        self.weight(1)
    }

    /// Effective (masked) readout weight `W_out` `[N_out, N]`, in the autograd graph.
    pub fn w_out(&self) -> Result<Tensor> {
        self.weight(2)
    }

    /// All three effective weights (for [`RNNLoss`](crate::loss::rnn::RNNLoss)).
    pub fn weights(&self) -> Result<CtrnnWeights> {
        Ok(CtrnnWeights {
            w_in: self.w_in()?,
            w_hid: self.w_hid()?,
            w_out: self.w_out()?,
        })
    }

    /// Effective weight of layer `k` (0 input, 1 hidden, 2 output).
    pub fn weight(&self, k: usize) -> Result<Tensor> {
        Ok(self.masks.params()[k].effective()?)
    }

    /// The weight variable of layer `k` (raw, before masking).
    pub fn weight_var(&self, k: usize) -> &Var {
        self.masks.params()[k].var()
    }

    /// The bias variable of layer `k`, if it has one.
    pub fn bias_var(&self, k: usize) -> Option<&Var> {
        self.biases[k].as_ref()
    }

    /// The masks of the input, hidden and output weights (for export: zero pattern and signs).
    pub fn layer_masks(&self) -> [&LayerMasks; 3] {
        let p = self.masks.params();
        [p[0].masks(), p[1].masks(), p[2].masks()]
    }

    /// The mask set (weights and masks together).
    pub fn mask_set(&self) -> &MaskSet {
        &self.masks
    }

    /// Projects all weights onto their constraints now (zeros and E/I signs).
    pub fn enforce_constraints(&self) -> Result<()> {
        Ok(self.masks.enforce()?)
    }

    /// One optimiser step with the masks applied: plasticity-scaled update, sparsity and E/I
    /// projection, then synapse growth. Use this instead of `opt.step(grads)`.
    pub fn step<O: Optimizer>(&mut self, opt: &mut O, grads: &GradStore) -> Result<StepReport> {
        Ok(self.masks.step(opt, grads)?)
    }

    /// Before a step of an optimiser that is not a `candle_nn::Optimizer`: copy what plasticity
    /// needs. Then run the optimiser and call [`after_step`](Self::after_step).
    pub fn snapshot(&self) -> Result<crate::structure::mask::MaskSnapshot> {
        Ok(self.masks.snapshot()?)
    }

    /// After such an optimiser step: plasticity, sparsity and E/I projection, growth.
    pub fn after_step(
        &mut self,
        before: crate::structure::mask::MaskSnapshot,
    ) -> Result<StepReport> {
        Ok(self.masks.after_step(before)?)
    }

    /// Forgets the state kept by `init_state = "keep"`.
    pub fn reset_state(&self) {
        if let Ok(mut k) = self.kept_state.lock() {
            *k = None;
        }
    }

    /// Runs the network over `x` `[B, T, N_in]` (any float dtype; computed in f32).
    pub fn forward(&self, x: &Tensor) -> Result<CtrnnOutput> {
        self.forward_from(x, None)
    }

    /// Like [`forward`](Self::forward), starting from the given hidden state `v[0]` `[B, N]`
    /// instead of the one `init_state` chooses.
    pub fn forward_from(&self, x: &Tensor, init: Option<&Tensor>) -> Result<CtrnnOutput> {
        let [n_in, n, n_out] = self.cfg.dims;
        let (b, t, i) = x.dims3().map_err(|_| {
            CtrnnError::Input(format!(
                "expected [batch, time, {n_in}], got shape {:?}",
                x.dims()
            ))
        })?;
        if i != n_in || t == 0 {
            return Err(CtrnnError::Input(format!(
                "expected [batch, time >= 1, {n_in}], got [{b}, {t}, {i}]"
            )));
        }
        if self.training {
            self.masks.enforce()?;
        }
        let x = x.to_dtype(DType::F32)?;
        let alpha = self.cfg.alpha();
        let w_in = self.w_in()?;
        let w_hid_t = self.w_hid()?.t()?;
        let w_out = self.w_out()?;

        // Input drive for all steps in one matmul: W_in u[t] + b_in + b_hid, [B, T, N].
        let mut drive = x.reshape((b * t, n_in))?.matmul(&w_in.t()?)?;
        for k in [0, 1] {
            if let Some(bias) = &self.biases[k] {
                drive = drive.broadcast_add(bias.as_tensor())?;
            }
        }
        let drive = drive.reshape((b, t, n))?;

        let mut v = match (init, self.cfg.init_state) {
            (Some(v0), _) => {
                if v0.dims() != [b, n] {
                    return Err(CtrnnError::Input(format!(
                        "initial state must be [{b}, {n}], got {:?}",
                        v0.dims()
                    )));
                }
                v0.to_dtype(DType::F32)?
            }
            (None, InitState::Zero) => Tensor::zeros((b, n), DType::F32, &self.device)?,
            (None, InitState::Learn) => match &self.learned_state {
                Some(h) => h.as_tensor().unsqueeze(0)?.broadcast_as((b, n))?,
                None => Tensor::zeros((b, n), DType::F32, &self.device)?,
            },
            (None, InitState::Keep) => {
                let kept = self.kept_state.lock().ok().and_then(|k| k.clone());
                match kept {
                    Some(k) if k.dims() == [b, n] => k,
                    Some(k) => {
                        return Err(CtrnnError::Input(format!(
                            "init_state = \"keep\" continues the last batch of shape {:?}, got batch {b}; call reset_state() first",
                            k.dims()
                        )))
                    }
                    None => Tensor::zeros((b, n), DType::F32, &self.device)?,
                }
            }
        };
        let (pre, post) = if self.training {
            (self.cfg.preact_noise, self.cfg.postact_noise)
        } else {
            (0.0, 0.0)
        };
        let pre_noise = self.noise(pre, (t, b, n))?;
        let post_noise = self.noise(post, (t, b, n))?;

        let mut r = self.activate(&v)?;
        let mut states = Vec::with_capacity(t);
        for step in 0..t {
            let rec = r.matmul(&w_hid_t)?;
            let input = (rec + drive.i((.., step, ..))?)?;
            v = (v.affine(1.0 - alpha, 0.0)? + input.affine(alpha, 0.0)?)?;
            if let Some(eps) = &pre_noise {
                v = (v + eps.i(step)?)?;
            }
            r = self.activate(&v)?;
            if let Some(xi) = &post_noise {
                r = (r + xi.i(step)?)?;
            }
            states.push(r.clone());
        }
        let states = Tensor::stack(&states, 1)?;
        let mut output = states.reshape((b * t, n))?.matmul(&w_out.t()?)?;
        if let Some(bias) = &self.biases[2] {
            output = output.broadcast_add(bias.as_tensor())?;
        }
        let output = output.reshape((b, t, n_out))?;
        if self.cfg.init_state == InitState::Keep {
            if let Ok(mut k) = self.kept_state.lock() {
                *k = Some(v.detach());
            }
        }
        Ok(CtrnnOutput {
            output,
            states,
            last_state: v,
        })
    }

    /// `f(v)` for the configured activation.
    fn activate(&self, v: &Tensor) -> Result<Tensor> {
        Ok(match self.cfg.activation {
            Activation::Relu => v.relu()?,
            Activation::Tanh => v.tanh()?,
            Activation::Sigmoid => candle_nn::ops::sigmoid(v)?,
            Activation::Retanh => v.tanh()?.relu()?,
        })
    }

    /// `sigma * N(0, 1)` noise of the given shape from the network's seeded noise stream, or
    /// `None` when `sigma = 0`.
    fn noise(&self, sigma: f64, shape: (usize, usize, usize)) -> Result<Option<Tensor>> {
        if sigma == 0.0 {
            return Ok(None);
        }
        let count = shape.0 * shape.1 * shape.2;
        let mut rng = self
            .noise_rng
            .lock()
            .map_err(|_| CtrnnError::Input("noise generator poisoned".into()))?;
        let z: Vec<f32> = (0..count).map(|_| (rng.normal() * sigma) as f32).collect();
        Ok(Some(Tensor::from_vec(z, shape, &self.device)?))
    }
}
