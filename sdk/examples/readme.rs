//! The library example of the README, compiled by `cargo test` so it cannot drift.
//! Run: `cargo run -p snn-sdk --example readme` (then `snn export runs/digits -o digits.snn`).
use candle_core::Device;
use snn_sdk::{Digits, Network, TrainConfig, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Digits::load()?; // bundled UCI digits, 1797 samples
    let cfg = TrainConfig::from_toml_file("models/zoo/digits.toml")?; // 64 → 128 LIF → 10 LIF, T = 25
    let net = Network::new(&cfg.network, cfg.seed, &Device::Cpu)?;
    let mut trainer = Trainer::new(cfg, net)?.run_dir("runs/digits");
    let report = trainer.fit(&data)?; // fused BPTT, Adam, checkpoints
    let acc = report.test_acc.unwrap_or(0.0); // held-out 20 %
    println!("test accuracy {:.2} %", 100.0 * acc);
    println!("hidden rate {:.3} spikes/neuron/step", report.rates[0]);
    Ok(())
}
