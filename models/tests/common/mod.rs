//! Models shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use snn_models::owned::{OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel, OwnedWeights};
use snn_models::{crc::crc32, Encoding, RateBudget, Reset, MAGIC};

/// A three-layer model using every feature: dense + sparse, recurrent (dense and sparse),
/// bias, shared and per-neuron leak, i4 and i8 weights, every reset mode, budgets.
pub fn reference() -> OwnedModel {
    let w_in: Vec<i8> = (0..6 * 5).map(|k| ((k * 37 % 23) as i8) - 11).collect();
    let mut l0 = OwnedLayer::new(6, 5, OwnedWeights::from_dense(6, 5, &w_in).unwrap(), 20);
    l0.shift = 4;
    l0.leak = OwnedLeak::Shared(58982); // beta ~ 0.9
    l0.bias = Some(vec![1, -2, 3, 0, -5].into());
    l0.recurrent = Some(
        OwnedWeights::sparse_from_dense(
            5,
            5,
            &[
                0, 3, 0, 0, -4, //
                0, 0, 0, 0, 0, //
                2, 0, 0, 5, 0, //
                0, 0, -1, 0, 0, //
                0, 0, 0, 0, 6,
            ],
        )
        .unwrap(),
    );
    l0.budget = RateBudget {
        max_rate: 16384,
        min_rate: 100,
    };

    let w_hid: Vec<i8> = (0..5 * 4)
        .map(|k| {
            if k % 3 == 0 {
                0
            } else {
                ((k * 5 % 15) as i8) - 8
            }
        })
        .collect();
    let mut l1 = OwnedLayer::new(
        5,
        4,
        OwnedWeights::sparse_from_dense(5, 4, &w_hid).unwrap(),
        7,
    );
    l1.weight_bits = 4;
    l1.shift = 2;
    l1.leak = OwnedLeak::PerNeuron(vec![65535, 32768, 0, 50000].into());
    l1.recurrent = Some(
        OwnedWeights::from_dense(4, 4, &[0, 1, -1, 2, 3, 0, 0, -8, 7, 0, 0, 0, 1, 1, 1, 1])
            .unwrap(),
    );
    l1.reset = Reset::Zero;

    let w_out: Vec<i8> = (0..4 * 4).map(|k| ((k * 29) % 127) as i8 - 40).collect();
    let mut l2 = OwnedLayer::new(4, 4, OwnedWeights::from_dense(4, 4, &w_out).unwrap(), 100);
    l2.reset = Reset::None;
    l2.leak = OwnedLeak::Shared(40000);
    l2.bias = Some(vec![10, 0, -10, 5].into());

    OwnedModel {
        header: OwnedHeader {
            name: "reference".into(),
            input_size: 6,
            time_steps: 12,
            encoding: Encoding::Rate { seed: 0xC0FFEE },
            num_classes: 2,
            neurons_per_class: 2,
        },
        layers: vec![l0, l1, l2],
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    }
}

/// `MAGIC ++ version ++ body ++ CRC-32`, with a correct CRC whatever the body holds.
pub fn frame(version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Frames a version-1 body (header and layers: every model here without channel constants).
pub fn framed(body: &[u8]) -> Vec<u8> {
    frame(1, body)
}

/// The version-1 postcard body of `model` (header, layers) without validating it, so invalid
/// models can be written.
pub fn raw_body(model: &OwnedModel) -> Vec<u8> {
    let m = model.as_model();
    postcard::to_allocvec(&(&m.header, &m.layers)).unwrap()
}

/// The version-2 postcard body of `model` (header, layers, channels) without validating it.
pub fn raw_body_v2(model: &OwnedModel) -> Vec<u8> {
    let m = model.as_model();
    postcard::to_allocvec(&(&m.header, &m.layers, &m.channels)).unwrap()
}

/// The postcard body of a version-3 file: the version-2 body, then the synapse section.
pub fn raw_body_v3(model: &OwnedModel) -> Vec<u8> {
    postcard::to_allocvec(&model.as_model()).unwrap()
}
