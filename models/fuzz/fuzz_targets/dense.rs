//! The dense baseline's loader and kernel on arbitrary bytes: `decode_dense` never panics, and a
//! file it accepts runs on arbitrary features without panicking (the last 64 bytes of the input
//! are the features, the rest the file without its CRC; overflow checks are on, so an accumulator overflow would abort). The CRC is
//! appended here, so the fuzzer explores the layers behind it rather than the checksum.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snn_models::crc::crc32;
use snn_models::dense::{decode_dense, infer, DenseBuffers};

fuzz_target!(|data: &[u8]| {
    let (body, features) = data.split_at(data.len().saturating_sub(64));
    let mut file = body.to_vec();
    file.extend_from_slice(&crc32(body).to_le_bytes());
    if let Ok(m) = decode_dense(&file) {
        let w = m.max_width();
        let (mut a, mut b) = (vec![0i8; w], vec![0i8; w]);
        let mut packed = vec![0u32; DenseBuffers::packed_len(w)];
        let mut logits = vec![0i32; m.outputs()];
        let mut bufs = DenseBuffers {
            a: &mut a,
            b: &mut b,
            packed: &mut packed,
        };
        let f: Vec<u8> = features.iter().cycle().take(m.inputs()).copied().collect();
        if f.len() == m.inputs() {
            let p = infer(&m, &f, &mut bufs, &mut logits).expect("sized buffers");
            assert!(usize::from(p) < m.outputs());
        }
    };
});
