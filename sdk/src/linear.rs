//! Event-driven (spike-sparse) linear map `y = x W^T` as one candle custom op.
//!
//! Inputs of spiking layers are mostly zeros (spikes), so instead of a dense matmul each row
//! of `x` adds, for every non-zero `x[r, k]`, the row `x[r, k] * W^T[k, :]` to `y[r, :]`:
//! cost `nnz(x) * out` instead of `rows * in * out`. Backward:
//!
//! ```text
//! gW[o, k] = sum_r g[r, o] * x[r, k]      (again only over the non-zeros of x)
//! gx       = g W                          (dense matmul; only when x needs a gradient)
//! ```
//!
//! Results equal the dense `x.matmul(&w.t())` up to float summation order. [`linear`] picks
//! this op when `x` is sparse enough and candle's dense matmul otherwise.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

/// Inputs with at most this fraction of non-zeros use the event-driven op.
pub const SPARSE_MAX_DENSITY: f32 = 0.3;

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 64;

/// `x [R, in]` times `w [out, in]` transposed: `[R, out]`, event-driven when `x` is sparse
/// (fraction of non-zeros <= [`SPARSE_MAX_DENSITY`]), dense matmul otherwise.
pub fn linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    if density(x)? <= SPARSE_MAX_DENSITY {
        sparse_linear(x, w)
    } else {
        x.matmul(&w.t()?)
    }
}

/// Event-driven `x w^T` regardless of density (see the module docs).
pub fn sparse_linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&w.contiguous()?, SparseLinear)
}

/// Fraction of non-zero entries of a CPU f32 tensor (1.0 for other devices/dtypes).
pub fn density(x: &Tensor) -> Result<f32> {
    let x = x.contiguous()?;
    let (st, l) = x.storage_and_layout();
    let data = match &*st {
        Storage::Cpu(CpuStorage::F32(d)) => d,
        _ => return Ok(1.0),
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        return Ok(1.0);
    };
    let s = &data[a..b];
    if s.is_empty() {
        return Ok(0.0);
    }
    let nz = s.iter().filter(|v| **v != 0.0).count();
    Ok(nz as f32 / s.len() as f32)
}

#[derive(Debug, Clone, Copy)]
struct SparseLinear;

fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let d = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&d[a..b]),
        None => candle_core::bail!("sparse linear: {what} must be contiguous"),
    }
}

fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

impl CustomOp2 for SparseLinear {
    fn name(&self) -> &'static str {
        "sparse-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, inp) = l1.shape().dims2()?;
        let (out, inp2) = l2.shape().dims2()?;
        if inp != inp2 {
            candle_core::bail!("sparse linear: x is [{rows}, {inp}] but w is [{out}, {inp2}]");
        }
        let x = slice(s1, l1, "x")?;
        let wt = transpose(slice(s2, l2, "w")?, out, inp);
        let mut y = vec![0f32; rows * out];
        y.par_chunks_mut(ROWS_PER_TASK * out)
            .zip(x.par_chunks(ROWS_PER_TASK * inp))
            .for_each(|(yc, xc)| {
                for (yr, xr) in yc.chunks_mut(out).zip(xc.chunks(inp)) {
                    for (k, &xv) in xr.iter().enumerate() {
                        if xv != 0.0 {
                            let wr = &wt[k * out..(k + 1) * out];
                            for (a, &b) in yr.iter_mut().zip(wr) {
                                *a += xv * b;
                            }
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(y), Shape::from_dims(&[rows, out])))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let inp = x.dim(1)?;
        let out = w.dim(0)?;
        let grad = grad.contiguous()?;
        let x_c = x.contiguous()?;
        let g_wt = {
            let (gs, gl) = grad.storage_and_layout();
            let (xs, xl) = x_c.storage_and_layout();
            let (Storage::Cpu(gs), Storage::Cpu(xs)) = (&*gs, &*xs) else {
                candle_core::bail!("sparse linear: CPU only");
            };
            let g = slice(gs, gl, "grad")?;
            let xv = slice(xs, xl, "x")?;
            // gW^T[k, :] += x[r, k] * g[r, :], one accumulator per parallel task
            g.par_chunks(ROWS_PER_TASK * out)
                .zip(xv.par_chunks(ROWS_PER_TASK * inp))
                .fold(
                    || vec![0f32; inp * out],
                    |mut acc, (gc, xc)| {
                        for (gr, xr) in gc.chunks(out).zip(xc.chunks(inp)) {
                            for (k, &v) in xr.iter().enumerate() {
                                if v != 0.0 {
                                    for (a, &b) in acc[k * out..(k + 1) * out].iter_mut().zip(gr) {
                                        *a += v * b;
                                    }
                                }
                            }
                        }
                        acc
                    },
                )
                .reduce_with(|mut a, b| {
                    for (p, q) in a.iter_mut().zip(&b) {
                        *p += q;
                    }
                    a
                })
                .unwrap_or_else(|| vec![0f32; inp * out])
        };
        let g_w = Tensor::from_vec(transpose(&g_wt, inp, out), (out, inp), w.device())?;
        let g_x = if x.track_op() {
            Some(grad.matmul(w)?)
        } else {
            None
        };
        Ok((g_x, Some(g_w)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::SplitMix64;
    use candle_core::{Device, Var};

    #[test]
    fn matches_dense_matmul_and_its_gradients() -> Result<()> {
        let dev = Device::Cpu;
        let mut rng = SplitMix64::new(5);
        let (r, i, o) = (150, 37, 23);
        let xv: Vec<f32> = (0..r * i)
            .map(|_| {
                if rng.next_f32() < 0.2 {
                    1.0 + rng.next_f32()
                } else {
                    0.0
                }
            })
            .collect();
        let wv: Vec<f32> = (0..o * i).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let gv: Vec<f32> = (0..r * o).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let x = Var::from_vec(xv, (r, i), &dev)?;
        let w = Var::from_vec(wv, (o, i), &dev)?;
        let g = Tensor::from_vec(gv, (r, o), &dev)?;
        let ys = sparse_linear(x.as_tensor(), w.as_tensor())?;
        let yd = x.as_tensor().matmul(&w.as_tensor().t()?)?;
        let diff = |a: &Tensor, b: &Tensor| -> Result<f32> {
            (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
        };
        assert!(diff(&ys, &yd)? < 1e-5);
        let gs = ys.mul(&g)?.sum_all()?.backward()?;
        let gd = yd.mul(&g)?.sum_all()?.backward()?;
        assert!(diff(gs.get(&w).unwrap(), gd.get(&w).unwrap())? < 1e-4);
        assert!(diff(gs.get(&x).unwrap(), gd.get(&x).unwrap())? < 1e-5);
        assert!((density(x.as_tensor())? - 0.2).abs() < 0.05);
        Ok(())
    }
}
