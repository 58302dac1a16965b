//! Masks on the spiking layers of `Network`: configured in TOML, applied in the fused forward
//! pass, held exactly through 300 training steps, and handed to export through `layer_params`.
mod common;

use candle_core::{DType, Device, Tensor};
use snn_sdk::net::network::{Network, NetworkConfig};
use snn_sdk::structure::mask::SeedRng;

const CONFIG: &str = r#"
input_size = 20

[[layers]]
kind = "recurrent"
size = 16
[layers.masks]
density = 0.4                 # 40 % of input synapses exist
plasticity = [0.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]  # per input channel
growth = 0.002                # absent input synapses may grow
[layers.rec_masks]
density = 0.5
exc_pct = 0.75                # neurons 0..12 excitatory, 12..16 inhibitory
self_connections = false

[[layers]]
size = 4
reset = "none"
[layers.masks]
exc_pct = 0.75                # the same neurons, the same signs on their outgoing edges
"#;

fn cfg() -> NetworkConfig {
    toml::from_str(CONFIG).unwrap()
}

/// Random input spikes [B, T, 20] and target spike counts [B, 4].
fn data() -> (Tensor, Tensor) {
    let mut rng = SeedRng::new(2);
    let (b, t) = (16, 12);
    let x: Vec<f32> = (0..b * t * 20)
        .map(|_| rng.bernoulli(0.3) as u8 as f32)
        .collect();
    let y: Vec<f32> = (0..b * 4).map(|_| rng.index(8) as f32).collect();
    let d = Device::Cpu;
    (
        Tensor::from_vec(x, (b, t, 20), &d).unwrap(),
        Tensor::from_vec(y, (b, 4), &d).unwrap(),
    )
}

fn loss(net: &Network, x: &Tensor, y: &Tensor, fused: bool) -> Tensor {
    let out = if fused {
        net.forward(x).unwrap()
    } else {
        net.forward_reference(x).unwrap()
    };
    let counts = out[1].spikes.sum(1).unwrap();
    common::mse(&counts, y)
}

#[test]
fn masked_spiking_network_keeps_its_constraints_through_training() {
    let mut net = Network::new(&cfg(), 7, &Device::Cpu).unwrap();
    let m0 = net.layer_masks(0);
    let ff0 = m0.ff.unwrap().clone();
    let rec0 = m0.rec.unwrap().clone();
    let ff1 = net.layer_masks(1).ff.unwrap().clone();
    assert!((ff0.density() - 0.4).abs() < 0.08, "{}", ff0.density());
    assert_eq!(rec0.ei_counts(), (12, 4));
    assert_eq!(ff1.ei_counts(), (12, 4));
    let p0 = net.layer_params().unwrap();
    let init_ff0 = p0[0].w_ff.clone();
    assert_eq!(ff0.violations(&p0[0].w_ff), 0);
    assert_eq!(rec0.violations(p0[0].w_rec.as_ref().unwrap()), 0);
    assert_eq!(ff1.violations(&p0[1].w_ff), 0);

    // The fused op sees the masked weights: its gradients equal the per-step reference's.
    let (x, y) = data();
    let g_fused = loss(&net, &x, &y, true).backward().unwrap();
    let g_ref = loss(&net, &x, &y, false).backward().unwrap();
    for v in net.vars() {
        let (a, b) = (g_fused.get(v.as_tensor()), g_ref.get(v.as_tensor()));
        if let (Some(a), Some(b)) = (a, b) {
            let diff = (a - b).unwrap().abs().unwrap().max_all().unwrap();
            assert!(diff.to_scalar::<f32>().unwrap() < 1e-4);
        }
    }

    let mut opt = common::adamw(net.vars(), 0.05, 0.01);
    let (mut first, mut last, mut grown) = (None, 0.0, 0usize);
    for _ in 0..300 {
        let l = loss(&net, &x, &y, true);
        last = l.to_scalar::<f32>().unwrap();
        first.get_or_insert(last);
        let r = net.step(&mut opt, &l.backward().unwrap()).unwrap();
        grown += r.grown.iter().sum::<usize>();
    }
    assert!(last < first.unwrap(), "no learning: {first:?} -> {last}");

    let p = net.layer_params().unwrap();
    let ff0_now = net.layer_masks(0).ff.unwrap().clone();
    // Growth: 192 absent input synapses at 0.002 per step for 300 steps -> expect ≈ 87 ± 7.
    let absent0 = ff0
        .sparsity()
        .unwrap()
        .iter()
        .filter(|&&v| v == 0.0)
        .count();
    let q = 1.0 - (1.0f64 - 0.002).powi(300);
    let (mean, sd) = (absent0 as f64 * q, (absent0 as f64 * q * (1.0 - q)).sqrt());
    assert!(
        (grown as f64 - mean).abs() < 5.0 * sd,
        "grew {grown}, expected {mean:.0} ± {sd:.0}"
    );
    // Every constraint holds exactly, with the masks as they are now.
    assert_eq!(ff0_now.violations(&p[0].w_ff), 0);
    assert_eq!(rec0.violations(p[0].w_rec.as_ref().unwrap()), 0);
    assert_eq!(ff1.violations(&p[1].w_ff), 0);
    let rec = p[0].w_rec.as_ref().unwrap();
    assert!(
        (0..16).all(|i| rec[i * 16 + i] == 0.0),
        "self connection appeared"
    );
    // Frozen input synapses (plasticity 0: input channels 0, 10 and 19) did not move at all.
    for i in 0..16 {
        for j in [0, 10, 19] {
            let k = i * 20 + j;
            assert_eq!(
                p[0].w_ff[k].to_bits(),
                init_ff0[k].to_bits(),
                "frozen w_ff[{i}][{j}] moved"
            );
        }
    }
    // What export gets: connectivity and per-neuron signs.
    assert_eq!(
        p[0].ff_mask.as_ref().unwrap(),
        &ff0_now
            .sparsity()
            .unwrap()
            .iter()
            .map(|&v| v != 0.0)
            .collect::<Vec<_>>()
    );
    let signs: Vec<i8> = (0..16).map(|j| if j < 12 { 1 } else { -1 }).collect();
    assert_eq!(p[0].rec_sign.as_ref().unwrap(), &signs);
    assert_eq!(p[1].ff_sign.as_ref().unwrap(), &signs);
    assert!(p[0].ff_sign.is_none() && p[1].rec_mask.is_none());
    // Masks survive a checkpoint round trip through tensors.
    let t: std::collections::HashMap<_, _> =
        net.masks().to_tensors().unwrap().into_iter().collect();
    let mut fresh = Network::new(&cfg(), 7, &Device::Cpu).unwrap();
    fresh.masks_mut().load_tensors(&t).unwrap();
    assert_eq!(fresh.layer_masks(0).ff, Some(&ff0_now));
}

#[test]
fn mask_config_errors_name_the_field() {
    let bad = CONFIG.replace(
        "exc_pct = 0.75                # the same",
        "exc_pct = 0.5 # the same",
    );
    let e = Network::new(&toml::from_str(&bad).unwrap(), 7, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("layers[1].masks") && e.contains("Dale"), "{e}");
    let bad = CONFIG.replace("plasticity = [0.0", "plasticity = [-1.0");
    let e = Network::new(&toml::from_str(&bad).unwrap(), 7, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("layers[0].masks") && e.contains("plasticity_masks[0][0] = -1"),
        "{e}"
    );
    let bad = "input_size = 3\n[[layers]]\nsize = 2\n[layers.rec_masks]\ndensity = 0.5";
    let e = Network::new(&toml::from_str(bad).unwrap(), 7, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("layers[0].rec_masks"), "{e}");
    let x = Tensor::zeros((1, 2, 20), DType::F32, &Device::Cpu).unwrap();
    assert!(Network::new(&cfg(), 7, &Device::Cpu)
        .unwrap()
        .forward(&x)
        .is_ok());
}
