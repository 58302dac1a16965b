//! Autograd gradients of every loss against central finite differences, in f64.

use candle_core::{DType, Device, Tensor, Var};
use snn_sdk::loss::criterion::*;
use snn_sdk::loss::rnn::{RNNLoss, RnnLossInputs};
use snn_sdk::loss::{hardware, snntorch};

/// Deterministic values in (lo, hi) from a 64-bit LCG, so the test needs no extra dependency.
fn values(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

fn t(shape: &[usize], seed: u64, lo: f64, hi: f64) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(values(n, seed, lo, hi), shape, &Device::Cpu).unwrap()
}

fn targets(v: &[u32]) -> Tensor {
    Tensor::new(v, &Device::Cpu).unwrap()
}

/// Checks d f / d x from backprop against `(f(x + h e_k) - f(x - h e_k)) / 2h` for every entry.
fn check(name: &str, x: &Tensor, f: impl Fn(&Tensor) -> Tensor) {
    let var = Var::from_tensor(x).unwrap();
    let loss = f(var.as_tensor());
    assert_eq!(loss.dtype(), DType::F64, "{name}: run in f64");
    let grads = loss.backward().unwrap();
    let g = grads
        .get(&var)
        .unwrap_or_else(|| panic!("{name}: no gradient reached the input"))
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let base = x.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let h = 1e-6;
    let mut max_err: f64 = 0.0;
    for k in 0..base.len() {
        let eval = |delta: f64| {
            let mut v = base.clone();
            v[k] += delta;
            let xt = Tensor::from_vec(v, x.shape(), &Device::Cpu).unwrap();
            f(&xt).to_scalar::<f64>().unwrap()
        };
        let fd = (eval(h) - eval(-h)) / (2.0 * h);
        let err = (fd - g[k]).abs() / (1e-4 + fd.abs().max(g[k].abs()));
        max_err = max_err.max(err);
        assert!(
            err < 1e-5,
            "{name}: entry {k}: backprop {} vs finite difference {fd}",
            g[k]
        );
    }
    assert!(
        g.iter().any(|v| v.abs() > 1e-9),
        "{name}: gradient is identically zero"
    );
    eprintln!("{name}: max relative error {max_err:.2e}");
}

const B: usize = 3;
const T: usize = 5;
const N: usize = 4;

#[test]
fn snntorch_losses() {
    let y = targets(&[1, 3, 0]);
    let x = t(&[B, T, N], 1, 0.0, 1.0);
    check("ce_count", &x, |s| snntorch::ce_count(s, &y).unwrap());
    check("ce_rate", &x, |s| snntorch::ce_rate(s, &y).unwrap());
    check("mse_count", &x, |s| {
        snntorch::mse_count(s, &y, 0.8, 0.2).unwrap()
    });
    check("ce_max_membrane", &x, |s| {
        snntorch::ce_max_membrane(s, &y).unwrap()
    });
}

#[test]
fn hardware_losses() {
    let y = targets(&[1, 0, 1]);
    let x = t(&[B, T, N], 2, 0.0, 1.0);
    check("balanced_population_mse", &x, |s| {
        hardware::balanced_population_mse(s, &y, 2, 2, 0.8, 0.1).unwrap()
    });
    let other = t(&[B, T, 6], 3, 0.0, 1.0);
    check("firing_rate_target_mse", &x, |s| {
        hardware::firing_rate_target_mse(&[s.clone(), other.clone()], &[0.1, 0.3], &[1.0, 2.0])
            .unwrap()
    });
}

#[test]
fn criteria() {
    let x = t(&[B, T, N], 4, 0.05, 0.95);
    for metric in [RateMetric::L1, RateMetric::L2] {
        check(&format!("firing_rate {metric:?}"), &x, |s| {
            FiringRateLoss { metric }.forward(s).unwrap()
        });
    }
    for metric in [
        DistMetric::Sd,
        DistMetric::Cv,
        DistMetric::Mad,
        DistMetric::Maxad,
    ] {
        check(&format!("firing_rate_dist {metric:?}"), &x, |s| {
            FiringRateDistLoss { metric }.forward(s).unwrap()
        });
    }
    for tau in [1, 3] {
        check(&format!("state_prediction tau={tau}"), &x, |s| {
            StatePredictionLoss { tau }.forward(s).unwrap()
        });
    }
    let w = t(&[N, N], 5, -1.0, 1.0);
    check("hebbian (states)", &x, |s| {
        HebbianLoss {}.forward(s, &w).unwrap()
    });
    check("hebbian (weights)", &w, |w| {
        HebbianLoss {}.forward(&x, w).unwrap()
    });
    check("entropy", &x, |s| {
        EntropyLoss {
            reg: 0.5,
            eps: 1e-8,
        }
        .forward(s)
        .unwrap()
    });
    let x1 = t(&[B, T, N], 6, 0.05, 0.95);
    for symmetric in [false, true] {
        for reduction in [Reduction::Mean, Reduction::Sum] {
            let kl = PopulationKL {
                symmetric,
                reg: 0.01,
                reduction,
            };
            check(
                &format!("population_kl {symmetric} {reduction:?} (0)"),
                &x,
                |s| kl.forward(s, &x1).unwrap(),
            );
            check(
                &format!("population_kl {symmetric} {reduction:?} (1)"),
                &x1,
                |s| kl.forward(&x, s).unwrap(),
            );
        }
    }
}

#[test]
fn rnn_loss_each_input() {
    let l = RNNLoss {
        lambda_mse: 0.5,
        lambda_in: 0.75,
        lambda_hid: 1.0,
        lambda_out: 1.25,
        lambda_fr: 1.5,
        lambda_fr_sd: 1.75,
        lambda_fr_cv: 2.0,
    };
    let pred = t(&[B, T, 2], 7, -1.0, 1.0);
    let label = t(&[B, T, 2], 8, -1.0, 1.0);
    let states = t(&[B, T, N], 9, 0.05, 0.95);
    let w_in = t(&[N, 3], 10, -1.0, 1.0);
    let w_hid = t(&[N, N], 11, -1.0, 1.0);
    let w_out = t(&[2, N], 12, -1.0, 1.0);
    let all = RnnLossInputs {
        pred: Some(&pred),
        label: Some(&label),
        states: Some(&states),
        w_in: Some(&w_in),
        w_hid: Some(&w_hid),
        w_out: Some(&w_out),
    };
    check("rnn pred", &pred, |p| {
        l.forward(&RnnLossInputs {
            pred: Some(p),
            ..all
        })
        .unwrap()
    });
    check("rnn states", &states, |s| {
        l.forward(&RnnLossInputs {
            states: Some(s),
            ..all
        })
        .unwrap()
    });
    check("rnn w_in", &w_in, |w| {
        l.forward(&RnnLossInputs {
            w_in: Some(w),
            ..all
        })
        .unwrap()
    });
    check("rnn w_hid", &w_hid, |w| {
        l.forward(&RnnLossInputs {
            w_hid: Some(w),
            ..all
        })
        .unwrap()
    });
    check("rnn w_out", &w_out, |w| {
        l.forward(&RnnLossInputs {
            w_out: Some(w),
            ..all
        })
        .unwrap()
    });
}
