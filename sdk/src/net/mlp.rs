//! The non-spiking baseline: a ReLU MLP of the same shape as a spiking network
//! (`inputs → hidden… → outputs`), the network an embedded engineer would otherwise deploy.
//!
//! `logits = W_L · relu(… relu(W_1 · x + b_1) …) + b_L`; weights and biases start from PyTorch's
//! `nn.Linear` default ([`super::init::linear_uniform`], seeded per layer). Parameters are candle
//! `Var`s named `mlp.{l}.weight` (`[out, in]`) and `mlp.{l}.bias` (`[out]`).
use candle_core::{DType, Device, Tensor, Var};

use super::init::linear_uniform;
use super::{NetworkError, Result};
use crate::rng::SplitMix64;

/// A ReLU multi-layer perceptron.
#[derive(Debug, Clone)]
pub struct Mlp {
    /// Layer widths, input first: `[inputs, hidden…, outputs]`.
    pub sizes: Vec<usize>,
    /// Per layer, `[out, in]`.
    pub weights: Vec<Var>,
    /// Per layer, `[out]`.
    pub biases: Vec<Var>,
}

impl Mlp {
    /// A seeded MLP of these widths (at least an input and an output).
    pub fn new(sizes: &[usize], seed: u64, dev: &Device) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(NetworkError::invalid(
                "mlp.sizes",
                format!("need an input and at least one layer, all non-zero (got {sizes:?})"),
            ));
        }
        let (mut weights, mut biases) = (Vec::new(), Vec::new());
        for (l, w) in sizes.windows(2).enumerate() {
            let (i, o) = (w[0], w[1]);
            let mut rng = SplitMix64::stream(seed, 0x4d4c_5000 + l as u64);
            let wt = Tensor::from_vec(linear_uniform(&mut rng, o * i, i), (o, i), dev)?;
            let bt = Tensor::from_vec(linear_uniform(&mut rng, o, i), o, dev)?;
            weights.push(Var::from_tensor(&wt)?);
            biases.push(Var::from_tensor(&bt)?);
        }
        Ok(Self {
            sizes: sizes.to_vec(),
            weights,
            biases,
        })
    }

    /// Logits `[batch, outputs]` of `x` `[batch, inputs]` (f32).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.activations(x)?
            .pop()
            .ok_or_else(|| NetworkError::Input("no layers".into()))
    }

    /// Every layer's output, input side first: the hidden layers after their ReLU, then the
    /// logits (the quantiser calibrates the hidden scales on these).
    pub fn activations(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        if x.dims().len() != 2 || x.dims()[1] != self.sizes[0] {
            return Err(NetworkError::Input(format!(
                "expected [batch, {}], got {:?}",
                self.sizes[0],
                x.dims()
            )));
        }
        let mut h = x.to_dtype(DType::F32)?;
        let mut out = Vec::new();
        let n = self.weights.len();
        for (l, (w, b)) in self.weights.iter().zip(&self.biases).enumerate() {
            h = h
                .matmul(&w.as_tensor().t()?)?
                .broadcast_add(b.as_tensor())?;
            if l + 1 < n {
                h = h.relu()?;
            }
            out.push(h.clone());
        }
        Ok(out)
    }

    /// The parameters by name, for the optimiser.
    pub fn params(&self) -> Vec<(String, Var)> {
        let mut p = Vec::new();
        for (l, (w, b)) in self.weights.iter().zip(&self.biases).enumerate() {
            p.push((format!("mlp.{l}.weight"), w.clone()));
            p.push((format!("mlp.{l}.bias"), b.clone()));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_seeding_and_relu() {
        let dev = Device::Cpu;
        let m = Mlp::new(&[4, 3, 2], 1, &dev).unwrap();
        let x = Tensor::from_vec(vec![1f32, -2., 3., 0.5, 0., 0., 0., 0.], (2, 4), &dev).unwrap();
        let acts = m.activations(&x).unwrap();
        assert_eq!(acts[0].dims(), [2, 3]);
        assert_eq!(acts[1].dims(), [2, 2]);
        // The hidden layer is rectified.
        let h: Vec<f32> = acts[0].flatten_all().unwrap().to_vec1().unwrap();
        assert!(h.iter().all(|&v| v >= 0.0));
        // Same seed, same weights; another seed, other weights.
        let again = Mlp::new(&[4, 3, 2], 1, &dev).unwrap();
        let other = Mlp::new(&[4, 3, 2], 2, &dev).unwrap();
        let w = |m: &Mlp| -> Vec<f32> { m.weights[0].flatten_all().unwrap().to_vec1().unwrap() };
        assert_eq!(w(&m), w(&again));
        assert_ne!(w(&m), w(&other));
        assert!(Mlp::new(&[4], 1, &dev).is_err());
        assert!(m
            .forward(&Tensor::zeros((2, 5), DType::F32, &dev).unwrap())
            .is_err());
    }
}
