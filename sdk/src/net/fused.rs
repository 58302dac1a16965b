//! The fused multi-step spiking layer: input projection + the whole LIF recurrence of
//! [`crate::net::lif`] over all `T` steps as ONE candle custom op with a hand-written backward
//! through time (the "multi-step" idea of SpikingJelly). CPU, f32, rayon over the batch.
//!
//! Forward, for inputs `x [B, T, in]`:
//!
//! ```text
//! I[b,t,:] = W x[b,t,:] + bias          event-driven: only non-zero x[b,t,k] add W^T[k,:]
//!                                        (dense matmul when x is not sparse enough, see use_sparse)
//! then per sample the recurrence of crate::net::lif (recurrent term R s[t-1] added from the
//! indices that spiked at t-1)
//! ```
//!
//! Backward (reverse time, per sample and neuron; `gX` = dLoss/dX, `ext` = from the outputs,
//! `sg' = surrogate'(u[t] - thr)`, `v[t-1]` recovered from `u[t-1]`, `s[t-1]`):
//!
//! ```text
//! gs[t]  = gs_ext[t] + (gi[t+1] R)                  (recurrent: one [N]x[N,N] product per step)
//! gv[t]  = beta * gu[t+1]
//! gu[t]  = gu_ext[t] + gs[t]*sg' + gv[t]*dv/du      dv/du = 1 - s (zero reset), else 1
//! gi[t]  = gu[t] + alpha*gi[t+1]                    = dLoss/dI[t]
//! gthr  += -gs[t]*sg' - gv[t]*s[t] (subtract reset) gbeta += gu[t]*v[t-1]
//! galpha += gi[t]*i[t-1]                            gR[n,k] += gi[t,n]*s[t-1,k]
//! gW[n,k] = sum_{b,t} gi[b,t,n] x[b,t,k]            gbias = sum_{b,t} gi;   gx = gi W
//! ```
//!
//! The reset is detached (no gradient through `s` in `v = u - s*thr`), as in snnTorch.
//!
//! Samples of their own length ([`lif_layer_lengths`]): sample `b` runs steps `t < T_b` only.
//! Its spikes and membranes at `t >= T_b` are 0, the inputs there are never read, and the
//! gradients arriving there are ignored; so no work is spent on padding (the recurrence,
//! its backward, `gR` stop at `T_b`, and the dense projections and their gradients multiply
//! only the `sum_b T_b` valid rows). Valid steps equal those of [`lif_layer`] on the same
//! input (the recurrence is causal).
//! Spikes and membranes are two ops sharing one forward computation (a cache filled by the
//! spike op), so a loss on the spikes alone never pays for the membrane path and vice versa.
//! The parameters of the layer travel as two tensors: `pack [N, in + 1 + N] = (W | bias | R)`
//! (only the parts the layer has) and `params [3, N] = (beta, threshold, alpha)`.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp3, Device, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

use crate::net::kernels::{
    axpy, grad_w_rows, project_rows, step_backward, transpose, vec_mat, Events, ResetCoef, StepIn,
};
use crate::net::layer::Reset;
use crate::net::lif::{LifOutput, LifParams};
use crate::net::surrogate::{Surrogate, SurrogateGradient, SurrogateVisitor};

/// Cost of one event-driven multiply-add relative to one inside the dense matmul (measured
/// on the benchmark shapes; see [`use_sparse`]).
const SPARSE_COST: f32 = 2.5;

/// Fixed per-event overhead of the event-driven projection, in multiply-adds.
const SPARSE_EVENT_OVERHEAD: f32 = 16.0;

/// Below this many neurons a weight row is too short for the event-driven loop to pay off
/// (measured: a 10-neuron output layer is faster with the dense matmul even at 3 % input).
const SPARSE_MIN_NEURONS: usize = 16;

/// Rows (sample-steps) per parallel task in the projection.
const ROWS_PER_TASK: usize = 64;

/// The fused LIF on precomputed currents `[B, T, N]` (no projection): same results and
/// gradients as [`crate::net::lif::lif_slow`].
pub fn lif_fused(currents: &Tensor, p: &LifParams) -> Result<LifOutput> {
    lif_layer(currents, None, None, p)
}

/// A whole spiking layer as one fused op: `x [B, T, in]`, feed-forward weights `w_ff [N, in]`
/// (`None`: `x` already holds the currents `[B, T, N]`), optional `bias [N]`, and the LIF
/// parameters. Semantics of [`crate::net::lif`]; backward as in the module docs.
pub fn lif_layer(
    x: &Tensor,
    w_ff: Option<&Tensor>,
    bias: Option<&Tensor>,
    p: &LifParams,
) -> Result<LifOutput> {
    lif_layer_lengths(x, w_ff, bias, p, None)
}

/// [`lif_layer`] on a padded batch: sample `b` runs its first `lengths[b]` steps (each at most
/// `T`); outputs after them are 0 and cost nothing (module docs). `None`: every sample runs `T`.
pub fn lif_layer_lengths(
    x: &Tensor,
    w_ff: Option<&Tensor>,
    bias: Option<&Tensor>,
    p: &LifParams,
    lengths: Option<&[usize]>,
) -> Result<LifOutput> {
    let (b, t, width) = x.dims3()?;
    if let Some(l) = lengths {
        if l.len() != b {
            candle_core::bail!("fused lif: {} lengths for a batch of {b}", l.len());
        }
        if let Some((i, &li)) = l.iter().enumerate().find(|(_, &li)| li > t) {
            candle_core::bail!("fused lif: sample {i} has length {li} but the batch has {t} steps");
        }
    }
    // every sample full length: the plain path (no gathering of rows)
    let lengths = lengths.filter(|l| l.iter().any(|&li| li < t));
    let n = p.beta.dim(0)?;
    let x = x.contiguous()?;
    let mut parts: Vec<Tensor> = Vec::with_capacity(3);
    if let Some(w) = w_ff {
        parts.push(w.clone());
    } else if width != n {
        candle_core::bail!("fused lif: currents have {width} channels but the layer has {n}");
    }
    if let Some(b) = bias {
        parts.push(b.reshape((n, 1))?);
    }
    if let Some(r) = p.w_rec {
        parts.push(r.clone());
    }
    let pack = if parts.is_empty() {
        Tensor::zeros(1, x.dtype(), x.device())?
    } else {
        Tensor::cat(&parts, 1)?.contiguous()?
    };
    let alpha = match p.alpha {
        Some(a) => a.clone(),
        None => Tensor::zeros(n, x.dtype(), x.device())?,
    };
    let params = Tensor::stack(&[p.beta, p.threshold, &alpha], 0)?.contiguous()?;
    let cfg = Arc::new(Config {
        reset: p.reset,
        surrogate: p.surrogate.clone(),
        synaptic: p.alpha.is_some(),
        linear: w_ff.is_some(),
        bias: bias.is_some(),
        rec: p.w_rec.is_some(),
        n,
        lengths: lengths.map(Arc::from),
    });
    let cache: Cache = Arc::new(Mutex::new(None));
    let spikes = x.apply_op3_arc(
        &pack,
        &params,
        Arc::new(Box::new(FusedOp {
            cfg: cfg.clone(),
            cache: cache.clone(),
            output: Output::Spikes,
        })),
    )?;
    let mem = x.apply_op3_arc(
        &pack,
        &params,
        Arc::new(Box::new(FusedOp {
            cfg,
            cache,
            output: Output::Membrane,
        })),
    )?;
    Ok(LifOutput { spikes, mem })
}

/// What the layer is made of (fixed per op instance).
#[derive(Debug, Clone)]
struct Config {
    reset: Reset,
    surrogate: Surrogate,
    synaptic: bool,
    linear: bool,
    bias: bool,
    rec: bool,
    n: usize,
    /// Valid steps per sample (`None`: all of them).
    lengths: Option<Arc<[usize]>>,
}

/// Shapes of one call.
#[derive(Debug, Clone, Copy)]
struct Dims {
    b: usize,
    t: usize,
    n: usize,
    /// Width of `x` (`in` with a projection, `n` without).
    inp: usize,
}

impl Dims {
    fn rows(&self) -> usize {
        self.b * self.t
    }
    fn per_sample(&self) -> usize {
        self.t * self.n
    }
}

/// Forward results kept for backward: spikes, membranes before reset, synaptic currents.
struct State {
    /// Membranes before reset (spikes are `u >= threshold`, recomputed where needed).
    u: Vec<f32>,
    /// Empty unless synaptic.
    i: Vec<f32>,
    /// The input events per chunk of [`ROWS_PER_TASK`] rows when the projection used (and its
    /// gradient uses) the event-driven path; empty for the dense matmul.
    events: Vec<Events>,
}

type Cache = Arc<Mutex<Option<Arc<State>>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Spikes,
    Membrane,
}

struct FusedOp {
    cfg: Arc<Config>,
    cache: Cache,
    output: Output,
}

/// The parameter pack split into its parts.
struct Pack {
    /// `W^T [in, N]` (row `k` = the weights out of input `k`), if the layer projects.
    w_ff_t: Option<Vec<f32>>,
    /// `W [N, in]` row-major, for `gx = gi W`.
    w_ff: Option<Vec<f32>>,
    bias: Option<Vec<f32>>,
    /// `R^T [N, N]` (row `k` = the weights out of neuron `k`).
    rec_t: Option<Vec<f32>>,
    /// `R [N, N]` row-major, for the recurrent backward matmul.
    rec: Option<Vec<f32>>,
}

impl Config {
    /// Valid steps of sample `b`.
    fn len(&self, d: Dims, b: usize) -> usize {
        self.lengths.as_ref().map_or(d.t, |l| l[b].min(d.t))
    }

    /// The valid rows `b*T .. b*T + T_b` of every sample, when some sample is shorter than `T`.
    fn spans(&self, d: Dims) -> Option<Vec<std::ops::Range<usize>>> {
        self.lengths.as_ref()?;
        Some(
            (0..d.b)
                .map(|b| b * d.t..b * d.t + self.len(d, b))
                .collect(),
        )
    }

    fn cols(&self, inp: usize) -> usize {
        (if self.linear { inp } else { 0 }) + self.bias as usize + if self.rec { self.n } else { 0 }
    }

    fn dims(&self, x: &Layout, pack: &Layout, params: &Layout) -> Result<Dims> {
        let (b, t, inp) = x.shape().dims3()?;
        let n = self.n;
        if b == 0 || t == 0 || n == 0 {
            candle_core::bail!("fused lif: empty batch, time or layer ({b}, {t}, {n})");
        }
        if params.shape().dims() != [3, n] {
            candle_core::bail!(
                "fused lif: params must be [3, {n}], got {:?}",
                params.shape()
            );
        }
        let cols = self.cols(inp);
        if cols > 0 && pack.shape().dims() != [n, cols] {
            candle_core::bail!(
                "fused lif: pack must be [{n}, {cols}], got {:?}",
                pack.shape()
            );
        }
        Ok(Dims { b, t, n, inp })
    }

    fn split_pack(&self, d: Dims, pack: &[f32]) -> Pack {
        let cols = self.cols(d.inp);
        let n = d.n;
        let mut off = 0;
        let mut take = |w: usize| {
            let o = off;
            off += w;
            o
        };
        let ff = self.linear.then(|| take(d.inp));
        let b = self.bias.then(|| take(1));
        let r = self.rec.then(|| take(n));
        let block = |o: usize, w: usize| -> Vec<f32> {
            let mut v = Vec::with_capacity(n * w);
            for row in 0..n {
                v.extend_from_slice(&pack[row * cols + o..row * cols + o + w]);
            }
            v
        };
        Pack {
            w_ff_t: ff.map(|o| transpose(&block(o, d.inp), n, d.inp)),
            w_ff: ff.map(|o| block(o, d.inp)),
            bias: b.map(|o| (0..n).map(|row| pack[row * cols + o]).collect()),
            rec_t: r.map(|o| transpose(&block(o, n), n, n)),
            rec: r.map(|o| block(o, n)),
        }
    }

    /// Runs the layer forward on plain slices.
    /// Returns the spikes and the state kept for backward.
    fn forward(
        &self,
        d: Dims,
        x: &[f32],
        pack: &[f32],
        params: &[f32],
    ) -> Result<(Vec<f32>, State)> {
        let pk = self.split_pack(d, pack);
        let events = self.events(d, x);
        // the currents are overwritten in place by the membranes, step by step
        let mut u = self.currents(d, x, &pk, &events)?;
        let (n, ps, total) = (d.n, d.per_sample(), d.rows() * d.n);
        let mut s = vec![0f32; total];
        let mut i = if self.synaptic {
            vec![0f32; total]
        } else {
            Vec::new()
        };
        let i_chunks: Vec<&mut [f32]> = if self.synaptic {
            i.chunks_mut(ps).collect()
        } else {
            (0..d.b).map(|_| <&mut [f32]>::default()).collect()
        };
        let (beta, rest) = params.split_at(n);
        let (thr, alpha) = rest.split_at(n);
        s.par_chunks_mut(ps)
            .zip(u.par_chunks_mut(ps))
            .zip(i_chunks)
            .enumerate()
            .for_each(|(b, ((s, u), i))| {
                let len = self.len(d, b);
                forward_sample(self, len, d, beta, thr, alpha, pk.rec_t.as_deref(), s, u, i)
            });
        Ok((s, State { u, i, events }))
    }

    /// The events of `x` per chunk of rows if the projection should be event-driven (see
    /// [`use_sparse`]), else nothing.
    fn events(&self, d: Dims, x: &[f32]) -> Vec<Events> {
        if !self.linear || d.n < SPARSE_MIN_NEURONS {
            return Vec::new();
        }
        let events: Vec<Events> = x
            .par_chunks(ROWS_PER_TASK * d.inp)
            .map(|xc| Events::of(xc, d.inp))
            .collect();
        let nnz: usize = events.iter().map(Events::len).sum();
        let density = nnz as f32 / x.len().max(1) as f32;
        if use_sparse(d, density) {
            events
        } else {
            Vec::new()
        }
    }

    /// `I = W x + bias` for all rows (or `x + bias` without a projection); event-driven when
    /// `events` has the chunks of `x`.
    fn currents(&self, d: Dims, x: &[f32], pk: &Pack, events: &[Events]) -> Result<Vec<f32>> {
        let (n, inp) = (d.n, d.inp);
        let add_bias = |c: &mut [f32]| {
            if let Some(b) = &pk.bias {
                for row in c.chunks_mut(n) {
                    for (a, bb) in row.iter_mut().zip(b) {
                        *a += bb;
                    }
                }
            }
        };
        let mut cur = match &pk.w_ff_t {
            None => x.to_vec(),
            Some(wt) if !events.is_empty() => {
                // rows start at the bias (or zero), then the events add in; one pass
                let mut cur = vec![0f32; d.rows() * n];
                cur.par_chunks_mut(ROWS_PER_TASK * n)
                    .zip(events.par_iter())
                    .for_each(|(yc, ev)| {
                        add_bias(yc);
                        project_rows(yc, ev, wt, n)
                    });
                return Ok(cur);
            }
            Some(wt) => match self.spans(d) {
                None => {
                    let xt = Tensor::from_slice(x, (d.rows(), inp), &Device::Cpu)?;
                    let wt = Tensor::from_slice(wt, (inp, n), &Device::Cpu)?;
                    xt.matmul(&wt)?.flatten_all()?.to_vec1::<f32>()?
                }
                Some(spans) => {
                    // only the valid rows: gather, multiply, scatter (padding stays 0)
                    let xs = gather(x, inp, &spans);
                    let rows = xs.len() / inp.max(1);
                    let xt = Tensor::from_vec(xs, (rows, inp), &Device::Cpu)?;
                    let wt = Tensor::from_slice(wt, (inp, n), &Device::Cpu)?;
                    let mut y = xt.matmul(&wt)?.flatten_all()?.to_vec1::<f32>()?;
                    // the bias of the valid rows only: the padding's currents are never read
                    add_bias(&mut y);
                    return Ok(scatter(&y, n, &spans, d.rows()));
                }
            },
        };
        if pk.bias.is_some() {
            cur.par_chunks_mut(ROWS_PER_TASK * n).for_each(add_bias);
        }
        Ok(cur)
    }
}

/// Whether the projection should be event-driven, given the fraction of non-zero inputs. Per
/// input row the dense matmul costs `in * N` multiply-adds, the event-driven one
/// `nnz * (N + overhead) * SPARSE_COST`, so events win when
/// `density <= N / (SPARSE_COST * (N + overhead))`: about 0.36 for 128 neurons, 0.22 for 20
/// (spike trains of hidden layers are usually far below both); layers narrower than
/// [`SPARSE_MIN_NEURONS`] always use the matmul.
fn use_sparse(d: Dims, density: f32) -> bool {
    let n = d.n as f32;
    d.n >= SPARSE_MIN_NEURONS && density <= n / (SPARSE_COST * (n + SPARSE_EVENT_OVERHEAD))
}

/// Rows `spans` of the row-major `[rows, width]` matrix `src`, one after another.
fn gather(src: &[f32], width: usize, spans: &[std::ops::Range<usize>]) -> Vec<f32> {
    let mut out = Vec::with_capacity(spans.iter().map(|r| r.len()).sum::<usize>() * width);
    for r in spans {
        out.extend_from_slice(&src[r.start * width..r.end * width]);
    }
    out
}

/// The inverse of [`gather`]: a `[rows, width]` matrix with `src`'s rows at `spans` (ascending),
/// 0 elsewhere; every element is written once.
fn scatter(src: &[f32], width: usize, spans: &[std::ops::Range<usize>], rows: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows * width);
    let mut off = 0;
    for r in spans {
        let k = r.len() * width;
        out.resize(r.start * width, 0.0);
        out.extend_from_slice(&src[off..off + k]);
        off += k;
    }
    out.resize(rows * width, 0.0);
    out
}

/// One sample's forward pass over its first `len` steps; `s`, `u`, `i` are its `[T, N]`
/// outputs (`i` empty unless synaptic), 0 from step `len` on; `u` holds the input currents on
/// entry.
#[allow(clippy::too_many_arguments)]
fn forward_sample(
    cfg: &Config,
    len: usize,
    d: Dims,
    beta: &[f32],
    thr: &[f32],
    alpha: &[f32],
    rt: Option<&[f32]>,
    s: &mut [f32],
    u: &mut [f32],
    i: &mut [f32],
) {
    let n = d.n;
    let rc = ResetCoef::of(cfg.reset);
    let mut v = vec![0f32; n];
    let mut syn = vec![0f32; n];
    let mut input = vec![0f32; n];
    // the padding's currents are never read: its membranes are 0 (spikes are already 0)
    u[len * n..].fill(0.0);
    for t in 0..len {
        let row = t * n..(t + 1) * n;
        input.copy_from_slice(&u[row.clone()]);
        if let (Some(rt), true) = (rt, t > 0) {
            // R s[t-1]: add the outgoing weights of every neuron that spiked
            for (k, &sp) in s[row.start - n..row.start].iter().enumerate() {
                if sp != 0.0 {
                    axpy(&mut input, 1.0, &rt[k * n..(k + 1) * n]);
                }
            }
        }
        if cfg.synaptic {
            for ((c, a), inp) in syn.iter_mut().zip(alpha).zip(input.iter_mut()) {
                *c = a * *c + *inp;
                *inp = *c;
            }
            i[row.clone()].copy_from_slice(&syn);
        }
        let (s_t, u_t) = (&mut s[row.clone()], &mut u[row]);
        for k in 0..n {
            let uk = beta[k] * v[k] + input[k];
            let sk = if uk >= thr[k] { 1.0 } else { 0.0 };
            u_t[k] = uk;
            s_t[k] = sk;
            v[k] = uk - sk * (rc.a * thr[k] + rc.b * uk);
        }
    }
}

/// Everything backward needs, as slices.
struct Bwd<'a> {
    cfg: &'a Config,
    d: Dims,
    params: &'a [f32],
    st: &'a State,
    /// External gradients of spikes and membranes, if they have any.
    gs_ext: Option<&'a [f32]>,
    gu_ext: Option<&'a [f32]>,
    /// `N` zeros, standing in for absent gradients.
    zeros: &'a [f32],
    /// `R [N, N]` row-major, for the recurrent term.
    rec: Option<&'a [f32]>,
}

/// Output of the BPTT pass: `gi` for every sample-step and the parameter gradients.
struct Bptt {
    g_cur: Vec<f32>,
    g_par: Vec<f64>,
    /// `sum over samples and steps of gi`: the bias gradient.
    g_bias: Vec<f64>,
}

fn add_f64(mut a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    for (p, q) in a.iter_mut().zip(&b) {
        *p += q;
    }
    a
}

impl<'a> SurrogateVisitor for &Bwd<'a> {
    type Output = Result<Bptt>;
    fn visit<S: SurrogateGradient + ?Sized>(self, sur: &S) -> Result<Bptt> {
        let Dims { b, n, .. } = self.d;
        let ps = self.d.per_sample();
        let total = b * ps;
        let (u_all, i_all) = (&self.st.u, &self.st.i);
        let syn = self.cfg.synaptic;
        let sl = |bi: usize, t: usize| bi * ps + t * n..bi * ps + (t + 1) * n;
        let zeros = self.zeros;
        let ext = |g: Option<&'a [f32]>, r: std::ops::Range<usize>| -> &'a [f32] {
            match g {
                Some(g) => &g[r],
                None => zeros,
            }
        };
        let rc = ResetCoef::of(self.cfg.reset);
        let step_in = |bi: usize, t: usize| {
            let r = sl(bi, t);
            let (has_prev, u_prev, i_prev) = if t > 0 {
                let q = sl(bi, t - 1);
                let i = if syn { &i_all[q.clone()] } else { zeros };
                (1.0, &u_all[q], i)
            } else {
                (0.0, zeros, zeros)
            };
            StepIn {
                u: &u_all[r.clone()],
                has_prev,
                u_prev,
                i_prev,
                gs_ext: ext(self.gs_ext, r.clone()),
                gu_ext: ext(self.gu_ext, r),
                gs_rec: zeros,
            }
        };
        let mut g_cur = vec![0f32; total];
        // independent samples: one task per sample, all steps inside; parameter gradients in
        // f32 within a sample (T terms), f64 across samples
        let mut g_par = g_cur
            .par_chunks_mut(ps)
            .enumerate()
            .fold(
                || vec![0f64; 4 * n],
                |mut acc, (bi, gc)| {
                    let mut gu_next = vec![0f32; n];
                    let mut gi_next = vec![0f32; n];
                    // gradient into s[t-1] through R: gs_rec = gi[t] R (zeros without R)
                    let mut gs_rec = vec![0f32; n];
                    // beta, threshold, alpha (step_backward), then the bias: sum_t gi[t]
                    let mut acc32 = vec![0f32; 4 * n];
                    for t in (0..self.cfg.len(self.d, bi)).rev() {
                        step_backward(
                            sur,
                            rc,
                            self.params,
                            StepIn {
                                gs_rec: &gs_rec,
                                ..step_in(bi, t)
                            },
                            &mut gu_next,
                            &mut gi_next,
                            &mut gc[t * n..(t + 1) * n],
                            &mut acc32[..3 * n],
                        );
                        axpy(&mut acc32[3 * n..], 1.0, &gc[t * n..(t + 1) * n]);
                        if let (Some(r), true) = (self.rec, t > 0) {
                            vec_mat(&mut gs_rec, &gi_next, r);
                        }
                    }
                    for (a, v) in acc.iter_mut().zip(&acc32) {
                        *a += *v as f64;
                    }
                    acc
                },
            )
            .reduce(|| vec![0f64; 4 * n], add_f64);
        let g_bias = g_par.split_off(3 * n);
        Ok(Bptt {
            g_cur,
            g_par,
            g_bias,
        })
    }
}

/// Borrowed CPU f32 data of a contiguous tensor.
fn with_slice<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let (st, l) = t.storage_and_layout();
    match &*st {
        Storage::Cpu(c) => f(cpu_slice(c, l, "tensor")?),
        _ => candle_core::bail!("fused lif: CPU only"),
    }
}

fn cpu_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("fused lif: {what} must be contiguous"),
    }
}

impl FusedOp {
    /// The forward state: from the cache filled by the sibling op, or computed now.
    fn state(&self, d: Dims, x: &[f32], pack: &[f32], params: &[f32]) -> Result<Arc<State>> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| candle_core::Error::Msg("fused lif: cache poisoned".into()))?;
        if let Some(st) = cache.as_ref() {
            if st.u.len() == d.rows() * d.n {
                return Ok(st.clone());
            }
        }
        let st = Arc::new(self.cfg.forward(d, x, pack, params)?.1);
        *cache = Some(st.clone());
        Ok(st)
    }

    fn run_forward(
        &self,
        (s1, l1): (&CpuStorage, &Layout),
        (s2, l2): (&CpuStorage, &Layout),
        (s3, l3): (&CpuStorage, &Layout),
    ) -> Result<(CpuStorage, Shape)> {
        let d = self.cfg.dims(l1, l2, l3)?;
        let x = cpu_slice(s1, l1, "x")?;
        let pack = if self.cfg.cols(d.inp) > 0 {
            cpu_slice(s2, l2, "pack")?
        } else {
            &[]
        };
        let params = cpu_slice(s3, l3, "params")?;
        let out = match self.output {
            Output::Spikes => {
                // a fresh forward every time the spike op runs; the membrane op reuses it
                let (s, st) = self.cfg.forward(d, x, pack, params)?;
                if let Ok(mut c) = self.cache.lock() {
                    *c = Some(Arc::new(st));
                }
                s
            }
            Output::Membrane => self.state(d, x, pack, params)?.u.clone(),
        };
        Ok((CpuStorage::F32(out), Shape::from_dims(&[d.b, d.t, d.n])))
    }

    fn backward(
        &self,
        x: &Tensor,
        pack: &Tensor,
        params: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let cfg = &*self.cfg;
        let (b, t, inp) = x.dims3()?;
        let n = cfg.n;
        let d = Dims { b, t, n, inp };
        let cols = cfg.cols(inp);
        let dev = x.device().clone();
        let x = x.contiguous()?;
        let pack_c = pack.contiguous()?;
        let params_c = params.contiguous()?;
        let grad = grad.contiguous()?;
        with_slice(&x, |xs| {
            with_slice(&pack_c, |pack_s| {
                with_slice(&params_c, |par| {
                    with_slice(&grad, |gs| {
                        let pack_s = if cols > 0 { pack_s } else { &[] };
                        let st = self.state(d, xs, pack_s, par)?;
                        let pk = cfg.split_pack(d, pack_s);
                        let zeros = vec![0f32; n];
                        let (gs_ext, gu_ext) = match self.output {
                            Output::Spikes => (Some(gs), None),
                            Output::Membrane => (None, Some(gs)),
                        };
                        let bw = Bwd {
                            cfg,
                            d,
                            params: par,
                            st: &st,
                            gs_ext,
                            gu_ext,
                            zeros: &zeros,
                            rec: pk.rec.as_deref(),
                        };
                        let bptt = cfg.surrogate.dispatch(&bw)?;
                        let thr = &par[n..2 * n];
                        self.grads(
                            thr,
                            d,
                            &x,
                            &pk,
                            &st,
                            bptt,
                            &dev,
                            x.track_op(),
                            pack.track_op(),
                            params.track_op(),
                        )
                    })
                })
            })
        })
    }

    /// Turns `gi` for all sample-steps into the gradients of x, the pack and the params.
    #[allow(clippy::too_many_arguments)]
    fn grads(
        &self,
        thr: &[f32],
        d: Dims,
        x: &Tensor,
        pk: &Pack,
        st: &State,
        bptt: Bptt,
        dev: &Device,
        want_x: bool,
        want_pack: bool,
        want_params: bool,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let cfg = &*self.cfg;
        let Dims { b, t, n, inp } = d;
        let rows = d.rows();
        let cols = cfg.cols(inp);
        let spans = cfg.spans(d);
        let g = &bptt.g_cur;
        let g_pack = if want_pack && cols > 0 {
            let mut gp = vec![0f32; n * cols];
            let mut off = 0;
            if cfg.linear {
                let g_w: Vec<f32> = if !st.events.is_empty() {
                    // gW^T[k, :] += x[r, k] * gi[r, :] over the non-zeros of x
                    let g_wt = g
                        .par_chunks(ROWS_PER_TASK * n)
                        .zip(st.events.par_iter())
                        .fold(
                            || vec![0f32; inp * n],
                            |mut acc, (gc, ev)| {
                                grad_w_rows(&mut acc, gc, ev, n);
                                acc
                            },
                        )
                        .reduce_with(add_f32)
                        .unwrap_or_else(|| vec![0f32; inp * n]);
                    transpose(&g_wt, inp, n)
                } else if let Some(spans) = &spans {
                    // the padding's gi rows are 0: multiply the valid rows only
                    let gs = gather(g, n, spans);
                    let valid = gs.len() / n;
                    let xs = with_slice(x, |xs| Ok(gather(xs, inp, spans)))?;
                    let gt = Tensor::from_vec(gs, (valid, n), &Device::Cpu)?;
                    let xt = Tensor::from_vec(xs, (valid, inp), &Device::Cpu)?;
                    gt.t()?.matmul(&xt)?.flatten_all()?.to_vec1::<f32>()?
                } else {
                    let gt = Tensor::from_slice(g, (rows, n), &Device::Cpu)?;
                    let xt = x.reshape((rows, inp))?;
                    gt.t()?.matmul(&xt)?.flatten_all()?.to_vec1::<f32>()?
                };
                for row in 0..n {
                    gp[row * cols..row * cols + inp]
                        .copy_from_slice(&g_w[row * inp..(row + 1) * inp]);
                }
                off += inp;
            }
            if cfg.bias {
                for row in 0..n {
                    gp[row * cols + off] = bptt.g_bias[row] as f32;
                }
                off += 1;
            }
            if cfg.rec {
                // gR^T[k, :] += gi[b, t, :] for every spike s[b, t-1, k]
                let ps = d.per_sample();
                let g_rt = g
                    .par_chunks(ps)
                    .zip(st.u.par_chunks(ps))
                    .enumerate()
                    .fold(
                        || vec![0f32; n * n],
                        |mut acc, (bi, (gc, uc))| {
                            for tt in 1..cfg.len(d, bi) {
                                let gr = &gc[tt * n..(tt + 1) * n];
                                for (k, &uv) in uc[(tt - 1) * n..tt * n].iter().enumerate() {
                                    // spiked at t-1: the forward's comparison again
                                    if uv >= thr[k] {
                                        axpy(&mut acc[k * n..(k + 1) * n], 1.0, gr);
                                    }
                                }
                            }
                            acc
                        },
                    )
                    .reduce_with(add_f32)
                    .unwrap_or_else(|| vec![0f32; n * n]);
                for row in 0..n {
                    for k in 0..n {
                        gp[row * cols + off + k] = g_rt[k * n + row];
                    }
                }
            }
            Some(Tensor::from_vec(gp, (n, cols), dev)?)
        } else {
            None
        };
        let g_params = if want_params {
            let gp: Vec<f32> = bptt.g_par.iter().map(|&v| v as f32).collect();
            Some(Tensor::from_vec(gp, (3, n), dev)?)
        } else {
            None
        };
        let g_x = if want_x {
            Some(match &pk.w_ff {
                Some(w) => match &spans {
                    None => {
                        // gi is not needed any more: hand its buffer to the matmul without a copy
                        let gt = Tensor::from_vec(bptt.g_cur, (rows, n), &Device::Cpu)?;
                        let wt = Tensor::from_slice(w, (n, inp), &Device::Cpu)?;
                        gt.matmul(&wt)?.reshape((b, t, inp))?.to_device(dev)?
                    }
                    Some(spans) => {
                        // the inputs of padded steps were never read: their gradient is 0
                        let gs = gather(&bptt.g_cur, n, spans);
                        let valid = gs.len() / n;
                        let gt = Tensor::from_vec(gs, (valid, n), &Device::Cpu)?;
                        let wt = Tensor::from_slice(w, (n, inp), &Device::Cpu)?;
                        let gx = gt.matmul(&wt)?.flatten_all()?.to_vec1::<f32>()?;
                        Tensor::from_vec(scatter(&gx, inp, spans, rows), (b, t, inp), dev)?
                    }
                },
                None => Tensor::from_vec(bptt.g_cur, (b, t, n), dev)?,
            })
        } else {
            None
        };
        Ok((g_x, g_pack, g_params))
    }
}

fn add_f32(mut a: Vec<f32>, b: Vec<f32>) -> Vec<f32> {
    for (p, q) in a.iter_mut().zip(&b) {
        *p += q;
    }
    a
}

impl CustomOp3 for FusedOp {
    fn name(&self) -> &'static str {
        match self.output {
            Output::Spikes => "fused-lif-spikes",
            Output::Membrane => "fused-lif-membrane",
        }
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
        self.run_forward((s1, l1), (s2, l2), (s3, l3))
    }

    fn bwd(
        &self,
        x: &Tensor,
        pack: &Tensor,
        params: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        self.backward(x, pack, params, grad)
    }
}
