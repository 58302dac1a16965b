//! The fused multi-step LIF op must reproduce the per-step autograd reference: same spikes,
//! same membranes and the same gradients (to 1e-5) for every layer kind, reset mode and
//! surrogate, including learnable decays and thresholds; and on padded batches of unequal
//! lengths (`forward_lengths`), where each sample stops at its own length.

use candle_core::{DType, Device, Result, Tensor, Var};
use snn_sdk::net::fused::lif_fused as lif;
use snn_sdk::net::layer::{LayerConfig, LayerKind, Reset};
use snn_sdk::net::lif::{lif_slow, LifParams};
use snn_sdk::net::network::{LayerOutput, Network, NetworkConfig};
use snn_sdk::net::surrogate::{Surrogate, SurrogateConfig, SurrogateGradient, SurrogateKind};
use snn_sdk::rng::SplitMix64;

const TOL: f32 = 1e-5;

fn uniform(rng: &mut SplitMix64, dims: &[usize], lo: f32, hi: f32) -> Result<Tensor> {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.uniform(lo, hi)).collect();
    Tensor::from_vec(v, dims, &Device::Cpu)
}

fn bernoulli(rng: &mut SplitMix64, dims: &[usize], p: f32, scale: f32) -> Result<Tensor> {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| if rng.next_f32() < p { scale } else { 0.0 })
        .collect();
    Tensor::from_vec(v, dims, &Device::Cpu)
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor) -> Result<()> {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes differ");
    let g = got.flatten_all()?.to_vec1::<f32>()?;
    let w = want.flatten_all()?.to_vec1::<f32>()?;
    let scale = w.iter().fold(1f32, |m, x| m.max(x.abs()));
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= TOL * scale,
            "{what}[{i}]: fused {a} vs reference {b} (scale {scale})"
        );
    }
    Ok(())
}

/// A loss that touches every output (spikes and membranes of every layer) with random weights.
fn loss(outs: &[LayerOutput], weights: &[(Tensor, Tensor)]) -> Result<Tensor> {
    let mut total = Tensor::zeros((), DType::F32, &Device::Cpu)?;
    for (o, (ws, wm)) in outs.iter().zip(weights) {
        total = (total + (o.spikes.mul(ws)?.sum_all()? + o.mem.mul(wm)?.sum_all()?)?)?;
    }
    Ok(total)
}

fn surrogates() -> Vec<SurrogateConfig> {
    [
        SurrogateKind::FastSigmoid,
        SurrogateKind::Arctan,
        SurrogateKind::Sigmoid,
        SurrogateKind::Triangular,
        SurrogateKind::StraightThrough,
    ]
    .into_iter()
    .map(|kind| SurrogateConfig {
        kind,
        ..Default::default()
    })
    .collect()
}

/// Runs both paths on the same network and input and compares outputs and all gradients.
fn check_network(cfg: &NetworkConfig, seed: u64, batch: usize, steps: usize) -> Result<()> {
    // dense inputs (the op projects with a matmul) and sparse ones (event-driven projection)
    check_network_with(cfg, seed, batch, steps, 0.4, 1.5, None)?;
    check_network_with(cfg, seed, batch, steps, 0.12, 4.0, None)
}

fn check_network_with(
    cfg: &NetworkConfig,
    seed: u64,
    batch: usize,
    steps: usize,
    p: f32,
    scale: f32,
    lengths: Option<&[usize]>,
) -> Result<()> {
    let net = Network::new(cfg, seed, &Device::Cpu).map_err(candle_core::Error::wrap)?;
    let mut rng = SplitMix64::new(seed ^ 0xABCD);
    let x = bernoulli(&mut rng, &[batch, steps, cfg.input_size], p, scale)?;
    let (fused, reference) = match lengths {
        None => (net.forward(&x), net.forward_reference(&x)),
        Some(l) => (
            net.forward_lengths(&x, l),
            net.forward_reference_lengths(&x, l),
        ),
    };
    let weights: Vec<(Tensor, Tensor)> = cfg
        .layers
        .iter()
        .map(|l| {
            Ok((
                uniform(&mut rng, &[batch, steps, l.size], -1.0, 1.0)?,
                uniform(&mut rng, &[batch, steps, l.size], -1.0, 1.0)?,
            ))
        })
        .collect::<Result<_>>()?;
    let fused = fused.map_err(candle_core::Error::wrap)?;
    let reference = reference.map_err(candle_core::Error::wrap)?;
    let mut total_spikes = 0f32;
    let mut total_slots = 0usize;
    for (l, (f, r)) in fused.iter().zip(&reference).enumerate() {
        assert_close(&format!("layer {l} spikes"), &f.spikes, &r.spikes)?;
        assert_close(&format!("layer {l} mem"), &f.mem, &r.mem)?;
        total_spikes += r.spikes.sum_all()?.to_scalar::<f32>()?;
        total_slots += r.spikes.elem_count();
    }
    let rate = total_spikes / total_slots as f32;
    assert!(
        (0.02..0.9).contains(&rate),
        "test is only meaningful with spiking activity; rate {rate}"
    );
    let gf = loss(&fused, &weights)?.backward()?;
    let gr = loss(&reference, &weights)?.backward()?;
    let vars = net.varmap().data().lock().unwrap().clone();
    let mut names: Vec<_> = vars.keys().cloned().collect();
    names.sort();
    for name in names {
        let v = &vars[&name];
        let (a, b) = (gf.get(v), gr.get(v));
        match (a, b) {
            (Some(a), Some(b)) => assert_close(&format!("grad {name}"), a, b)?,
            (None, None) => {}
            _ => panic!("grad {name}: present in only one path"),
        }
    }
    Ok(())
}

fn net(input: usize, layers: Vec<LayerConfig>) -> NetworkConfig {
    NetworkConfig {
        input_size: input,
        layers,
    }
}

#[test]
fn leaky_all_resets_and_surrogates() -> Result<()> {
    for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
        for sur in surrogates() {
            let hidden = LayerConfig {
                reset,
                surrogate: sur,
                ..LayerConfig::new(LayerKind::Leaky, 12)
            };
            let out = LayerConfig {
                reset,
                surrogate: sur,
                ..LayerConfig::new(LayerKind::Leaky, 5)
            };
            check_network(&net(9, vec![hidden, out]), 11, 4, 13)?;
        }
    }
    Ok(())
}

#[test]
fn learnable_beta_per_neuron_and_threshold() -> Result<()> {
    for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
        for per_neuron in [false, true] {
            let l = LayerConfig {
                reset,
                learn_beta: true,
                beta_per_neuron: per_neuron,
                beta: Some(0.8),
                learn_threshold: true,
                threshold: 0.7,
                ..LayerConfig::new(LayerKind::Leaky, 10)
            };
            let o = LayerConfig {
                learn_beta: true,
                learn_threshold: true,
                reset,
                ..LayerConfig::new(LayerKind::Leaky, 4)
            };
            check_network(&net(7, vec![l, o]), 5, 3, 17)?;
        }
    }
    Ok(())
}

#[test]
fn recurrent_layers() -> Result<()> {
    for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
        for sur in surrogates() {
            let r = LayerConfig {
                reset,
                surrogate: sur,
                learn_beta: true,
                learn_threshold: true,
                ..LayerConfig::new(LayerKind::Recurrent, 16)
            };
            let o = LayerConfig::new(LayerKind::Leaky, 4);
            check_network(&net(8, vec![r, o]), 21, 3, 15)?;
        }
    }
    Ok(())
}

#[test]
fn synaptic_layers() -> Result<()> {
    for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
        let s = LayerConfig {
            reset,
            alpha: Some(0.6),
            learn_alpha: true,
            learn_beta: true,
            beta_per_neuron: true,
            learn_threshold: true,
            ..LayerConfig::new(LayerKind::Synaptic, 11)
        };
        let o = LayerConfig {
            reset,
            ..LayerConfig::new(LayerKind::Synaptic, 3)
        };
        check_network(&net(6, vec![s, o]), 8, 3, 14)?;
    }
    Ok(())
}

#[test]
fn larger_batch_takes_the_parallel_path() -> Result<()> {
    // B*T*N above the threshold where the op splits the batch across threads. Per-neuron
    // parameters only: a per-layer threshold/beta gradient here sums 20k terms, and the f32
    // autograd reference itself is then only good to ~3e-5 relative (the fused op sums in f64).
    let r = LayerConfig {
        learn_beta: true,
        beta_per_neuron: true,
        ..LayerConfig::new(LayerKind::Recurrent, 64)
    };
    let o = LayerConfig::new(LayerKind::Leaky, 10);
    check_network(&net(20, vec![r, o]), 2, 16, 20)
}

/// Direct op-level check with learnable currents and parameters (recurrent + synaptic at once,
/// which no built-in layer kind combines).
#[test]
fn op_level_gradients_of_currents_and_parameters() -> Result<()> {
    let (b, t, n) = (3, 12, 7);
    let mut rng = SplitMix64::new(99);
    for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
        let cur = Var::from_tensor(&uniform(&mut rng, &[b, t, n], -0.3, 1.2)?)?;
        let beta = Var::from_tensor(&uniform(&mut rng, &[n], 0.5, 0.95)?)?;
        let thr = Var::from_tensor(&uniform(&mut rng, &[n], 0.6, 1.2)?)?;
        let alpha = Var::from_tensor(&uniform(&mut rng, &[n], 0.2, 0.8)?)?;
        let w = Var::from_tensor(&uniform(&mut rng, &[n, n], -0.5, 0.5)?)?;
        let sur = Surrogate::Arctan { alpha: 2.0 };
        let p = LifParams {
            beta: beta.as_tensor(),
            threshold: thr.as_tensor(),
            alpha: Some(alpha.as_tensor()),
            w_rec: Some(w.as_tensor()),
            reset,
            surrogate: &sur,
        };
        let ws = uniform(&mut rng, &[b, t, n], -1.0, 1.0)?;
        let wm = uniform(&mut rng, &[b, t, n], -1.0, 1.0)?;
        let f = lif(cur.as_tensor(), &p)?;
        let r = lif_slow(cur.as_tensor(), &p)?;
        assert_close("spikes", &f.spikes, &r.spikes)?;
        assert_close("mem", &f.mem, &r.mem)?;
        let lf = (f.spikes.mul(&ws)?.sum_all()? + f.mem.mul(&wm)?.sum_all()?)?;
        let lr = (r.spikes.mul(&ws)?.sum_all()? + r.mem.mul(&wm)?.sum_all()?)?;
        let (gf, gr) = (lf.backward()?, lr.backward()?);
        for (name, v) in [
            ("currents", &cur),
            ("beta", &beta),
            ("threshold", &thr),
            ("alpha", &alpha),
            ("w_rec", &w),
        ] {
            assert_close(
                &format!("{reset:?} grad {name}"),
                gf.get(v).unwrap(),
                gr.get(v).unwrap(),
            )?;
        }
    }
    Ok(())
}

/// A user-defined surrogate plugs into both paths through the trait.
#[derive(Debug)]
struct Gaussian;
impl SurrogateGradient for Gaussian {
    fn name(&self) -> &str {
        "gaussian"
    }
    fn grad(&self, x: f32) -> f32 {
        (-x * x * 8.0).exp()
    }
}

#[test]
fn custom_surrogate_through_the_trait() -> Result<()> {
    let cfg = net(
        6,
        vec![
            LayerConfig::new(LayerKind::Leaky, 9),
            LayerConfig::new(LayerKind::Leaky, 3),
        ],
    );
    let mut a = Network::new(&cfg, 1, &Device::Cpu).map_err(candle_core::Error::wrap)?;
    let x = bernoulli(&mut SplitMix64::new(4), &[2, 10, 6], 0.5, 1.5)?;
    let before = a.forward(&x).map_err(candle_core::Error::wrap)?[1]
        .mem
        .sum_all()?
        .backward()?;
    let w0 = a.varmap().data().lock().unwrap()["layers.0.w_ff"].clone();
    let g_default = before.get(&w0).unwrap().clone();
    a.set_surrogate(0, Surrogate::Custom(std::sync::Arc::new(Gaussian)))
        .map_err(candle_core::Error::wrap)?;
    let f = a.forward(&x).map_err(candle_core::Error::wrap)?;
    let r = a.forward_reference(&x).map_err(candle_core::Error::wrap)?;
    let gf = f[1].mem.sum_all()?.backward()?;
    let gr = r[1].mem.sum_all()?.backward()?;
    assert_close(
        "custom grad w_ff",
        gf.get(&w0).unwrap(),
        gr.get(&w0).unwrap(),
    )?;
    // and it really changed the gradient
    let diff = (gf.get(&w0).unwrap() - &g_default)?
        .abs()?
        .sum_all()?
        .to_scalar::<f32>()?;
    assert!(diff > 1e-4, "custom surrogate had no effect");
    Ok(())
}

/// Padded batches: every sample stops at its own length. The fused op (which skips the
/// padding's work) must equal the reference (which computes the padding and zeroes it), in
/// outputs and every gradient, for dense and event-driven projections and every layer kind.
#[test]
fn padded_batches_of_unequal_lengths() -> Result<()> {
    let lengths = [7, 1, 12, 3, 12, 9];
    for (seed, kind) in [
        (31, LayerKind::Recurrent),
        (32, LayerKind::Synaptic),
        (33, LayerKind::Leaky),
    ] {
        let cfg = net(
            10,
            vec![
                LayerConfig::new(kind, 24),
                LayerConfig::new(LayerKind::Leaky, 5),
            ],
        );
        check_network_with(&cfg, seed, 6, 12, 0.4, 1.5, Some(&lengths))?;
        check_network_with(&cfg, seed, 6, 12, 0.12, 4.0, Some(&lengths))?;
    }
    Ok(())
}

/// On a padded batch the valid steps equal an unpadded run, the padding's outputs are 0 and
/// whatever the padding's inputs hold is never read.
#[test]
fn padding_is_never_read_and_outputs_zero() -> Result<()> {
    let cfg = net(
        8,
        vec![
            LayerConfig::new(LayerKind::Recurrent, 20),
            LayerConfig::new(LayerKind::Leaky, 4),
        ],
    );
    let net = Network::new(&cfg, 5, &Device::Cpu).map_err(candle_core::Error::wrap)?;
    let mut rng = SplitMix64::new(77);
    let x = bernoulli(&mut rng, &[3, 10, 8], 0.4, 1.5)?;
    let lengths = [10, 4, 6];
    // garbage after each end: the same outputs as with zeros there
    let noise = bernoulli(&mut rng, &[3, 10, 8], 0.9, 3.0)?;
    let keep: Vec<f32> = lengths
        .iter()
        .flat_map(|&l| (0..10).map(move |t| f32::from(u8::from(t < l))))
        .collect();
    let keep = Tensor::from_vec(keep, (3, 10, 1), &Device::Cpu)?;
    let clean = x.broadcast_mul(&keep)?;
    let dirty = (&clean + noise.broadcast_mul(&(1.0 - &keep)?)?)?;
    let a = net
        .forward_lengths(&clean, &lengths)
        .map_err(candle_core::Error::wrap)?;
    let b = net
        .forward_lengths(&dirty, &lengths)
        .map_err(candle_core::Error::wrap)?;
    let full = net.forward(&clean).map_err(candle_core::Error::wrap)?;
    for (l, ((a, b), f)) in a.iter().zip(&b).zip(&full).enumerate() {
        assert_close(
            &format!("layer {l} spikes, dirty padding"),
            &b.spikes,
            &a.spikes,
        )?;
        assert_close(&format!("layer {l} mem, dirty padding"), &b.mem, &a.mem)?;
        let masked = f.spikes.broadcast_mul(&keep)?;
        assert_close(&format!("layer {l} spikes vs unpadded"), &a.spikes, &masked)?;
        let masked = f.mem.broadcast_mul(&keep)?;
        assert_close(&format!("layer {l} mem vs unpadded"), &a.mem, &masked)?;
    }
    assert!(
        a[0].spikes.sum_all()?.to_scalar::<f32>()? > 0.0,
        "the hidden layer must spike for this test to mean anything"
    );
    // a length beyond the batch's steps is refused
    assert!(net.forward_lengths(&clean, &[10, 11, 6]).is_err());
    assert!(net.forward_lengths(&clean, &[10, 4]).is_err());
    Ok(())
}
