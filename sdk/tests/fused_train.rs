//! Training through the fused op: a few Adam steps follow the same loss curve as training
//! through the per-step reference, and the loss goes down on a learnable toy task.

use candle_core::{Device, Result, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use snn_sdk::net::layer::{LayerConfig, LayerKind, Reset};
use snn_sdk::net::network::{Network, NetworkConfig};
use snn_sdk::rng::SplitMix64;

/// Two classes of rate-coded inputs: class c fires the first or the second half of the inputs
/// more often.
fn toy_batch(rng: &mut SplitMix64, b: usize, t: usize, inp: usize) -> Result<(Tensor, Tensor)> {
    let mut x = Vec::with_capacity(b * t * inp);
    let mut y = Vec::with_capacity(b);
    for i in 0..b {
        let c = (i % 2) as u32;
        y.push(c);
        for _ in 0..t {
            for k in 0..inp {
                let hot = (k < inp / 2) == (c == 0);
                let p = if hot { 0.3 } else { 0.05 };
                x.push(if rng.next_f32() < p { 1.0f32 } else { 0.0 });
            }
        }
    }
    Ok((
        Tensor::from_vec(x, (b, t, inp), &Device::Cpu)?,
        Tensor::from_vec(y, b, &Device::Cpu)?,
    ))
}

fn train(cfg: &NetworkConfig, fused: bool, steps: usize) -> Result<Vec<f32>> {
    let net = Network::new(cfg, 17, &Device::Cpu).map_err(candle_core::Error::wrap)?;
    let mut opt = AdamW::new(
        net.vars(),
        ParamsAdamW {
            lr: 1e-2,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let mut rng = SplitMix64::new(5);
    let mut losses = Vec::new();
    for _ in 0..steps {
        let (x, y) = toy_batch(&mut rng, 16, 20, 24)?;
        let outs = if fused {
            net.forward(&x)
        } else {
            net.forward_reference(&x)
        }
        .map_err(candle_core::Error::wrap)?;
        let counts = outs.last().unwrap().spikes.sum(1)?;
        let loss = candle_nn::loss::cross_entropy(&counts, &y)?;
        opt.backward_step(&loss)?;
        losses.push(loss.to_scalar::<f32>()?);
    }
    Ok(losses)
}

fn config() -> NetworkConfig {
    NetworkConfig {
        input_size: 24,
        layers: vec![
            LayerConfig {
                learn_beta: true,
                learn_threshold: true,
                ..LayerConfig::new(LayerKind::Recurrent, 40)
            },
            LayerConfig {
                reset: Reset::Zero,
                ..LayerConfig::new(LayerKind::Leaky, 2)
            },
        ],
    }
}

#[test]
fn fused_and_reference_training_follow_the_same_loss_curve() -> Result<()> {
    let cfg = config();
    let f = train(&cfg, true, 6)?;
    let r = train(&cfg, false, 6)?;
    for (i, (a, b)) in f.iter().zip(&r).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
            "step {i}: fused loss {a} vs reference {b} ({f:?} vs {r:?})"
        );
    }
    Ok(())
}

#[test]
fn fused_training_reduces_the_loss() -> Result<()> {
    let losses = train(&config(), true, 60)?;
    let first: f32 = losses[..10].iter().sum::<f32>() / 10.0;
    let last: f32 = losses[50..].iter().sum::<f32>() / 10.0;
    assert!(
        last < 0.6 * first,
        "loss did not fall enough: first 10 steps {first}, last 10 {last}"
    );
    Ok(())
}
