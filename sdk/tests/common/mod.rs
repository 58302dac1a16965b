//! Setup shared by the integration tests that train small networks directly with candle-nn
//! (`mod common;` in each; every test file uses a subset, hence the `dead_code` allowance);
//! `cli` drives the `snn` binary, `digits` trains and exports small digits networks.
#![allow(dead_code)]

pub mod cli;
pub mod digits;

use candle_core::{Tensor, Var};
use candle_nn::{AdamW, ParamsAdamW};

/// candle-nn's AdamW over `vars` with learning rate `lr` and decoupled `weight_decay`.
pub fn adamw(vars: Vec<Var>, lr: f64, weight_decay: f64) -> AdamW {
    use candle_nn::Optimizer;
    AdamW::new(
        vars,
        ParamsAdamW {
            lr,
            weight_decay,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Mean squared error `mean((a - b)^2)` as a scalar tensor (differentiable).
pub fn mse(a: &Tensor, b: &Tensor) -> Tensor {
    (a - b).unwrap().sqr().unwrap().mean_all().unwrap()
}

/// A scalar tensor of any float dtype as `f64`.
pub fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(candle_core::DType::F64)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
}
