//! The quantised network: header and layers, borrowed from the model bytes (zero-copy).
//!
//! Multi-byte arrays are stored as little-endian byte strings ([`LeI32s`], [`LeU16s`], [`LeU32s`])
//! so a model in flash is read in place. See `FORMAT.md` for units and fixed-point formats.
use serde::{Deserialize, Serialize};

/// First four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"SNNM";
/// Format version written by this build; older versions are read, newer ones refused.
pub const FORMAT_VERSION: u16 = 1;
/// Most layers a model may have (the engine's per-layer bookkeeping is fixed-size).
pub const MAX_LAYERS: usize = 8;
/// Most neurons in one layer, and most inputs (indices are `u16`).
pub const MAX_NEURONS: usize = u16::MAX as usize;
/// Fixed-point one for leaks: `beta = leak / 2^16` (Q0.16).
pub const LEAK_ONE: u32 = 1 << 16;
/// Fixed-point one for rates: `rate = value / 2^15` (Q1.15), so 1.0 spike/neuron/step is 32768.
pub const RATE_ONE: u16 = 1 << 15;

/// A borrowed byte string, serialised by postcard as `varint(len) ++ bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(d).map(Bytes)
    }
}

macro_rules! le_array {
    ($name:ident, $t:ty, $w:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name<'a>(#[serde(borrow)] pub Bytes<'a>);

        impl<'a> $name<'a> {
            /// Bytes per element.
            pub const WIDTH: usize = $w;
            /// Wraps little-endian bytes (the length is checked by validation, not here).
            pub const fn new(bytes: &'a [u8]) -> Self {
                Self(Bytes(bytes))
            }
            /// Number of whole elements.
            pub fn len(&self) -> usize {
                self.0 .0.len() / $w
            }
            /// True when there are no elements.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }
            /// True when the byte length is a whole number of elements.
            pub fn is_whole(&self) -> bool {
                self.0 .0.len() % $w == 0
            }
            /// Element `i`, or `None` past the end.
            #[inline]
            pub fn get(&self, i: usize) -> Option<$t> {
                let b = self.0 .0.get(i * $w..i * $w + $w)?;
                let mut a = [0u8; $w];
                a.copy_from_slice(b);
                Some(<$t>::from_le_bytes(a))
            }
            /// Iterates over the elements.
            pub fn iter(&self) -> impl Iterator<Item = $t> + 'a {
                self.0 .0.chunks_exact($w).map(|c| {
                    let mut a = [0u8; $w];
                    a.copy_from_slice(c);
                    <$t>::from_le_bytes(a)
                })
            }
        }
    };
}

le_array!(
    LeI32s,
    i32,
    4,
    "Little-endian `i32` array borrowed from the model bytes."
);
le_array!(
    LeU16s,
    u16,
    2,
    "Little-endian `u16` array borrowed from the model bytes."
);
le_array!(
    LeU32s,
    u32,
    4,
    "Little-endian `u32` array borrowed from the model bytes."
);

/// How raw input features (`u8`, 0..=255) become input spikes on the device and on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Encoding {
    /// Bernoulli rate coding: each step, feature `q` spikes with probability `q / 256`, drawn from
    /// the seeded xorshift32 generator in [`crate::encode::Rng`].
    Rate {
        /// Model-level seed, combined with the per-sample seed.
        seed: u32,
    },
    /// Latency (time-to-first-spike) coding: feature `q >= threshold` spikes once, earlier when larger.
    Latency {
        /// Features below this never spike.
        threshold: u8,
    },
    /// Delta coding: a spike wherever a feature rose by at least `threshold` since the last step.
    Delta {
        /// Minimum rise that makes a spike.
        threshold: u8,
    },
    /// The host sends spike events directly; the device does no encoding.
    Events,
}

/// Model-wide fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header<'a> {
    /// Human-readable model name (UTF-8, at most 64 bytes).
    pub name: &'a str,
    /// Number of input channels.
    pub input_size: u16,
    /// Time steps per inference.
    pub time_steps: u16,
    /// Input encoding used in training and on the device.
    pub encoding: Encoding,
    /// Number of classes.
    pub num_classes: u16,
    /// Output neurons per class; the last layer has `num_classes * neurons_per_class` neurons.
    pub neurons_per_class: u16,
}

/// What happens to the membrane after a spike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reset {
    /// `v <- v - threshold`.
    Subtract,
    /// `v <- 0`.
    Zero,
    /// No reset.
    None,
}

/// Membrane leak: `beta = leak / 2^16` (Q0.16), shared by the layer or one per neuron.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Leak<'a> {
    /// One leak for every neuron of the layer.
    Shared(u16),
    /// One leak per neuron.
    PerNeuron(#[serde(borrow)] LeU16s<'a>),
}

/// Synaptic weights, `i8` (two's complement) in units of `2^-shift`, stored presynaptic-major so
/// the engine touches only the fan-out of neurons that spiked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Weights<'a> {
    /// `values[pre * post_count + post]`, every synapse present.
    Dense {
        /// `pre_count * post_count` weights.
        #[serde(borrow)]
        values: Bytes<'a>,
    },
    /// Compressed sparse rows over presynaptic neurons: the synapses of `pre` are
    /// `row_ptr[pre]..row_ptr[pre + 1]` in `post` and `values`; absent synapses cost nothing.
    Sparse {
        /// `pre_count + 1` non-decreasing offsets, the first 0 and the last `nnz`.
        #[serde(borrow)]
        row_ptr: LeU32s<'a>,
        /// Postsynaptic index of each stored synapse (strictly increasing within a row).
        #[serde(borrow)]
        post: LeU16s<'a>,
        /// Weight of each stored synapse.
        #[serde(borrow)]
        values: Bytes<'a>,
    },
}

/// Per-layer firing-rate budget in Q1.15 spikes per neuron per step (`RATE_ONE` = 1.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateBudget {
    /// Largest allowed mean rate (`RATE_ONE` means no cap).
    pub max_rate: u16,
    /// Smallest allowed mean rate (0 means no floor).
    pub min_rate: u16,
}

impl RateBudget {
    /// No cap and no floor.
    pub const UNBOUNDED: Self = Self {
        max_rate: RATE_ONE,
        min_rate: 0,
    };
}

/// One layer of leaky integrate-and-fire neurons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer<'a> {
    /// Presynaptic size (the previous layer's neurons, or the input size).
    pub inputs: u16,
    /// Number of neurons.
    pub neurons: u16,
    /// Weight bit width, 8 or 4 (4-bit weights are stored one per byte, range -8..=7).
    pub weight_bits: u8,
    /// Weight scale exponent: real weight = `w * 2^-shift`; membranes, biases and thresholds use
    /// the same units. At most 30.
    pub shift: u8,
    /// Feed-forward weights, `inputs x neurons`.
    #[serde(borrow)]
    pub feedforward: Weights<'a>,
    /// Recurrent weights, `neurons x neurons`, fed by the layer's spikes of the previous step.
    #[serde(borrow)]
    pub recurrent: Option<Weights<'a>>,
    /// Per-neuron bias added every step, membrane units.
    #[serde(borrow)]
    pub bias: Option<LeI32s<'a>>,
    /// Membrane leak.
    #[serde(borrow)]
    pub leak: Leak<'a>,
    /// Firing threshold, membrane units, > 0.
    pub threshold: i32,
    /// Reset after a spike.
    pub reset: Reset,
    /// Firing-rate budget set at training time.
    pub budget: RateBudget,
}

/// A decoded model: the header and up to [`MAX_LAYERS`] layers, all borrowed from the bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model<'a> {
    /// Model-wide fields.
    #[serde(borrow)]
    pub header: Header<'a>,
    /// Layers from input to output.
    #[serde(borrow)]
    pub layers: heapless::Vec<Layer<'a>, MAX_LAYERS>,
}

impl Model<'_> {
    /// Neurons of the output layer (0 for a model without layers).
    pub fn output_neurons(&self) -> usize {
        self.layers.last().map_or(0, |l| usize::from(l.neurons))
    }
}
