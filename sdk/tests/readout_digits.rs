//! A non-spiking `readout` output layer on digits: trained with `ce_max_membrane`, quantised and
//! exported (format v3, `Output::MaxMembrane`), and the integer engine's readout decision
//! checked against the float network run with the quantised parameters; the config rules of
//! the layer kind are named errors.
mod common;

use candle_core::{Device, Tensor};
use common::digits::{encoder, export_digits, float_layers, header, split, train};
use snn_models::Output;
use snn_sdk::data::encode::eval_seed;
use snn_sdk::deploy::export::samples_of;
use snn_sdk::deploy::simulate::{run_engine, run_float};
use snn_sdk::net::network::LayerOutput;
use snn_sdk::train::trainer::predict_readout;
use snn_sdk::TrainConfig;

const NET: &str = "input_size = 64\n[[layers]]\nsize = 128\n\
                   [[layers]]\nsize = 10\nkind = \"readout\"\nreset = \"none\"\nbeta = 0.9\n";

/// Cross-entropy on the readout's maximum membrane, checking on every batch that the readout
/// never spikes (its membrane is what the loss sees).
fn ce_max_membrane(out: &[LayerOutput], y: &Tensor) -> Tensor {
    assert_eq!(
        out[1].spikes.sum_all().unwrap().to_scalar::<f32>().unwrap(),
        0.0
    );
    snn_sdk::loss::snntorch::ce_max_membrane(&out[1].mem, y).unwrap()
}

#[test]
fn readout_digits_engine_matches_float_with_quantised_parameters() {
    let split = split();
    let dev = Device::Cpu;
    let net = train(&split, 15, NET, ce_max_membrane);
    let enc = encoder();
    let float = float_layers(&net);
    assert!(float[1].readout && !float[0].readout);
    let test = samples_of(&split.test);
    let out = export_digits(&float, &header("digits-readout"), &split, 256);
    assert_eq!(out.model.output, Output::MaxMembrane);
    assert_eq!(&out.bytes[4..6], &3u16.to_le_bytes());
    let acc = out.card.accuracy.clone().unwrap();
    eprintln!(
        "readout: float {:.4}  float(quantised params) {:.4}  int8 {:.4}  fidelity {:.4}",
        acc.float, acc.float_quantised, acc.integer, acc.fidelity
    );
    assert!(
        acc.float > 0.8,
        "training failed: float accuracy {}",
        acc.float
    );
    // The readout decides on a continuous value, so a sample whose two best classes lie within
    // a rounding step of each other may flip: 98 % of the decisions must agree.
    assert!(
        acc.fidelity >= 0.98,
        "engine and float-with-quantised-parameters agree on only {:.4}",
        acc.fidelity
    );
    assert!(
        (acc.float - acc.integer).abs() <= 0.04,
        "i8 accuracy {} is more than 4 points from float {}",
        acc.integer,
        acc.float
    );
    // The host simulation reports the readout decision (the engine's `predicted_class`).
    let model = snn_models::decode(&out.bytes).unwrap();
    let sim = run_engine(&model, &test).unwrap();
    assert_eq!(sim.accuracy, acc.integer);
    // Its decision report's final row is the readout decision, not a count of absent spikes.
    assert_eq!(sim.decisions.final_count.accuracy, sim.accuracy);

    // The float reference of the export (the event-driven `FloatNet`) is the training network:
    // its readout decisions on the float parameters equal `predict_readout` of the candle
    // network on the same encoded spikes, sample for sample.
    let idx: Vec<usize> = (0..split.test.len()).collect();
    let x = enc
        .encode_batch(&split.test, &idx, eval_seed, &dev)
        .unwrap();
    let candle = predict_readout(&net.forward(&x).unwrap()).unwrap();
    let reference = run_float(&float, &model.header, &test).unwrap();
    let same = candle
        .iter()
        .zip(&reference)
        .filter(|(a, b)| **a == u32::from(**b))
        .count();
    assert!(
        same + 2 >= candle.len(),
        "candle and the float reference differ on {} of {} samples",
        candle.len() - same,
        candle.len()
    );
}

fn config(net: &str, loss: &str, extra: &str) -> Result<TrainConfig, String> {
    let net = net.replace("[[layers]]", "[[network.layers]]");
    let text = format!("{extra}[loss]\nkind = \"{loss}\"\n[network]\n{net}");
    TrainConfig::from_toml_str(&text, "readout.toml").map_err(|e| e.to_string())
}

#[test]
fn readout_config_rules_are_named_errors() {
    config(NET, "ce_max_membrane", "").unwrap();
    let e = config(NET, "ce_count", "").unwrap_err();
    assert!(e.contains("ce_max_membrane"), "{e}");
    let e = config(NET, "ce_max_membrane", "[train]\nneurons_per_class = 2\n").unwrap_err();
    assert!(e.contains("neurons_per_class"), "{e}");
    let not_last = "input_size = 64\n[[layers]]\nsize = 10\nkind = \"readout\"\nreset = \"none\"\n\
                    [[layers]]\nsize = 10\n";
    let e = config(not_last, "ce_max_membrane", "").unwrap_err();
    assert!(
        e.contains("layers[0].kind") && e.contains("last layer"),
        "{e}"
    );
    let resetting = "input_size = 64\n[[layers]]\nsize = 10\nkind = \"readout\"\n";
    let e = config(resetting, "ce_max_membrane", "").unwrap_err();
    assert!(e.contains("layers[0].reset"), "{e}");
    let learnt = "input_size = 64\n[[layers]]\nsize = 10\nkind = \"readout\"\nreset = \"none\"\n\
                  learn_threshold = true\n";
    let e = config(learnt, "ce_max_membrane", "").unwrap_err();
    assert!(e.contains("learn_threshold"), "{e}");
}
