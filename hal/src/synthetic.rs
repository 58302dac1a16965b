//! A seeded random "digits-shaped" model (64 inputs -> `hidden` -> 10, rate coded) for
//! hardware-in-the-loop runs and benchmarks until the trained export exists (feature `std`).
//!
//! Weights are uniform in `-32..=47` (mean about +8) so spikes flow through every layer on the
//! digits data; thresholds scale with the fan-in so activity stays similar across hidden sizes.
use snn_models::encode::Rng;
use snn_models::{
    encode_to_vec, Bytes, Encoding, FormatError, Header, Layer, Leak, Model, RateBudget, Reset,
    Weights,
};

/// Secret seed of the test signing key: `cargo xtask test` builds a firmware with its public
/// key, and the firmware tests sign with it. Public on purpose; never use it for real models.
pub const TEST_SIGNING_SEED: [u8; 32] = *b"snn-sdk test key, not a secret!!";

/// Inputs of the digits data (8x8 pixels).
pub const DIGITS_INPUTS: u16 = 64;
/// Classes of the digits data.
pub const DIGITS_CLASSES: u16 = 10;
/// Time steps of the synthetic model.
pub const TIME_STEPS: u16 = 25;

fn weights(rng: &mut Rng, n: usize) -> Vec<u8> {
    // (x >> 24) % 80 in 0..80, minus 32: -32..=47.
    (0..n)
        .map(|_| (((rng.next_u32() >> 24) % 80) as i32 - 32) as i8 as u8)
        .collect()
}

fn layer<'a>(inputs: u16, neurons: u16, w: &'a [u8], threshold: i32) -> Layer<'a> {
    Layer {
        inputs,
        neurons,
        weight_bits: 8,
        shift: 6,
        feedforward: Weights::Dense { values: Bytes(w) },
        recurrent: None,
        bias: None,
        leak: Leak::Shared(57_344), // beta = 0.875
        threshold,
        reset: Reset::Subtract,
        budget: RateBudget::UNBOUNDED,
    }
}

/// Model file bytes of a 64 -> `hidden` -> 10 network with weights drawn from `seed`.
pub fn digits_model(hidden: u16, seed: u32) -> Result<Vec<u8>, FormatError> {
    let mut rng = Rng::new(seed, 0x5EED);
    let w1 = weights(&mut rng, usize::from(DIGITS_INPUTS) * usize::from(hidden));
    let w2 = weights(&mut rng, usize::from(hidden) * usize::from(DIGITS_CLASSES));
    let mut layers = heapless::Vec::new();
    let _ = layers.push(layer(DIGITS_INPUTS, hidden, &w1, 400));
    let _ = layers.push(layer(
        hidden,
        DIGITS_CLASSES,
        &w2,
        (i32::from(hidden) * 3).max(64),
    ));
    let model = Model {
        header: Header {
            name: "synthetic-digits",
            input_size: DIGITS_INPUTS,
            time_steps: TIME_STEPS,
            encoding: Encoding::Rate { seed },
            num_classes: DIGITS_CLASSES,
            neurons_per_class: 1,
        },
        layers,
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    };
    encode_to_vec(&model)
}

/// Model file bytes of a 64 -> 100 -> 10 network whose hidden layer has dense recurrent weights:
/// the fused dense step with last step's spikes as rows (the recurrent half of the packed sums),
/// blocks of 8, a block of 4 and a tail of neurons, a shared leak below one half (`leak < 2^15`)
/// beside one above it, and a bias on both layers.
pub fn digits_model_recurrent(seed: u32) -> Result<Vec<u8>, FormatError> {
    use snn_models::LeI32s;
    const HIDDEN: u16 = 100;
    let mut rng = Rng::new(seed, 0xDE5E);
    let w1 = weights(&mut rng, usize::from(DIGITS_INPUTS) * usize::from(HIDDEN));
    // Recurrent weights in -12..=11: the hidden layer feeds itself without running away.
    let rec: Vec<u8> = (0..usize::from(HIDDEN) * usize::from(HIDDEN))
        .map(|_| (((rng.next_u32() >> 24) % 24) as i32 - 12) as i8 as u8)
        .collect();
    let w2 = weights(&mut rng, usize::from(HIDDEN) * usize::from(DIGITS_CLASSES));
    let bias = |rng: &mut Rng, n: u16| -> Vec<u8> {
        (0..n)
            .flat_map(|_| ((rng.next_u32() % 81) as i32 - 40).to_le_bytes())
            .collect()
    };
    let (b1, b2) = (bias(&mut rng, HIDDEN), bias(&mut rng, DIGITS_CLASSES));
    let mut hidden = layer(DIGITS_INPUTS, HIDDEN, &w1, 300);
    hidden.recurrent = Some(Weights::Dense {
        values: Bytes(&rec),
    });
    hidden.bias = Some(LeI32s::new(&b1));
    hidden.leak = Leak::Shared(30_000); // beta = 0.46: the other sign of `leak << 16`
    let mut out = layer(HIDDEN, DIGITS_CLASSES, &w2, 300);
    out.bias = Some(LeI32s::new(&b2));
    let mut layers = heapless::Vec::new();
    let _ = layers.push(hidden);
    let _ = layers.push(out);
    let model = Model {
        header: Header {
            name: "synthetic-digits-recurrent",
            input_size: DIGITS_INPUTS,
            time_steps: TIME_STEPS,
            encoding: Encoding::Rate { seed },
            num_classes: DIGITS_CLASSES,
            neurons_per_class: 1,
        },
        layers,
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    };
    encode_to_vec(&model)
}

/// Sorted distinct random posts for one sparse row, with weights from `weight`.
fn sparse_row(
    rng: &mut Rng,
    posts: u16,
    fan: u16,
    weight: &mut dyn FnMut(&mut Rng) -> i8,
) -> Vec<(u16, i8)> {
    let mut picked: Vec<u16> = (0..fan)
        .map(|_| (rng.next_u32() % u32::from(posts)) as u16)
        .collect();
    picked.sort_unstable();
    picked.dedup();
    picked.into_iter().map(|p| (p, weight(rng))).collect()
}

/// CSR arrays `(row_ptr, post, values)` as little-endian bytes.
fn csr(rows: &[Vec<(u16, i8)>]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (mut ptr, mut post, mut vals) = (vec![0u8; 4], Vec::new(), Vec::new());
    let mut nnz = 0u32;
    for row in rows {
        for &(p, w) in row {
            post.extend_from_slice(&p.to_le_bytes());
            vals.push(w as u8);
        }
        nnz += row.len() as u32;
        ptr.extend_from_slice(&nnz.to_le_bytes());
    }
    (ptr, post, vals)
}

/// Model file bytes of a 64 -> 96 -> 10 network that exercises the engine paths the plain
/// model does not: sparse recurrent weights, per-neuron bias and leak, reset to zero and no
/// reset, 4-bit sparse output weights, two output neurons per class (5 classes), a rate cap.
pub fn digits_model_rich(seed: u32) -> Result<Vec<u8>, FormatError> {
    use snn_models::{LeI32s, LeU16s, LeU32s, RATE_ONE};
    const HIDDEN: u16 = 96;
    let mut rng = Rng::new(seed, 0x51C4);
    let w1 = weights(&mut rng, usize::from(DIGITS_INPUTS) * usize::from(HIDDEN));
    let rec_rows: Vec<_> = (0..HIDDEN)
        .map(|_| {
            sparse_row(&mut rng, HIDDEN, 8, &mut |r| {
                ((r.next_u32() % 41) as i32 - 20) as i8
            })
        })
        .collect();
    let (rec_ptr, rec_post, rec_vals) = csr(&rec_rows);
    let bias: Vec<u8> = (0..HIDDEN)
        .flat_map(|_| ((rng.next_u32() % 61) as i32 - 20).to_le_bytes())
        .collect();
    let leaks: Vec<u8> = (0..HIDDEN)
        .flat_map(|_| (45_000 + (rng.next_u32() % 17_000) as u16).to_le_bytes())
        .collect();
    let out_rows: Vec<_> = (0..HIDDEN)
        .map(|_| {
            sparse_row(&mut rng, DIGITS_CLASSES, 5, &mut |r| {
                ((r.next_u32() % 14) as i32 - 6) as i8
            })
        })
        .collect();
    let (out_ptr, out_post, out_vals) = csr(&out_rows);
    let mut layers = heapless::Vec::new();
    let _ = layers.push(Layer {
        inputs: DIGITS_INPUTS,
        neurons: HIDDEN,
        weight_bits: 8,
        shift: 6,
        feedforward: Weights::Dense { values: Bytes(&w1) },
        recurrent: Some(Weights::Sparse {
            row_ptr: LeU32s::new(&rec_ptr),
            post: LeU16s::new(&rec_post),
            values: Bytes(&rec_vals),
        }),
        bias: Some(LeI32s::new(&bias)),
        leak: Leak::PerNeuron(LeU16s::new(&leaks)),
        threshold: 400,
        reset: Reset::Zero,
        budget: RateBudget {
            max_rate: RATE_ONE / 4,
            min_rate: RATE_ONE / 64,
        },
    });
    let _ = layers.push(Layer {
        inputs: HIDDEN,
        neurons: DIGITS_CLASSES,
        weight_bits: 4,
        shift: 3,
        feedforward: Weights::Sparse {
            row_ptr: LeU32s::new(&out_ptr),
            post: LeU16s::new(&out_post),
            values: Bytes(&out_vals),
        },
        recurrent: None,
        bias: None,
        leak: Leak::Shared(60_000),
        threshold: 40,
        reset: Reset::None,
        budget: RateBudget::UNBOUNDED,
    });
    let model = Model {
        header: Header {
            name: "synthetic-digits-rich",
            input_size: DIGITS_INPUTS,
            time_steps: TIME_STEPS,
            encoding: Encoding::Rate { seed },
            num_classes: DIGITS_CLASSES / 2,
            neurons_per_class: 2,
        },
        layers,
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    };
    encode_to_vec(&model)
}

/// Inputs of the SHD-shaped stream model (the Spiking Heidelberg Digits' 700 channels).
pub const SHD_INPUTS: u16 = 700;
/// Hidden recurrent neurons of the SHD-shaped stream model.
pub const SHD_HIDDEN: u16 = 128;
/// Output neurons (classes) of the SHD-shaped stream model.
pub const SHD_CLASSES: u16 = 20;

/// Model file bytes of an SHD-shaped event model, 700 -> 128 recurrent -> 20, `Encoding::Events`,
/// `time_steps` 100 (a stream runs past it), weights drawn from `seed`: the streaming test of
/// thousands of events over a second.
pub fn shd_model(seed: u32) -> Result<Vec<u8>, FormatError> {
    let mut rng = Rng::new(seed, 0x05D0);
    let w1 = weights(&mut rng, usize::from(SHD_INPUTS) * usize::from(SHD_HIDDEN));
    let rec: Vec<u8> = (0..usize::from(SHD_HIDDEN) * usize::from(SHD_HIDDEN))
        .map(|_| (((rng.next_u32() >> 24) % 41) as i32 - 20) as i8 as u8)
        .collect();
    let w2 = weights(&mut rng, usize::from(SHD_HIDDEN) * usize::from(SHD_CLASSES));
    let mut hidden = layer(SHD_INPUTS, SHD_HIDDEN, &w1, 150);
    hidden.recurrent = Some(Weights::Dense {
        values: Bytes(&rec),
    });
    let mut layers = heapless::Vec::new();
    let _ = layers.push(hidden);
    let _ = layers.push(layer(SHD_HIDDEN, SHD_CLASSES, &w2, 250));
    let model = Model {
        header: Header {
            name: "synthetic-shd-stream",
            input_size: SHD_INPUTS,
            time_steps: 100,
            encoding: Encoding::Events,
            num_classes: SHD_CLASSES,
            neurons_per_class: 1,
        },
        layers,
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    };
    encode_to_vec(&model)
}

/// A seeded SHD-like event stream: `steps` steps (1 ms bins: 1,000 steps is one second) of
/// input indices below [`SHD_INPUTS`], ascending and distinct per step. A band of 40 channels
/// drifts across the 700 over the stream, each of its channels firing with probability 1/6
/// per step, plus sparse background: about 7 events per step.
pub fn shd_events(seed: u32, steps: usize) -> Vec<Vec<u16>> {
    let mut rng = Rng::new(seed, 0xE7E7);
    (0..steps)
        .map(|t| {
            let centre = (t * 660 / steps.max(1)) as u16;
            let mut step: Vec<u16> = (centre..centre + 40)
                .filter(|_| rng.next_u32().is_multiple_of(6))
                .collect();
            if rng.next_u32().is_multiple_of(2) {
                step.push((rng.next_u32() % u32::from(SHD_INPUTS)) as u16);
            }
            step.sort_unstable();
            step.dedup();
            step
        })
        .collect()
}
