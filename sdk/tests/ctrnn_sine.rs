//! A CTRNN (nn4n defaults tau = 100, dt = 10, Dale's law, 50 % sparse recurrence) learns to generate
//! a sine wave whose amplitude is cued by a constant input; save/load and determinism.
mod common;

use candle_core::{Device, Tensor};
use candle_nn::Optimizer;
use snn_sdk::structure::ctrnn::{Activation, BiasInit, BiasKind, Ctrnn, CtrnnConfig, InitState};
use snn_sdk::structure::generators::{RandomInput, Structure};
use snn_sdk::structure::mask::{MaskValue, PerLayer};

const AMPS: [f32; 4] = [0.5, 0.8, 1.1, 1.4];
const T: usize = 60;
const PERIOD: f32 = 30.0;

fn task() -> (Tensor, Tensor) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for a in AMPS {
        for t in 0..T {
            x.push(a);
            y.push(a * (2.0 * std::f32::consts::PI * t as f32 / PERIOD).sin());
        }
    }
    let d = Device::Cpu;
    (
        Tensor::from_vec(x, (AMPS.len(), T, 1), &d).unwrap(),
        Tensor::from_vec(y, (AMPS.len(), T, 1), &d).unwrap(),
    )
}

fn config() -> CtrnnConfig {
    CtrnnConfig {
        dims: [1, 48, 1],
        activation: Activation::Tanh,
        biases: PerLayer::All(BiasInit::Named(BiasKind::Zero)),
        structure: Some(Structure::RandomInput(RandomInput {
            input_density: 1.0,
            hidden_density: 0.5,
            readout_density: 1.0,
            self_connections: false,
            exc_pct: Some(0.8),
        })),
        positivity_constraints: true,
        ..CtrnnConfig::default()
    }
}

fn mse(a: &Tensor, b: &Tensor) -> f32 {
    common::mse(a, b).to_scalar::<f32>().unwrap()
}

#[test]
fn ctrnn_learns_cued_sine_generation() {
    let (x, y) = task();
    let mut net = Ctrnn::new(&config(), 1, &Device::Cpu).unwrap();
    net.eval();
    let before = mse(&net.forward(&x).unwrap().output, &y);
    net.train();
    let mut opt = common::adamw(net.vars(), 0.01, 0.0);
    for _ in 0..200 {
        let out = net.forward(&x).unwrap();
        let loss = common::mse(&out.output, &y);
        net.step(&mut opt, &loss.backward().unwrap()).unwrap();
    }
    net.eval();
    let out = net.forward(&x).unwrap();
    let after = mse(&out.output, &y);
    eprintln!("sine task: mse {before:.4} -> {after:.5} after 200 Adam steps");
    // Target variance is mean(a^2)/2 ≈ 0.51; untrained MSE is about that. Stated bound: 0.01
    // (the run that set it reached ≈ 0.002 after 200 steps).
    assert!(before > 0.1, "untrained mse {before}");
    assert!(after < 0.01, "trained mse {after} (before {before})");
    // Dale's law and sparsity survived training.
    for (k, m) in net.layer_masks().iter().enumerate() {
        let w: Vec<f32> = net
            .weight_var(k)
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(m.violations(&w), 0, "layer {k}");
    }
    assert_eq!(out.states.dims(), &[4, T, 48]);
}

#[test]
fn same_seed_same_network_and_save_load_round_trip() {
    let (x, _) = task();
    let mut cfg = config();
    cfg.preact_noise = 0.05;
    cfg.postact_noise = 0.02;
    cfg.init_state = InitState::Learn;
    let a = Ctrnn::new(&cfg, 5, &Device::Cpu).unwrap();
    let b = Ctrnn::new(&cfg, 5, &Device::Cpu).unwrap();
    let c = Ctrnn::new(&cfg, 6, &Device::Cpu).unwrap();
    // Training mode: noise drawn from the seeded stream, so equal seeds give equal outputs.
    let (oa, ob, oc) = (
        a.forward(&x).unwrap().output,
        b.forward(&x).unwrap().output,
        c.forward(&x).unwrap().output,
    );
    assert_eq!(mse(&oa, &ob), 0.0);
    assert!(mse(&oa, &oc) > 0.0);
    // Noise is on in training mode only: two training passes differ, two eval passes agree.
    assert!(mse(&oa, &a.forward(&x).unwrap().output) > 0.0);
    let mut a = a;
    a.eval();
    let e1 = a.forward(&x).unwrap().output;
    assert_eq!(mse(&e1, &a.forward(&x).unwrap().output), 0.0);

    let dir = std::env::temp_dir().join(format!("ctrnn_save_{}", std::process::id()));
    a.save(&dir).unwrap();
    let mut loaded = Ctrnn::load(&dir, &Device::Cpu).unwrap();
    loaded.eval();
    let e2 = loaded.forward(&x).unwrap().output;
    assert_eq!(mse(&e1, &e2), 0.0);
    assert_eq!(loaded.layer_masks(), a.layer_masks());
    assert!(!std::fs::read_dir(&dir).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains(".tmp")));
    let table = loaded.layer_table().unwrap();
    assert!(
        table.contains("hidden") && table.contains("[48, 48]"),
        "{table}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_and_bad_config_are_clear_errors() {
    let net = Ctrnn::new(&config(), 1, &Device::Cpu).unwrap();
    let x = Tensor::zeros((2, 5, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
    let e = net.forward(&x).unwrap_err().to_string();
    assert!(
        e.contains("[batch, time >= 1, 1]") && e.contains("[2, 5, 3]"),
        "{e}"
    );
    let mut cfg = config();
    cfg.structure = None;
    let e = Ctrnn::new(&cfg, 1, &Device::Cpu).unwrap_err().to_string();
    assert!(
        e.contains("positivity_constraints") && e.contains("ei_masks[0]"),
        "{e}"
    );
    // Hidden neuron 0 excitatory in W_hid but inhibitory in W_out: not Dale's law.
    let labels =
        |first: f64| MaskValue::Labels((0..48).map(|j| if j == 0 { first } else { 1.0 }).collect());
    cfg.positivity_constraints = false;
    cfg.ei_masks = PerLayer::Each(vec![MaskValue::None, labels(1.0), labels(-1.0)]);
    let e = Ctrnn::new(&cfg, 1, &Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("hidden neuron 0") && e.contains("Dale"), "{e}");
}

#[test]
fn init_state_keep_continues_and_learn_trains_the_start() {
    let (x, y) = task();
    let mut cfg = config();
    cfg.init_state = InitState::Keep;
    let net = Ctrnn::new(&cfg, 2, &Device::Cpu).unwrap();
    let first = net.forward(&x).unwrap();
    let second = net.forward(&x).unwrap();
    let by_hand = net.forward_from(&x, Some(&first.last_state)).unwrap();
    assert_eq!(mse(&second.output, &by_hand.output), 0.0);
    assert!(mse(&second.output, &first.output) > 0.0);
    let short = x.narrow(0, 0, 2).unwrap();
    let e = net.forward(&short).unwrap_err().to_string();
    assert!(e.contains("reset_state"), "{e}");
    net.reset_state();
    assert_eq!(
        mse(&net.forward(&x).unwrap().output, &first.output),
        0.0,
        "after reset_state the run starts from zero again"
    );

    cfg.init_state = InitState::Learn;
    let mut net = Ctrnn::new(&cfg, 2, &Device::Cpu).unwrap();
    let h0 = net.vars().last().unwrap().clone();
    assert_eq!(h0.as_tensor().dims(), &[48]);
    let before: Vec<f32> = h0.as_tensor().to_vec1().unwrap();
    let mut opt = candle_nn::SGD::new(net.vars(), 0.5).unwrap();
    let out = net.forward(&x).unwrap();
    let loss = common::mse(&out.output, &y);
    net.step(&mut opt, &loss.backward().unwrap()).unwrap();
    let after: Vec<f32> = h0.as_tensor().to_vec1().unwrap();
    assert_ne!(before, after, "the learned initial state got no gradient");
}
