//! The spike non-linearity as a candle op: Heaviside forward, surrogate derivative backward.
//!
//! Used by the per-step reference layers ([`crate::net::lif::lif_slow`]); the fused multi-step op
//! applies the same rule inside its own kernel.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

use crate::net::surrogate::Surrogate;

/// `s = H(x)` (1 where `x >= 0`, else 0) with `ds/dx := surrogate.grad(x)` in backward.
pub fn heaviside(x: &Tensor, surrogate: &Surrogate) -> Result<Tensor> {
    x.contiguous()?.apply_op1(SpikeOp {
        surrogate: surrogate.clone(),
    })
}

struct SpikeOp {
    surrogate: Surrogate,
}

impl CustomOp1 for SpikeOp {
    fn name(&self) -> &'static str {
        "heaviside-surrogate"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = storage.as_slice::<f32>()?;
        let (a, b) = layout
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("heaviside: non-contiguous input".into()))?;
        let out: Vec<f32> = x[a..b]
            .iter()
            .map(|&v| if v >= 0.0 { 1.0 } else { 0.0 })
            .collect();
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let x = arg.flatten_all()?.to_vec1::<f32>()?;
        let g: Vec<f32> = x.iter().map(|&v| self.surrogate.grad(v)).collect();
        let g = Tensor::from_vec(g, arg.shape(), arg.device())?;
        Ok(Some(grad_res.mul(&g)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn forward_is_step_backward_is_surrogate() -> Result<()> {
        let x = Var::new(&[-0.5f32, 0.0, 0.1, 2.0], &Device::Cpu)?;
        let s = Surrogate::FastSigmoid { slope: 25.0 };
        let y = heaviside(x.as_tensor(), &s)?;
        assert_eq!(y.to_vec1::<f32>()?, vec![0.0, 1.0, 1.0, 1.0]);
        let grads = y.sum_all()?.backward()?;
        let g = grads.get(&x).unwrap().to_vec1::<f32>()?;
        for (gi, xi) in g.iter().zip([-0.5f32, 0.0, 0.1, 2.0]) {
            assert!((gi - s.grad(xi)).abs() < 1e-7);
        }
        Ok(())
    }
}
