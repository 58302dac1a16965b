//! The fused multi-step LIF op: the whole recurrence of [`crate::lif`] over all `T` steps as
//! ONE candle custom op with a hand-written backward through time (the "multi-step" idea of
//! SpikingJelly), CPU, f32, parallel over the batch with rayon.
//!
//! Inputs: the currents `I [B, T, N]` (one big matmul outside), the per-neuron parameters
//! packed as `P [3, N] = (beta, threshold, alpha)` (alpha = 0 for a plain LIF) and, for
//! recurrent layers, `R [N, N]` (row = postsynaptic). Output `[C, B, T, N]` with channels
//! `(s, u)` and, for synaptic layers, `i` (the synaptic current, kept for the alpha gradient).
//!
//! Backward (reverse time, per sample and neuron; `gX` = dLoss/dX, `ext` = from the outputs,
//! `sg' = surrogate'(u[t] - thr)`, `v[t-1]` recovered from `u[t-1]`, `s[t-1]`):
//!
//! ```text
//! gs[t]  = gs_ext[t] + sum_n' R[n', n] gi[t+1, n']            (recurrent only)
//! gv[t]  = beta * gu[t+1]
//! gu[t]  = gu_ext[t] + gs[t]*sg' + gv[t]*dv/du                dv/du = 1 - s (zero), else 1
//! gi[t]  = gu[t] + alpha*gi[t+1] + gi_ext[t]                  = dLoss/dI[t]
//! gthr  += -gs[t]*sg' - gv[t]*s[t]  (subtract; the reset keeps its threshold gradient)
//! gbeta += gu[t]*v[t-1];  galpha += gi[t]*i[t-1];  gR[n, k] += gi[t, n]*s[t-1, k]
//! ```
//!
//! The reset is detached (no gradient through `s` in `v = u - s*thr`), as in snnTorch.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

use crate::layer::Reset;
use crate::lif::{LifOutput, LifParams};
use crate::surrogate::{Surrogate, SurrogateGradient, SurrogateVisitor};

/// Below this many neuron-steps per call the op runs on the calling thread.
const PARALLEL_MIN: usize = 1 << 14;

/// The fused LIF over all steps (see the module docs); same semantics as
/// [`crate::lif::lif_slow`].
pub fn lif_fused(currents: &Tensor, p: &LifParams) -> Result<LifOutput> {
    let (_, _, n) = currents.dims3()?;
    let currents = currents.contiguous()?;
    let alpha = match p.alpha {
        Some(a) => a.clone(),
        None => Tensor::zeros(n, currents.dtype(), currents.device())?,
    };
    let params = Tensor::stack(&[p.beta, p.threshold, &alpha], 0)?.contiguous()?;
    let op = LifOp {
        reset: p.reset,
        surrogate: p.surrogate.clone(),
        synaptic: p.alpha.is_some(),
    };
    let out = match p.w_rec {
        Some(w) => {
            currents.apply_op3_arc(&params, &w.contiguous()?, std::sync::Arc::new(Box::new(op)))?
        }
        None => currents.apply_op2(&params, op)?,
    };
    Ok(LifOutput {
        spikes: out.get(0)?,
        mem: out.get(1)?,
    })
}

#[derive(Debug, Clone)]
struct LifOp {
    reset: Reset,
    surrogate: Surrogate,
    synaptic: bool,
}

/// One sample's (spikes, membranes, synaptic current) outputs and input currents.
type SampleIo<'a> = (((&'a mut [f32], &'a mut [f32]), &'a mut [f32]), &'a [f32]);

/// Shape bookkeeping shared by forward and backward.
#[derive(Debug, Clone, Copy)]
struct Dims {
    b: usize,
    t: usize,
    n: usize,
}

impl Dims {
    fn per_sample(&self) -> usize {
        self.t * self.n
    }
    fn total(&self) -> usize {
        self.b * self.t * self.n
    }
}

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("fused lif: {what} must be contiguous"),
    }
}

impl LifOp {
    fn channels(&self) -> usize {
        if self.synaptic {
            3
        } else {
            2
        }
    }

    fn dims(&self, cur: &Layout, params: &Layout, rec: Option<&Layout>) -> Result<Dims> {
        let (b, t, n) = cur.shape().dims3()?;
        if params.shape().dims() != [3, n] {
            candle_core::bail!(
                "fused lif: params must be [3, {n}], got {:?}",
                params.shape()
            );
        }
        if let Some(r) = rec {
            if r.shape().dims() != [n, n] {
                candle_core::bail!("fused lif: w_rec must be [{n}, {n}], got {:?}", r.shape());
            }
        }
        Ok(Dims { b, t, n })
    }

    fn forward(
        &self,
        d: Dims,
        cur: &[f32],
        params: &[f32],
        w_rec: Option<&[f32]>,
    ) -> (CpuStorage, Shape) {
        let Dims { b, t, n } = d;
        let c = self.channels();
        let mut out = vec![0f32; c * d.total()];
        // R^T, so the spikes of presynaptic k add a contiguous row: rt[k*n + post] = R[post, k]
        let rt = w_rec.map(|w| transpose(w, n));
        let (s_all, rest) = out.split_at_mut(d.total());
        let (u_all, i_all) = rest.split_at_mut(d.total());
        let ps = d.per_sample();
        let (beta, rest) = params.split_at(n);
        let (thr, alpha) = rest.split_at(n);
        let reset = self.reset;
        let synaptic = self.synaptic;
        let i_chunks: Vec<&mut [f32]> = if synaptic {
            i_all.chunks_mut(ps).collect()
        } else {
            // no synaptic channel: every sample gets an empty slice
            (0..b).map(|_| <&mut [f32]>::default()).collect()
        };
        let items: Vec<_> = s_all
            .chunks_mut(ps)
            .zip(u_all.chunks_mut(ps))
            .zip(i_chunks)
            .zip(cur.chunks(ps))
            .collect();
        let work = |(((s, u), i), x): SampleIo<'_>| {
            forward_sample(
                n,
                t,
                x,
                beta,
                thr,
                alpha,
                rt.as_deref(),
                reset,
                synaptic,
                s,
                u,
                i,
            );
        };
        if d.total() >= PARALLEL_MIN && b > 1 {
            items.into_par_iter().for_each(work);
        } else {
            items.into_iter().for_each(work);
        }
        (CpuStorage::F32(out), Shape::from_dims(&[c, b, t, n]))
    }

    /// Backward through time; returns (gI [B,T,N], gP [3,N], gR [N,N] if recurrent).
    fn backward(
        &self,
        args: &[&Tensor],
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Tensor, Tensor, Option<Tensor>)> {
        let cur = args[0];
        let (b, t, n) = cur.dims3()?;
        let d = Dims { b, t, n };
        let dev = cur.device();
        let params = args[1].contiguous()?;
        let rec = args.get(2).map(|r| r.contiguous()).transpose()?;
        let res = res.contiguous()?;
        let grad = grad_res.contiguous()?;
        let params_g = params.storage_and_layout();
        let res_g = res.storage_and_layout();
        let grad_g = grad.storage_and_layout();
        let rec_g = rec.as_ref().map(|r| r.storage_and_layout());
        let p = slice_of(&params_g, "params")?;
        let r = slice_of(&res_g, "result")?;
        let g = slice_of(&grad_g, "grad")?;
        let w = match &rec_g {
            Some(x) => Some(slice_of(x, "w_rec")?),
            None => None,
        };
        let out = self.surrogate.dispatch(Bwd {
            op: self,
            d,
            params: p,
            res: r,
            grad: g,
            w_rec: w,
        });
        let g_cur = Tensor::from_vec(out.g_cur, (b, t, n), dev)?;
        let g_par = Tensor::from_vec(out.g_par, (3, n), dev)?;
        let g_rec = out
            .g_rec_t
            .map(|gt| Tensor::from_vec(transpose(&gt, n), (n, n), dev))
            .transpose()?;
        Ok((g_cur, g_par, g_rec))
    }
}

fn slice_of<'a>(g: &'a (candle_core::StorageRef<'_>, &Layout), what: &str) -> Result<&'a [f32]> {
    match &*g.0 {
        Storage::Cpu(s) => contiguous(s, g.1, what),
        _ => candle_core::bail!("fused lif: {what} must be on the CPU"),
    }
}

fn transpose(w: &[f32], n: usize) -> Vec<f32> {
    let mut t = vec![0f32; n * n];
    for r in 0..n {
        for c in 0..n {
            t[c * n + r] = w[r * n + c];
        }
    }
    t
}

/// One sample's forward pass over all steps. `s`, `u`, `i` are `[T, N]` outputs (`i` empty
/// unless synaptic), `x` the `[T, N]` input currents.
#[allow(clippy::too_many_arguments)]
#[inline]
fn forward_sample(
    n: usize,
    t_steps: usize,
    x: &[f32],
    beta: &[f32],
    thr: &[f32],
    alpha: &[f32],
    rt: Option<&[f32]>,
    reset: Reset,
    synaptic: bool,
    s: &mut [f32],
    u: &mut [f32],
    i: &mut [f32],
) {
    let mut v = vec![0f32; n];
    let mut syn = vec![0f32; n];
    let mut input = vec![0f32; n];
    let mut fired: Vec<usize> = Vec::with_capacity(n);
    for t in 0..t_steps {
        let row = t * n..(t + 1) * n;
        input.copy_from_slice(&x[row.clone()]);
        if let Some(rt) = rt {
            for &k in &fired {
                for (a, w) in input.iter_mut().zip(&rt[k * n..(k + 1) * n]) {
                    *a += w;
                }
            }
        }
        if synaptic {
            for ((c, a), inp) in syn.iter_mut().zip(alpha).zip(input.iter_mut()) {
                *c = a * *c + *inp;
                *inp = *c;
            }
            i[row.clone()].copy_from_slice(&syn);
        }
        fired.clear();
        let (s_t, u_t) = (&mut s[row.clone()], &mut u[row]);
        for k in 0..n {
            let uk = beta[k] * v[k] + input[k];
            let spike = uk >= thr[k];
            u_t[k] = uk;
            s_t[k] = if spike { 1.0 } else { 0.0 };
            v[k] = match (spike, reset) {
                (false, _) | (true, Reset::None) => uk,
                (true, Reset::Subtract) => uk - thr[k],
                (true, Reset::Zero) => 0.0,
            };
            if spike {
                fired.push(k);
            }
        }
    }
}

struct BwdOut {
    g_cur: Vec<f32>,
    g_par: Vec<f32>,
    g_rec_t: Option<Vec<f32>>,
}

struct Bwd<'a> {
    op: &'a LifOp,
    d: Dims,
    params: &'a [f32],
    res: &'a [f32],
    grad: &'a [f32],
    w_rec: Option<&'a [f32]>,
}

/// Per-thread accumulators of the parameter gradients.
struct Acc {
    /// beta, threshold and alpha gradients; f64 because they sum over batch, time (and the
    /// layer, for a shared threshold), where f32 would lose digits.
    g_par: Vec<f64>,
    g_rec_t: Option<Vec<f32>>,
}

impl Acc {
    fn new(n: usize, rec: bool) -> Self {
        Self {
            g_par: vec![0.0; 3 * n],
            g_rec_t: rec.then(|| vec![0.0; n * n]),
        }
    }
    fn merge(mut self, o: Self) -> Self {
        for (a, b) in self.g_par.iter_mut().zip(&o.g_par) {
            *a += b;
        }
        if let (Some(a), Some(b)) = (&mut self.g_rec_t, &o.g_rec_t) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        self
    }
}

impl SurrogateVisitor for Bwd<'_> {
    type Output = BwdOut;
    fn visit<S: SurrogateGradient + ?Sized>(self, sur: &S) -> BwdOut {
        let Dims { b, n, .. } = self.d;
        let total = self.d.total();
        let ps = self.d.per_sample();
        let mut g_cur = vec![0f32; total];
        let rec = self.w_rec.is_some();
        let run = |(bi, gc): (usize, &mut [f32]), acc: &mut Acc| {
            backward_sample(
                self.op,
                sur,
                self.d,
                bi,
                self.params,
                self.res,
                self.grad,
                self.w_rec,
                gc,
                acc,
            );
        };
        let acc = if total >= PARALLEL_MIN && b > 1 {
            g_cur
                .par_chunks_mut(ps)
                .enumerate()
                .fold(
                    || Acc::new(n, rec),
                    |mut acc, item| {
                        run(item, &mut acc);
                        acc
                    },
                )
                .reduce(|| Acc::new(n, rec), Acc::merge)
        } else {
            let mut acc = Acc::new(n, rec);
            for item in g_cur.chunks_mut(ps).enumerate() {
                run(item, &mut acc);
            }
            acc
        };
        BwdOut {
            g_cur,
            g_par: acc.g_par.iter().map(|&x| x as f32).collect(),
            g_rec_t: acc.g_rec_t,
        }
    }
}

/// One sample's backward pass through time (formulas in the module docs).
#[allow(clippy::too_many_arguments)]
fn backward_sample<S: SurrogateGradient + ?Sized>(
    op: &LifOp,
    sur: &S,
    d: Dims,
    bi: usize,
    params: &[f32],
    res: &[f32],
    grad: &[f32],
    w_rec: Option<&[f32]>,
    g_cur: &mut [f32],
    acc: &mut Acc,
) {
    let Dims { t: t_steps, n, .. } = d;
    let total = d.total();
    let ps = d.per_sample();
    let off = bi * ps;
    let s_all = &res[off..off + ps];
    let u_all = &res[total + off..total + off + ps];
    let gs_ext = &grad[off..off + ps];
    let gu_ext = &grad[total + off..total + off + ps];
    let (i_all, gi_ext) = if op.synaptic {
        (
            &res[2 * total + off..2 * total + off + ps],
            &grad[2 * total + off..2 * total + off + ps],
        )
    } else {
        (&[][..], &[][..])
    };
    let (beta, rest) = params.split_at(n);
    let (thr, alpha) = rest.split_at(n);
    let (g_beta, rest) = acc.g_par.split_at_mut(n);
    let (g_thr, g_alpha) = rest.split_at_mut(n);
    // state carried from step t+1: gu[t+1], gi[t+1], and the recurrent gradient into s[t]
    let mut gu_next = vec![0f32; n];
    let mut gi_next = vec![0f32; n];
    let mut gs_rec = vec![0f32; n];
    for t in (0..t_steps).rev() {
        let row = t * n..(t + 1) * n;
        let (s_t, u_t) = (&s_all[row.clone()], &u_all[row.clone()]);
        let (gs_t, gu_t) = (&gs_ext[row.clone()], &gu_ext[row.clone()]);
        let gc = &mut g_cur[row.clone()];
        let prev = if t > 0 {
            Some((
                &s_all[row.start - n..row.start],
                &u_all[row.start - n..row.start],
            ))
        } else {
            None
        };
        for k in 0..n {
            let u = u_t[k];
            let s = s_t[k];
            let gv = beta[k] * gu_next[k];
            let gs = gs_t[k] + gs_rec[k];
            let sg = sur.grad(u - thr[k]);
            let (dv_du, dv_dthr) = match op.reset {
                Reset::Subtract => (1.0, -s),
                Reset::Zero => (1.0 - s, 0.0),
                Reset::None => (1.0, 0.0),
            };
            let gu = gu_t[k] + gs * sg + gv * dv_du;
            g_thr[k] += (-gs * sg + gv * dv_dthr) as f64;
            if let Some((sp, up)) = prev {
                let v_prev = match op.reset {
                    Reset::Subtract => up[k] - sp[k] * thr[k],
                    Reset::Zero => up[k] * (1.0 - sp[k]),
                    Reset::None => up[k],
                };
                g_beta[k] += (gu * v_prev) as f64;
            }
            let mut gi = gu;
            if op.synaptic {
                gi += alpha[k] * gi_next[k] + gi_ext[row.start + k];
                if t > 0 {
                    g_alpha[k] += (gi * i_all[row.start - n + k]) as f64;
                }
            }
            gc[k] = gi;
            gu_next[k] = gu;
            gi_next[k] = gi;
        }
        if let (Some(w), Some(g_rt), Some((sp, _))) = (w_rec, acc.g_rec_t.as_mut(), prev) {
            // gradient into s[t-1] through R s[t-1]: gs_rec[k] = sum_post R[post, k] * gi[post]
            gs_rec.iter_mut().for_each(|x| *x = 0.0);
            for (post, &g) in gc.iter().enumerate() {
                if g != 0.0 {
                    for (a, r) in gs_rec.iter_mut().zip(&w[post * n..(post + 1) * n]) {
                        *a += g * r;
                    }
                }
            }
            // gR[post, k] += gi[post] * s[t-1, k], stored transposed (row k contiguous)
            for (k, &s) in sp.iter().enumerate() {
                if s != 0.0 {
                    for (a, &g) in g_rt[k * n..(k + 1) * n].iter_mut().zip(gc.iter()) {
                        *a += g;
                    }
                }
            }
        }
    }
}

impl CustomOp2 for LifOp {
    fn name(&self) -> &'static str {
        "fused-lif"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = self.dims(l1, l2, None)?;
        let cur = contiguous(s1, l1, "currents")?;
        let params = contiguous(s2, l2, "params")?;
        Ok(self.forward(d, cur, params, None))
    }

    fn bwd(
        &self,
        cur: &Tensor,
        params: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (g_cur, g_par, _) = self.backward(&[cur, params], res, grad_res)?;
        Ok((Some(g_cur), params.track_op().then_some(g_par)))
    }
}

impl CustomOp3 for LifOp {
    fn name(&self) -> &'static str {
        "fused-recurrent-lif"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = self.dims(l1, l2, Some(l3))?;
        let cur = contiguous(s1, l1, "currents")?;
        let params = contiguous(s2, l2, "params")?;
        let w = contiguous(s3, l3, "w_rec")?;
        Ok(self.forward(d, cur, params, Some(w)))
    }

    fn bwd(
        &self,
        cur: &Tensor,
        params: &Tensor,
        w_rec: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (g_cur, g_par, g_rec) = self.backward(&[cur, params, w_rec], res, grad_res)?;
        Ok((Some(g_cur), params.track_op().then_some(g_par), g_rec))
    }
}
