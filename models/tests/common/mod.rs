//! Models shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use snn_models::owned::{OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel, OwnedWeights};
use snn_models::{
    crc::crc32, Encoding, Engine, Leak, Model, RateBudget, Reset, Synapse, Weights, MAGIC,
};

/// A three-layer model using every feature: dense + sparse, recurrent (dense and sparse),
/// bias, shared and per-neuron leak, i4 and i8 weights, every reset mode, budgets.
pub fn reference() -> OwnedModel {
    let w_in: Vec<i8> = (0..6 * 5).map(|k| ((k * 37 % 23) as i8) - 11).collect();
    let mut l0 = OwnedLayer::new(6, 5, OwnedWeights::from_dense(6, 5, &w_in).unwrap(), 20);
    l0.shift = 4;
    l0.leak = OwnedLeak::Shared(58982); // beta ~ 0.9
    l0.bias = Some(vec![1, -2, 3, 0, -5].into());
    l0.recurrent = Some(
        OwnedWeights::sparse_from_dense(
            5,
            5,
            &[
                0, 3, 0, 0, -4, //
                0, 0, 0, 0, 0, //
                2, 0, 0, 5, 0, //
                0, 0, -1, 0, 0, //
                0, 0, 0, 0, 6,
            ],
        )
        .unwrap(),
    );
    l0.budget = RateBudget {
        max_rate: 16384,
        min_rate: 100,
    };

    let w_hid: Vec<i8> = (0..5 * 4)
        .map(|k| {
            if k % 3 == 0 {
                0
            } else {
                ((k * 5 % 15) as i8) - 8
            }
        })
        .collect();
    let mut l1 = OwnedLayer::new(
        5,
        4,
        OwnedWeights::sparse_from_dense(5, 4, &w_hid).unwrap(),
        7,
    );
    l1.weight_bits = 4;
    l1.shift = 2;
    l1.leak = OwnedLeak::PerNeuron(vec![65535, 32768, 0, 50000].into());
    l1.recurrent = Some(
        OwnedWeights::from_dense(4, 4, &[0, 1, -1, 2, 3, 0, 0, -8, 7, 0, 0, 0, 1, 1, 1, 1])
            .unwrap(),
    );
    l1.reset = Reset::Zero;

    let w_out: Vec<i8> = (0..4 * 4).map(|k| ((k * 29) % 127) as i8 - 40).collect();
    let mut l2 = OwnedLayer::new(4, 4, OwnedWeights::from_dense(4, 4, &w_out).unwrap(), 100);
    l2.reset = Reset::None;
    l2.leak = OwnedLeak::Shared(40000);
    l2.bias = Some(vec![10, 0, -10, 5].into());

    OwnedModel {
        header: OwnedHeader {
            name: "reference".into(),
            input_size: 6,
            time_steps: 12,
            encoding: Encoding::Rate { seed: 0xC0FFEE },
            num_classes: 2,
            neurons_per_class: 2,
        },
        layers: vec![l0, l1, l2],
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    }
}

/// `MAGIC ++ version ++ body ++ CRC-32`, with a correct CRC whatever the body holds.
pub fn frame(version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Frames a version-1 body (header and layers: every model here without channel constants).
pub fn framed(body: &[u8]) -> Vec<u8> {
    frame(1, body)
}

/// The version-1 postcard body of `model` (header, layers) without validating it, so invalid
/// models can be written.
pub fn raw_body(model: &OwnedModel) -> Vec<u8> {
    let m = model.as_model();
    postcard::to_allocvec(&(&m.header, &m.layers)).unwrap()
}

/// The version-2 postcard body of `model` (header, layers, channels) without validating it.
pub fn raw_body_v2(model: &OwnedModel) -> Vec<u8> {
    let m = model.as_model();
    postcard::to_allocvec(&(&m.header, &m.layers, &m.channels)).unwrap()
}

/// The postcard body of a version-3 file: the version-2 body, then the synapse section.
pub fn raw_body_v3(model: &OwnedModel) -> Vec<u8> {
    postcard::to_allocvec(&model.as_model()).unwrap()
}

/// One of the edge decays the random models draw from (Q0.16): 0, 2^-16, 1/2, ~0.92, 1 - 2^-16.
pub fn random_decay(x: u32) -> u16 {
    [0u16, 1, 32768, 60000, 65535][(x % 5) as usize]
}

/// A random layer of `n` neurons over `inputs`: 8-bit feed-forward weights (only -128 and 127
/// when `big`, else -20..=39), sparse one time in three, threshold 1..=400, the rest
/// [`OwnedLayer::new`]'s defaults.
pub fn random_layer(r: &mut impl FnMut() -> u32, inputs: u16, n: u16, big: bool) -> OwnedLayer {
    let w: Vec<i8> = (0..usize::from(inputs) * usize::from(n))
        .map(|_| {
            if big {
                [127, -128][(r() % 2) as usize]
            } else {
                (r() % 60) as i8 - 20
            }
        })
        .collect();
    let ff = if r() % 3 == 0 {
        OwnedWeights::sparse_from_dense(inputs.into(), n.into(), &w).unwrap()
    } else {
        OwnedWeights::from_dense(inputs.into(), n.into(), &w).unwrap()
    };
    OwnedLayer::new(inputs, n, ff, 1 + (r() % 400) as i32)
}

/// A random decay for `n` neurons: shared or one per neuron (even odds), each a
/// [`random_decay`].
pub fn random_leak(r: &mut impl FnMut() -> u32, n: u16) -> OwnedLeak {
    if r() % 2 == 0 {
        OwnedLeak::Shared(random_decay(r()))
    } else {
        OwnedLeak::PerNeuron((0..n).map(|_| random_decay(r())).collect::<Vec<_>>().into())
    }
}

/// `(v * leak + 2^15) >> 16`, the engine's decay written out in `i64`.
pub fn decay(v: i32, leak: u16) -> i32 {
    ((i64::from(v) * i64::from(leak) + (1 << 15)) >> 16) as i32
}

/// `x` clamped to the `i32` range: the engine's saturation.
pub fn sat(x: i64) -> i32 {
    x.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// The engine's step as the plain formulas of its docs, summed in `i64` and saturated where the
/// engine saturates. Layer `l` gets `syn = W_ff * pre + W_rec * (its own last spikes)`; a plain
/// layer `u = sat(sat(decay(v, beta) + syn) + bias)`, a current-based one
/// `c = sat(sat(decay(c, alpha) + syn) + bias)`, `u = sat(decay(v, beta) + c)`; `u >= threshold`
/// spikes and resets (subtract: `sat(u - threshold)`, zero, none), except the last layer of a
/// readout ([`Reference::readout`]), which never spikes.
pub struct Reference {
    /// Each layer's membranes.
    pub membranes: Vec<Vec<i32>>,
    /// Each layer's synaptic currents (zero and unused in a plain layer).
    pub currents: Vec<Vec<i32>>,
    /// Each layer's spikes of the last step.
    pub spikes: Vec<Vec<u16>>,
    /// Whether the last layer is a readout (never spikes).
    readout: bool,
}

impl Reference {
    /// Every layer of `model` at rest, every layer spiking.
    pub fn spiking(model: &Model<'_>) -> Self {
        Self::at_rest(model, false)
    }

    /// Every layer of `model` at rest, the last a readout that never spikes.
    pub fn readout(model: &Model<'_>) -> Self {
        Self::at_rest(model, true)
    }

    fn at_rest(model: &Model<'_>, readout: bool) -> Self {
        let membranes: Vec<Vec<i32>> = model
            .layers
            .iter()
            .map(|l| vec![0; l.neurons.into()])
            .collect();
        Self {
            currents: membranes.clone(),
            spikes: vec![Vec::new(); membranes.len()],
            membranes,
            readout,
        }
    }

    /// One step of `input` spikes through every layer of `model`.
    pub fn step(&mut self, model: &Model<'_>, input: &[u16]) {
        let last = model.layers.len() - 1;
        let mut pre = input.to_vec();
        for (l, layer) in model.layers.iter().enumerate() {
            let n = usize::from(layer.neurons);
            let dense = |w: &Weights<'_>, rows: usize| -> Vec<i8> {
                OwnedWeights::from(w).to_dense(rows, n)
            };
            let ff = dense(&layer.feedforward, usize::from(layer.inputs));
            let mut syn = vec![0i64; n];
            for &j in &pre {
                for i in 0..n {
                    syn[i] += i64::from(ff[usize::from(j) * n + i]);
                }
            }
            if let Some(rec) = &layer.recurrent {
                let wr = dense(rec, n);
                for &j in &self.spikes[l] {
                    for i in 0..n {
                        syn[i] += i64::from(wr[usize::from(j) * n + i]);
                    }
                }
            }
            let leak = |i: usize, x: &Leak<'_>| match x {
                Leak::Shared(a) => *a,
                Leak::PerNeuron(a) => a.get(i).unwrap(),
            };
            let (v, c) = (&mut self.membranes[l], &mut self.currents[l]);
            let mut out = Vec::new();
            for i in 0..n {
                let b = layer.bias.map_or(0, |b| b.get(i).unwrap());
                let u = match model.synapse(l) {
                    Synapse::Current(alpha) => {
                        let ci = sat(i64::from(decay(c[i], leak(i, &alpha))) + syn[i]);
                        c[i] = sat(i64::from(ci) + i64::from(b));
                        sat(i64::from(decay(v[i], leak(i, &layer.leak))) + i64::from(c[i]))
                    }
                    Synapse::Instant => {
                        let x = sat(i64::from(decay(v[i], leak(i, &layer.leak))) + syn[i]);
                        sat(i64::from(x) + i64::from(b))
                    }
                };
                v[i] = if !(self.readout && l == last) && u >= layer.threshold {
                    out.push(i as u16);
                    match layer.reset {
                        Reset::Subtract => sat(i64::from(u) - i64::from(layer.threshold)),
                        Reset::Zero => 0,
                        Reset::None => u,
                    }
                } else {
                    u
                };
            }
            self.spikes[l] = out.clone();
            pre = out;
        }
    }

    /// Asserts that `e` holds this reference's membranes, currents (current-based layers; a
    /// plain layer has none) and spike lists, naming `at` on a difference.
    pub fn check(&self, model: &Model<'_>, e: &Engine<'_, '_>, at: &str) {
        for l in 0..model.layers.len() {
            assert_eq!(e.membranes(l), &self.membranes[l][..], "{at} layer {l}");
            let cur = match model.synapse(l) {
                Synapse::Current(_) => &self.currents[l][..],
                Synapse::Instant => &[][..],
            };
            assert_eq!(e.currents(l), cur, "{at} layer {l}");
            assert_eq!(e.layer_spikes(l), &self.spikes[l][..], "{at} layer {l}");
        }
    }
}
