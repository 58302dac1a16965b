//! The dense baseline and cost paths of the `snn` binary: `snn dense` trains and quantises the
//! ReLU MLP of a config's shape (int8 as accurate as float, the file the device reads),
//! refuses a series config; `snn simulate --board` reports energy as time × datasheet power;
//! `snn plot frontier` draws the frontier and names a bad data file.
mod common;

use common::cli::{ok, repo, scratch, snn as snn_in};
use serde_json::Value;
use std::process::Output;

/// Runs `snn args` from the repository root.
fn snn(args: &[&str]) -> Output {
    snn_in(&repo(), args)
}

/// Runs `snn args` from the repository root and returns its JSON summary.
fn ok_json(args: &[&str]) -> Value {
    ok(&repo(), args)
}

#[test]
fn dense_baseline_trains_quantises_and_decodes() {
    let dir = scratch("dense-cli");
    let out = dir.join("digits.dense");
    let v = ok_json(&[
        "--threads",
        "1",
        "dense",
        "--config",
        "models/zoo/digits.toml",
        "-o",
        out.to_str().unwrap(),
        "--epochs",
        "10",
        "--json",
    ]);
    let (f, q) = (
        v["float_accuracy"].as_f64().unwrap(),
        v["int8_accuracy"].as_f64().unwrap(),
    );
    assert!(f > 0.9 && q > 0.9, "float {f}, int8 {q}");
    assert!((f - q).abs() <= 0.02, "int8 {q} strays from float {f}");
    assert_eq!(v["macs"], 64 * 128 + 128 * 10);
    let bytes = std::fs::read(&out).unwrap();
    let m = snn_models::dense::decode_dense(&bytes).unwrap();
    assert_eq!((m.inputs(), m.outputs(), m.layers.len()), (64, 10, 2));
    // snn simulate runs spiking models; a dense file gets a sentence saying what to use.
    let o = snn(&["simulate", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bench-dense"));
    // A time-series config has no dense baseline: refused as an input error naming why.
    let o = snn(&[
        "dense",
        "--config",
        "models/zoo/japanese_vowels.toml",
        "-o",
        dir.join("jv.dense").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("series"));
}

#[test]
fn simulate_on_a_board_reports_time_and_energy() {
    let v = ok_json(&[
        "simulate",
        "models/zoo/digits.snn",
        "--board",
        "nrf52840-dk",
        "--json",
    ]);
    let us = v["micros_per_inference_min"].as_f64().unwrap();
    let uj = v["micro_joules_per_inference_min"].as_f64().unwrap();
    assert_eq!(v["clock_mhz"], 64);
    assert!(us > 0.0);
    let (ma, volts) = (
        v["run_ma"].as_f64().unwrap(),
        v["supply_v"].as_f64().unwrap(),
    );
    assert!((uj - us * ma * volts / 1000.0).abs() < 1e-9, "{v}");
}

#[test]
fn plot_frontier_draws_and_names_a_bad_file() {
    let dir = scratch("frontier-cli");
    let data = dir.join("f.json");
    std::fs::write(
        &data,
        r#"{"series": [{"name": "dense", "points": [{"instructions": 19672, "accuracy": 97.2,
            "label": "H=128"}]}, {"name": "spiking", "points": [{"instructions": 287918,
            "accuracy": 98.3, "label": "T=25"}]}]}"#,
    )
    .unwrap();
    let svg = dir.join("f.svg");
    let o = snn(&[
        "plot",
        "frontier",
        data.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("H=128"));
    std::fs::write(
        &data,
        r#"{"series": [{"name": "x", "points": [{"label": "no numbers"}]}]}"#,
    )
    .unwrap();
    let o = snn(&[
        "plot",
        "frontier",
        data.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("f.json") && err.contains("points[0]"), "{err}");
}
