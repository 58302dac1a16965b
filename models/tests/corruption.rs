//! Damaged and inconsistent model files: every one is refused with the right error, none panics.
mod common;

use common::{frame, framed, raw_body, reference};
use snn_models::owned::{OwnedLeak, OwnedModel, OwnedWeights};
use snn_models::EngineBuffers;
use snn_models::{decode, encode_to_vec, Encoding, FormatError, Model, FORMAT_VERSION, RATE_ONE};

fn reference_bytes() -> Vec<u8> {
    reference().to_bytes().unwrap()
}

/// Runs a decoded (hence valid) model a few steps: it must not panic or fail.
fn exercise(model: &Model<'_>) {
    let mut state = EngineBuffers::for_model(model);
    let mut engine = state.engine(model).unwrap();
    let n = model.header.input_size;
    for t in 0..model.header.time_steps.min(4) {
        let input: Vec<u16> = (0..n).filter(|i| (i + t) % 2 == 0).collect();
        engine.step(&input).unwrap();
    }
    let features = vec![200u8; usize::from(n)];
    engine.run_features(&features, 1).unwrap();
    let _ = engine.predicted_class();
}

#[test]
fn reference_model_decodes_and_uses_every_feature() {
    let bytes = reference_bytes();
    let m = decode(&bytes).unwrap();
    assert_eq!(m.layers.len(), 3);
    assert!(m.layers.iter().any(|l| l.recurrent.is_some()));
    assert!(m
        .layers
        .iter()
        .any(|l| matches!(l.feedforward, snn_models::Weights::Sparse { .. })));
    exercise(&m);
}

#[test]
fn every_truncation_is_rejected() {
    let bytes = reference_bytes();
    for len in 0..bytes.len() {
        assert!(decode(&bytes[..len]).is_err(), "truncated to {len} bytes");
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let bytes = reference_bytes();
    let original = decode(&bytes).unwrap();
    for bit in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        match decode(&b) {
            Err(_) => {}
            Ok(m) => assert_eq!(m, original, "bit {bit} changed the model undetected"),
        };
    }
}

/// Behind a valid CRC: every truncation and bit flip of the body is refused or decodes to a
/// model that validates, re-encodes to itself and runs. Nothing panics.
#[test]
fn damaged_bodies_with_valid_crc_never_panic() {
    let body = raw_body(&reference());
    let mut accepted = 0;
    let mut check = |b: &[u8]| {
        let file = framed(b);
        if let Ok(m) = decode(&file) {
            accepted += 1;
            let again = encode_to_vec(&m).unwrap();
            assert_eq!(decode(&again).unwrap(), m);
            exercise(&m);
        };
    };
    for len in 0..body.len() {
        check(&body[..len]);
    }
    for bit in 0..body.len() * 8 {
        let mut b = body.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        check(&b);
    }
    // Some flips (a weight's value, a leak) give another valid model; most must not.
    assert!(accepted > 0 && accepted < body.len() * 8);
}

#[test]
fn prefix_errors() {
    let bytes = reference_bytes();
    assert_eq!(decode(&[]), Err(FormatError::TooShort { len: 0 }));
    assert_eq!(decode(&bytes[..9]), Err(FormatError::TooShort { len: 9 }));
    let mut b = bytes.clone();
    b[0] = b'X';
    assert_eq!(decode(&b), Err(FormatError::BadMagic));
    let body = raw_body(&reference());
    assert_eq!(
        decode(&frame(FORMAT_VERSION + 1, &body)),
        Err(FormatError::UnsupportedVersion {
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION
        })
    );
    assert_eq!(
        decode(&frame(u16::MAX, &body)),
        Err(FormatError::UnsupportedVersion {
            found: u16::MAX,
            supported: FORMAT_VERSION
        })
    );
    assert_eq!(
        decode(&frame(0, &body)),
        Err(FormatError::Header("format version 0 does not exist"))
    );
    let mut b = bytes.clone();
    let n = b.len();
    b[n - 1] ^= 0x80;
    assert!(matches!(decode(&b), Err(FormatError::CrcMismatch { .. })));
    let mut long = body.clone();
    long.push(0);
    assert_eq!(decode(&framed(&long)), Err(FormatError::TrailingBytes));
}

/// The header's postcard bytes (the body up to the layer count).
fn header_bytes(m: &OwnedModel) -> Vec<u8> {
    postcard::to_allocvec(&m.header.as_header()).unwrap()
}

fn layer_bytes(m: &OwnedModel, i: usize) -> Vec<u8> {
    postcard::to_allocvec(&m.layers[i].as_layer()).unwrap()
}

#[test]
fn body_structure_errors() {
    let m = reference();
    let head = header_bytes(&m);
    let layers: Vec<Vec<u8>> = (0..3).map(|i| layer_bytes(&m, i)).collect();
    // Sanity: header ++ count ++ layers is the body postcard writes.
    let mut body = head.clone();
    body.push(3);
    layers.iter().for_each(|l| body.extend_from_slice(l));
    assert_eq!(body, raw_body(&m));

    // Nine layers listed: refused before any layer is read.
    let mut b = head.clone();
    b.push(9);
    (0..9).for_each(|_| b.extend_from_slice(&layers[2]));
    assert_eq!(
        decode(&framed(&b)),
        Err(FormatError::TooManyLayers { found: 9 })
    );
    // A layer count that is not a varint of a u32.
    let mut b = head.clone();
    b.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
    assert_eq!(decode(&framed(&b)), Err(FormatError::Body));
    let mut b = head.clone();
    b.push(0x80); // continuation bit, then nothing
    assert_eq!(decode(&framed(&b)), Err(FormatError::Body));
    // Three layers listed, two present.
    let mut b = head.clone();
    b.push(3);
    b.extend_from_slice(&layers[0]);
    b.extend_from_slice(&layers[1]);
    assert_eq!(
        decode(&framed(&b)),
        Err(FormatError::Layer {
            layer: 2,
            what: "layer bytes are truncated"
        })
    );
    // Header cut inside the name.
    assert_eq!(
        decode(&framed(&head[..3])),
        Err(FormatError::Header("header is truncated"))
    );
    // Name bytes that are not UTF-8 (the name starts after its length byte).
    let mut b = body.clone();
    b[1] = 0xFF;
    assert_eq!(
        decode(&framed(&b)),
        Err(FormatError::Header("name is not valid UTF-8"))
    );
    // Encoding discriminant 9 does not exist. Header: name, input_size, time_steps, encoding.
    let name_len = usize::from(head[0]) + 1;
    let enc_at = name_len + 2; // input_size 6 and time_steps 12 are one-byte varints
    assert_eq!(head[enc_at], 0, "Rate is variant 0");
    let mut b = body.clone();
    b[enc_at] = 9;
    assert_eq!(
        decode(&framed(&b)),
        Err(FormatError::Header("encoding has an unknown variant"))
    );
    // Layer 2 reset discriminant out of range: reset is right before the budget (2 x u16
    // varints). Layer 2's budget is UNBOUNDED = 32768 (3 bytes) and 0 (1 byte).
    let mut b = body.clone();
    let reset_at = b.len() - 5;
    assert_eq!(b[reset_at], 2, "Reset::None is variant 2");
    b[reset_at] = 3;
    assert_eq!(
        decode(&framed(&b)),
        Err(FormatError::Layer {
            layer: 2,
            what: "unknown variant of weights, leak or reset"
        })
    );
    // Layer 2's recurrent Option tag (after inputs, neurons, bits, shift, dense weights).
    let l2_at = body.len() - layers[2].len();
    let rec_at = l2_at + 4 + 1 + 1 + 16;
    assert_eq!(body[rec_at], 0, "layer 2 has no recurrent weights");
    let mut b = body.clone();
    b[rec_at] = 2;
    assert_eq!(
        decode(&framed(&b)),
        Err(FormatError::Layer {
            layer: 2,
            what: "an Option tag (recurrent or bias) is neither 0 nor 1"
        })
    );
}

/// `model` is refused with `expected` both when loading and when encoding.
#[track_caller]
fn rejected(model: &OwnedModel, expected: FormatError) {
    assert_eq!(decode(&framed(&raw_body(model))), Err(expected), "decode");
    assert_eq!(model.to_bytes(), Err(expected), "to_bytes");
}

fn layer_err(layer: u8, what: &'static str) -> FormatError {
    FormatError::Layer { layer, what }
}

#[test]
fn inconsistent_headers_are_rejected() {
    let header = FormatError::Header;
    let mut m = reference();
    m.header.name = "x".repeat(65);
    rejected(&m, header("name is longer than 64 bytes"));
    let mut m = reference();
    m.header.input_size = 0;
    rejected(&m, header("input_size is 0"));
    let mut m = reference();
    m.header.time_steps = 0;
    rejected(&m, header("time_steps is 0"));
    let mut m = reference();
    m.header.num_classes = 0;
    rejected(&m, header("num_classes is 0"));
    let mut m = reference();
    m.header.neurons_per_class = 0;
    rejected(&m, header("neurons_per_class is 0"));
    let mut m = reference();
    m.header.encoding = Encoding::Delta { threshold: 0 };
    rejected(&m, header("delta encoding threshold is 0"));
    let mut m = reference();
    m.layers.clear();
    rejected(&m, header("model has no layers"));
    let mut m = reference();
    m.header.num_classes = 4;
    rejected(
        &m,
        header("last layer's neurons differ from num_classes * neurons_per_class"),
    );
    let mut m = reference();
    m.header.input_size = 7;
    rejected(
        &m,
        layer_err(
            0,
            "inputs differ from the previous layer's neurons (or input_size)",
        ),
    );
}

#[test]
fn inconsistent_layers_are_rejected() {
    let mut m = reference();
    m.layers[1].inputs = 4;
    rejected(
        &m,
        layer_err(
            1,
            "inputs differ from the previous layer's neurons (or input_size)",
        ),
    );
    let mut m = reference();
    m.layers[2].threshold = 0;
    rejected(&m, layer_err(2, "threshold is not positive"));
    let mut m = reference();
    m.layers[0].threshold = -5;
    rejected(&m, layer_err(0, "threshold is not positive"));
    let mut m = reference();
    m.layers[0].weight_bits = 5;
    rejected(&m, layer_err(0, "weight_bits is neither 8 nor 4"));
    let mut m = reference();
    m.layers[0].shift = 31;
    rejected(&m, layer_err(0, "shift is above 30"));
    let mut m = reference();
    m.layers[0].bias = Some(vec![1, 2].into());
    rejected(&m, layer_err(0, "bias length differs from neurons"));
    let mut m = reference();
    m.layers[1].leak = OwnedLeak::PerNeuron(vec![1, 2, 3, 4, 5].into());
    rejected(
        &m,
        layer_err(1, "per-neuron leak length differs from neurons"),
    );
    let mut m = reference();
    m.layers[2].budget.min_rate = m.layers[2].budget.max_rate + 1;
    rejected(
        &m,
        layer_err(2, "rate budget is outside 0 <= min <= max <= 1"),
    );
    let mut m = reference();
    m.layers[2].budget.max_rate = RATE_ONE + 1;
    rejected(
        &m,
        layer_err(2, "rate budget is outside 0 <= min <= max <= 1"),
    );
    // An i8 weight in an i4 layer.
    let mut m = reference();
    m.layers[1].recurrent = Some(OwnedWeights::from_dense(4, 4, &[8; 16]).unwrap());
    rejected(
        &m,
        layer_err(1, "recurrent: a weight is outside the weight_bits range"),
    );
    // The last layer made 4-bit while its weights use the full i8 range.
    let mut m = reference();
    m.layers[2].weight_bits = 4;
    rejected(
        &m,
        layer_err(2, "feedforward: a weight is outside the weight_bits range"),
    );
}

/// Sparse weights with hand-written arrays.
fn sparse(row_ptr: &[u32], post: &[u16], values: &[i8]) -> OwnedWeights {
    OwnedWeights::Sparse {
        row_ptr: row_ptr.into(),
        post: post.into(),
        values: values.into(),
    }
}

#[test]
fn inconsistent_weights_are_rejected() {
    // Layer 1: 5 inputs -> 4 neurons, sparse feed-forward; layer 0: 5 x 5 sparse recurrent.
    let ff = |w: OwnedWeights| {
        let mut m = reference();
        m.layers[1].feedforward = w;
        m
    };
    let fault = |what| layer_err(1, what);
    let ok = ff(sparse(&[0, 1, 1, 2, 2, 3], &[3, 0, 2], &[1, -1, 2]));
    ok.validate().unwrap();
    rejected(
        &ff(sparse(&[0, 1, 1, 2, 3], &[3, 0, 2], &[1, -1, 2])),
        fault("feedforward: row_ptr length is not inputs + 1"),
    );
    rejected(
        &ff(sparse(&[1, 1, 1, 2, 2, 3], &[3, 0, 2], &[1, -1, 2])),
        fault("feedforward: row_ptr does not start at 0"),
    );
    rejected(
        &ff(sparse(&[0, 2, 1, 2, 2, 3], &[3, 0, 2], &[1, -1, 2])),
        fault("feedforward: row_ptr decreases"),
    );
    rejected(
        &ff(sparse(&[0, 1, 1, 2, 2, 2], &[3, 0, 2], &[1, -1, 2])),
        fault("feedforward: row_ptr does not end at the number of values"),
    );
    rejected(
        &ff(sparse(&[0, 1, 1, 2, 2, 4], &[3, 0, 2], &[1, -1, 2])),
        fault("feedforward: row_ptr does not end at the number of values"),
    );
    rejected(
        &ff(sparse(&[0, 1, 1, 2, 2, 3], &[3, 0], &[1, -1, 2])),
        fault("feedforward: post and values lengths differ"),
    );
    rejected(
        &ff(sparse(&[0, 1, 1, 2, 2, 3], &[4, 0, 2], &[1, -1, 2])),
        fault("feedforward: a post index is not below neurons"),
    );
    rejected(
        &ff(sparse(&[0, 2, 2, 2, 2, 3], &[3, 3, 2], &[1, -1, 2])),
        fault("feedforward: post indices are not increasing within a row"),
    );
    rejected(
        &ff(sparse(&[0, 2, 2, 2, 2, 3], &[3, 1, 2], &[1, -1, 2])),
        fault("feedforward: post indices are not increasing within a row"),
    );
    rejected(
        &ff(OwnedWeights::from_dense(5, 3, &[0; 15]).unwrap()),
        fault("feedforward: dense values length is not inputs * neurons"),
    );
    let mut m = reference();
    m.layers[0].recurrent = Some(sparse(&[0, 0, 0, 0, 0, 1], &[5], &[1]));
    rejected(
        &m,
        layer_err(0, "recurrent: a post index is not below neurons"),
    );
    let mut m = reference();
    m.layers[1].recurrent = Some(OwnedWeights::from_dense(4, 5, &[0; 20]).unwrap());
    rejected(
        &m,
        layer_err(1, "recurrent: dense values length is not neurons * neurons"),
    );
}

#[test]
fn odd_byte_lengths_are_rejected() {
    // Byte strings that are not a whole number of elements (possible only in a raw file).
    let bytes_of = |m: &OwnedModel, f: &dyn Fn(&mut Model<'_>, &'static [u8])| {
        let mut model = m.as_model();
        f(
            &mut model,
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        postcard::to_allocvec(&(&model.header, &model.layers)).unwrap()
    };
    let m = reference();
    // 20 bytes of bias: 5 i32s; a 19-byte prefix is not whole.
    let body = bytes_of(&m, &|model, b| {
        model.layers[0].bias = Some(snn_models::LeI32s::new(&b[..19]));
    });
    assert_eq!(
        decode(&framed(&body)),
        Err(layer_err(0, "bias length differs from neurons"))
    );
    let body = bytes_of(&m, &|model, b| {
        model.layers[1].leak = snn_models::Leak::PerNeuron(snn_models::LeU16s::new(&b[..9]));
    });
    assert_eq!(
        decode(&framed(&body)),
        Err(layer_err(1, "per-neuron leak length differs from neurons"))
    );
}

#[test]
fn the_engine_refuses_small_buffers() {
    let bytes = reference_bytes();
    let m = decode(&bytes).unwrap();
    let r = snn_models::Requirements::of(&m);
    assert_eq!(
        (r.membrane, r.current, r.spikes, r.out_counts),
        (13, 5, 19, 4)
    );
    assert_eq!(r.bytes(), 4 * (13 + 5) + 2 * (19 + 4));
    let (mut v, mut c, mut s, mut o) = (vec![0; 13], vec![0; 5], vec![0; 18], vec![0; 4]);
    assert_eq!(
        snn_models::Engine::new(&m, &mut v, &mut c, &mut s, &mut o).err(),
        Some(snn_models::EngineError::BufferTooSmall {
            buffer: "spikes",
            needed: 19,
            given: 18
        })
    );
}

#[test]
fn error_messages_name_what_and_where() {
    let mut m = reference();
    m.layers[1].feedforward = sparse(&[0, 2, 1, 2, 2, 3], &[3, 0, 2], &[1, -1, 2]);
    let err = decode(&framed(&raw_body(&m))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid layer 1: feedforward: row_ptr decreases"
    );
    let body = raw_body(&reference());
    let err = decode(&frame(FORMAT_VERSION + 1, &body)).unwrap_err();
    let newer = format!("version {} is newer", FORMAT_VERSION + 1);
    assert!(err.to_string().contains(&newer), "{err}");
    let mut b = framed(&body);
    b[20] ^= 1;
    assert!(decode(&b).unwrap_err().to_string().contains("corrupt"));
}
