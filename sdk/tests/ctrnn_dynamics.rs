//! The CTRNN computes exactly the nn4n update, checked against a hand-written f64 loop for every
//! activation, with explicit weights and biases on all three layers.

use candle_core::{Device, Tensor};
use snn_sdk::structure::ctrnn::{Activation, BiasInit, Ctrnn, CtrnnConfig, WeightInit};
use snn_sdk::structure::mask::PerLayer;

const W_IN: [[f64; 2]; 3] = [[0.5, -0.3], [0.2, 0.8], [-0.7, 0.1]];
const W_HID: [[f64; 3]; 3] = [[0.1, -0.4, 0.3], [0.6, 0.0, -0.2], [-0.5, 0.9, 0.2]];
const W_OUT: [[f64; 3]; 1] = [[1.0, -2.0, 0.5]];
const B: [&[f64]; 3] = [&[0.05, -0.1, 0.0], &[0.2, 0.1, -0.3], &[0.25]];

fn f(act: Activation, x: f64) -> f64 {
    match act {
        Activation::Relu => x.max(0.0),
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::Retanh => x.tanh().max(0.0),
    }
}

/// `v <- (1 - a) v + a (W_hid r + b_hid + W_in u + b_in)`, `r = f(v)`, `y = W_out r + b_out`.
fn reference(act: Activation, alpha: f64, u: &[[f64; 2]]) -> (Vec<f64>, Vec<[f64; 3]>) {
    let mut v = [0.0f64; 3];
    let mut r = v.map(|x| f(act, x));
    let (mut ys, mut rs) = (Vec::new(), Vec::new());
    for ut in u {
        let mut nv = [0.0; 3];
        for i in 0..3 {
            let rec: f64 = (0..3).map(|j| W_HID[i][j] * r[j]).sum();
            let inp: f64 = (0..2).map(|j| W_IN[i][j] * ut[j]).sum();
            nv[i] = (1.0 - alpha) * v[i] + alpha * (rec + B[1][i] + inp + B[0][i]);
        }
        v = nv;
        r = v.map(|x| f(act, x));
        ys.push((0..3).map(|j| W_OUT[0][j] * r[j]).sum::<f64>() + B[2][0]);
        rs.push(r);
    }
    (ys, rs)
}

fn rows<const C: usize>(m: &[[f64; C]]) -> Vec<Vec<f64>> {
    m.iter().map(|r| r.to_vec()).collect()
}

#[test]
fn forward_matches_the_nn4n_update_for_every_activation() {
    let u = [[1.0, 0.0], [0.5, -1.0], [0.0, 2.0], [-1.5, 0.3], [0.0, 0.0]];
    let x = Tensor::from_vec(
        u.iter().flatten().map(|&v| v as f32).collect::<Vec<_>>(),
        (1, u.len(), 2),
        &Device::Cpu,
    )
    .unwrap();
    for act in [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Retanh,
    ] {
        let cfg = CtrnnConfig {
            dims: [2, 3, 1],
            activation: act,
            tau: 50.0,
            dt: 20.0,
            weights: PerLayer::Each(vec![
                WeightInit::Explicit(rows(&W_IN)),
                WeightInit::Explicit(rows(&W_HID)),
                WeightInit::Explicit(rows(&W_OUT)),
            ]),
            biases: PerLayer::Each(B.iter().map(|b| BiasInit::Explicit(b.to_vec())).collect()),
            ..CtrnnConfig::default()
        };
        let net = Ctrnn::new(&cfg, 0, &Device::Cpu).unwrap();
        let out = net.forward(&x).unwrap();
        let y: Vec<f32> = out.output.flatten_all().unwrap().to_vec1().unwrap();
        let r: Vec<f32> = out.states.flatten_all().unwrap().to_vec1().unwrap();
        let (y_ref, r_ref) = reference(act, 0.4, &u);
        for t in 0..u.len() {
            assert!(
                (y[t] as f64 - y_ref[t]).abs() < 1e-5,
                "{act:?} t={t}: {} vs {}",
                y[t],
                y_ref[t]
            );
            for i in 0..3 {
                assert!(
                    (r[t * 3 + i] as f64 - r_ref[t][i]).abs() < 1e-5,
                    "{act:?} rate t={t} i={i}"
                );
            }
        }
    }
}
