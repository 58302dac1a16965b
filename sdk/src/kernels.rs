//! Slice kernels of the fused layer op: the event-driven projection and weight gradient, one
//! backward step of the LIF recurrence, and the run-time choice of instruction set (the same
//! Rust loops compiled for AVX-512, AVX2+FMA or the baseline, picked once per process).

use std::sync::OnceLock;

use crate::layer::Reset;
use crate::surrogate::SurrogateGradient;

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

/// Event-driven projection of a chunk of rows: `y[r, :] += sum_{k: x[r,k] != 0} x[r,k] W^T[k, :]`.
#[inline(always)]
fn project_impl<const FMA: bool>(yc: &mut [f32], xc: &[f32], wt: &[f32], n: usize, inp: usize) {
    for (yr, xr) in yc.chunks_mut(n).zip(xc.chunks(inp)) {
        for (k, &xv) in xr.iter().enumerate() {
            if xv != 0.0 {
                axpy_impl::<FMA>(yr, xv, &wt[k * n..(k + 1) * n]);
            }
        }
    }
}

multiversion! {
    /// See [`project_impl`].
    fn project_rows(yc: &mut [f32], xc: &[f32], wt: &[f32], n: usize, inp: usize) => project_impl
}

/// Weight gradient of a chunk of rows: `gW^T[k, :] += x[r, k] * g[r, :]` over the non-zeros.
#[inline(always)]
fn grad_w_impl<const FMA: bool>(acc: &mut [f32], gc: &[f32], xc: &[f32], n: usize, inp: usize) {
    for (gr, xr) in gc.chunks(n).zip(xc.chunks(inp)) {
        for (k, &v) in xr.iter().enumerate() {
            if v != 0.0 {
                axpy_impl::<FMA>(&mut acc[k * n..(k + 1) * n], v, gr);
            }
        }
    }
}

multiversion! {
    /// See [`grad_w_impl`].
    fn grad_w_rows(acc: &mut [f32], gc: &[f32], xc: &[f32], n: usize, inp: usize) => grad_w_impl
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

/// Fraction of non-zero entries.
pub(crate) fn density(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    let nz: u64 = x
        .chunks(1 << 16)
        .map(|c| c.iter().map(|&v| (v != 0.0) as u32).sum::<u32>() as u64)
        .sum();
    nz as f32 / x.len() as f32
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
    use crate::init::SplitMix64;

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
        // 37 and 70 are not multiples of any vector width: exercises the remainders
        for (rows, inp, n) in [(9, 13, 37), (20, 31, 70), (5, 8, 16)] {
            let x = sparse_rows(&mut rng, rows, inp);
            let wt: Vec<f32> = (0..inp * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let g: Vec<f32> = (0..rows * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let mut y = vec![0.5f32; rows * n];
            project_rows(&mut y, &x, &wt, n, inp);
            let mut acc = vec![0f32; inp * n];
            grad_w_rows(&mut acc, &g, &x, n, inp);
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
        assert!((density(&[0.0, 1.0, 0.0, 2.0]) - 0.5).abs() < 1e-7);
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
