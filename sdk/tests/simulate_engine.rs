//! Host simulation over the integer engine: accuracy, rates against budgets, events, RAM refusal.
use snn_models::owned::{OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel, OwnedWeights};
use snn_models::{Encoding, RateBudget};
use snn_sdk::deploy::simulate::{check_ram, run_engine, run_float, Sample, SimError};

/// Two inputs, two output neurons (one per class): input j drives neuron j only (weight 10,
/// threshold 10, no leak memory), so a sample whose feature j is 255 (always spiking under
/// latency coding at step 0) is class j.
fn model() -> OwnedModel {
    let w = OwnedWeights::from_dense(2, 2, &[10, 0, 0, 10]).unwrap();
    let mut l = OwnedLayer::new(2, 2, w, 10);
    l.leak = OwnedLeak::Shared(0);
    l.budget = RateBudget {
        max_rate: 1 << 13, // 0.25 spikes/neuron/step
        min_rate: 0,
    };
    OwnedModel {
        header: OwnedHeader {
            name: "two".into(),
            input_size: 2,
            time_steps: 4,
            encoding: Encoding::Delta { threshold: 1 },
            num_classes: 2,
            neurons_per_class: 1,
        },
        layers: vec![l],
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    }
}

#[test]
fn accuracy_rates_and_events_are_counted() {
    let m = model();
    let model = m.as_model();
    // Delta coding: each feature spikes once at step 0 (rise from 0), never again.
    let feats = [[255u8, 0], [0, 255], [255, 0], [255, 255]];
    let labels = [0u16, 1, 1, 0];
    let samples: Vec<Sample<'_>> = feats
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(i, (f, label))| Sample {
            features: f,
            label,
            seed: i as u32,
        })
        .collect();
    let r = run_engine(&model, &samples).unwrap();
    // predictions: 0, 1, 0, 0 (tie -> lower class)
    assert_eq!(r.predictions, vec![0, 1, 0, 0]);
    assert_eq!(r.accuracy, 0.75);
    // 5 input spikes, each fanning out to 2 dense synapses -> 10 events over 4 samples
    assert_eq!(r.synaptic_events_per_inference, 2.5);
    assert_eq!(r.input_spikes_per_inference, 1.25);
    // 5 output spikes over 4 samples x 4 steps x 2 neurons = 5/32
    assert!((r.rates[0].rate - 5.0 / 32.0).abs() < 1e-12);
    assert!(r.rates[0].within_budget);
    assert_eq!(r.rates[0].max_rate, 0.25);
    // The float reference on the dequantised parameters predicts the same.
    let float: Vec<_> = vec![snn_sdk::deploy::quant::FloatLayer {
        beta: vec![0.0; 2],
        ..snn_sdk::deploy::quant::FloatLayer::dense(2, 2, vec![10.0, 0.0, 0.0, 10.0], 0.0, 10.0)
    }];
    assert_eq!(
        run_float(&float, &model.header, &samples).unwrap(),
        r.predictions
    );
    let json: serde_json::Value = serde_json::from_str(&r.summary_json(Some(0.5))).unwrap();
    assert_eq!(json["accuracy"], 0.75);
    assert_eq!(json["float_accuracy"], 0.5);
    assert_eq!(json["rates"].as_array().unwrap().len(), 1);
    assert_eq!(json["synaptic_events_per_inference"], 2.5);
}

#[test]
fn max_ram_refuses_with_the_numbers() {
    let m = model();
    let model = m.as_model();
    // membranes 2 x 4 + currents 2 x 4 + spikes (2 + 2) x 2 + counts 2 x 2 = 28 bytes
    assert_eq!(check_ram(&model, 28).unwrap(), 28);
    let e = check_ram(&model, 27).unwrap_err();
    assert!(matches!(
        e,
        SimError::TooMuchRam {
            needed: 28,
            limit: 27,
            ..
        }
    ));
    let msg = e.to_string();
    assert!(msg.contains("needs 28 bytes"), "{msg}");
    assert!(msg.contains("--max-ram 27"), "{msg}");
}

#[test]
fn bad_sample_is_named() {
    let m = model();
    let model = m.as_model();
    let bad = [1u8, 2, 3];
    let samples = [Sample {
        features: &bad,
        label: 0,
        seed: 9,
    }];
    let e = run_engine(&model, &samples).unwrap_err().to_string();
    assert!(
        e.contains("sample 0") && e.contains("expected 2 input features, got 3"),
        "{e}"
    );
    assert!(run_engine(&model, &[]).is_err());
}
