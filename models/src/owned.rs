//! Owned, growable models for the host: build or edit a model in `Vec`s, then borrow it as a
//! [`Model`] or write its bytes. Needs the `alloc` feature; nothing on the device path uses it.
//!
//! Arrays are kept as little-endian bytes ([`LeVec`]) so [`OwnedModel::as_model`] borrows them
//! without copying, exactly as [`crate::decode`] borrows from a file. [`EngineBuffers`] owns an
//! engine's state buffers for host code that runs a model.
use alloc::string::String;
use alloc::vec::Vec;
use core::marker::PhantomData;

use crate::codec::encode_to_vec;
use crate::engine::{Carry, Engine, Requirements};
use crate::error::{EngineError, FormatError};
use crate::format::{
    Bytes, Channels, Encoding, Header, Layer, LeF32s, LeI32s, LeU16s, LeU32s, Leak, Model, Output,
    RateBudget, Reset, Synapse, Synapses, Weights, MAX_LAYERS, MAX_NEURONS,
};
use crate::validate;

mod sealed {
    pub trait Sealed {}
    impl Sealed for i8 {}
    impl Sealed for u16 {}
    impl Sealed for u32 {}
    impl Sealed for i32 {}
    impl Sealed for f32 {}
}

/// Element types an [`LeVec`] stores: `i8`, `u16`, `u32`, `i32`, `f32` (sealed).
pub trait LeElement: sealed::Sealed + Copy {
    /// Bytes per element.
    const WIDTH: usize;
    /// Appends the little-endian bytes of `self`.
    fn put(self, out: &mut Vec<u8>);
    /// Reads one element from exactly `WIDTH` little-endian bytes.
    fn take(bytes: &[u8]) -> Self;
}

macro_rules! le_element {
    ($t:ty, $w:expr) => {
        impl LeElement for $t {
            const WIDTH: usize = $w;
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn take(bytes: &[u8]) -> Self {
                let mut a = [0u8; $w];
                a.copy_from_slice(bytes);
                <$t>::from_le_bytes(a)
            }
        }
    };
}
le_element!(i8, 1);
le_element!(u16, 2);
le_element!(u32, 4);
le_element!(i32, 4);
le_element!(f32, 4);

/// An owned array stored as little-endian bytes, so a [`Model`] can borrow it in place.
/// Equality and hashing compare the bytes (for `f32`, the bits).
#[derive(Clone)]
pub struct LeVec<T> {
    bytes: Vec<u8>,
    _elem: PhantomData<T>,
}

impl<T> PartialEq for LeVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl<T> Eq for LeVec<T> {}

impl<T> core::hash::Hash for LeVec<T> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl<T: LeElement> LeVec<T> {
    /// An empty array.
    pub fn new() -> Self {
        Self {
            bytes: Vec::new(),
            _elem: PhantomData,
        }
    }

    /// Copies `values`.
    pub fn from_slice(values: &[T]) -> Self {
        values.iter().copied().collect()
    }

    /// Wraps raw little-endian bytes; `None` unless the length is a whole number of elements.
    pub fn from_le_bytes(bytes: &[u8]) -> Option<Self> {
        (bytes.len() % T::WIDTH == 0).then(|| Self::from_raw(bytes))
    }

    /// Copies bytes as they are (a trailing partial element is kept, so a round trip of an
    /// unvalidated [`Model`] is exact; validation reports it).
    fn from_raw(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.to_vec(),
            _elem: PhantomData,
        }
    }

    /// Appends one element.
    pub fn push(&mut self, value: T) {
        value.put(&mut self.bytes);
    }

    /// Number of whole elements.
    pub fn len(&self) -> usize {
        self.bytes.len() / T::WIDTH
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<T> {
        let start = i.checked_mul(T::WIDTH)?;
        self.bytes.get(start..start + T::WIDTH).map(T::take)
    }

    /// Iterates over the elements.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.bytes.chunks_exact(T::WIDTH).map(T::take)
    }

    /// The elements as a `Vec`.
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }

    /// The little-endian bytes (what the model file stores).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl<T: LeElement> Default for LeVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: LeElement + core::fmt::Debug> core::fmt::Debug for LeVec<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: LeElement> FromIterator<T> for LeVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = Self::new();
        iter.into_iter().for_each(|x| v.push(x));
        v
    }
}

impl<T: LeElement> From<&[T]> for LeVec<T> {
    fn from(values: &[T]) -> Self {
        Self::from_slice(values)
    }
}

impl<T: LeElement> From<Vec<T>> for LeVec<T> {
    fn from(values: Vec<T>) -> Self {
        Self::from_slice(&values)
    }
}

/// Owned synaptic weights (see [`Weights`] for the layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedWeights {
    /// `values[pre * post_count + post]`, every synapse present.
    Dense {
        /// `pre_count * post_count` weights.
        values: LeVec<i8>,
    },
    /// Compressed sparse rows over presynaptic neurons.
    Sparse {
        /// `pre_count + 1` non-decreasing offsets, the first 0 and the last `nnz`.
        row_ptr: LeVec<u32>,
        /// Postsynaptic index of each stored synapse (strictly increasing within a row).
        post: LeVec<u16>,
        /// Weight of each stored synapse.
        values: LeVec<i8>,
    },
}

impl OwnedWeights {
    /// Dense weights from a presynaptic-major matrix (`values[pre * post_count + post]`).
    pub fn from_dense(pre: usize, post: usize, values: &[i8]) -> Result<Self, FormatError> {
        check_shape(pre, post, values)?;
        Ok(Self::Dense {
            values: LeVec::from_slice(values),
        })
    }

    /// CSR weights from a presynaptic-major dense matrix, keeping only the non-zero weights.
    pub fn sparse_from_dense(pre: usize, post: usize, values: &[i8]) -> Result<Self, FormatError> {
        check_shape(pre, post, values)?;
        let mut row_ptr = LeVec::new();
        let mut posts = LeVec::new();
        let mut kept = LeVec::new();
        row_ptr.push(0u32);
        let mut nnz = 0u32;
        for row in values.chunks(post.max(1)).take(pre) {
            for (p, &w) in row.iter().enumerate() {
                if w != 0 {
                    posts.push(p as u16);
                    kept.push(w);
                    nnz += 1;
                }
            }
            row_ptr.push(nnz);
        }
        // `post == 0` gives empty rows; keep one offset per presynaptic neuron regardless.
        while row_ptr.len() < pre + 1 {
            row_ptr.push(nnz);
        }
        Ok(Self::Sparse {
            row_ptr,
            post: posts,
            values: kept,
        })
    }

    /// The presynaptic-major dense matrix (`pre * post` values, absent synapses 0). Entries out
    /// of range (only possible in an unvalidated model) are ignored.
    pub fn to_dense(&self, pre: usize, post: usize) -> Vec<i8> {
        let mut out = alloc::vec![0i8; pre * post];
        match self {
            Self::Dense { values } => {
                for (o, w) in out.iter_mut().zip(values.iter()) {
                    *o = w;
                }
            }
            Self::Sparse {
                row_ptr,
                post: posts,
                values,
            } => {
                for j in 0..pre {
                    let (Some(a), Some(b)) = (row_ptr.get(j), row_ptr.get(j + 1)) else {
                        break;
                    };
                    for k in a as usize..b as usize {
                        if let (Some(p), Some(w)) = (posts.get(k), values.get(k)) {
                            if usize::from(p) < post {
                                out[j * post + usize::from(p)] = w;
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Number of stored synapses.
    pub fn stored(&self) -> usize {
        match self {
            Self::Dense { values } | Self::Sparse { values, .. } => values.len(),
        }
    }

    /// Borrowed view.
    pub fn as_weights(&self) -> Weights<'_> {
        match self {
            Self::Dense { values } => Weights::Dense {
                values: Bytes(values.as_bytes()),
            },
            Self::Sparse {
                row_ptr,
                post,
                values,
            } => Weights::Sparse {
                row_ptr: LeU32s::new(row_ptr.as_bytes()),
                post: LeU16s::new(post.as_bytes()),
                values: Bytes(values.as_bytes()),
            },
        }
    }
}

/// `values` must hold exactly `pre * post` weights, and both sides fit the `u16` indices.
fn check_shape(pre: usize, post: usize, values: &[i8]) -> Result<(), FormatError> {
    let fits = pre <= MAX_NEURONS && post <= MAX_NEURONS;
    if !fits || Some(values.len()) != pre.checked_mul(post) {
        return Err(FormatError::DenseShape {
            pre,
            post,
            given: values.len(),
        });
    }
    Ok(())
}

impl From<&Weights<'_>> for OwnedWeights {
    fn from(w: &Weights<'_>) -> Self {
        match w {
            Weights::Dense { values } => Self::Dense {
                values: LeVec::from_raw(values.0),
            },
            Weights::Sparse {
                row_ptr,
                post,
                values,
            } => Self::Sparse {
                row_ptr: LeVec::from_raw(row_ptr.0 .0),
                post: LeVec::from_raw(post.0 .0),
                values: LeVec::from_raw(values.0),
            },
        }
    }
}

/// Owned membrane leak (see [`Leak`]): `beta = leak / 2^16`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedLeak {
    /// One leak for every neuron of the layer.
    Shared(u16),
    /// One leak per neuron.
    PerNeuron(LeVec<u16>),
}

impl OwnedLeak {
    /// Borrowed view.
    pub fn as_leak(&self) -> Leak<'_> {
        match self {
            Self::Shared(b) => Leak::Shared(*b),
            Self::PerNeuron(v) => Leak::PerNeuron(LeU16s::new(v.as_bytes())),
        }
    }
}

impl From<&Leak<'_>> for OwnedLeak {
    fn from(l: &Leak<'_>) -> Self {
        match l {
            Leak::Shared(b) => Self::Shared(*b),
            Leak::PerNeuron(v) => Self::PerNeuron(LeVec::from_raw(v.0 .0)),
        }
    }
}

/// Owned [`Synapse`]: how a layer's synaptic input reaches its membranes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedSynapse {
    /// Straight into the membrane (LIF).
    Instant,
    /// Through a synaptic current decaying by `alpha = leak / 2^16` (CubaLIF).
    Current(OwnedLeak),
}

impl OwnedSynapse {
    /// Borrowed view.
    pub fn as_synapse(&self) -> Synapse<'_> {
        match self {
            Self::Instant => Synapse::Instant,
            Self::Current(l) => Synapse::Current(l.as_leak()),
        }
    }
}

impl From<&Synapse<'_>> for OwnedSynapse {
    fn from(s: &Synapse<'_>) -> Self {
        match s {
            Synapse::Instant => Self::Instant,
            Synapse::Current(l) => Self::Current(OwnedLeak::from(l)),
        }
    }
}

/// Owned layer; field meanings and units are those of [`Layer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedLayer {
    /// Presynaptic size (the previous layer's neurons, or the input size).
    pub inputs: u16,
    /// Number of neurons.
    pub neurons: u16,
    /// Weight bit width, 8 or 4.
    pub weight_bits: u8,
    /// Weight scale exponent: real weight = `w * 2^-shift`.
    pub shift: u8,
    /// Feed-forward weights, `inputs x neurons`.
    pub feedforward: OwnedWeights,
    /// Recurrent weights, `neurons x neurons`.
    pub recurrent: Option<OwnedWeights>,
    /// Per-neuron bias, membrane units.
    pub bias: Option<LeVec<i32>>,
    /// Membrane leak.
    pub leak: OwnedLeak,
    /// Firing threshold, membrane units, > 0.
    pub threshold: i32,
    /// Reset after a spike.
    pub reset: Reset,
    /// Firing-rate budget.
    pub budget: RateBudget,
}

impl OwnedLayer {
    /// A feed-forward layer with 8-bit weights, shift 0, no bias, no recurrence, leak 0
    /// (no memory), subtractive reset and no rate budget; set the other fields directly.
    pub fn new(inputs: u16, neurons: u16, feedforward: OwnedWeights, threshold: i32) -> Self {
        Self {
            inputs,
            neurons,
            weight_bits: 8,
            shift: 0,
            feedforward,
            recurrent: None,
            bias: None,
            leak: OwnedLeak::Shared(0),
            threshold,
            reset: Reset::Subtract,
            budget: RateBudget::UNBOUNDED,
        }
    }

    /// Borrowed view.
    pub fn as_layer(&self) -> Layer<'_> {
        Layer {
            inputs: self.inputs,
            neurons: self.neurons,
            weight_bits: self.weight_bits,
            shift: self.shift,
            feedforward: self.feedforward.as_weights(),
            recurrent: self.recurrent.as_ref().map(OwnedWeights::as_weights),
            bias: self.bias.as_ref().map(|b| LeI32s::new(b.as_bytes())),
            leak: self.leak.as_leak(),
            threshold: self.threshold,
            reset: self.reset,
            budget: self.budget,
        }
    }
}

impl From<&Layer<'_>> for OwnedLayer {
    fn from(l: &Layer<'_>) -> Self {
        Self {
            inputs: l.inputs,
            neurons: l.neurons,
            weight_bits: l.weight_bits,
            shift: l.shift,
            feedforward: OwnedWeights::from(&l.feedforward),
            recurrent: l.recurrent.as_ref().map(OwnedWeights::from),
            bias: l.bias.map(|b| LeVec::from_raw(b.0 .0)),
            leak: match l.leak {
                Leak::Shared(b) => OwnedLeak::Shared(b),
                Leak::PerNeuron(v) => OwnedLeak::PerNeuron(LeVec::from_raw(v.0 .0)),
            },
            threshold: l.threshold,
            reset: l.reset,
            budget: l.budget,
        }
    }
}

/// Owned header; field meanings are those of [`Header`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedHeader {
    /// Human-readable model name (UTF-8, at most 64 bytes).
    pub name: String,
    /// Number of input channels.
    pub input_size: u16,
    /// Time steps per inference.
    pub time_steps: u16,
    /// Input encoding.
    pub encoding: Encoding,
    /// Number of classes.
    pub num_classes: u16,
    /// Output neurons per class.
    pub neurons_per_class: u16,
}

impl OwnedHeader {
    /// Borrowed view.
    pub fn as_header(&self) -> Header<'_> {
        Header {
            name: &self.name,
            input_size: self.input_size,
            time_steps: self.time_steps,
            encoding: self.encoding,
            num_classes: self.num_classes,
            neurons_per_class: self.neurons_per_class,
        }
    }
}

impl From<&Header<'_>> for OwnedHeader {
    fn from(h: &Header<'_>) -> Self {
        Self {
            name: String::from(h.name),
            input_size: h.input_size,
            time_steps: h.time_steps,
            encoding: h.encoding,
            num_classes: h.num_classes,
            neurons_per_class: h.neurons_per_class,
        }
    }
}

/// Owned per-channel constants of a continuous encoding; meanings are those of [`Channels`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OwnedChannels {
    /// Subtracted from each value before scaling.
    pub offset: LeVec<f32>,
    /// Multiplies the centred value (`q` in units of `2^-8`).
    pub scale: LeVec<f32>,
    /// Delta thresholds in units of `q` (empty for direct input).
    pub threshold: LeVec<u16>,
}

impl OwnedChannels {
    /// Direct-input constants: one offset and scale per channel.
    pub fn direct(offset: &[f32], scale: &[f32]) -> Self {
        Self {
            offset: offset.into(),
            scale: scale.into(),
            threshold: LeVec::new(),
        }
    }

    /// Delta-encoder constants: one offset, scale and threshold per channel.
    pub fn delta(offset: &[f32], scale: &[f32], threshold: &[u16]) -> Self {
        Self {
            offset: offset.into(),
            scale: scale.into(),
            threshold: threshold.into(),
        }
    }

    /// Borrowed view.
    pub fn as_channels(&self) -> Channels<'_> {
        Channels {
            offset: LeF32s::new(self.offset.as_bytes()),
            scale: LeF32s::new(self.scale.as_bytes()),
            threshold: LeU16s::new(self.threshold.as_bytes()),
        }
    }
}

impl From<&Channels<'_>> for OwnedChannels {
    fn from(c: &Channels<'_>) -> Self {
        Self {
            offset: LeVec::from_raw(c.offset.0 .0),
            scale: LeVec::from_raw(c.scale.0 .0),
            threshold: LeVec::from_raw(c.threshold.0 .0),
        }
    }
}

/// An owned model: build or edit it freely, then [`validate`](Self::validate),
/// [`as_model`](Self::as_model) or [`to_bytes`](Self::to_bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedModel {
    /// Model-wide fields.
    pub header: OwnedHeader,
    /// Layers from input to output (at most [`MAX_LAYERS`]).
    pub layers: Vec<OwnedLayer>,
    /// Per-channel constants of a continuous encoding (empty otherwise).
    pub channels: OwnedChannels,
    /// The synapse section: empty when every layer is [`OwnedSynapse::Instant`] (a non-empty
    /// section makes the file format version 3).
    pub synapses: OwnedSynapses,
    /// What the last layer gives ([`Output::MaxMembrane`]: a non-spiking readout, format
    /// version 3).
    pub output: Output,
}

/// An owned synapse section, held encoded (what [`Synapses`] borrows): build it with
/// [`OwnedSynapses::new`], read it back with [`OwnedSynapses::to_vec`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OwnedSynapses(Vec<u8>);

impl OwnedSynapses {
    /// One synapse per layer; no synapses gives no section.
    pub fn new(synapses: &[OwnedSynapse]) -> Self {
        if synapses.is_empty() {
            return Self::default();
        }
        let borrowed: Vec<Synapse<'_>> = synapses.iter().map(OwnedSynapse::as_synapse).collect();
        // Cannot fail: serialising into a Vec has no size limit.
        Self(postcard::to_allocvec(&borrowed).unwrap_or_default())
    }

    /// The entries (empty without a section).
    pub fn to_vec(&self) -> Vec<OwnedSynapse> {
        self.as_synapses()
            .iter()
            .map_while(Result::ok)
            .map(|s| OwnedSynapse::from(&s))
            .collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.as_synapses().len()
    }

    /// True without entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Borrowed view.
    pub fn as_synapses(&self) -> Synapses<'_> {
        Synapses::new(&self.0)
    }
}

impl OwnedModel {
    /// Borrowed view of the first [`MAX_LAYERS`] layers. A model with more layers cannot be
    /// represented; [`validate`](Self::validate) and [`to_bytes`](Self::to_bytes) refuse it with
    /// [`FormatError::TooManyLayers`].
    pub fn as_model(&self) -> Model<'_> {
        let mut layers = heapless::Vec::new();
        for l in self.layers.iter().take(MAX_LAYERS) {
            // Cannot fail: at most MAX_LAYERS are taken.
            let _ = layers.push(l.as_layer());
        }
        Model {
            header: self.header.as_header(),
            layers,
            channels: self.channels.as_channels(),
            synapses: self.synapses.as_synapses(),
            output: self.output,
        }
    }

    /// Runs every check that [`crate::decode`] runs on loading.
    pub fn validate(&self) -> Result<(), FormatError> {
        if self.layers.len() > MAX_LAYERS {
            return Err(FormatError::TooManyLayers {
                found: self.layers.len(),
            });
        }

        validate::model(&self.as_model())
    }

    /// Validates and encodes the model file (`MAGIC ++ version ++ postcard body ++ CRC-32`).
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        self.validate()?;
        encode_to_vec(&self.as_model())
    }

    /// Decodes and validates a model file into an owned copy (for editing or re-export).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        crate::decode(bytes).map(|m| Self::from(&m))
    }
}

impl From<&Model<'_>> for OwnedModel {
    fn from(m: &Model<'_>) -> Self {
        Self {
            header: OwnedHeader::from(&m.header),
            layers: m.layers.iter().map(OwnedLayer::from).collect(),
            channels: OwnedChannels::from(&m.channels),
            synapses: OwnedSynapses(m.synapses.0 .0.to_vec()),
            output: m.output,
        }
    }
}

/// An engine's four state buffers in `Vec`s, sized from [`Requirements::of`] a model (host
/// code and tests; a device sizes its own): `membrane`, `current` are `i32`, `spikes`,
/// `out_counts` are `u16`, with the lengths [`Requirements`] names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineBuffers {
    /// Neuron state ([`Requirements::membrane`] entries).
    pub membrane: Vec<i32>,
    /// Synaptic accumulators ([`Requirements::current`] entries).
    pub current: Vec<i32>,
    /// Spike lists ([`Requirements::spikes`] entries).
    pub spikes: Vec<u16>,
    /// Output spike counts ([`Requirements::out_counts`] entries).
    pub out_counts: Vec<u16>,
}

impl EngineBuffers {
    /// Zeroed buffers of exactly the sizes `model` needs.
    pub fn for_model(model: &Model<'_>) -> Self {
        let r = Requirements::of(model);
        Self {
            membrane: alloc::vec![0; r.membrane],
            current: alloc::vec![0; r.current],
            spikes: alloc::vec![0; r.spikes],
            out_counts: alloc::vec![0; r.out_counts],
        }
    }

    /// An [`Engine`] over `model` in these buffers, state at rest ([`Engine::new`]).
    pub fn engine<'m, 's>(
        &'s mut self,
        model: &'m Model<'m>,
    ) -> Result<Engine<'m, 's>, EngineError> {
        Engine::new(
            model,
            &mut self.membrane,
            &mut self.current,
            &mut self.spikes,
            &mut self.out_counts,
        )
    }

    /// An [`Engine`] over `model` that continues from the state these buffers hold and
    /// `carry` ([`Engine::resume`]).
    pub fn resume<'m, 's>(
        &'s mut self,
        model: &'m Model<'m>,
        carry: &Carry,
    ) -> Result<Engine<'m, 's>, EngineError> {
        Engine::resume(
            model,
            &mut self.membrane,
            &mut self.current,
            &mut self.spikes,
            &mut self.out_counts,
            carry,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn le_vec_round_trips_values() {
        let v: LeVec<i32> = vec![1, -2, i32::MIN].into();
        assert_eq!(v.len(), 3);
        assert_eq!(v.as_bytes()[4..8], (-2i32).to_le_bytes());
        assert_eq!(v.to_vec(), vec![1, -2, i32::MIN]);
        assert_eq!(v.get(3), None);
        assert_eq!(LeVec::<u16>::from_le_bytes(&[1, 2, 3]), None);
        assert_eq!(
            LeVec::<u16>::from_le_bytes(&[1, 2]).unwrap().to_vec(),
            [0x0201]
        );
    }

    #[test]
    fn sparse_from_dense_drops_zeros_and_matches_dense() {
        let m = [0i8, 3, 0, -1, 0, 0, 0, 0, 7];
        let s = OwnedWeights::sparse_from_dense(3, 3, &m).unwrap();
        let OwnedWeights::Sparse {
            row_ptr,
            post,
            values,
        } = &s
        else {
            panic!("not sparse");
        };
        assert_eq!(row_ptr.to_vec(), [0, 1, 2, 3]);
        assert_eq!(post.to_vec(), [1, 0, 2]);
        assert_eq!(values.to_vec(), [3, -1, 7]);
        assert_eq!(s.to_dense(3, 3), m);
        let d = OwnedWeights::from_dense(3, 3, &m).unwrap();
        assert_eq!(d.to_dense(3, 3), m);
        assert_eq!(s.stored(), 3);
        assert_eq!(d.stored(), 9);
    }

    #[test]
    fn shapes_are_checked() {
        assert_eq!(
            OwnedWeights::from_dense(2, 3, &[0; 5]),
            Err(FormatError::DenseShape {
                pre: 2,
                post: 3,
                given: 5
            })
        );
        assert!(OwnedWeights::sparse_from_dense(2, 3, &[0; 7]).is_err());
        assert!(OwnedWeights::sparse_from_dense(1, 65536, &[0; 65536]).is_err());
        let empty = OwnedWeights::sparse_from_dense(4, 0, &[]).unwrap();
        assert_eq!(empty.to_dense(4, 0), Vec::<i8>::new());
        assert!(matches!(&empty, OwnedWeights::Sparse { row_ptr, .. } if row_ptr.len() == 5));
    }

    fn tiny() -> OwnedModel {
        let mut hidden = OwnedLayer::new(
            2,
            3,
            OwnedWeights::from_dense(2, 3, &[1, 2, 3, 4, 5, 6]).unwrap(),
            10,
        );
        hidden.recurrent =
            Some(OwnedWeights::sparse_from_dense(3, 3, &[0, 1, 0, 0, 0, -2, 3, 0, 0]).unwrap());
        hidden.bias = Some(vec![1, -1, 0].into());
        hidden.leak = OwnedLeak::PerNeuron(vec![60000, 50000, 1].into());
        let mut out = OwnedLayer::new(
            3,
            2,
            OwnedWeights::sparse_from_dense(3, 2, &[7, 0, 0, -8, 0, 0]).unwrap(),
            5,
        );
        out.weight_bits = 4;
        out.reset = Reset::Zero;
        OwnedModel {
            header: OwnedHeader {
                name: "tiny".into(),
                input_size: 2,
                time_steps: 4,
                encoding: Encoding::Rate { seed: 9 },
                num_classes: 2,
                neurons_per_class: 1,
            },
            layers: vec![hidden, out],
            channels: Default::default(),
            synapses: Default::default(),
            output: Default::default(),
        }
    }

    #[test]
    fn owned_model_bytes_decode_back_to_the_same_model() {
        let owned = tiny();
        let bytes = owned.to_bytes().unwrap();
        let model = crate::decode(&bytes).unwrap();
        assert_eq!(model, owned.as_model());
        assert_eq!(OwnedModel::from(&model), owned);
        assert_eq!(OwnedModel::from_bytes(&bytes), Ok(owned));
        assert_eq!(
            OwnedModel::from_bytes(&bytes[1..]),
            Err(FormatError::BadMagic)
        );
    }

    #[test]
    fn owned_model_is_validated() {
        let mut m = tiny();
        m.layers[1].threshold = 0;
        assert!(matches!(
            m.to_bytes(),
            Err(FormatError::Layer { layer: 1, .. })
        ));
        let mut m = tiny();
        let extra = m.layers[1].clone();
        m.layers.extend(core::iter::repeat_n(extra, MAX_LAYERS));
        assert_eq!(
            m.to_bytes(),
            Err(FormatError::TooManyLayers {
                found: MAX_LAYERS + 2
            })
        );
        assert_eq!(m.as_model().layers.len(), MAX_LAYERS);
    }

    #[test]
    fn engine_buffers_fit_the_model_and_run_it() {
        let owned = tiny();
        let model = owned.as_model();
        let r = Requirements::of(&model);
        let mut b = EngineBuffers::for_model(&model);
        assert_eq!(
            (
                b.membrane.len(),
                b.current.len(),
                b.spikes.len(),
                b.out_counts.len()
            ),
            (r.membrane, r.current, r.spikes, r.out_counts)
        );
        let mut e = b.engine(&model).unwrap();
        e.step(&[0, 1]).unwrap();
        let carry = e.carry();
        let mut e = b.resume(&model, &carry).unwrap();
        e.step(&[0, 1]).unwrap();
        assert_eq!(e.stats().steps, 2);
        let mut short = EngineBuffers::for_model(&model);
        short.spikes.pop();
        assert!(matches!(
            short.engine(&model),
            Err(EngineError::BufferTooSmall {
                buffer: "spikes",
                ..
            })
        ));
    }
}
