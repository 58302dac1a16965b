//! Trains the CTRNN of `models/zoo/ctrnn_sine.toml` (nn4n defaults: tau 100, dt 10; Dale's law
//! with 80 % excitatory neurons; 50 % sparse recurrence) to generate a sine wave whose amplitude
//! is set by a constant cue input, then saves it and prints its layer table.
//!
//! Run: `cargo run -p snn-sdk --example ctrnn_sine -- [steps] [out_dir]`

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use snn_sdk::structure::ctrnn::{Ctrnn, CtrnnConfig};

/// Cue amplitudes (one batch row each).
const AMPS: [f32; 4] = [0.5, 0.8, 1.1, 1.4];
/// Steps per trial.
const T: usize = 80;
/// Sine period in steps.
const PERIOD: f32 = 40.0;

/// Inputs `[B, T, 1]` (constant cue `a`) and targets `[B, T, 1]` (`a sin(2 pi t / P)`).
fn task(device: &Device) -> anyhow::Result<(Tensor, Tensor)> {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for a in AMPS {
        for t in 0..T {
            x.push(a);
            y.push(a * (2.0 * std::f32::consts::PI * t as f32 / PERIOD).sin());
        }
    }
    let b = AMPS.len();
    Ok((
        Tensor::from_vec(x, (b, T, 1), device)?,
        Tensor::from_vec(y, (b, T, 1), device)?,
    ))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let steps: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(400);
    let out_dir = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "target/ctrnn_sine".into());
    let device = Device::Cpu;
    // The config lives in the zoo; it is compiled in so the example runs from any directory.
    let cfg = CtrnnConfig::from_toml(include_str!("../../models/zoo/ctrnn_sine.toml"))
        .map_err(anyhow::Error::msg)?;
    let mut net = Ctrnn::new(&cfg, 1, &device)?;
    let (x, y) = task(&device)?;
    let mut opt = AdamW::new(
        net.vars(),
        ParamsAdamW {
            lr: 0.01,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let start = std::time::Instant::now();
    for step in 0..steps {
        let out = net.forward(&x)?;
        let loss = (&out.output - &y)?.sqr()?.mean_all()?;
        let grads = loss.backward()?;
        net.step(&mut opt, &grads)?;
        if step % 50 == 0 || step + 1 == steps {
            println!("step {step:4}  mse {:.5}", loss.to_scalar::<f32>()?);
        }
    }
    println!(
        "trained {steps} steps in {:.1} s",
        start.elapsed().as_secs_f32()
    );
    net.eval();
    let out = net.forward(&x)?;
    let mse = (&out.output - &y)?.sqr()?.mean_all()?.to_scalar::<f32>()?;
    println!(
        "eval mse {mse:.5} (target variance {:.3})",
        y.sqr()?.mean_all()?.to_scalar::<f32>()?
    );
    net.save(&out_dir)?;
    println!("saved to {out_dir}");
    net.print_layers()?;
    Ok(())
}
