//! Membranes saturate at `i32::MIN..=i32::MAX` instead of wrapping (FORMAT.md, "Arithmetic").
mod common;

use snn_models::owned::{OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel, OwnedWeights};
use snn_models::EngineBuffers;
use snn_models::{decode, fixed, Encoding, Reset};

fn neuron(w: i8, bias: i32, threshold: i32, reset: Reset, leak: u16) -> OwnedModel {
    let mut l = OwnedLayer::new(
        1,
        1,
        OwnedWeights::from_dense(1, 1, &[w]).unwrap(),
        threshold,
    );
    l.bias = Some(vec![bias].into());
    l.reset = reset;
    l.leak = OwnedLeak::Shared(leak);
    OwnedModel {
        header: OwnedHeader {
            name: "sat".into(),
            input_size: 1,
            time_steps: 4,
            encoding: Encoding::Events,
            num_classes: 1,
            neurons_per_class: 1,
        },
        layers: vec![l],
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    }
}

/// Membrane and spike flag after each of 4 steps with the input spiking.
fn run(m: &OwnedModel) -> Vec<(i32, bool)> {
    let bytes = m.to_bytes().unwrap();
    let model = decode(&bytes).unwrap();
    let mut state = EngineBuffers::for_model(&model);
    let mut e = state.engine(&model).unwrap();
    (0..4)
        .map(|_| {
            e.step(&[0]).unwrap();
            (e.membranes(0)[0], !e.layer_spikes(0).is_empty())
        })
        .collect()
}

#[test]
fn positive_overflow_saturates_at_i32_max() {
    // u = sat(sat(decay(v) + 127) + i32::MAX) = i32::MAX every step; never wraps negative.
    let v = run(&neuron(127, i32::MAX, i32::MAX, Reset::None, 65535));
    assert_eq!(v, [(i32::MAX, true); 4]);
    // Subtractive reset from the saturated value: MAX - 1, then saturates again.
    let v = run(&neuron(127, i32::MAX, 1, Reset::Subtract, 65535));
    assert_eq!(v, [(i32::MAX - 1, true); 4]);
    // Threshold MAX with subtract: MAX - MAX = 0, then MAX again.
    let v = run(&neuron(1, i32::MAX, i32::MAX, Reset::Subtract, 0));
    assert_eq!(v, [(0, true); 4]);
}

#[test]
fn negative_overflow_saturates_at_i32_min() {
    // decay(MIN, 65535) = -2147450880; - 128 and + MIN saturate to MIN; never spikes.
    let v = run(&neuron(-128, i32::MIN, 1, Reset::Subtract, 65535));
    assert_eq!(v, [(i32::MIN, false); 4]);
}

#[test]
fn saturation_order_is_synapses_then_bias() {
    // u = sat(sat(decay(v) + syn) + bias): with decay(v) near MAX, adding the synaptic sum
    // saturates first, then a negative bias pulls it down from MAX. (With one wide add the
    // result would be decay(v) + 40000 - 1000, which is larger.)
    let d = fixed::decay(i32::MAX, 65535); // 2147450879
    assert_eq!(d, 2_147_450_879);
    let u = fixed::sat_add(fixed::sat_add(d, 40_000), -1000);
    assert_eq!(u, i32::MAX - 1000, "clamped before the bias is added");
    // Through the engine: bias MAX - 100 with w 127 gives sat(127 + MAX - 100) = MAX at step 0.
    let v = run(&neuron(127, i32::MAX - 100, i32::MAX, Reset::None, 65535));
    assert_eq!(v[0], (i32::MAX, true));
    // Next step: decay(MAX) + 127 = 2147451006, + (MAX - 100) saturates.
    assert_eq!(v[1], (i32::MAX, true));
}

#[test]
fn decay_never_overflows() {
    for v in [i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX] {
        for leak in [0u16, 1, 32767, 32768, 65534, 65535] {
            let d = fixed::decay(v, leak);
            let exact = (i64::from(v) * i64::from(leak) + (1 << 15)) >> 16;
            assert_eq!(i64::from(d), exact, "decay({v}, {leak})");
            assert!(
                i64::from(d).abs() <= i64::from(v).abs(),
                "|decay(v)| <= |v|"
            );
        }
    }
    // leak 65535 keeps small membranes exactly (FORMAT.md, "Leak").
    assert!((-32767..=32768).all(|v| fixed::decay(v, 65535) == v));
    assert_eq!(fixed::decay(32769, 65535), 32768);
    assert_eq!(fixed::decay(-32768, 65535), -32767);
}

#[test]
fn wide_fan_in_does_not_overflow_the_accumulator() {
    // 4000 inputs of weight 127 all spiking: syn = 508000, far from i32 limits; exact sum.
    let n = 4000u16;
    let w = vec![127i8; usize::from(n)];
    let mut l = OwnedLayer::new(
        n,
        1,
        OwnedWeights::from_dense(usize::from(n), 1, &w).unwrap(),
        1 << 30,
    );
    l.leak = OwnedLeak::Shared(0);
    let m = OwnedModel {
        header: OwnedHeader {
            name: "fan-in".into(),
            input_size: n,
            time_steps: 1,
            encoding: Encoding::Events,
            num_classes: 1,
            neurons_per_class: 1,
        },
        layers: vec![l],
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    };
    let bytes = m.to_bytes().unwrap();
    let model = decode(&bytes).unwrap();
    let mut state = EngineBuffers::for_model(&model);
    let mut e = state.engine(&model).unwrap();
    let all: Vec<u16> = (0..n).collect();
    e.step(&all).unwrap();
    assert_eq!(e.membranes(0), &[508_000]);
    assert_eq!(e.stats().synaptic_events, 4000);
}
