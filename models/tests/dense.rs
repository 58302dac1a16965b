//! The dense int8 baseline's file and arithmetic: round trip, every refusal, and inference equal
//! to a straightforward `i64` evaluation of the documented formulas (extremes included).
use snn_models::dense::{
    decode_dense, encode_dense, infer, DenseBuffers, DenseError, DenseLayerSpec, MAX_DENSE_BIAS,
};

/// xorshift32, seeded: the test's weights and inputs.
struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

fn random_model(rng: &mut Rng, sizes: &[u16]) -> Vec<DenseLayerSpec> {
    let n = sizes.len() - 1;
    (0..n)
        .map(|i| {
            let (inputs, outputs) = (sizes[i], sizes[i + 1]);
            let hidden = i + 1 < n;
            DenseLayerSpec {
                inputs,
                outputs,
                multiplier: if hidden {
                    1 + (rng.next() % (1 << 28)) as i32
                } else {
                    0
                },
                shift: if hidden {
                    18 + (rng.next() % 4) as u8
                } else {
                    0
                },
                bias: (0..outputs)
                    .map(|_| (rng.next() % 20001) as i32 - 10000)
                    .collect(),
                weights: (0..u32::from(inputs) * u32::from(outputs))
                    .map(|_| rng.next() as i8)
                    .collect(),
            }
        })
        .collect()
}

/// The formulas of `snn_models::dense`, evaluated in `i64` with no shortcuts.
fn reference(layers: &[DenseLayerSpec], features: &[u8]) -> (Vec<i32>, u16) {
    let mut x: Vec<i64> = features.iter().map(|&f| i64::from(f >> 1)).collect();
    for (i, l) in layers.iter().enumerate() {
        let n = usize::from(l.inputs);
        let acc: Vec<i64> = (0..usize::from(l.outputs))
            .map(|o| {
                i64::from(l.bias[o])
                    + (0..n)
                        .map(|k| i64::from(l.weights[o * n + k]) * x[k])
                        .sum::<i64>()
            })
            .collect();
        if i + 1 == layers.len() {
            let logits: Vec<i32> = acc.iter().map(|&a| i32::try_from(a).unwrap()).collect();
            let best = (0..logits.len()).fold(0, |b, k| if logits[k] > logits[b] { k } else { b });
            return (logits, best as u16);
        }
        let s = u32::from(l.shift);
        x = acc
            .iter()
            .map(|&a| {
                let h = (a * i64::from(l.multiplier)).div_euclid(1 << 32);
                (h + (1i64 << s) / 2).div_euclid(1 << s).clamp(0, 127)
            })
            .collect();
    }
    unreachable!("at least one layer")
}

fn run(bytes: &[u8], features: &[u8]) -> Result<(Vec<i32>, u16), DenseError> {
    let model = decode_dense(bytes)?;
    let w = model.max_width();
    let (mut a, mut b) = (vec![0i8; w], vec![0i8; w]);
    let mut packed = vec![0u32; DenseBuffers::packed_len(w)];
    let mut logits = vec![0i32; model.outputs()];
    let mut bufs = DenseBuffers {
        a: &mut a,
        b: &mut b,
        packed: &mut packed,
    };
    let p = infer(&model, features, &mut bufs, &mut logits)?;
    Ok((logits, p))
}

#[test]
fn inference_equals_the_documented_formulas() {
    let mut rng = Rng(0x1234_5678);
    // Widths that are and are not multiples of four, odd output counts, one to four layers.
    for sizes in [
        &[64u16, 128, 10][..],
        &[64, 33, 7],
        &[5, 3],
        &[13, 31, 17, 9, 2],
        &[700, 256, 20],
    ] {
        let spec = random_model(&mut rng, sizes);
        let bytes = encode_dense(&spec).unwrap();
        let model = decode_dense(&bytes).unwrap();
        assert_eq!(model.inputs(), usize::from(sizes[0]));
        assert_eq!(model.outputs(), usize::from(*sizes.last().unwrap()));
        for _ in 0..20 {
            let f: Vec<u8> = (0..sizes[0]).map(|_| rng.next() as u8).collect();
            assert_eq!(run(&bytes, &f).unwrap(), reference(&spec, &f), "{sizes:?}");
        }
    }
}

#[test]
fn extreme_weights_and_biases_do_not_overflow() {
    // 4096 inputs of 127 times weights of -128, bias -2^30: the most negative accumulator.
    for (w, b) in [(-128i8, -MAX_DENSE_BIAS), (127, MAX_DENSE_BIAS)] {
        let spec = vec![DenseLayerSpec {
            inputs: 4096,
            outputs: 3,
            multiplier: 0,
            shift: 0,
            bias: vec![b, 0, -b],
            weights: vec![w; 3 * 4096],
        }];
        let bytes = encode_dense(&spec).unwrap();
        let f = vec![255u8; 4096];
        assert_eq!(run(&bytes, &f).unwrap(), reference(&spec, &f));
    }
    // A hidden layer's requantisation saturates at 127 and the ReLU at 0.
    let spec = vec![
        DenseLayerSpec {
            inputs: 4,
            outputs: 2,
            multiplier: i32::MAX,
            shift: 0,
            bias: vec![MAX_DENSE_BIAS, -MAX_DENSE_BIAS],
            weights: vec![1; 8],
        },
        DenseLayerSpec {
            inputs: 2,
            outputs: 2,
            multiplier: 0,
            shift: 0,
            bias: vec![0, 0],
            weights: vec![1, 0, 0, 1],
        },
    ];
    let bytes = encode_dense(&spec).unwrap();
    assert_eq!(run(&bytes, &[9; 4]).unwrap(), (vec![127, 0], 0));
}

#[test]
fn every_refusal_names_what_is_wrong() {
    let mut rng = Rng(7);
    let spec = random_model(&mut rng, &[8, 6, 3]);
    let good = encode_dense(&spec).unwrap();
    assert_eq!(decode_dense(&good[..10]).unwrap_err(), DenseError::TooShort);
    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(decode_dense(&bad).unwrap_err(), DenseError::BadMagic);
    bad = good.clone();
    bad[4] = 9;
    assert_eq!(
        decode_dense(&bad).unwrap_err(),
        DenseError::UnsupportedVersion(9)
    );
    bad = good.clone();
    bad[20] ^= 1;
    assert_eq!(decode_dense(&bad).unwrap_err(), DenseError::CrcMismatch);
    // Shapes and ranges are checked by the encoder's own decode.
    let mut s = spec.clone();
    s[1].inputs = 5;
    s[1].weights.truncate(15);
    assert!(matches!(
        encode_dense(&s).unwrap_err(),
        DenseError::Layer { layer: 1, .. }
    ));
    s = spec.clone();
    s[0].bias[2] = MAX_DENSE_BIAS + 1;
    assert!(matches!(
        encode_dense(&s).unwrap_err(),
        DenseError::Layer { layer: 0, what } if what.contains("2^30")
    ));
    s = spec.clone();
    s[0].shift = 32;
    assert!(matches!(
        encode_dense(&s).unwrap_err(),
        DenseError::Layer { layer: 0, .. }
    ));
    s = spec.clone();
    s[0].weights.pop();
    assert!(encode_dense(&s).is_err());
    // Input and buffer sizes.
    assert_eq!(
        run(&good, &[0; 7]).unwrap_err(),
        DenseError::InputLength {
            expected: 8,
            given: 7
        }
    );
    let model = decode_dense(&good).unwrap();
    let (mut a, mut b, mut p) = ([0i8; 8], [0i8; 7], [0u32; 4]);
    let mut bufs = DenseBuffers {
        a: &mut a,
        b: &mut b,
        packed: &mut p,
    };
    assert_eq!(
        infer(&model, &[0; 8], &mut bufs, &mut [0; 3]).unwrap_err(),
        DenseError::BufferTooSmall
    );
    assert!(!DenseError::BadMagic.to_string().is_empty());
}

#[test]
fn no_byte_string_panics_and_every_single_bit_flip_is_refused() {
    let mut rng = Rng(99);
    let good = encode_dense(&random_model(&mut rng, &[6, 5, 4])).unwrap();
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            assert!(decode_dense(&b).is_err(), "flip at byte {i} bit {bit}");
        }
    }
    // Truncations and random bytes (with the right magic and version) never panic.
    for n in 0..good.len() {
        assert!(decode_dense(&good[..n]).is_err());
    }
    for _ in 0..2000 {
        let mut b: Vec<u8> = (0..rng.next() % 64).map(|_| rng.next() as u8).collect();
        if b.len() > 5 {
            b[..5].copy_from_slice(b"SNDM\x01");
        }
        let _ = decode_dense(&b);
    }
}
