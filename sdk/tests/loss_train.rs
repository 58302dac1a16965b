//! `[[extra_loss]]` composite terms inside the real training loop.

use candle_core::Device;
use snn_sdk::net::network::Network;
use snn_sdk::train::Trainer;
use snn_sdk::{Digits, TrainConfig};

fn config(extra: &str) -> String {
    format!(
        r#"
name = "extra_loss_test"
seed = 3
[train]
epochs = 2
batch_size = 64
time_steps = 10
[loss]
kind = "ce_count"
{extra}
[network]
input_size = 64
[[network.layers]]
size = 32
beta = 0.9
threshold = 1.0
[[network.layers]]
size = 10
beta = 0.9
threshold = 1.0
"#
    )
}

fn hidden_rate(extra: &str) -> f64 {
    let cfg = TrainConfig::from_toml_str(&config(extra), "t.toml").unwrap();
    let net = Network::new(&cfg.network, cfg.seed, &Device::Cpu).unwrap();
    Trainer::new(cfg, net)
        .unwrap()
        .fit(&Digits::load().unwrap())
        .unwrap()
        .rates[0]
}

#[test]
fn a_firing_rate_term_on_the_hidden_layer_lowers_its_rate() {
    let free = hidden_rate("");
    let reg = hidden_rate(
        "[[extra_loss]]\ntype = \"firing_rate\"\nparams = { metric = \"l2\" }\nlambda = 200.0\nlayer = 0\n",
    );
    assert!(reg < 0.7 * free, "free {free}, regularised {reg}");
}

#[test]
fn extra_loss_config_is_checked_and_round_trips() {
    let bad = TrainConfig::from_toml_str(
        &config("[[extra_loss]]\ntype = \"firing_rate\"\nlayer = 5\n"),
        "t.toml",
    );
    assert!(bad.unwrap_err().to_string().contains("layer 5"));
    let bad = TrainConfig::from_toml_str(
        &config("[[extra_loss]]\ntype = \"firing_rate\"\nparams = { metric = \"l3\" }\n"),
        "t.toml",
    );
    assert!(bad.unwrap_err().to_string().contains("l3"));
    let cfg = TrainConfig::from_toml_str(
        &config("[[extra_loss]]\ntype = \"firing_rate_dist\"\nparams = { metric = \"cv\" }\nlambda = 0.5\nlayer = 0\n\n[[extra_loss]]\ntype = \"ce_rate\"\n"),
        "t.toml",
    )
    .unwrap();
    let again = TrainConfig::from_toml_str(&cfg.to_toml_string(), "again.toml").unwrap();
    assert_eq!(again.extra_loss, cfg.extra_loss);
}
