//! Masks hold through training: a CTRNN with sparsity, Dale's law, plasticity and growth masks on
//! all three layers is trained for 300 Adam steps with a large learning rate (to push weights
//! across zero), then every invariant is checked exactly.
mod common;

use candle_core::{Device, Tensor};
use candle_nn::Optimizer;
use snn_sdk::structure::ctrnn::{Activation, Ctrnn, CtrnnConfig};
use snn_sdk::structure::mask::{LayerMasks, MaskSet, MaskValue, PerLayer, SeedRng};

const DIMS: [usize; 3] = [3, 24, 2];

fn weights(net: &Ctrnn, k: usize) -> Vec<f32> {
    net.weight_var(k)
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Row-major random 0/1 matrix with the given density.
fn random_01(rows: usize, cols: usize, p: f64, rng: &mut SeedRng) -> Vec<f32> {
    (0..rows * cols)
        .map(|_| rng.bernoulli(p) as u8 as f32)
        .collect()
}

fn matrix(v: &[f32], rows: usize, cols: usize) -> MaskValue {
    MaskValue::from_row_major(v, rows, cols)
}

/// A random regression task: inputs [B, T, 3] and targets [B, T, 2] from a fixed random map.
fn data() -> (Tensor, Tensor) {
    let mut rng = SeedRng::new(11);
    let (b, t) = (8, 20);
    let x: Vec<f32> = (0..b * t * 3).map(|_| rng.normal() as f32).collect();
    let y: Vec<f32> = (0..b * t * 2).map(|_| rng.normal() as f32 * 0.5).collect();
    let d = Device::Cpu;
    (
        Tensor::from_vec(x, (b, t, 3), &d).unwrap(),
        Tensor::from_vec(y, (b, t, 2), &d).unwrap(),
    )
}

#[test]
fn masked_zeros_signs_and_frozen_synapses_hold_through_training() {
    let mut rng = SeedRng::new(3);
    let [ni, n, no] = DIMS;
    let shapes = [[n, ni], [n, n], [no, n]];
    let sparsity: Vec<Vec<f32>> = shapes
        .iter()
        .map(|s| random_01(s[0], s[1], 0.6, &mut rng))
        .collect();
    // Hidden labels: 18 E, 6 I; input channels: 2 E, 1 I (Dale's law on all three layers).
    let hidden_labels: Vec<f64> = (0..n).map(|i| if i < 18 { 1.0 } else { -1.0 }).collect();
    let ei = vec![
        MaskValue::Labels(vec![1.0, 1.0, -1.0]),
        MaskValue::Labels(hidden_labels.clone()),
        MaskValue::Labels(hidden_labels),
    ];
    // Plasticity: a third of the synapses frozen (0), the others at 1 or 0.5.
    let plasticity: Vec<Vec<f32>> = shapes
        .iter()
        .map(|s| (0..s[0] * s[1]).map(|k| [0.0, 1.0, 0.5][k % 3]).collect())
        .collect();
    let cfg = CtrnnConfig {
        dims: DIMS,
        activation: Activation::Relu,
        weights: PerLayer::All(snn_sdk::structure::ctrnn::WeightInit::Named(
            snn_sdk::structure::ctrnn::WeightKind::Normal,
        )),
        sparsity_masks: PerLayer::Each(
            (0..3)
                .map(|k| matrix(&sparsity[k], shapes[k][0], shapes[k][1]))
                .collect(),
        ),
        ei_masks: PerLayer::Each(ei),
        plasticity_masks: PerLayer::Each(
            (0..3)
                .map(|k| matrix(&plasticity[k], shapes[k][0], shapes[k][1]))
                .collect(),
        ),
        positivity_constraints: true,
        self_connections: false,
        ..CtrnnConfig::default()
    };
    let mut net = Ctrnn::new(&cfg, 42, &Device::Cpu).unwrap();
    // At init: zeros, signs, zero diagonal, and E/I totals balanced.
    for k in 0..3 {
        let w = weights(&net, k);
        let m = net.layer_masks()[k];
        assert_eq!(m.violations(&w), 0, "layer {k} at init");
        if k > 0 {
            let total: f32 = w.iter().sum();
            let abs: f32 = w.iter().map(|x| x.abs()).sum();
            assert!(
                total.abs() < 1e-4 * abs,
                "layer {k}: E/I not balanced, sum {total}"
            );
        }
    }
    assert!((0..n).all(|i| weights(&net, 1)[i * n + i] == 0.0));
    let init: Vec<Vec<f32>> = (0..3).map(|k| weights(&net, k)).collect();

    let (x, y) = data();
    let mut opt = common::adamw(net.vars(), 0.05, 0.01);
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..300 {
        let out = net.forward(&x).unwrap();
        let loss = common::mse(&out.output, &y);
        last = loss.to_scalar::<f32>().unwrap();
        first.get_or_insert(last);
        net.step(&mut opt, &loss.backward().unwrap()).unwrap();
    }
    assert!(
        last < first.unwrap(),
        "training did nothing: {first:?} -> {last}"
    );

    let mut moved = 0;
    let mut clamped = 0;
    for (k, init_k) in init.iter().enumerate() {
        let w = weights(&net, k);
        let m = net.layer_masks()[k];
        let s = m.sparsity().unwrap();
        let e = m.ei().unwrap();
        let p = m.plasticity().unwrap();
        for i in 0..w.len() {
            if s[i] == 0.0 {
                assert_eq!(w[i], 0.0, "layer {k} entry {i}: masked synapse is {}", w[i]);
            }
            assert!(
                w[i] * e[i] >= 0.0,
                "layer {k} entry {i}: {} has the wrong sign",
                w[i]
            );
            if p[i] == 0.0 {
                assert_eq!(
                    w[i].to_bits(),
                    init_k[i].to_bits(),
                    "layer {k} entry {i}: frozen synapse moved"
                );
            } else if s[i] != 0.0 && w[i] != init_k[i] {
                moved += 1;
            }
            clamped += usize::from(s[i] != 0.0 && p[i] != 0.0 && w[i] == 0.0);
        }
    }
    // The test can fail: plastic synapses did move, and rectification did bite somewhere.
    assert!(moved > 100, "only {moved} plastic synapses moved");
    assert!(clamped > 0, "no weight was ever pushed against its sign");
}

/// Growth at probability `p` per step over `k` steps turns each absent synapse on with
/// probability `q = 1 - (1 - p)^k`. With `m` independent absent synapses the grown count is
/// Binomial(m, q); the test allows 5 standard deviations (false-failure rate < 1e-6) and checks
/// that zero-probability locations never grow.
#[test]
fn synapse_growth_matches_its_probability() {
    let device = Device::Cpu;
    let (rows, cols) = (80, 100);
    let m_total = rows * cols;
    // Left half of the columns may grow (p = 0.002 per step), the right half never.
    let p = 0.002f32;
    let growth: Vec<f32> = (0..m_total)
        .map(|k| if k % cols < cols / 2 { p } else { 0.0 })
        .collect();
    let masks = LayerMasks::new("hidden", rows, cols)
        .with_sparsity(&vec![0.0; m_total])
        .unwrap()
        .with_growth(&growth)
        .unwrap();
    let w = candle_core::Var::zeros((rows, cols), candle_core::DType::F32, &device).unwrap();
    let mut set = MaskSet::new(5);
    set.push(w.clone(), masks).unwrap();
    let mut opt = candle_nn::SGD::new(vec![w.clone()], 0.1).unwrap();
    // Loss pulls every weight up, so grown synapses learn while absent ones must stay 0.
    let steps = 300;
    let mut grown_total = 0;
    for _ in 0..steps {
        let eff = set.get(0).unwrap().effective().unwrap();
        let loss = (eff.affine(-1.0, 0.0).unwrap()).sum_all().unwrap();
        let r = set.step(&mut opt, &loss.backward().unwrap()).unwrap();
        grown_total += r.grown[0];
    }
    let s = set.get(0).unwrap().masks().sparsity().unwrap().to_vec();
    let grown = s.iter().filter(|&&x| x != 0.0).count();
    assert_eq!(grown, grown_total);
    let eligible = m_total / 2;
    let q = 1.0 - (1.0 - p as f64).powi(steps);
    let mean = eligible as f64 * q;
    let sd = (eligible as f64 * q * (1.0 - q)).sqrt();
    assert!(
        (grown as f64 - mean).abs() < 5.0 * sd,
        "grew {grown}, expected {mean:.0} ± {:.0} (5 sd)",
        5.0 * sd
    );
    let wv: Vec<f32> = w.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
    for k in 0..m_total {
        if k % cols >= cols / 2 {
            assert_eq!(s[k], 0.0, "grew where the probability is 0");
        }
        if s[k] == 0.0 {
            assert_eq!(wv[k], 0.0, "absent synapse {k} has weight {}", wv[k]);
        }
    }
    // Grown synapses are trainable: most have moved away from 0.
    let learning = (0..m_total).filter(|&k| s[k] != 0.0 && wv[k] > 0.0).count();
    assert!(
        learning * 10 > grown * 9,
        "{learning} of {grown} grown synapses learned"
    );
}

#[test]
fn mask_shape_errors_name_layer_and_shapes() {
    let cfg = CtrnnConfig {
        dims: [2, 5, 1],
        sparsity_masks: PerLayer::Each(vec![
            MaskValue::None,
            MaskValue::Matrix(vec![vec![1.0; 4]; 5]),
            MaskValue::None,
        ]),
        ..CtrnnConfig::default()
    };
    let e = Ctrnn::new(&cfg, 0, &Device::Cpu).unwrap_err().to_string();
    assert!(
        e.contains("hidden") && e.contains("[5, 5]") && e.contains("[5, 4]"),
        "{e}"
    );
}
