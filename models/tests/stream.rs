//! Streams on the engine: raw `i16` samples through the on-board encoders, a network continued
//! across calls (`carry` / `resume`) and steps past `time_steps` with the limit off.
use snn_models::encode::{encode_frame, encode_raw_frame, quantise, quantise_raw, raw_unit};
use snn_models::owned::{OwnedChannels, OwnedHeader, OwnedLayer, OwnedModel, OwnedWeights};
use snn_models::{Encoding, EngineBuffers, EngineError, Model, Reset};

/// 3 channels -> 8 recurrent LIF -> 2 LIF under `encoding`, seeded weights, 20 steps.
fn model(encoding: Encoding) -> OwnedModel {
    let per = encoding.inputs_per_channel() as u16;
    let inputs = 3 * per;
    let mut x = 0x2545_F491u32;
    let mut w = |n: usize| -> Vec<i8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as i8 / 2
            })
            .collect()
    };
    let mut l0 = OwnedLayer::new(
        inputs,
        8,
        OwnedWeights::from_dense(inputs.into(), 8, &w(usize::from(inputs) * 8)).unwrap(),
        40,
    );
    l0.recurrent = Some(OwnedWeights::from_dense(8, 8, &w(64)).unwrap());
    l0.leak = snn_models::owned::OwnedLeak::Shared(3 << 14);
    l0.reset = Reset::Subtract;
    let mut l1 = OwnedLayer::new(8, 2, OwnedWeights::from_dense(8, 2, &w(16)).unwrap(), 30);
    l1.leak = snn_models::owned::OwnedLeak::Shared(3 << 14);
    let (off, scale) = ([0.5f32, -1.0, 2.0], [300.0f32, 90.0, 1000.0]);
    let channels = if per == 1 {
        OwnedChannels::direct(&off, &scale)
    } else {
        OwnedChannels::delta(&off, &scale, &[40, 25, 60])
    };
    OwnedModel {
        header: OwnedHeader {
            name: "stream".into(),
            input_size: inputs,
            time_steps: 20,
            encoding,
            num_classes: 2,
            neurons_per_class: 1,
        },
        layers: vec![l0, l1],
        channels,
        synapses: Default::default(),
        output: Default::default(),
    }
}

/// A seeded raw sample: `steps` frames of 3 channels.
fn raw_sample(steps: usize, seed: u32) -> Vec<i16> {
    let mut x = seed | 1;
    (0..steps * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 16) as i16 / 8
        })
        .collect()
}

const ENCODINGS: [Encoding; 3] = [
    Encoding::Direct,
    Encoding::SendOnDelta,
    Encoding::SigmaDelta,
];

#[test]
fn raw_unit_is_an_exact_power_of_two() {
    assert_eq!(raw_unit(0), Some(1.0));
    assert_eq!(raw_unit(-12), Some(1.0 / 4096.0));
    assert_eq!(raw_unit(60), Some(2f32.powi(60)));
    assert_eq!(raw_unit(-60), Some(2f32.powi(-60)));
    assert_eq!(raw_unit(61), None);
    assert_eq!(raw_unit(-61), None);
    // q = round((raw * 2^exp - offset) * scale): 1000 / 1024 = 0.9765625 exactly,
    // (0.9765625 - 0.5) * 256 = 122 exactly.
    let unit = raw_unit(-10).unwrap();
    assert_eq!(quantise_raw(1000, unit, 0.5, 256.0), 122);
    assert_eq!(quantise_raw(i16::MIN, 1.0, 0.0, 1.0), -32767);
}

#[test]
fn raw_frames_encode_as_their_exact_real_values() {
    for encoding in ENCODINGS {
        let m = model(encoding);
        let model = m.as_model();
        for exp in [-15i8, -8, 0, 3] {
            let unit = raw_unit(exp).unwrap();
            let raw = raw_sample(20, (exp + 77) as u32);
            let (mut s1, mut s2) = ([0i32; 3], [0i32; 3]);
            for frame in raw.chunks_exact(3) {
                let xs: Vec<f32> = frame.iter().map(|&r| f32::from(r) * unit).collect();
                let (mut a, mut b) = ([0u16; 6], [0u16; 6]);
                let ka = encode_frame(encoding, &model.channels, &xs, &mut s1, &mut a).unwrap();
                let kb = encode_raw_frame(encoding, &model.channels, frame, exp, &mut s2, &mut b)
                    .unwrap();
                assert_eq!((ka, &a[..ka]), (kb, &b[..kb]));
                if encoding == Encoding::Direct {
                    let q = quantise(xs[1], -1.0, 90.0);
                    assert_eq!(a[1] as i16, q);
                }
            }
        }
        let err = encode_raw_frame(
            encoding,
            &model.channels,
            &[1, 2, 3],
            99,
            &mut [0; 3],
            &mut [0; 6],
        );
        assert!(matches!(err, Err(EngineError::InputKind { .. })), "{err:?}");
    }
}

#[test]
fn step_raw_le_equals_step_raw() {
    for encoding in ENCODINGS {
        let m = model(encoding);
        let model = m.as_model();
        let raw = raw_sample(20, 5);
        let (mut a, mut b) = (
            EngineBuffers::for_model(&model),
            EngineBuffers::for_model(&model),
        );
        let mut e1 = a.engine(&model).unwrap();
        let mut e2 = b.engine(&model).unwrap();
        assert!(matches!(
            e2.step_raw_le(&[1, 2, 3], -9),
            Err(EngineError::InputLength { .. })
        ));
        for frame in raw.chunks_exact(3) {
            let bytes: Vec<u8> = frame.iter().flat_map(|r| r.to_le_bytes()).collect();
            e1.step_raw(frame, -9).unwrap();
            e2.step_raw_le(&bytes, -9).unwrap();
            assert_eq!(e1.layer_spikes(1), e2.layer_spikes(1));
        }
        assert_eq!(e1.output_counts(), e2.output_counts());
        assert_eq!(e1.stats(), e2.stats());
        assert!(
            e1.stats().layer_spikes[1] > 0,
            "{encoding:?}: the output never spiked"
        );
    }
}

/// Per-step output spikes and final state of `raw` run in one engine.
fn straight(model: &Model<'_>, raw: &[i16]) -> (Vec<Vec<u16>>, Vec<u16>, Vec<i32>) {
    let mut b = EngineBuffers::for_model(model);
    let mut e = b.engine(model).unwrap();
    e.set_step_limit(false);
    let steps = raw
        .chunks_exact(3)
        .map(|f| {
            e.step_raw(f, -8).unwrap();
            e.layer_spikes(1).to_vec()
        })
        .collect();
    let counts = e.output_counts().to_vec();
    let v = e.membranes(0).to_vec();
    (steps, counts, v)
}

#[test]
fn resume_continues_exactly_where_carry_left() {
    for encoding in ENCODINGS {
        let m = model(encoding);
        let model = m.as_model();
        let raw = raw_sample(50, 11);
        let (want_steps, want_counts, want_v) = straight(&model, &raw);
        // The same stream in pieces of 1, 7 and 13 steps, a fresh engine per piece.
        for piece in [1usize, 7, 13] {
            let mut b = EngineBuffers::for_model(&model);
            let mut carry = {
                let mut e = b.engine(&model).unwrap();
                e.set_step_limit(false);
                e.carry()
            };
            let mut got = Vec::new();
            for chunk in raw.chunks(3 * piece) {
                let mut e = b.resume(&model, &carry).unwrap();
                for f in chunk.chunks_exact(3) {
                    e.step_raw(f, -8).unwrap();
                    got.push(e.layer_spikes(1).to_vec());
                }
                carry = e.carry();
            }
            let e = b.resume(&model, &carry).unwrap();
            assert_eq!(got, want_steps, "{encoding:?}, pieces of {piece}");
            assert_eq!(e.output_counts(), &want_counts[..]);
            assert_eq!(e.membranes(0), &want_v[..]);
            assert_eq!(e.stats().steps, 50);
        }
    }
}

#[test]
fn resume_refuses_spike_lists_that_do_not_fit_the_model() {
    let m = model(Encoding::Direct);
    let model = m.as_model();
    let mut b = EngineBuffers::for_model(&model);
    let carry = {
        let mut e = b.engine(&model).unwrap();
        for f in raw_sample(10, 3).chunks_exact(3) {
            e.step_raw(f, -8).unwrap();
        }
        assert!(
            !e.layer_spikes(0).is_empty(),
            "layer 0 must spike in the last step"
        );
        e.carry()
    };
    // Corrupt the carried spike list of layer 0 (it starts after the 3 input slots).
    let saved = b.spikes.clone();
    b.spikes[3] = 8;
    let r = b.resume(&model, &carry);
    assert!(matches!(r, Err(EngineError::BufferTooSmall { .. })));
    b.spikes = saved;
    assert!(b.resume(&model, &carry).is_ok());
}

#[test]
fn the_step_limit_stops_a_sample_but_not_a_stream() {
    let m = model(Encoding::Direct);
    let model = m.as_model();
    let raw = raw_sample(21, 9);
    let mut b = EngineBuffers::for_model(&model);
    let mut e = b.engine(&model).unwrap();
    for f in raw.chunks_exact(3).take(20) {
        e.step_raw(f, -8).unwrap();
    }
    assert_eq!(e.step_raw(&raw[60..], -8), Err(EngineError::TooManySteps));
    e.set_step_limit(false);
    e.step_raw(&raw[60..], -8).unwrap();
    assert_eq!(e.stats().steps, 21);
    // 70,000 steps: the step counter saturates instead of overflowing.
    for _ in 0..70_000 {
        e.step_raw(&[0, 0, 0], 0).unwrap();
    }
    assert_eq!(e.stats().steps, u16::MAX);
}
