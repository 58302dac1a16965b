//! The CTRNN configs in models/zoo parse, validate and build, and their structure is what the
//! comments say.

use candle_core::Device;
use snn_sdk::structure::ctrnn::{Ctrnn, CtrnnConfig};

fn load(name: &str) -> Ctrnn {
    let path = format!("{}/../models/zoo/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let cfg = CtrnnConfig::from_toml(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    Ctrnn::new(&cfg, 0, &Device::Cpu).unwrap()
}

#[test]
fn sine_config_builds_with_dale_and_half_sparse_recurrence() {
    let net = load("ctrnn_sine.toml");
    let [_, hid, out] = net.layer_masks();
    assert!((hid.density() - 0.5).abs() < 0.05, "{}", hid.density());
    assert_eq!(hid.ei_counts(), (51, 13));
    assert_eq!(out.ei_counts(), (51, 13));
}

#[test]
fn multi_area_ei_config_builds() {
    let net = load("ctrnn_multi_area_ei.toml");
    let [inp, hid, out] = net.layer_masks();
    assert_eq!(hid.ei_counts(), (72, 18));
    assert_eq!(inp.plasticity().unwrap()[0], 0.5);
    // Input reaches only area 0 (neurons 0..30), the readout only E neurons of area 2.
    assert!((inp.density() - 1.0 / 3.0).abs() < 1e-9);
    assert!((out.density() - 24.0 / 90.0).abs() < 1e-9);
    let table = net.layer_table().unwrap();
    assert!(table.contains("72/18"), "{table}");
}
