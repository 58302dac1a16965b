//! Leaky integrate-and-fire dynamics over all time steps of a layer.
//!
//! Given the feed-forward input currents `I[b,t,n]` (`W x[t] + b`, computed for all steps with
//! one matmul), every variant below computes, with membranes and currents starting at 0:
//!
//! ```text
//! i[t] = alpha*i[t-1] + I[t] + R s[t-1]      (alpha = 0 for leaky/recurrent: i[t] = I[t] + R s[t-1])
//! u[t] = beta*v[t-1] + i[t]
//! s[t] = H(u[t] - thr)                       (backward: surrogate'(u[t] - thr))
//! v[t] = u[t] - sg(s[t])*thr   (subtract)  |  u[t]*(1 - sg(s[t]))  (zero)  |  u[t]  (none)
//! ```
//!
//! `sg` is stop-gradient: the reset is detached in backward, as snnTorch does by default (the
//! threshold in the subtract reset still receives its gradient). The reported membrane is
//! `u[t]`, the potential compared with the threshold (what snnTorch records as `mem`).
//!
//! [`lif_slow`] builds this from per-step candle ops (autograd does the backward pass);
//! [`crate::net::fused::lif_fused`] runs the whole recurrence as one custom op with a
//! hand-written backward through time. Tests check that both give the same values and gradients.

use candle_core::{Result, Tensor};

use crate::net::layer::Reset;
use crate::net::spike::heaviside;
use crate::net::surrogate::Surrogate;

/// The dynamics parameters of one layer, as tensors (so learnable ones get gradients).
#[derive(Debug, Clone, Copy)]
pub struct LifParams<'a> {
    /// Membrane decay per neuron, `[N]`, in (0, 1).
    pub beta: &'a Tensor,
    /// Threshold per neuron, `[N]` (a per-layer threshold is broadcast by the caller).
    pub threshold: &'a Tensor,
    /// Synaptic decay per neuron, `[N]` (`synaptic` layers), `None` for a plain LIF.
    pub alpha: Option<&'a Tensor>,
    /// Recurrent weights `[N_post, N_pre]` fed by the previous step's spikes, if any.
    pub w_rec: Option<&'a Tensor>,
    /// Reset mechanism.
    pub reset: Reset,
    /// Surrogate gradient of the spike.
    pub surrogate: &'a Surrogate,
}

/// Spikes and membranes of one layer over time.
#[derive(Debug, Clone)]
pub struct LifOutput {
    /// Spikes `s[b,t,n]` in {0, 1}, `[B, T, N]`.
    pub spikes: Tensor,
    /// Membrane `u[b,t,n]` before reset, `[B, T, N]`.
    pub mem: Tensor,
}

/// Per-step autograd reference of the LIF recurrence (see the module docs). Slow but obviously
/// right: every step is a handful of candle ops and candle's autograd differentiates them.
pub fn lif_slow(currents: &Tensor, p: &LifParams) -> Result<LifOutput> {
    let (b, t_steps, n) = currents.dims3()?;
    let dev = currents.device();
    let dtype = currents.dtype();
    let mut v = Tensor::zeros((b, n), dtype, dev)?;
    let mut i_syn = Tensor::zeros((b, n), dtype, dev)?;
    let mut s_prev = Tensor::zeros((b, n), dtype, dev)?;
    let w_rec_t = p.w_rec.map(|w| w.t()).transpose()?;
    let mut spikes = Vec::with_capacity(t_steps);
    let mut mems = Vec::with_capacity(t_steps);
    for t in 0..t_steps {
        let mut input = currents.narrow(1, t, 1)?.squeeze(1)?;
        if let Some(wt) = &w_rec_t {
            input = (input + s_prev.matmul(wt)?)?;
        }
        if let Some(alpha) = p.alpha {
            i_syn = (i_syn.broadcast_mul(alpha)? + input)?;
            input = i_syn.clone();
        }
        let u = (v.broadcast_mul(p.beta)? + input)?;
        let s = heaviside(&u.broadcast_sub(p.threshold)?, p.surrogate)?;
        v = match p.reset {
            Reset::Subtract => (&u - s.detach().broadcast_mul(p.threshold)?)?,
            Reset::Zero => (&u - s.detach().mul(&u)?)?,
            Reset::None => u.clone(),
        };
        s_prev = s.clone();
        spikes.push(s);
        mems.push(u);
    }
    Ok(LifOutput {
        spikes: Tensor::stack(&spikes, 1)?,
        mem: Tensor::stack(&mems, 1)?,
    })
}
