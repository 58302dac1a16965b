//! Where a decoded model's borrowed arrays lie in its bytes, so the same bytes can be bound to a
//! [`Model`] again by slicing alone (no parsing, no validation).
//!
//! A device keeps its model in a writable buffer and runs many requests on it. [`decode`]
//! validates the bytes once; [`Layout::of`] then records every array of the decoded model as a
//! byte range of the buffer (a small `Copy` value of indices, no borrow), and [`Layout::bind`]
//! rebuilds the same [`Model`] from the same bytes per request with one `get` per array. The
//! caller must bind only the bytes the layout was taken from, unchanged (the device forgets the
//! layout on every write to its buffer); other bytes give an error or a model of other values,
//! never a panic.
//!
//! [`decode`]: crate::decode
use crate::format::{
    Bytes, Channels, Encoding, Header, Layer, LeF32s, LeI32s, LeU16s, LeU32s, Leak, Model, Output,
    RateBudget, Reset, Synapses, Weights, MAX_LAYERS,
};

/// A byte range `start..start + len` of the model bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// Where `part` lies in `bytes` (`None` if it is not inside them). An empty part is the
    /// empty range at 0, wherever it points (an absent section borrows no bytes).
    fn of(part: &[u8], bytes: &[u8]) -> Option<Self> {
        if part.is_empty() {
            return Some(Self::default());
        }
        // Address arithmetic only, nothing is dereferenced: `part` is a sub-slice of `bytes`
        // exactly when its start is at or after theirs and its end at or before theirs.
        let start = (part.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
        let end = start.checked_add(part.len())?;
        if end > bytes.len() {
            return None;
        }
        Some(Self {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(part.len()).ok()?,
        })
    }

    /// The range's bytes (`None` past the end of `bytes`).
    #[inline(always)]
    fn get(self, bytes: &[u8]) -> Option<&[u8]> {
        let start = self.start as usize;
        bytes.get(start..start.checked_add(self.len as usize)?)
    }
}

/// [`Weights`] as byte ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WeightsAt {
    Dense(Span),
    Sparse {
        row_ptr: Span,
        post: Span,
        values: Span,
    },
}

impl WeightsAt {
    fn of(w: &Weights<'_>, bytes: &[u8]) -> Option<Self> {
        Some(match w {
            Weights::Dense { values } => Self::Dense(Span::of(values.0, bytes)?),
            Weights::Sparse {
                row_ptr,
                post,
                values,
            } => Self::Sparse {
                row_ptr: Span::of(row_ptr.0 .0, bytes)?,
                post: Span::of(post.0 .0, bytes)?,
                values: Span::of(values.0, bytes)?,
            },
        })
    }

    #[inline(always)]
    fn bind<'b>(&self, bytes: &'b [u8]) -> Option<Weights<'b>> {
        Some(match *self {
            Self::Dense(values) => Weights::Dense {
                values: Bytes(values.get(bytes)?),
            },
            Self::Sparse {
                row_ptr,
                post,
                values,
            } => Weights::Sparse {
                row_ptr: LeU32s::new(row_ptr.get(bytes)?),
                post: LeU16s::new(post.get(bytes)?),
                values: Bytes(values.get(bytes)?),
            },
        })
    }
}

/// [`Leak`] with its per-neuron array as a byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LeakAt {
    Shared(u16),
    PerNeuron(Span),
}

impl LeakAt {
    fn of(l: &Leak<'_>, bytes: &[u8]) -> Option<Self> {
        Some(match l {
            Leak::Shared(b) => Self::Shared(*b),
            Leak::PerNeuron(a) => Self::PerNeuron(Span::of(a.0 .0, bytes)?),
        })
    }

    #[inline(always)]
    fn bind<'b>(&self, bytes: &'b [u8]) -> Option<Leak<'b>> {
        Some(match *self {
            Self::Shared(b) => Leak::Shared(b),
            Self::PerNeuron(s) => Leak::PerNeuron(LeU16s::new(s.get(bytes)?)),
        })
    }
}

/// A [`Layer`] with its arrays as byte ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LayerAt {
    inputs: u16,
    neurons: u16,
    weight_bits: u8,
    shift: u8,
    feedforward: WeightsAt,
    recurrent: Option<WeightsAt>,
    bias: Option<Span>,
    leak: LeakAt,
    threshold: i32,
    reset: Reset,
    budget: RateBudget,
}

impl LayerAt {
    fn of(l: &Layer<'_>, bytes: &[u8]) -> Option<Self> {
        Some(Self {
            inputs: l.inputs,
            neurons: l.neurons,
            weight_bits: l.weight_bits,
            shift: l.shift,
            feedforward: WeightsAt::of(&l.feedforward, bytes)?,
            recurrent: match &l.recurrent {
                Some(w) => Some(WeightsAt::of(w, bytes)?),
                None => None,
            },
            bias: match &l.bias {
                Some(b) => Some(Span::of(b.0 .0, bytes)?),
                None => None,
            },
            leak: LeakAt::of(&l.leak, bytes)?,
            threshold: l.threshold,
            reset: l.reset,
            budget: l.budget,
        })
    }

    #[inline(always)]
    fn bind<'b>(&self, bytes: &'b [u8]) -> Option<Layer<'b>> {
        Some(Layer {
            inputs: self.inputs,
            neurons: self.neurons,
            weight_bits: self.weight_bits,
            shift: self.shift,
            feedforward: self.feedforward.bind(bytes)?,
            recurrent: match &self.recurrent {
                Some(w) => Some(w.bind(bytes)?),
                None => None,
            },
            bias: match self.bias {
                Some(b) => Some(LeI32s::new(b.get(bytes)?)),
                None => None,
            },
            leak: self.leak.bind(bytes)?,
            threshold: self.threshold,
            reset: self.reset,
            budget: self.budget,
        })
    }
}

/// Where every borrowed part of a decoded [`Model`] lies in its bytes, and its scalars: enough
/// to rebuild the model from the same bytes with [`Layout::bind`]. The default is the layout
/// of no model (no layers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    name: Span,
    input_size: u16,
    time_steps: u16,
    encoding: Encoding,
    num_classes: u16,
    neurons_per_class: u16,
    layers: heapless::Vec<LayerAt, MAX_LAYERS>,
    channels: [Span; 3],
    synapses: Span,
    output: Output,
}

impl Layout {
    /// The layout of `model` in `bytes`, the bytes it was decoded from (`None` if any of its
    /// parts is not inside them).
    pub fn of(model: &Model<'_>, bytes: &[u8]) -> Option<Self> {
        let mut layout = Self::default();
        layout.set(model, bytes)?;
        Some(layout)
    }

    /// Makes this the layout of `model` in `bytes` (see [`Layout::of`]), in place: a layout
    /// has room for [`MAX_LAYERS`] layers (~800 B), which a device keeps in one place rather
    /// than moves. On `None` it is left empty (no layers).
    pub fn set(&mut self, model: &Model<'_>, bytes: &[u8]) -> Option<()> {
        self.layers.clear();
        let r = self.set_parts(model, bytes);
        if r.is_none() {
            self.layers.clear();
        }
        r
    }

    /// [`Layout::set`] on a layout with no layers.
    fn set_parts(&mut self, model: &Model<'_>, bytes: &[u8]) -> Option<()> {
        let (h, c) = (&model.header, &model.channels);
        for l in &model.layers {
            self.layers.push(LayerAt::of(l, bytes)?).ok()?;
        }
        self.name = Span::of(h.name.as_bytes(), bytes)?;
        self.input_size = h.input_size;
        self.time_steps = h.time_steps;
        self.encoding = h.encoding;
        self.num_classes = h.num_classes;
        self.neurons_per_class = h.neurons_per_class;
        self.channels = [
            Span::of(c.offset.0 .0, bytes)?,
            Span::of(c.scale.0 .0, bytes)?,
            Span::of(c.threshold.0 .0, bytes)?,
        ];
        self.synapses = Span::of(model.synapses.0 .0, bytes)?;
        self.output = model.output;
        Some(())
    }

    /// Fills `model` with the model of this layout over `bytes` (slicing only: the bytes must
    /// be the ones the layout was taken from, already validated). `None` when a range lies
    /// past the end of `bytes` or the name is not UTF-8; `model` is then partly filled.
    ///
    /// The model is filled where it lives rather than returned: a `Model` has room for
    /// [`MAX_LAYERS`] layers (~700 B), and returning one by value costs copies of it.
    pub fn bind<'b>(&self, bytes: &'b [u8], model: &mut Model<'b>) -> Option<()> {
        model.header = Header {
            name: core::str::from_utf8(self.name.get(bytes)?).ok()?,
            input_size: self.input_size,
            time_steps: self.time_steps,
            encoding: self.encoding,
            num_classes: self.num_classes,
            neurons_per_class: self.neurons_per_class,
        };
        model.layers.clear();
        for l in &self.layers {
            model.layers.push(l.bind(bytes)?).ok()?;
        }
        let [offset, scale, threshold] = self.channels;
        model.channels = Channels {
            offset: LeF32s::new(offset.get(bytes)?),
            scale: LeF32s::new(scale.get(bytes)?),
            threshold: LeU16s::new(threshold.get(bytes)?),
        };
        model.synapses = Synapses::new(self.synapses.get(bytes)?);
        model.output = self.output;
        Some(())
    }
}

impl Default for Layout {
    fn default() -> Self {
        Self {
            name: Span::default(),
            input_size: 0,
            time_steps: 0,
            encoding: Encoding::Events,
            num_classes: 0,
            neurons_per_class: 0,
            layers: heapless::Vec::new(),
            channels: [Span::default(); 3],
            synapses: Span::default(),
            output: Output::Spikes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_is_found_only_inside_its_bytes() {
        let bytes = [1u8, 2, 3, 4, 5];
        let s = Span::of(&bytes[1..4], &bytes).unwrap();
        assert_eq!(s, Span { start: 1, len: 3 });
        assert_eq!(s.get(&bytes), Some(&bytes[1..4]));
        assert_eq!(s.get(&bytes[..3]), None);
        assert_eq!(Span::of(&bytes[3..], &bytes[..2]), None);
        assert_eq!(Span::of(&[], &bytes[..2]), Some(Span::default()));
        assert_eq!(Span::of(&bytes, &bytes[1..]), None);
    }
}
