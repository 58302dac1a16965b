//! Property tests: random valid models survive encode -> decode unchanged, and the engine
//! gives the same result whether weights are stored dense or sparse.
mod common;

use proptest::collection::vec;
use proptest::prelude::*;
use snn_models::owned::{OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel, OwnedWeights};
use snn_models::EngineBuffers;
use snn_models::{
    decode, encode_to_slice, encode_to_vec, Encoding, Layout, RateBudget, Reset, MAX_LAYERS,
    RATE_ONE,
};

/// A `pre x post` matrix in `lo..=hi`, about 60% zeros, stored dense or sparse.
fn matrix(pre: usize, post: usize, lo: i8, hi: i8) -> impl Strategy<Value = OwnedWeights> {
    (
        vec(prop_oneof![3 => Just(0i8), 2 => lo..=hi], pre * post),
        any::<bool>(),
    )
        .prop_map(move |(v, sparse)| {
            if sparse {
                OwnedWeights::sparse_from_dense(pre, post, &v).unwrap()
            } else {
                OwnedWeights::from_dense(pre, post, &v).unwrap()
            }
        })
}

fn budget() -> impl Strategy<Value = RateBudget> {
    (0..=RATE_ONE)
        .prop_flat_map(|max| (Just(max), 0..=max))
        .prop_map(|(max_rate, min_rate)| RateBudget { max_rate, min_rate })
}

fn layer(inputs: u16, neurons: u16) -> impl Strategy<Value = OwnedLayer> {
    prop_oneof![Just(4u8), Just(8u8)].prop_flat_map(move |bits| {
        let (lo, hi) = if bits == 4 {
            (-8, 7)
        } else {
            (i8::MIN, i8::MAX)
        };
        let (i, n) = (usize::from(inputs), usize::from(neurons));
        (
            0u8..=30,
            matrix(i, n, lo, hi),
            proptest::option::of(matrix(n, n, lo, hi)),
            proptest::option::of(vec(any::<i32>(), n)),
            prop_oneof![
                any::<u16>().prop_map(OwnedLeak::Shared),
                vec(any::<u16>(), n).prop_map(|v| OwnedLeak::PerNeuron(v.into())),
            ],
            prop_oneof![1..=64i32, 1..=i32::MAX],
            prop_oneof![Just(Reset::Subtract), Just(Reset::Zero), Just(Reset::None)],
            budget(),
        )
            .prop_map(
                move |(shift, feedforward, recurrent, bias, leak, threshold, reset, budget)| {
                    OwnedLayer {
                        inputs,
                        neurons,
                        weight_bits: bits,
                        shift,
                        feedforward,
                        recurrent,
                        bias: bias.map(Into::into),
                        leak,
                        threshold,
                        reset,
                        budget,
                    }
                },
            )
    })
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        any::<u32>().prop_map(|seed| Encoding::Rate { seed }),
        any::<u8>().prop_map(|threshold| Encoding::Latency { threshold }),
        (1..=255u8).prop_map(|threshold| Encoding::Delta { threshold }),
        Just(Encoding::Events),
    ]
}

/// Random valid models: 1..=8 layers of 1..=10 neurons.
fn model() -> impl Strategy<Value = OwnedModel> {
    (
        1..=12u16,
        1..=4u16,
        1..=3u16,
        vec(1..=10u16, 0..MAX_LAYERS),
        "\\PC{0,16}",
        1..=20u16,
        encoding(),
    )
        .prop_flat_map(|(input_size, classes, per, hidden, name, steps, enc)| {
            let mut sizes = vec![input_size];
            sizes.extend(hidden);
            sizes.push(classes * per);
            let layers: Vec<_> = sizes.windows(2).map(|w| layer(w[0], w[1])).collect();
            let header = OwnedHeader {
                name,
                input_size,
                time_steps: steps,
                encoding: enc,
                num_classes: classes,
                neurons_per_class: per,
            };
            (Just(header), layers)
        })
        .prop_map(|(header, layers)| OwnedModel {
            header,
            layers,
            channels: Default::default(),
            synapses: Default::default(),
            output: Default::default(),
        })
}

/// The same model with every matrix stored dense.
fn all_dense(m: &OwnedModel) -> OwnedModel {
    let mut d = m.clone();
    for l in &mut d.layers {
        let (i, n) = (usize::from(l.inputs), usize::from(l.neurons));
        l.feedforward = OwnedWeights::from_dense(i, n, &l.feedforward.to_dense(i, n)).unwrap();
        if let Some(r) = &mut l.recurrent {
            *r = OwnedWeights::from_dense(n, n, &r.to_dense(n, n)).unwrap();
        }
    }
    d
}

/// Runs every step with inputs chosen by `pattern`; returns membranes, counts and spikes.
fn simulate(m: &OwnedModel, pattern: &[bool]) -> (Vec<Vec<i32>>, Vec<u16>, [u32; MAX_LAYERS]) {
    let bytes = m.to_bytes().unwrap();
    let model = decode(&bytes).unwrap();
    let mut state = EngineBuffers::for_model(&model);
    let mut e = state.engine(&model).unwrap();
    let n = usize::from(model.header.input_size);
    for t in 0..usize::from(model.header.time_steps) {
        let input: Vec<u16> = (0..n)
            .filter(|i| pattern[(t * n + i) % pattern.len()])
            .map(|i| i as u16)
            .collect();
        e.step(&input).unwrap();
    }
    let membranes = (0..model.layers.len())
        .map(|l| e.membranes(l).to_vec())
        .collect();
    (
        membranes,
        e.output_counts().to_vec(),
        e.stats().layer_spikes,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_decode_is_identity(m in model()) {
        let bytes = m.to_bytes().unwrap();
        let decoded = decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &m.as_model());
        prop_assert_eq!(&OwnedModel::from(&decoded), &m);
        // The layout of the decoded model binds the same bytes to the same model.
        let mut bound = decode(&bytes).unwrap();
        bound.layers.clear();
        let layout = Layout::of(&decoded, &bytes).unwrap();
        prop_assert_eq!(layout.bind(&bytes, &mut bound), Some(()));
        prop_assert_eq!(&bound, &decoded);
        // Re-encoding the decoded model gives the same bytes, by slice or by Vec.
        prop_assert_eq!(&encode_to_vec(&decoded).unwrap(), &bytes);
        let mut buf = vec![0u8; bytes.len()];
        prop_assert_eq!(encode_to_slice(&decoded, &mut buf), Ok(bytes.len()));
        prop_assert_eq!(&buf, &bytes);
        // One byte short is refused, not truncated.
        prop_assert!(encode_to_slice(&decoded, &mut buf[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn dense_and_sparse_storage_compute_the_same(
        m in model(),
        pattern in vec(any::<bool>(), 1..64),
    ) {
        let (v1, c1, s1) = simulate(&m, &pattern);
        let (v2, c2, s2) = simulate(&all_dense(&m), &pattern);
        prop_assert_eq!(v1, v2);
        prop_assert_eq!(c1, c2);
        prop_assert_eq!(s1, s2);
    }

    #[test]
    fn run_features_is_deterministic(m in model(), features in vec(any::<u8>(), 12), seed in any::<u32>()) {
        let bytes = m.to_bytes().unwrap();
        let model = decode(&bytes).unwrap();
        let features = &features[..usize::from(model.header.input_size)];
        let mut a = EngineBuffers::for_model(&model);
        let mut e = a.engine(&model).unwrap();
        e.run_features(features, seed).unwrap();
        let first = (e.output_counts().to_vec(), *e.stats());
        e.run_features(features, seed).unwrap();
        prop_assert_eq!(first, (e.output_counts().to_vec(), *e.stats()));
        prop_assert_eq!(e.stats().steps, model.header.time_steps);
        prop_assert!(e.predicted_class() < model.header.num_classes);
    }
}
