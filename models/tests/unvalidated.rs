//! The engine takes any `Model`, not only decoded ones: a hand-built, inconsistent model must
//! give wrong numbers at worst, never a panic (out-of-range synapses are skipped).
mod common;

use proptest::collection::vec;
use proptest::prelude::*;
use snn_models::owned::{OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel, OwnedWeights};
use snn_models::EngineBuffers;
use snn_models::{Encoding, Reset};

fn bytes<T: Arbitrary>(max: usize) -> impl Strategy<Value = Vec<T>> {
    vec(any::<T>(), 0..max)
}

fn weights() -> impl Strategy<Value = OwnedWeights> {
    prop_oneof![
        bytes::<i8>(40).prop_map(|v| OwnedWeights::Dense { values: v.into() }),
        (bytes::<u32>(12), bytes::<u16>(20), bytes::<i8>(20)).prop_map(|(r, p, v)| {
            OwnedWeights::Sparse {
                row_ptr: r.into(),
                post: p.into(),
                values: v.into(),
            }
        }),
    ]
}

fn layer() -> impl Strategy<Value = OwnedLayer> {
    (
        (0..8u16, 0..8u16, any::<u8>(), any::<u8>()),
        weights(),
        proptest::option::of(weights()),
        proptest::option::of(bytes::<i32>(10)),
        prop_oneof![
            any::<u16>().prop_map(OwnedLeak::Shared),
            bytes::<u16>(10).prop_map(|v| OwnedLeak::PerNeuron(v.into())),
        ],
        any::<i32>(),
        prop_oneof![Just(Reset::Subtract), Just(Reset::Zero), Just(Reset::None)],
    )
        .prop_map(
            |((inputs, neurons, weight_bits, shift), ff, rec, bias, leak, threshold, reset)| {
                let mut l = OwnedLayer::new(inputs, neurons, ff, threshold);
                l.weight_bits = weight_bits;
                l.shift = shift;
                l.recurrent = rec;
                l.bias = bias.map(Into::into);
                l.leak = leak;
                l.reset = reset;
                l
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn engine_never_panics_on_inconsistent_models(
        layers in vec(layer(), 0..4),
        (input_size, time_steps, num_classes, per) in (0..8u16, 0..6u16, 0..4u16, 0..3u16),
        spikes in vec(any::<u16>(), 0..10),
        features in vec(any::<u8>(), 0..10),
    ) {
        let owned = OwnedModel {
            header: OwnedHeader {
                name: String::new(),
                input_size,
                time_steps,
                encoding: Encoding::Rate { seed: 1 },
                num_classes,
                neurons_per_class: per,
            },
            layers,
            channels: Default::default(),
            synapses: Default::default(),
            output: Default::default(),
        };
        let model = owned.as_model();
        let mut state = EngineBuffers::for_model(&model);
        let mut e = state.engine(&model).unwrap();
        for _ in 0..3 {
            let _ = e.step(&spikes);
            let k: Vec<u16> = spikes.iter().map(|&s| s % input_size.max(1)).collect();
            let _ = e.step(&k);
        }
        let _ = e.run_features(&features, 3);
        let _ = e.predicted_class();
        for l in 0..10 {
            let _ = (e.budget_ok(l), e.membranes(l), e.layer_spikes(l));
        }
    }
}
