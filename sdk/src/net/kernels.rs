//! Slice kernels of the fused layer op: the event-driven projection and weight gradient, one
//! backward step of the LIF recurrence, and the run-time choice of instruction set (the same
//! Rust loops compiled for AVX-512, AVX2+FMA or the baseline, picked once per process).

use std::sync::OnceLock;

use crate::net::layer::Reset;
use crate::net::surrogate::SurrogateGradient;

/// Instruction set the hot loops run with, detected once at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Plain,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx2,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx512,
}

fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512vl") && has!("fma") {
                return Isa::Avx512;
            }
            if has!("avx2") && has!("fma") {
                return Isa::Avx2;
            }
        }
        Isa::Plain
    })
}

/// Defines `fn $name(args)` that runs the generic kernel `$imp::<FMA>` compiled for AVX-512 or
/// AVX2+FMA when the CPU has them (the same Rust code, wider vectors), else for the baseline.
macro_rules! multiversion {
    ($(#[$m:meta])* fn $name:ident($($a:ident: $t:ty),* $(,)?) => $imp:ident) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name($($a: $t),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,fma")]
                unsafe fn v512($($a: $t),*) {
                    $imp::<true>($($a),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v2($($a: $t),*) {
                    $imp::<true>($($a),*)
                }
                match isa() {
                    // SAFETY: `isa()` reported these CPU features at run time.
                    Isa::Avx512 => return unsafe { v512($($a),*) },
                    // SAFETY: as above.
                    Isa::Avx2 => return unsafe { v2($($a),*) },
                    Isa::Plain => {}
                }
            }
            $imp::<false>($($a),*)
        }
    };
}

/// `y += a * x` (fused multiply-add when `FMA`).
#[inline(always)]
fn axpy_impl<const FMA: bool>(y: &mut [f32], a: f32, x: &[f32]) {
    let x = &x[..y.len()];
    if FMA {
        for (p, q) in y.iter_mut().zip(x) {
            *p = q.mul_add(a, *p);
        }
    } else {
        for (p, q) in y.iter_mut().zip(x) {
            *p += a * q;
        }
    }
}

multiversion! {
    /// `y += a * x`.
    fn axpy(y: &mut [f32], a: f32, x: &[f32]) => axpy_impl
}

/// The non-zero entries of a chunk of rows of `x [rows, inp]` (compressed rows): the events
/// the projection and its weight gradient loop over, found once per forward pass.
#[derive(Debug, Default)]
pub(crate) struct Events {
    /// Row `r`'s events are `idx[ptr[r]..ptr[r + 1]]` / `val[..]`; `ptr[0] = 0`.
    ptr: Vec<u32>,
    idx: Vec<u32>,
    val: Vec<f32>,
}

impl Events {
    /// Scans `xc` (whole rows of width `inp`): 64 entries at a time into a bit mask, then one
    /// push per set bit, so the scan has no data-dependent branch per entry.
    pub(crate) fn of(xc: &[f32], inp: usize) -> Self {
        let rows = xc.len() / inp.max(1);
        let mut ev = Events {
            ptr: Vec::with_capacity(rows + 1),
            ..Default::default()
        };
        ev.ptr.push(0);
        for xr in xc.chunks_exact(inp.max(1)) {
            for (blk_i, blk) in xr.chunks(64).enumerate() {
                let mut mask = 0u64;
                for (i, &v) in blk.iter().enumerate() {
                    mask |= ((v != 0.0) as u64) << i;
                }
                while mask != 0 {
                    let i = mask.trailing_zeros() as usize;
                    ev.idx.push((blk_i * 64 + i) as u32);
                    ev.val.push(blk[i]);
                    mask &= mask - 1;
                }
            }
            ev.ptr.push(ev.idx.len() as u32);
        }
        ev
    }

    /// Number of events (non-zero entries).
    pub(crate) fn len(&self) -> usize {
        self.idx.len()
    }

    /// Indices and values of row `r`'s events.
    fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.ptr[r] as usize, self.ptr[r + 1] as usize);
        (&self.idx[a..b], &self.val[a..b])
    }

    fn rows(&self) -> usize {
        self.ptr.len() - 1
    }
}

/// Event-driven projection of a chunk of rows: `y[r, :] += sum_{events (k, v) of r} v W^T[k, :]`.
#[inline(always)]
fn project_impl<const FMA: bool>(yc: &mut [f32], ev: &Events, wt: &[f32], n: usize) {
    for (r, yr) in yc.chunks_mut(n).enumerate().take(ev.rows()) {
        let (idx, val) = ev.row(r);
        for (&k, &v) in idx.iter().zip(val) {
            let k = k as usize;
            axpy_impl::<FMA>(yr, v, &wt[k * n..(k + 1) * n]);
        }
    }
}

multiversion! {
    /// See [`project_impl`].
    fn project_rows(yc: &mut [f32], ev: &Events, wt: &[f32], n: usize) => project_impl
}

/// Weight gradient of a chunk of rows: `gW^T[k, :] += v * g[r, :]` over the events `(k, v)`.
#[inline(always)]
fn grad_w_impl<const FMA: bool>(acc: &mut [f32], gc: &[f32], ev: &Events, n: usize) {
    for (r, gr) in gc.chunks(n).enumerate().take(ev.rows()) {
        let (idx, val) = ev.row(r);
        for (&k, &v) in idx.iter().zip(val) {
            let k = k as usize;
            axpy_impl::<FMA>(&mut acc[k * n..(k + 1) * n], v, gr);
        }
    }
}

multiversion! {
    /// See [`grad_w_impl`].
    fn grad_w_rows(acc: &mut [f32], gc: &[f32], ev: &Events, n: usize) => grad_w_impl
}

/// `y = a M` for `M [a.len(), y.len()]` row-major: `y[k] = sum_j a[j] M[j, k]`, four rows of
/// `M` per pass over `y` so `y` is loaded and stored once per four rows.
#[inline(always)]
fn vec_mat_impl<const FMA: bool>(y: &mut [f32], a: &[f32], m: &[f32]) {
    let n = y.len();
    y.iter_mut().for_each(|v| *v = 0.0);
    let quads = a.len() / 4;
    for q in 0..quads {
        let j = 4 * q;
        let (a0, a1, a2, a3) = (a[j], a[j + 1], a[j + 2], a[j + 3]);
        let r0 = &m[j * n..(j + 1) * n];
        let r1 = &m[(j + 1) * n..(j + 2) * n];
        let r2 = &m[(j + 2) * n..(j + 3) * n];
        let r3 = &m[(j + 3) * n..(j + 4) * n];
        for k in 0..n {
            y[k] = if FMA {
                r3[k].mul_add(
                    a3,
                    r2[k].mul_add(a2, r1[k].mul_add(a1, r0[k].mul_add(a0, y[k]))),
                )
            } else {
                y[k] + a0 * r0[k] + a1 * r1[k] + a2 * r2[k] + a3 * r3[k]
            };
        }
    }
    for j in 4 * quads..a.len() {
        axpy_impl::<FMA>(y, a[j], &m[j * n..(j + 1) * n]);
    }
}

multiversion! {
    /// See [`vec_mat_impl`].
    fn vec_mat(y: &mut [f32], a: &[f32], m: &[f32]) => vec_mat_impl
}

pub(crate) fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// Branch-free form of the reset: `v = u - s * (a*thr + b*u)` and
/// `dv/du = 1 + c*s`, `dv/dthr = e*s` (the reset term itself is detached).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResetCoef {
    pub(crate) a: f32,
    pub(crate) b: f32,
    pub(crate) c: f32,
    pub(crate) e: f32,
}

impl ResetCoef {
    pub(crate) fn of(r: Reset) -> Self {
        match r {
            // v = u - s*thr; dv/du = 1; dv/dthr = -s
            Reset::Subtract => Self {
                a: 1.0,
                b: 0.0,
                c: 0.0,
                e: -1.0,
            },
            // v = u - s*u; dv/du = 1 - s (s detached); dv/dthr = 0
            Reset::Zero => Self {
                a: 0.0,
                b: 1.0,
                c: -1.0,
                e: 0.0,
            },
            // v = u
            Reset::None => Self {
                a: 0.0,
                b: 0.0,
                c: 0.0,
                e: 0.0,
            },
        }
    }
}

/// Slices of one sample-step needed by [`step_backward`]; at `t = 0` the previous step is
/// all zeros, and `i_prev` is zeros unless the layer is synaptic.
pub(crate) struct StepIn<'a> {
    pub(crate) u: &'a [f32],
    /// 1 when there is a previous step, 0 at `t = 0`.
    pub(crate) has_prev: f32,
    pub(crate) u_prev: &'a [f32],
    pub(crate) i_prev: &'a [f32],
    pub(crate) gs_ext: &'a [f32],
    pub(crate) gu_ext: &'a [f32],
    pub(crate) gs_rec: &'a [f32],
}

/// One step of the backward recursion for one sample (formulas in the module docs), written
/// branch-free so it vectorises. Updates `gu_next`/`gi_next` (carried to step t-1), writes
/// `gi[t]` to `gc` and accumulates the beta/threshold/alpha gradients into `acc [3N]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn step_backward<S: SurrogateGradient + ?Sized>(
    sur: &S,
    rc: ResetCoef,
    params: &[f32],
    st: StepIn<'_>,
    gu_next: &mut [f32],
    gi_next: &mut [f32],
    gc: &mut [f32],
    acc: &mut [f32],
) {
    let n = gc.len();
    let (beta, rest) = params.split_at(n);
    let (thr, alpha) = rest.split_at(n);
    let (g_beta, rest) = acc.split_at_mut(n);
    let (g_thr, g_alpha) = rest.split_at_mut(n);
    macro_rules! call {
        ($f:ident) => {
            $f(
                sur,
                rc,
                beta,
                thr,
                alpha,
                st.u,
                st.has_prev,
                st.u_prev,
                st.i_prev,
                st.gs_ext,
                st.gu_ext,
                st.gs_rec,
                gu_next,
                gi_next,
                gc,
                g_beta,
                g_thr,
                g_alpha,
            )
        };
    }
    match isa() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa()` reported AVX-512 at run time.
        Isa::Avx512 => unsafe { call!(step_kernel_avx512) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa()` reported AVX2 and FMA at run time.
        Isa::Avx2 => unsafe { call!(step_kernel_avx2) },
        _ => call!(step_kernel),
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512vl,fma")]
unsafe fn step_kernel_avx512<S: SurrogateGradient + ?Sized>(
    sur: &S,
    rc: ResetCoef,
    beta: &[f32],
    thr: &[f32],
    alpha: &[f32],
    u_t: &[f32],
    has_prev: f32,
    up: &[f32],
    ip: &[f32],
    gse: &[f32],
    gue: &[f32],
    gsr: &[f32],
    gu_next: &mut [f32],
    gi_next: &mut [f32],
    gc: &mut [f32],
    g_beta: &mut [f32],
    g_thr: &mut [f32],
    g_alpha: &mut [f32],
) {
    step_kernel(
        sur, rc, beta, thr, alpha, u_t, has_prev, up, ip, gse, gue, gsr, gu_next, gi_next, gc,
        g_beta, g_thr, g_alpha,
    )
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn step_kernel_avx2<S: SurrogateGradient + ?Sized>(
    sur: &S,
    rc: ResetCoef,
    beta: &[f32],
    thr: &[f32],
    alpha: &[f32],
    u_t: &[f32],
    has_prev: f32,
    up: &[f32],
    ip: &[f32],
    gse: &[f32],
    gue: &[f32],
    gsr: &[f32],
    gu_next: &mut [f32],
    gi_next: &mut [f32],
    gc: &mut [f32],
    g_beta: &mut [f32],
    g_thr: &mut [f32],
    g_alpha: &mut [f32],
) {
    step_kernel(
        sur, rc, beta, thr, alpha, u_t, has_prev, up, ip, gse, gue, gsr, gu_next, gi_next, gc,
        g_beta, g_thr, g_alpha,
    )
}

/// The loop of [`step_backward`]; every array is its own argument so the compiler knows the
/// outputs do not alias and can vectorise.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn step_kernel<S: SurrogateGradient + ?Sized>(
    sur: &S,
    rc: ResetCoef,
    beta: &[f32],
    thr: &[f32],
    alpha: &[f32],
    u_t: &[f32],
    has_prev: f32,
    up: &[f32],
    ip: &[f32],
    gse: &[f32],
    gue: &[f32],
    gsr: &[f32],
    gu_next: &mut [f32],
    gi_next: &mut [f32],
    gc: &mut [f32],
    g_beta: &mut [f32],
    g_thr: &mut [f32],
    g_alpha: &mut [f32],
) {
    let n = gc.len();
    let (beta, thr, alpha, u_t) = (&beta[..n], &thr[..n], &alpha[..n], &u_t[..n]);
    let (up, ip, gse, gue, gsr) = (&up[..n], &ip[..n], &gse[..n], &gue[..n], &gsr[..n]);
    let (gu_next, gi_next) = (&mut gu_next[..n], &mut gi_next[..n]);
    let (g_beta, g_thr, g_alpha) = (&mut g_beta[..n], &mut g_thr[..n], &mut g_alpha[..n]);
    for k in 0..n {
        // spikes are recomputed from the stored membranes: the same comparison as forward
        let s = if u_t[k] >= thr[k] { 1.0 } else { 0.0 };
        let sp = if up[k] >= thr[k] { has_prev } else { 0.0 };
        let gv = beta[k] * gu_next[k];
        let gs = gse[k] + gsr[k];
        let gs_sg = gs * sur.grad(u_t[k] - thr[k]);
        let gu = gue[k] + gs_sg + gv * (1.0 + rc.c * s);
        g_thr[k] += gv * (rc.e * s) - gs_sg;
        // alpha = 0 outside synaptic layers, so this is gu there
        let gi = gu + alpha[k] * gi_next[k];
        let v_prev = up[k] - sp * (rc.a * thr[k] + rc.b * up[k]);
        g_beta[k] += gu * v_prev;
        g_alpha[k] += gi * ip[k];
        gc[k] = gi;
        gu_next[k] = gu;
        gi_next[k] = gi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn sparse_rows(rng: &mut SplitMix64, rows: usize, inp: usize) -> Vec<f32> {
        (0..rows * inp)
            .map(|_| {
                if rng.next_f32() < 0.2 {
                    rng.uniform(0.5, 2.0)
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn projection_and_weight_gradient_match_naive_loops() {
        let mut rng = SplitMix64::new(3);
        // 37 and 70 are not multiples of any vector width: exercises the remainders; 130 and
        // 64 inputs: more than one and exactly one 64-entry mask block
        for (rows, inp, n) in [
            (9, 13, 37),
            (20, 31, 70),
            (5, 8, 16),
            (7, 130, 16),
            (3, 64, 20),
        ] {
            let x = sparse_rows(&mut rng, rows, inp);
            let wt: Vec<f32> = (0..inp * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let g: Vec<f32> = (0..rows * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let ev = Events::of(&x, inp);
            assert_eq!(ev.len(), x.iter().filter(|&&v| v != 0.0).count());
            let mut y = vec![0.5f32; rows * n];
            project_rows(&mut y, &ev, &wt, n);
            let mut acc = vec![0f32; inp * n];
            grad_w_rows(&mut acc, &g, &ev, n);
            for r in 0..rows {
                for o in 0..n {
                    let want: f32 = 0.5
                        + (0..inp)
                            .map(|k| x[r * inp + k] * wt[k * n + o])
                            .sum::<f32>();
                    assert!((y[r * n + o] - want).abs() < 1e-4, "y[{r},{o}]");
                }
            }
            for k in 0..inp {
                for o in 0..n {
                    let want: f32 = (0..rows).map(|r| x[r * inp + k] * g[r * n + o]).sum();
                    assert!((acc[k * n + o] - want).abs() < 1e-4, "gW[{k},{o}]");
                }
            }
        }
        assert_eq!(
            transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }

    #[test]
    fn vec_mat_matches_the_naive_product() {
        let mut rng = SplitMix64::new(5);
        // rows not a multiple of four (remainder rows), widths not a multiple of the vector
        for (rows, cols) in [(1, 1), (7, 37), (256, 256), (10, 3)] {
            let a: Vec<f32> = (0..rows).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let m: Vec<f32> = (0..rows * cols).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let mut y = vec![9f32; cols]; // overwritten, not accumulated into
            vec_mat(&mut y, &a, &m);
            for k in 0..cols {
                let want: f32 = (0..rows).map(|j| a[j] * m[j * cols + k]).sum();
                assert!((y[k] - want).abs() < 1e-4, "y[{k}] ({rows}x{cols})");
            }
        }
    }
}
