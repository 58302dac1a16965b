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
    };
    encode_to_vec(&model)
}
