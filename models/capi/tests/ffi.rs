//! The C entry points called from Rust on the zoo digits model: every way of running a sample
//! (features, events, streamed steps) gives the counts, totals and events of the Rust engine,
//! and handles refuse what they must. (The same checks from C: `tests/host.c`, run by
//! `cargo xtask capi`.)
use core::ptr::null;
use snn_capi::*;
use snn_models::encode::{Encoder, Rng};
use snn_models::{decode, EngineBuffers, Requirements};
use std::mem::MaybeUninit;

mod common;
use common::Opened;

const ZOO: &[u8] = include_bytes!("../../zoo/digits.snn");

struct Host {
    counts: Vec<u16>,
    totals: Vec<u32>,
    events: u64,
    class: u16,
}

fn host(features: &[u8], seed: u32) -> Host {
    let m = decode(ZOO).unwrap();
    let mut state = EngineBuffers::for_model(&m);
    let mut e = state.engine(&m).unwrap();
    e.run_features(features, seed).unwrap();
    Host {
        counts: e.output_counts().to_vec(),
        totals: e.stats().layer_spikes[..m.layers.len()].to_vec(),
        events: e.stats().synaptic_events,
        class: e.predicted_class(),
    }
}

fn check_against(e: &SnnEngine, req: &SnnRequirements, want: &Host, what: &str) {
    let mut counts = vec![0u16; usize::from(req.output_neurons)];
    let mut totals = vec![0u32; usize::from(req.layers)];
    let (mut st, mut class) = (SnnStats::default(), 0u16);
    unsafe {
        assert_eq!(
            snn_output_counts(e, counts.as_mut_ptr(), counts.len()),
            SnnStatus::SnnOk
        );
        assert_eq!(
            snn_layer_spike_totals(e, totals.as_mut_ptr(), totals.len()),
            SnnStatus::SnnOk
        );
        assert_eq!(snn_stats(e, &mut st), SnnStatus::SnnOk);
        assert_eq!(snn_predicted_class(e, &mut class), SnnStatus::SnnOk);
    }
    assert_eq!(counts, want.counts, "{what}");
    assert_eq!(totals, want.totals, "{what}");
    assert_eq!(st.synaptic_events, want.events, "{what}");
    assert_eq!(st.steps, req.time_steps, "{what}");
    assert_eq!(class, want.class, "{what}");
}

#[test]
fn features_events_and_streamed_steps_equal_the_engine() {
    let mut opened = Opened::open(ZOO);
    let (e, req) = (opened.engine(), opened.req);
    assert_eq!(req.input_size, 64);
    assert_eq!(req.encoding, SnnEncoding::SnnEncodingRate);
    assert_eq!(req.model_bytes, ZOO.len());
    let header = decode(ZOO).unwrap().header;
    let mut rng = Rng::new(11, 12);
    for sample in 0..40u32 {
        let features: Vec<u8> = (0..64).map(|_| rng.next_u32() as u8).collect();
        let want = host(&features, sample);
        unsafe {
            assert_eq!(
                snn_run_features(e, features.as_ptr(), 64, sample),
                SnnStatus::SnnOk
            );
        }
        check_against(unsafe { &*e }, &req, &want, "features");

        let mut enc = Encoder::new(&header, &features, sample).unwrap();
        let mut buf = [0u16; 64];
        let mut events = Vec::new();
        let mut steps = Vec::new();
        for t in 0..header.time_steps {
            let k = enc.next_step(&mut buf).unwrap();
            events.extend(buf[..k].iter().map(|&index| SnnEvent { t, index }));
            steps.push(buf[..k].to_vec());
        }
        unsafe {
            assert_eq!(
                snn_run_events(e, events.as_ptr(), events.len()),
                SnnStatus::SnnOk
            );
        }
        check_against(unsafe { &*e }, &req, &want, "events");

        let mut summed = vec![0u16; usize::from(req.output_neurons)];
        unsafe { assert_eq!(snn_engine_reset(e), SnnStatus::SnnOk) };
        for s in &steps {
            unsafe { assert_eq!(snn_step(e, s.as_ptr(), s.len()), SnnStatus::SnnOk) };
            let (mut p, mut n) = (null(), 0usize);
            unsafe {
                assert_eq!(
                    snn_step_spikes(e, req.layers - 1, &mut p, &mut n),
                    SnnStatus::SnnOk
                );
            }
            let spikes = if n == 0 {
                &[][..]
            } else {
                unsafe { std::slice::from_raw_parts(p, n) }
            };
            for &i in spikes {
                summed[usize::from(i)] += 1;
            }
        }
        check_against(unsafe { &*e }, &req, &want, "streamed");
        assert_eq!(
            summed, want.counts,
            "per-step output spikes sum to the counts"
        );
        unsafe { assert_eq!(snn_step(e, null(), 0), SnnStatus::SnnErrTooManySteps) };
    }
}

#[test]
fn refusals_are_status_codes_with_texts() {
    let mut model = MaybeUninit::<SnnModel>::zeroed();
    let m = model.as_mut_ptr();
    let mut text = [0u8; 120];
    let text_of = |t: &[u8], n: usize| String::from_utf8(t[..n].to_vec()).unwrap();
    let mut bytes = ZOO.to_vec();
    bytes[100] ^= 4;
    unsafe {
        assert_eq!(
            snn_model_open(m, bytes.as_ptr(), bytes.len()),
            SnnStatus::SnnErrCrcMismatch
        );
        let n = snn_model_error_text(m, text.as_mut_ptr().cast(), text.len());
        assert!(
            text_of(&text, n).contains("CRC-32"),
            "{}",
            text_of(&text, n)
        );
        assert_eq!(
            snn_model_requirements(m, MaybeUninit::zeroed().as_mut_ptr()),
            SnnStatus::SnnErrNotOpen
        );
        assert_eq!(snn_model_open(m, ZOO.as_ptr(), ZOO.len()), SnnStatus::SnnOk);
    }
    // RAM one byte short, then misaligned; the engine keeps the reason.
    let mut req = MaybeUninit::<SnnRequirements>::zeroed();
    unsafe {
        assert_eq!(
            snn_model_requirements(m, req.as_mut_ptr()),
            SnnStatus::SnnOk
        )
    };
    let req = unsafe { req.assume_init() };
    let mut ram = vec![0u32; req.ram_bytes / 4 + 2];
    let mut engine = MaybeUninit::<SnnEngine>::zeroed();
    let e = engine.as_mut_ptr();
    unsafe {
        let r = ram.as_mut_ptr().cast::<u8>();
        assert_eq!(
            snn_engine_open(e, m, r.cast(), req.ram_bytes - 1),
            SnnStatus::SnnErrRamTooSmall
        );
        assert_eq!(
            snn_engine_open(e, m, r.add(2).cast(), req.ram_bytes),
            SnnStatus::SnnErrMisaligned
        );
        let n = snn_engine_error_text(e, text.as_mut_ptr().cast(), text.len());
        assert!(text_of(&text, n).contains("4-byte aligned"));
        assert_eq!(
            snn_engine_open(e, m, r.cast(), req.ram_bytes),
            SnnStatus::SnnOk
        );
        let bad = [3u16, 64];
        assert_eq!(snn_step(e, bad.as_ptr(), 2), SnnStatus::SnnErrInputIndex);
        let n = snn_engine_error_text(e, text.as_mut_ptr().cast(), text.len());
        assert_eq!(text_of(&text, n), "input spike index 64 is out of range");
        let ev = [SnnEvent { t: 2, index: 0 }, SnnEvent { t: 1, index: 0 }];
        assert_eq!(
            snn_run_events(e, ev.as_ptr(), 2),
            SnnStatus::SnnErrEventOrder
        );
        let n = snn_engine_error_text(e, text.as_mut_ptr().cast(), text.len());
        assert!(text_of(&text, n).starts_with("event 1: t = 1"));
        let mut ok = false;
        assert_eq!(snn_budget_ok(e, 2, &mut ok), SnnStatus::SnnErrLayerIndex);
        assert_eq!(snn_budget_ok(e, 1, &mut ok), SnnStatus::SnnOk);
    }
    // A handle copied elsewhere is not open there; re-opening the model on other bytes retires
    // the engine.
    let mut moved = MaybeUninit::<SnnModel>::zeroed();
    unsafe {
        core::ptr::copy_nonoverlapping(m, moved.as_mut_ptr(), 1);
        let mut r2 = MaybeUninit::<SnnRequirements>::zeroed();
        assert_eq!(
            snn_model_requirements(moved.as_ptr(), r2.as_mut_ptr()),
            SnnStatus::SnnErrNotOpen
        );
        let copy = ZOO.to_vec();
        assert_eq!(
            snn_model_open(m, copy.as_ptr(), copy.len()),
            SnnStatus::SnnOk
        );
        assert_eq!(snn_engine_reset(e), SnnStatus::SnnErrModelChanged);
    }
}

/// A format-version-3 model (the zoo digits weights with a current-based synapse on the hidden
/// layer) through the C entry points: the requirements count the currents, and the counts
/// equal the Rust engine's.
#[test]
fn a_version_3_model_with_synaptic_currents_equals_the_engine() {
    // Written by hand from FORMAT.md: the version-1 body, an empty `Channels` (three 0 bytes),
    // then the synapse section: count 2, `Current(Shared(40000))` = tags 1, 0 and the varint
    // C0 B8 02, then `Instant` = tag 0; version 3 and a new CRC.
    assert_eq!(&ZOO[4..6], &1u16.to_le_bytes());
    let mut bytes = ZOO[..ZOO.len() - 4].to_vec();
    bytes[4..6].copy_from_slice(&3u16.to_le_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 2, 1, 0, 0xC0, 0xB8, 0x02, 0]);
    let crc = snn_models::crc::crc32(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let m = decode(&bytes).unwrap();
    assert_eq!(
        m.synapse(0),
        snn_models::Synapse::Current(snn_models::Leak::Shared(40000))
    );
    assert_eq!(m.synapse(1), snn_models::Synapse::Instant);
    let r = Requirements::of(&m);
    let mut opened = Opened::open(&bytes);
    let (ep, req) = (opened.engine(), opened.req);
    assert_eq!(req.ram_bytes, r.bytes() + 2 * 64);
    let hidden = usize::from(m.layers[0].neurons);
    assert_eq!(
        r.membrane,
        hidden + 10 + hidden,
        "membranes, then the hidden currents"
    );
    let mut rng = Rng::new(5, 6);
    let mut differs = false;
    for sample in 0..10u32 {
        let features: Vec<u8> = (0..64).map(|_| rng.next_u32() as u8).collect();
        let mut state = EngineBuffers::for_model(&m);
        let mut e = state.engine(&m).unwrap();
        e.run_features(&features, sample).unwrap();
        let want = e.output_counts().to_vec();
        differs |= want != host(&features, sample).counts;
        let mut counts = vec![0u16; usize::from(req.output_neurons)];
        unsafe {
            assert_eq!(
                snn_run_features(ep, features.as_ptr(), 64, sample),
                SnnStatus::SnnOk
            );
            assert_eq!(
                snn_output_counts(ep, counts.as_mut_ptr(), counts.len()),
                SnnStatus::SnnOk
            );
        }
        assert_eq!(counts, want, "sample {sample}");
    }
    assert!(differs, "the synapse section changes the spikes");
}

/// A model whose last layer is a non-spiking readout (the zoo digits weights, reset `None`,
/// format v3's output section) through the C entry points: `snn_readout` gives the Rust
/// engine's per-class maxima and `snn_predicted_class` its decision; a spiking model has no
/// readout values.
#[test]
fn a_readout_model_gives_the_engines_readout_values() {
    let zoo = decode(ZOO).unwrap();
    let mut m = zoo.clone();
    let last = m.layers.len() - 1;
    m.layers[last].reset = snn_models::Reset::None;
    m.output = snn_models::Output::MaxMembrane;
    let mut buf = vec![0u8; ZOO.len() + 64];
    let len = snn_models::encode_to_slice(&m, &mut buf).unwrap();
    let bytes = &buf[..len];
    assert_eq!(&bytes[4..6], &3u16.to_le_bytes());
    let m = decode(bytes).unwrap();
    let r = Requirements::of(&m);
    let mut opened = Opened::open(bytes);
    let (ep, req) = (opened.engine(), opened.req);
    assert_eq!(
        req.ram_bytes,
        r.bytes() + 2 * 64,
        "the maxima are engine RAM"
    );
    let mut rng = Rng::new(7, 8);
    let mut classes = std::collections::BTreeSet::new();
    for sample in 0..10u32 {
        let features: Vec<u8> = (0..64).map(|_| rng.next_u32() as u8).collect();
        let mut state = EngineBuffers::for_model(&m);
        let mut e = state.engine(&m).unwrap();
        e.run_features(&features, sample).unwrap();
        let mut values = vec![0i32; usize::from(req.output_neurons)];
        let mut class = u16::MAX;
        unsafe {
            assert_eq!(
                snn_run_features(ep, features.as_ptr(), 64, sample),
                SnnStatus::SnnOk
            );
            assert_eq!(
                snn_readout(ep, values.as_mut_ptr(), values.len()),
                SnnStatus::SnnOk
            );
            assert_eq!(
                snn_readout(ep, values.as_mut_ptr(), values.len() - 1),
                SnnStatus::SnnErrBufferTooSmall
            );
            assert_eq!(snn_predicted_class(ep, &mut class), SnnStatus::SnnOk);
        }
        assert_eq!(values, e.readout(), "sample {sample}");
        assert_eq!(class, e.predicted_class(), "sample {sample}");
        classes.insert(class);
    }
    assert!(classes.len() > 1, "the readout decides more than one class");
    // The zoo model spikes: no readout values.
    let mut model2 = MaybeUninit::<SnnModel>::zeroed();
    let mut engine2 = MaybeUninit::<SnnEngine>::zeroed();
    let (mp2, ep2) = (model2.as_mut_ptr(), engine2.as_mut_ptr());
    let r2 = Requirements::of(&zoo);
    let mut ram2 = vec![0u32; (r2.bytes() + 2 * 64).div_ceil(4)];
    let mut values = [0i32; 10];
    unsafe {
        assert_eq!(
            snn_model_open(mp2, ZOO.as_ptr(), ZOO.len()),
            SnnStatus::SnnOk
        );
        assert_eq!(
            snn_engine_open(ep2, mp2, ram2.as_mut_ptr().cast(), ram2.len() * 4),
            SnnStatus::SnnOk
        );
        assert_eq!(
            snn_readout(ep2, values.as_mut_ptr(), values.len()),
            SnnStatus::SnnErrNoReadout
        );
    }
}
