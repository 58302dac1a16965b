//! Decode arbitrary bytes; whenever they load, re-encode them and run the engine on inputs taken
//! from the same bytes. Any panic is a bug: the device path must only ever return errors.
//!
//! The first byte picks how the rest is used: even = a whole file as is (exercises the prefix and
//! CRC checks); odd = a postcard body that the target frames with a valid prefix and CRC, so the
//! fuzzer gets past the CRC into postcard decoding and validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snn_models::{
    crc::crc32, decode, encode_to_vec, Engine, EngineError, Model, Requirements, FORMAT_VERSION,
    MAGIC,
};

/// Most neuron updates one `run_features` may cost, so one input stays fast.
const MAX_WORK: usize = 1 << 20;

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn run(model: &Model<'_>, data: &[u8]) {
    let r = Requirements::of(model);
    let (mut v, mut c, mut s, mut o) = (
        vec![0i32; r.membrane],
        vec![0i32; r.current],
        vec![0u16; r.spikes],
        vec![0u16; r.out_counts],
    );
    let mut engine = Engine::new(model, &mut v, &mut c, &mut s, &mut o).expect("sized buffers");
    let n = model.header.input_size;
    let mut chunks = data.chunks(8);
    for _ in 0..model.header.time_steps.min(4) {
        let raw: Vec<u16> = chunks
            .next()
            .unwrap_or(&[])
            .chunks(2)
            .map(|p| u16::from_le_bytes([p[0], *p.get(1).unwrap_or(&0)]))
            .collect();
        if let Some(&bad) = raw.iter().find(|&&i| i >= n) {
            assert_eq!(
                engine.step(&raw),
                Err(EngineError::InputIndex { index: bad })
            );
        }
        let input: Vec<u16> = raw.iter().map(|&i| i % n).collect();
        engine.step(&input).expect("valid input indices");
    }
    let _ = engine.predicted_class();
    let _ = engine.stats();
    (0..model.layers.len()).for_each(|l| {
        let _ = engine.budget_ok(l);
    });

    let work = usize::from(model.header.time_steps) * (r.membrane + usize::from(n));
    if work <= MAX_WORK {
        let features: Vec<u8> = data.iter().copied().cycle().take(usize::from(n)).collect();
        let features = if features.is_empty() {
            vec![0; usize::from(n)]
        } else {
            features
        };
        let seed = u32::from_le_bytes([0, 1, 2, 3].map(|i| *data.get(i).unwrap_or(&0)));
        engine
            .run_features(&features, seed)
            .expect("one frame of features");
        assert_eq!(engine.stats().steps, model.header.time_steps);
        let total: u32 = engine.output_counts().iter().map(|&x| u32::from(x)).sum();
        assert!(total <= engine.stats().layer_spikes[model.layers.len() - 1]);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let framed;
    let bytes: &[u8] = if mode & 1 == 0 {
        rest
    } else {
        framed = frame(rest);
        &framed
    };
    let Ok(model) = decode(bytes) else {
        return;
    };
    let again = encode_to_vec(&model).expect("a decoded model re-encodes");
    assert_eq!(decode(&again).expect("re-encoded bytes decode"), model);
    run(&model, rest);
});
