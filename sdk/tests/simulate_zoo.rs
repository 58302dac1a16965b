//! The shipped `models/zoo/digits.snn`: it decodes, its card matches its bytes, a layout round trip
//! is exact, and the integer engine agrees with the float network run with the model's own
//! (dequantised) parameters on >= 99 % of all 1797 digits rows (seed = row index, as on the device).
use snn_sdk::deploy::card::ModelCard;
use snn_sdk::deploy::export::{build_model, quant_layer};
use snn_sdk::deploy::quant::QuantLayer;
use snn_sdk::deploy::simulate::{agreement, all_rows, run_engine, run_float};

fn zoo() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/zoo/digits.snn");
    std::fs::read(path).expect("models/zoo/digits.snn is shipped")
}

#[test]
fn zoo_digits_engine_agrees_with_its_float_network() {
    let bytes = zoo();
    let model = snn_models::decode(&bytes).unwrap();
    let card_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/zoo/digits.card.json"
    );
    let card: ModelCard =
        serde_json::from_str(&std::fs::read_to_string(card_path).unwrap()).unwrap();
    let described = ModelCard::describe(&model, &bytes);
    assert_eq!(
        card.crc32, described.crc32,
        "card does not describe this file"
    );
    assert_eq!(card.layers, described.layers);
    assert_eq!(card.resources, described.resources);

    let quant: Vec<QuantLayer> = model.layers.iter().map(quant_layer).collect();
    let owned = snn_models::owned::OwnedModel::from_bytes(&bytes).unwrap();
    let rebuilt = build_model(&owned.header, &quant).unwrap();
    assert_eq!(
        rebuilt.to_bytes().unwrap(),
        bytes,
        "layout round trip is not exact"
    );

    let data = snn_sdk::Digits::load().unwrap();
    let rows = all_rows(&data);
    let samples = snn_sdk::deploy::export::samples_of(&rows);
    let sim = run_engine(&model, &samples).unwrap();
    let float: Vec<_> = quant.iter().map(QuantLayer::dequantize).collect();
    let float_pred = run_float(&float, &model.header, &samples).unwrap();
    let fidelity = agreement(&sim.predictions, &float_pred);
    eprintln!(
        "zoo digits, all {} rows: int8 {:.4}, float(quantised) {:.4}, fidelity {fidelity:.4}",
        samples.len(),
        sim.accuracy,
        agreement(&float_pred, &sim.labels)
    );
    assert!(fidelity >= 0.99, "fidelity {fidelity}");
    assert!(sim.accuracy > 0.9, "zoo model accuracy {}", sim.accuracy);

    // The acceptance on the shipped model: on the held-out split of `digits.toml`
    // (seed 0, 20 %), the integer engine's accuracy, recomputed here, is within 1 point of the
    // float network's accuracy recorded in the card at export time.
    let acc = card.accuracy.expect("the zoo card records accuracies");
    let split = data.split(0.2, 0, snn_sdk::Digits::scaling()).unwrap();
    let test = snn_sdk::deploy::export::samples_of(&split.test);
    let int_test = run_engine(&model, &test).unwrap().accuracy;
    eprintln!(
        "zoo digits, test split: float {:.4}, int8 {int_test:.4}",
        acc.float
    );
    assert_eq!(
        test.len(),
        acc.samples,
        "the card's split is not digits.toml's"
    );
    assert!(
        (int_test - acc.integer).abs() < 1e-12,
        "card integer accuracy is stale"
    );
    assert!(
        (acc.float - int_test).abs() <= 0.01,
        "int8 {int_test} is more than 1 point from float {}",
        acc.float
    );
}

/// `snn simulate` on the shipped model with JSON output: the last line parsed, and every
/// per-sample line.
fn simulate_json(args: &[&str]) -> (serde_json::Value, Vec<serde_json::Value>) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snn"))
        .args([
            "simulate",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../models/zoo/digits.snn"),
        ])
        .args(args)
        .args(["--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.pop().unwrap();
    (summary, lines)
}

#[test]
fn simulate_reports_every_decision_rule_on_the_zoo_model() {
    let t = 25.0; // the zoo model's time steps
    let (sum, rows) = simulate_json(&["--window", "5", "--threshold", "3"]);
    let d = &sum["decisions"];
    assert_eq!(
        (d["window"].as_u64(), d["threshold"].as_u64()),
        (Some(5), Some(3))
    );
    // The final count is the engine's prediction, decided after all T steps.
    assert_eq!(d["final_count"]["accuracy"], sum["accuracy"]);
    assert_eq!(d["final_count"]["mean_latency_steps"].as_f64(), Some(t));
    for rule in ["sliding_window", "first_to_threshold"] {
        let acc = d[rule]["accuracy"].as_f64().unwrap();
        let lat = d[rule]["mean_latency_steps"].as_f64().unwrap();
        assert!(acc > 0.9, "{rule}: accuracy {acc}");
        assert!((1.0..t).contains(&lat), "{rule}: latency {lat} steps");
    }
    assert_eq!(rows.len() as u64, sum["samples"].as_u64().unwrap());
    let correct = rows
        .iter()
        .filter(|r| r["threshold_predicted"] == r["label"])
        .count();
    assert_eq!(
        correct as f64 / rows.len() as f64,
        d["first_to_threshold"]["accuracy"].as_f64().unwrap()
    );
    let mean_window_latency = rows
        .iter()
        .map(|r| r["window_latency"].as_f64().unwrap())
        .sum::<f64>()
        / rows.len() as f64;
    assert!(
        (mean_window_latency - d["sliding_window"]["mean_latency_steps"].as_f64().unwrap()).abs()
            < 1e-9
    );

    // A window as long as the sample sees what the final count sees; a threshold no class
    // reaches leaves every sample to the final count at T.
    let (sum, rows) = simulate_json(&["--window", "25", "--threshold", "1000"]);
    let d = &sum["decisions"];
    for r in &rows {
        if !r["window_predicted"].is_null() {
            assert_eq!(r["window_predicted"], r["predicted"], "{r}");
        }
        assert!(r["threshold_step"].is_null());
        assert_eq!(r["threshold_predicted"], r["predicted"]);
    }
    assert_eq!(d["reached"].as_f64(), Some(0.0));
    assert_eq!(d["first_to_threshold"]["accuracy"], sum["accuracy"]);
    assert_eq!(
        d["first_to_threshold"]["mean_latency_steps"].as_f64(),
        Some(t)
    );

    // Out-of-range rules are input errors naming the option.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snn"))
        .args([
            "simulate",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../models/zoo/digits.snn"),
        ])
        .args(["--window", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--window must be in 1..=65535"));
}
