//! Quantisation-aware fine-tuning: the latent float weights are restored after every fake-quantised
//! forward/backward, and fine-tuning keeps the integer model at least as good as before.
mod common;

use candle_core::Device;
use common::digits::float_layers;
use snn_models::owned::OwnedHeader;
use snn_models::Encoding;
use snn_sdk::data::encode::{EncodingConfig, SpikeEncoder};
use snn_sdk::deploy::export::{export, samples_of};
use snn_sdk::deploy::qat::{finetune, QatConfig};
use snn_sdk::deploy::quant::QuantConfig;
use snn_sdk::net::network::{Network, NetworkConfig};
use snn_sdk::train::config::LossConfig;
use snn_sdk::Digits;

const T: usize = 20;

#[test]
fn qat_restores_latent_weights_and_keeps_integer_accuracy() {
    let data = Digits::load().unwrap();
    let split = data.split(0.2, 3, Digits::scaling()).unwrap();
    let cfg: NetworkConfig =
        toml::from_str("input_size = 64\n[[layers]]\nsize = 64\n[[layers]]\nsize = 10\n").unwrap();
    let net = Network::new(&cfg, 11, &Device::Cpu).unwrap();
    let enc = SpikeEncoder::new(EncodingConfig::Rate { seed: 5 }, 64, T).unwrap();
    let loss = LossConfig::CeCount;

    // lr = 0: every step swaps in fake-quantised values and must swap the latent ones back.
    let before = float_layers(&net);
    let still = QatConfig {
        epochs: 1,
        lr: 0.0,
        ..QatConfig::default()
    };
    let l0 = finetune(&net, &split.train, &enc, &loss, 1, &still).unwrap();
    assert_eq!(
        float_layers(&net),
        before,
        "latent weights were not restored"
    );
    assert!(l0[0].is_finite());

    // A few QAT epochs from scratch must drive the loss down and give an integer model that
    // agrees with the float network on its quantised parameters.
    let qat = QatConfig {
        epochs: 3,
        lr: 5e-3,
        ..QatConfig::default()
    };
    let losses = finetune(&net, &split.train, &enc, &loss, 1, &qat).unwrap();
    assert!(losses[2] < l0[0], "QAT did not learn: {l0:?} -> {losses:?}");
    let header = OwnedHeader {
        name: "qat".into(),
        input_size: 64,
        time_steps: T as u16,
        encoding: Encoding::Rate { seed: 5 },
        num_classes: 10,
        neurons_per_class: 1,
    };
    let test = samples_of(&split.test);
    let q = QuantConfig {
        clip_shifts: 0,
        ..QuantConfig::default()
    };
    let out = export(
        &float_layers(&net),
        &header,
        &[],
        Some((&test, "digits test")),
        &q,
        None,
    )
    .unwrap();
    let acc = out.card.accuracy.unwrap();
    eprintln!("QAT losses {losses:?}; {acc:?}");
    assert!(acc.integer > 0.5, "integer accuracy {}", acc.integer);
    assert!(acc.fidelity >= 0.99, "fidelity {}", acc.fidelity);
    assert!((acc.float_quantised - acc.integer).abs() <= 0.01);
    // A tiny (64 hidden, T = 20) network after 3 epochs: the latent float network may sit a
    // little above its quantised twin; the digits acceptance numbers come from the zoo model.
    assert!(
        acc.integer >= acc.float - 0.02,
        "int {} vs float {}",
        acc.integer,
        acc.float
    );
}
