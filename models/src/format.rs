//! The quantised network: header and layers, borrowed from the model bytes (zero-copy).
//!
//! Multi-byte arrays are stored as little-endian byte strings ([`LeI32s`], [`LeU16s`], [`LeU32s`])
//! so a model in flash is read in place. See `FORMAT.md` for units and fixed-point formats.
use serde::{Deserialize, Serialize};

/// First four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"SNNM";
/// Newest format version this build reads and writes; older versions are read, newer ones
/// refused. A model is written as the oldest version that holds it ([`Model::min_version`]):
/// one that uses nothing added since version 1 (continuous-channel encodings and their
/// [`Channels`], current-based synapses) is still written as version 1, so older readers keep
/// loading it.
pub const FORMAT_VERSION: u16 = 3;
/// The first version that has the [`Model::channels`] section and the continuous encodings.
pub const CHANNELS_VERSION: u16 = 2;
/// The first version that has the [`Model::synapses`] section (current-based synapses) and
/// the optional [`Model::output`] section after it (a non-spiking readout).
pub const SYNAPSES_VERSION: u16 = 3;
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
    LeF32s,
    f32,
    4,
    "Little-endian IEEE-754 `f32` array borrowed from the model bytes."
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
    /// Direct input (format version 2): each step, channel `c`'s real value `x` becomes
    /// `q = quantise(x, offset_c, scale_c)` (an `i16` in units of `2^-8`, see
    /// [`crate::encode::quantise`]) and the first layer's synaptic input is
    /// `syn_i = sat((sum_c w_ci * q_c + 128) >> 8)`. `input_size` = channels.
    Direct,
    /// Send-on-delta (format version 2): per channel a reference `r` (0 at reset); with
    /// `d = q - r`, `d >= threshold_c` fires the up input `2c` and `d <= -threshold_c` the down
    /// input `2c + 1`, and either sets `r = q`. `input_size` = 2 x channels.
    SendOnDelta,
    /// Sigma-delta (format version 2): like [`Encoding::SendOnDelta`], but a spike moves the
    /// reconstruction by one threshold (`r += threshold_c` up, `r -= threshold_c` down), so the
    /// running sum of up minus down spikes times the threshold tracks `q`.
    /// `input_size` = 2 x channels.
    SigmaDelta,
}

impl Encoding {
    /// Whether the input is real-valued channels ([`Encoding::Direct`],
    /// [`Encoding::SendOnDelta`], [`Encoding::SigmaDelta`]) rather than `u8` features or events.
    pub const fn is_continuous(&self) -> bool {
        matches!(self, Self::Direct | Self::SendOnDelta | Self::SigmaDelta)
    }

    /// Model inputs per continuous channel: 1 for direct input, 2 (up, down) for the delta
    /// encoders, 0 for the encodings of `u8` features and events.
    pub const fn inputs_per_channel(&self) -> usize {
        match self {
            Self::Direct => 1,
            Self::SendOnDelta | Self::SigmaDelta => 2,
            _ => 0,
        }
    }
}

/// Per-channel constants of the continuous encodings, fitted on the training split (format
/// version 2; empty for every other encoding). Channel `c` of a frame is
/// `q_c = quantise(x_c, offset[c], scale[c])`; the delta encoders also use `threshold[c]`
/// (in units of `q`, > 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Channels<'a> {
    /// Subtracted from each value before scaling (typically the training mean).
    #[serde(borrow)]
    pub offset: LeF32s<'a>,
    /// Multiplies the centred value; `q` is in units of `2^-8`, so `scale = 256 / std` maps
    /// one standard deviation to 256.
    #[serde(borrow)]
    pub scale: LeF32s<'a>,
    /// Delta thresholds in units of `q` (empty for direct input).
    #[serde(borrow)]
    pub threshold: LeU16s<'a>,
}

impl Channels<'_> {
    /// Number of channels (the length of `offset`).
    pub fn len(&self) -> usize {
        self.offset.len()
    }

    /// True when the model stores no channel constants.
    pub fn is_empty(&self) -> bool {
        self.offset.0 .0.is_empty() && self.scale.0 .0.is_empty() && self.threshold.0 .0.is_empty()
    }
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

/// How a layer's synaptic input reaches its membranes (format version 3; every layer of
/// versions 1 and 2 is [`Synapse::Instant`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Synapse<'a> {
    /// The step's synaptic input and bias add to the membrane directly:
    /// `v <- beta·v + W·s + b` (LIF).
    Instant,
    /// A synaptic current per neuron that decays by `alpha = leak / 2^16` (Q0.16, shared or
    /// per neuron like the membrane leak): `i <- alpha·i + W·s + b`, then `v <- beta·v + i`
    /// (NIR `CubaLIF`, snnTorch `Synaptic`). The current is `i32` state in membrane units.
    Current(#[serde(borrow)] Leak<'a>),
}

/// The synapse section of a model (format version 3), borrowed from the model bytes:
/// `varint(count) ++ count x postcard(Synapse)`, one per layer, or no bytes at all (every layer
/// [`Synapse::Instant`]). Kept as bytes, not parsed entries, so a [`Model`] stays as small as it
/// was (the C API's fixed handle storage holds one, and the device parses one per request);
/// [`Synapses::get`] reads a layer's entry. `decode` checks the whole section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Synapses<'a>(pub Bytes<'a>);

impl<'a> Synapses<'a> {
    /// Wraps the section's bytes (checked by validation, not here).
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self(Bytes(bytes))
    }

    /// The count and the bytes after it (`None`: no section, or a malformed count).
    fn count(&self) -> Option<(u32, &'a [u8])> {
        postcard::take_from_bytes::<u32>(self.0 .0).ok()
    }

    /// Number of entries (0 without a section).
    pub fn len(&self) -> usize {
        self.count().map_or(0, |(n, _)| n as usize)
    }

    /// True when no layer has an entry (every layer [`Synapse::Instant`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries in layer order; an `Err` ends a malformed section.
    pub fn iter(&self) -> impl Iterator<Item = Result<Synapse<'a>, postcard::Error>> + 'a {
        let (n, mut rest) = self.count().unwrap_or((0, &[]));
        (0..n).map(move |_| {
            let (s, tail) = postcard::take_from_bytes::<Synapse<'a>>(rest)?;
            rest = tail;
            Ok(s)
        })
    }

    /// Layer `layer`'s synapse ([`Synapse::Instant`] past the end, without a section, or for
    /// a malformed one, which `decode` never returns).
    pub fn get(&self, layer: usize) -> Synapse<'a> {
        match self.iter().nth(layer) {
            Some(Ok(s)) => s,
            _ => Synapse::Instant,
        }
    }

    /// The section at the start of `bytes` and the bytes after it: the count (at most
    /// [`MAX_LAYERS`]) and every entry must parse.
    pub fn take(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), postcard::Error> {
        let (n, mut rest) = postcard::take_from_bytes::<u32>(bytes)?;
        if n as usize > MAX_LAYERS {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        for _ in 0..n {
            rest = postcard::take_from_bytes::<Synapse<'a>>(rest)?.1;
        }
        let used = bytes.len() - rest.len();
        Ok((Self::new(&bytes[..used]), rest))
    }
}

/// Written as its bytes, unframed (postcard writes a tuple of `u8` byte by byte), so the file
/// holds exactly `varint(count) ++ entries`.
impl Serialize for Synapses<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(self.0 .0.len())?;
        for b in self.0 .0 {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

/// What the last layer gives (format version 3: an optional one-byte section after the synapse
/// section; a file without it, like every file of versions 1 and 2 and every version-3 file
/// written before the section existed, has [`Output::Spikes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Output {
    /// The last layer spikes like every other; decisions count its spikes
    /// ([`crate::decision`]).
    #[default]
    Spikes,
    /// The last layer is a non-spiking leaky-integrator readout (NIR `LI` / `I`): its membrane
    /// integrates `v <- sat(decay(v, beta) + I)` (`I` = the layer's synaptic input + bias, or its
    /// synaptic current for a current-based layer) with no threshold, no reset and no spikes;
    /// its threshold field is not used, its reset must be [`Reset::None`], it has no recurrent
    /// weights and one neuron per class. The result per class is the maximum of its membrane
    /// over the sample's valid steps, and the decision the class with the largest
    /// ([`crate::decision::MaxMembrane`]).
    MaxMembrane,
}

impl Output {
    /// Whether the last layer is a non-spiking readout ([`Output::MaxMembrane`]).
    pub const fn is_readout(&self) -> bool {
        matches!(self, Self::MaxMembrane)
    }
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
/// Read with [`crate::decode`] (which parses each section by itself), written with serde.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Model<'a> {
    /// Model-wide fields.
    #[serde(borrow)]
    pub header: Header<'a>,
    /// Layers from input to output.
    #[serde(borrow)]
    pub layers: heapless::Vec<Layer<'a>, MAX_LAYERS>,
    /// Per-channel constants of a continuous encoding (format version 2; empty otherwise).
    #[serde(borrow)]
    pub channels: Channels<'a>,
    /// The synapse of each layer (format version 3): no section (every layer
    /// [`Synapse::Instant`]) or one per layer.
    pub synapses: Synapses<'a>,
    /// What the last layer gives (format version 3's optional output section; written by the
    /// codec after the synapse section, only when not [`Output::Spikes`]).
    #[serde(skip)]
    pub output: Output,
}

impl Model<'_> {
    /// The oldest format version that can hold this model: 3 with a synapse section or a
    /// readout ([`Output::MaxMembrane`]), else 1 unless it uses a continuous encoding or channel
    /// constants.
    pub fn min_version(&self) -> u16 {
        if !self.synapses.is_empty() || self.output.is_readout() {
            SYNAPSES_VERSION
        } else if self.header.encoding.is_continuous() || !self.channels.is_empty() {
            CHANNELS_VERSION
        } else {
            1
        }
    }

    /// The synapse of layer `layer` ([`Synapse::Instant`] without a synapse section).
    pub fn synapse(&self, layer: usize) -> Synapse<'_> {
        self.synapses.get(layer)
    }

    /// Whether the last layer is a non-spiking readout ([`Output::MaxMembrane`]).
    pub fn has_readout(&self) -> bool {
        self.output.is_readout()
    }

    /// Neurons of the output layer (0 for a model without layers).
    pub fn output_neurons(&self) -> usize {
        self.layers.last().map_or(0, |l| usize::from(l.neurons))
    }
}
