//! Continuous channels (format version 2): quantisation, the delta encoders, direct input into
//! the first layer, the per-step entry points and the version-2 file section. Exact values,
//! worked out by hand in the comments, so host and device cannot drift.
mod common;

use common::{frame, raw_body, raw_body_v2};
use snn_models::encode::{delta_step, encode_frame, quantise};
use snn_models::owned::{OwnedChannels, OwnedHeader, OwnedLayer, OwnedModel, OwnedWeights};
use snn_models::EngineBuffers;
use snn_models::{decode, Channels, Encoding, EngineError, FormatError, Reset};

/// One layer `channels x neurons` with dense weights `w` (row = channel), threshold 100,
/// leak 0.5, subtract reset, under `encoding` with `channels` constants.
fn model(
    encoding: Encoding,
    channels: OwnedChannels,
    inputs: u16,
    neurons: u16,
    w: &[i8],
    time_steps: u16,
) -> OwnedModel {
    let mut l = OwnedLayer::new(
        inputs,
        neurons,
        OwnedWeights::from_dense(inputs.into(), neurons.into(), w).unwrap(),
        100,
    );
    l.leak = snn_models::owned::OwnedLeak::Shared(1 << 15);
    l.reset = Reset::Subtract;
    OwnedModel {
        header: OwnedHeader {
            name: "channels".into(),
            input_size: inputs,
            time_steps,
            encoding,
            num_classes: neurons,
            neurons_per_class: 1,
        },
        layers: vec![l],
        channels,
        synapses: Default::default(),
        output: Default::default(),
    }
}

#[test]
fn quantise_rounds_half_away_and_clamps() {
    // q = round((x - offset) * scale), units of 1/256.
    assert_eq!(quantise(1.5, 0.5, 256.0), 256);
    assert_eq!(quantise(0.5, 0.0, 3.0), 2); // 1.5 -> 2
    assert_eq!(quantise(-0.5, 0.0, 3.0), -2); // -1.5 -> -2
    assert_eq!(quantise(0.25, 0.0, 2.0), 1); // 0.5 -> 1
    assert_eq!(quantise(0.1, 0.0, 2.0), 0); // 0.2 -> 0
    assert_eq!(quantise(1e9, 0.0, 1.0), 32767);
    assert_eq!(quantise(-1e9, 0.0, 1.0), -32767);
    assert_eq!(quantise(f32::INFINITY, 0.0, 1.0), 32767);
    assert_eq!(quantise(f32::NEG_INFINITY, 0.0, 1.0), -32767);
    assert_eq!(quantise(f32::NAN, 0.0, 1.0), 0);
}

#[test]
fn send_on_delta_resets_the_reference_to_the_value() {
    // thr 10, values 0, 12, 15, 25, 13, 2: d = q - r.
    // 0: d 0 -> none; 12: d 12 -> up, r 12; 15: d 3 -> none; 25: d 13 -> up, r 25;
    // 13: d -12 -> down, r 13; 2: d -11 -> down, r 2.
    let mut r = 0;
    let got: Vec<i8> = [0, 12, 15, 25, 13, 2]
        .iter()
        .map(|&q| delta_step(false, q, &mut r, 10))
        .collect();
    assert_eq!(got, [0, 1, 0, 1, -1, -1]);
    assert_eq!(r, 2);
}

#[test]
fn sigma_delta_moves_the_reference_by_one_threshold() {
    // thr 10, a step to 35 and back to 0: r 0 -> 10 -> 20 -> 30 (d 5, none) -> back down.
    let mut r = 0;
    let got: Vec<i8> = [35, 35, 35, 35, 0, 0, 0, 0]
        .iter()
        .map(|&q| delta_step(true, q, &mut r, 10))
        .collect();
    // 35: d 35 up r 10; d 25 up r 20; d 15 up r 30; d 5 none;
    // 0: d -30 down r 20; d -20 down r 10; d -10 down r 0; d 0 none.
    assert_eq!(got, [1, 1, 1, 0, -1, -1, -1, 0]);
    assert_eq!(r, 0);
}

#[test]
fn encode_frame_writes_up_and_down_inputs() {
    let ch = OwnedChannels::delta(&[0.0, 1.0], &[1.0, 2.0], &[5, 3]);
    let c = ch.as_channels();
    let mut state = [0i32; 2];
    let mut out = [0u16; 4];
    // ch0: q 6 -> up (0); ch1: q (0 - 1) * 2 = -2 -> none.
    let k = encode_frame(Encoding::SendOnDelta, &c, &[6.0, 0.0], &mut state, &mut out).unwrap();
    assert_eq!(&out[..k], &[0]);
    // ch0: q 0, d -6 -> down (1); ch1: q 4, d 4 -> up (2).
    let k = encode_frame(Encoding::SendOnDelta, &c, &[0.0, 3.0], &mut state, &mut out).unwrap();
    assert_eq!(&out[..k], &[1, 2]);
    assert_eq!(state, [0, 4]);
    // Wrong frame length, short buffers, wrong encoding: errors, no panic.
    assert_eq!(
        encode_frame(Encoding::SendOnDelta, &c, &[0.0], &mut state, &mut out),
        Err(EngineError::InputLength {
            expected: 2,
            given: 1
        })
    );
    assert!(matches!(
        encode_frame(
            Encoding::SigmaDelta,
            &c,
            &[0.0; 2],
            &mut state,
            &mut out[..3]
        ),
        Err(EngineError::BufferTooSmall { .. })
    ));
    assert!(matches!(
        encode_frame(Encoding::SigmaDelta, &c, &[0.0; 2], &mut [0; 1], &mut out),
        Err(EngineError::BufferTooSmall { .. })
    ));
    assert!(matches!(
        encode_frame(Encoding::Events, &c, &[0.0; 2], &mut state, &mut out),
        Err(EngineError::InputKind { .. })
    ));
    // Direct: the quantised values as i16 bits.
    let d = OwnedChannels::direct(&[0.0, 0.0], &[256.0, 256.0]);
    let k = encode_frame(
        Encoding::Direct,
        &d.as_channels(),
        &[0.5, -1.0],
        &mut [],
        &mut out,
    )
    .unwrap();
    assert_eq!(k, 2);
    assert_eq!([out[0] as i16, out[1] as i16], [128, -256]);
}

#[test]
fn direct_input_drives_the_first_layer_exactly() {
    // Two channels, one neuron, weights 20 and -8, scale 256 (q = 256 x), leak 0.5, threshold
    // 100. syn = (20 q0 - 8 q1 + 128) >> 8, u = floor((v + 1) / 2) + syn.
    let m = model(
        Encoding::Direct,
        OwnedChannels::direct(&[0.0, 0.0], &[256.0, 256.0]),
        2,
        1,
        &[20, -8],
        8,
    );
    let bytes = m.to_bytes().unwrap();
    assert_eq!(
        &bytes[4..6],
        &2u16.to_le_bytes(),
        "direct input needs format 2"
    );
    let model = decode(&bytes).unwrap();
    let mut state = EngineBuffers::for_model(&model);
    let mut e = state.engine(&model).unwrap();
    let frames: [[f32; 2]; 4] = [[3.0, 1.0], [3.0, 1.0], [0.0, 0.0], [-1.0, 0.5]];
    let mut trace = Vec::new();
    for f in &frames {
        e.step_values(f).unwrap();
        trace.push((e.membranes(0)[0], e.layer_spikes(0).len()));
    }
    // t0: q (768, 256): 20*768 - 8*256 = 13312, (13312 + 128) >> 8 = 52 -> v 52.
    // t1: u = 26 + 52 = 78 -> v 78.
    // t2: q (0, 0): syn 0 (no events); u = floor(79 / 2) = 39.
    // t3: q (-256, 128): -5120 - 1024 = -6144, (-6144 + 128) >> 8 = -24 (floor of -23.5);
    //     u = 20 - 24 = -4.
    assert_eq!(trace, [(52, 0), (78, 0), (39, 0), (-4, 0)]);
    // Input events: non-zero channel values.
    assert_eq!(e.stats().input_spikes, 6, "2 + 2 + 0 + 2 non-zero values");
    assert_eq!(e.stats().synaptic_events, 6);
    // Spikes: a constant drive of 3.0 on channel 0 reaches the threshold.
    e.run_values(&[5.0, 0.0, 5.0, 0.0]).unwrap();
    // q0 1280: syn (25600 + 128) >> 8 = 100 -> spike at t0 (v 0), t1: u 100 -> spike.
    assert_eq!(e.output_counts(), &[2]);
    assert_eq!(e.stats().steps, 2);
}

#[test]
fn direct_input_matches_a_plain_reference_dense_and_sparse() {
    // Random channels, weights and values: the engine against the formula written out, and the
    // sparse copy of the same weights against the dense one.
    let mut rng = snn_models::encode::Rng::new(7, 1);
    for case in 0..40 {
        let c = 1 + (rng.next_u32() % 9) as usize;
        let n = 1 + (rng.next_u32() % 13) as usize;
        let w: Vec<i8> = (0..c * n)
            .map(|_| {
                if rng.next_u32() % 3 == 0 {
                    0
                } else {
                    rng.next_u32() as i8
                }
            })
            .collect();
        let offset: Vec<f32> = (0..c).map(|_| (rng.next_u32() % 7) as f32 - 3.0).collect();
        let scale: Vec<f32> = (0..c)
            .map(|_| 1.0 + (rng.next_u32() % 900) as f32)
            .collect();
        let mut m = model(
            Encoding::Direct,
            OwnedChannels::direct(&offset, &scale),
            c as u16,
            n as u16,
            &w,
            5,
        );
        m.layers[0].threshold = 1 + (rng.next_u32() % 3000) as i32;
        let values: Vec<f32> = (0..5 * c)
            .map(|_| (rng.next_u32() % 2001) as f32 / 100.0 - 10.0)
            .collect();
        let run = |m: &OwnedModel| {
            let bytes = m.to_bytes().unwrap();
            let model = decode(&bytes).unwrap();
            let mut state = EngineBuffers::for_model(&model);
            let mut e = state.engine(&model).unwrap();
            let mut mem = Vec::new();
            for f in values.chunks(c) {
                e.step_values(f).unwrap();
                mem.push(e.membranes(0).to_vec());
            }
            (mem, e.output_counts().to_vec())
        };
        let (mem, counts) = run(&m);
        // Reference: the formulas of FORMAT.md, section 5 and 6.
        let thr = m.layers[0].threshold;
        let mut v = vec![0i32; n];
        let mut ref_counts = vec![0u16; n];
        for (t, f) in values.chunks(c).enumerate() {
            let q: Vec<i64> = (0..c)
                .map(|j| i64::from(quantise(f[j], offset[j], scale[j])))
                .collect();
            for i in 0..n {
                let acc: i64 = (0..c).map(|j| i64::from(w[j * n + i]) * q[j]).sum();
                let syn = ((acc + 128) >> 8) as i32;
                let decayed = ((i64::from(v[i]) * 32768 + 32768) >> 16) as i32;
                let u = decayed + syn;
                if u >= thr {
                    v[i] = u - thr;
                    ref_counts[i] += 1;
                } else {
                    v[i] = u;
                }
            }
            assert_eq!(mem[t], v, "case {case} step {t}");
        }
        assert_eq!(counts, ref_counts, "case {case}");
        let mut sparse = m.clone();
        sparse.layers[0].feedforward = OwnedWeights::sparse_from_dense(c, n, &w).unwrap();
        assert_eq!(run(&sparse), (mem, counts), "case {case} sparse");
    }
}

#[test]
fn delta_models_run_the_encoder_inside_the_engine() {
    // One channel -> inputs 0 (up), 1 (down); weights +60 / -60 into one neuron.
    for (encoding, expected) in [
        // q = 100 x, thr 50. Values 1, 1, 0, 0:
        // send-on-delta: t0 d 100 up (r 100); t1 none; t2 d -100 down (r 0); t3 none.
        (Encoding::SendOnDelta, [vec![0], vec![], vec![1], vec![]]),
        // sigma-delta: t0 up (r 50); t1 d 50 up (r 100); t2 d -100 down (r 50); t3 down (r 0).
        (Encoding::SigmaDelta, [vec![0], vec![0], vec![1], vec![1]]),
    ] {
        let m = model(
            encoding,
            OwnedChannels::delta(&[0.0], &[100.0], &[50]),
            2,
            1,
            &[60, -60],
            6,
        );
        let bytes = m.to_bytes().unwrap();
        let model = decode(&bytes).unwrap();
        let mut state = EngineBuffers::for_model(&model);
        assert_eq!(
            state.membrane.len(),
            1 + 1,
            "one neuron and one channel reference"
        );
        let mut e = state.engine(&model).unwrap();
        let mut inputs = Vec::new();
        let mut input_spikes = 0;
        for x in [1.0, 1.0, 0.0, 0.0] {
            e.step_values(&[x]).unwrap();
            inputs.push(e.stats().input_spikes - input_spikes);
            input_spikes = e.stats().input_spikes;
        }
        let want: Vec<u32> = expected.iter().map(|s| s.len() as u32).collect();
        assert_eq!(inputs, want, "{encoding:?}");
        // The same spikes given as events produce the same network state.
        let mut state2 = EngineBuffers::for_model(&model);
        let mut e2 = state2.engine(&model).unwrap();
        e2.run_spike_steps(expected.iter().map(Vec::as_slice))
            .unwrap();
        let mut state3 = EngineBuffers::for_model(&model);
        let mut e3 = state3.engine(&model).unwrap();
        e3.run_values(&[1.0, 1.0, 0.0, 0.0]).unwrap();
        assert_eq!(e3.membranes(0), e2.membranes(0), "{encoding:?}");
        assert_eq!(e3.stats(), e2.stats(), "{encoding:?}");
        // run_values resets the references: a second run gives the same result.
        e3.run_values(&[1.0, 1.0, 0.0, 0.0]).unwrap();
        assert_eq!(e3.stats(), e2.stats(), "{encoding:?} after a second run");
    }
}

#[test]
fn sample_lengths_and_input_kinds_are_checked() {
    let m = model(
        Encoding::Direct,
        OwnedChannels::direct(&[0.0, 0.0], &[1.0, 1.0]),
        2,
        1,
        &[1, 1],
        3,
    );
    let bytes = m.to_bytes().unwrap();
    let model = decode(&bytes).unwrap();
    let mut state = EngineBuffers::for_model(&model);
    let mut e = state.engine(&model).unwrap();
    // 1..=3 whole frames run; anything else is refused.
    e.run_values(&[0.0; 2]).unwrap();
    assert_eq!(e.stats().steps, 1);
    e.run_values(&[0.0; 6]).unwrap();
    assert_eq!(e.stats().steps, 3);
    assert_eq!(e.step_values(&[0.0; 2]), Err(EngineError::TooManySteps));
    for bad in [&[][..], &[0.0; 3][..], &[0.0; 8][..]] {
        assert!(matches!(
            e.run_values(bad),
            Err(EngineError::InputLength { .. })
        ));
    }
    assert!(matches!(e.step(&[0]), Err(EngineError::InputKind { .. })));
    assert!(matches!(
        e.run_features(&[1, 2], 0),
        Err(EngineError::InputKind { .. })
    ));
    let msg = e.step(&[0]).unwrap_err().to_string();
    assert!(msg.contains("real-valued channels"), "{msg}");
    // A rate model refuses values.
    let r = common::reference();
    let bytes = r.to_bytes().unwrap();
    let model = decode(&bytes).unwrap();
    let mut state = EngineBuffers::for_model(&model);
    let mut e = state.engine(&model).unwrap();
    assert!(matches!(
        e.step_values(&[0.0; 6]),
        Err(EngineError::InputKind { .. })
    ));
    assert!(e.run_values(&[0.0; 6]).is_err());
}

#[test]
fn version_1_models_still_write_and_read_as_version_1() {
    let r = common::reference();
    let bytes = r.to_bytes().unwrap();
    assert_eq!(&bytes[4..6], &1u16.to_le_bytes());
    let model = decode(&bytes).unwrap();
    assert!(model.channels.is_empty());
    // The same body framed as version 2 needs the (empty) channel section after the layers.
    let mut v2 = raw_body(&r);
    assert_eq!(
        decode(&frame(2, &v2)),
        Err(FormatError::Header(
            "channel constants are truncated or malformed"
        ))
    );
    v2.extend_from_slice(&[0, 0, 0]);
    assert_eq!(decode(&frame(2, &v2)).unwrap(), model);
    assert_eq!(v2, raw_body_v2(&r));
}

#[test]
fn version_2_round_trips_and_every_channel_fault_is_named() {
    let good = model(
        Encoding::SigmaDelta,
        OwnedChannels::delta(&[0.5, -1.0], &[3.0, 7.5], &[4, 9]),
        4,
        2,
        &[1; 8],
        4,
    );
    let bytes = good.to_bytes().unwrap();
    assert_eq!(&bytes[4..6], &2u16.to_le_bytes());
    let back = OwnedModel::from_bytes(&bytes).unwrap();
    assert_eq!(back, good);
    let c: Channels<'_> = back.channels.as_channels();
    assert_eq!(c.scale.iter().collect::<Vec<_>>(), [3.0, 7.5]);
    assert_eq!(c.threshold.iter().collect::<Vec<_>>(), [4, 9]);
    // The version-2 section cut short: named, never a panic.
    let body = raw_body_v2(&good);
    for cut in 1..=20 {
        let err = decode(&frame(2, &body[..body.len() - cut])).unwrap_err();
        assert!(
            matches!(err, FormatError::Header(_) | FormatError::Layer { .. }),
            "cut {cut}: {err:?}"
        );
    }
    let bad = |f: &dyn Fn(&mut OwnedModel), what: &str| {
        let mut m = good.clone();
        f(&mut m);
        assert_eq!(
            decode(&frame(2, &raw_body_v2(&m))),
            Err(FormatError::Header(match what {
                "offsets" => "channel offsets differ from the encoding's channel count",
                "scales" => "channel scales differ from the encoding's channel count",
                "finite" => "a channel offset or scale is not finite",
                "thresholds" => "channel thresholds differ from the encoding (one per channel for delta, none for direct)",
                "zero" => "a channel delta threshold is 0",
                "odd" => "input_size of a delta encoding is not 2 x channels",
                "unused" => "channel constants are only allowed with a continuous encoding",
                _ => unreachable!(),
            })),
            "{what}"
        );
        assert!(m.to_bytes().is_err(), "{what}: the writer validates too");
    };
    bad(&|m| m.channels.offset = vec![0.0f32].into(), "offsets");
    bad(&|m| m.channels.scale = vec![1.0f32; 3].into(), "scales");
    bad(&|m| m.channels.scale = vec![1.0, f32::NAN].into(), "finite");
    bad(
        &|m| m.channels.offset = vec![f32::INFINITY, 0.0].into(),
        "finite",
    );
    bad(&|m| m.channels.threshold = vec![1u16].into(), "thresholds");
    bad(&|m| m.channels.threshold = vec![1u16, 0].into(), "zero");
    bad(
        &|m| {
            m.header.encoding = Encoding::Direct;
            m.header.input_size = 2;
            m.layers[0] =
                OwnedLayer::new(2, 2, OwnedWeights::from_dense(2, 2, &[1; 4]).unwrap(), 9);
        },
        "thresholds",
    );
    bad(
        &|m| {
            m.header.input_size = 3;
            m.layers[0] =
                OwnedLayer::new(3, 2, OwnedWeights::from_dense(3, 2, &[1; 6]).unwrap(), 9);
        },
        "odd",
    );
    bad(
        &|m| {
            m.header.encoding = Encoding::Rate { seed: 1 };
        },
        "unused",
    );
    bad(
        &|m| {
            m.channels = OwnedChannels::default();
        },
        "offsets",
    );
}
