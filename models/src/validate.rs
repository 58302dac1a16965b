//! Checks every length, index and value range of a decoded model against every other.
use crate::error::FormatError;
use crate::format::{Channels, Encoding, Layer, Leak, Model, Reset, Synapse, Weights, RATE_ONE};

/// Longest model name in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Largest weight shift.
pub const MAX_SHIFT: u8 = 30;

/// Validates a whole model; `Ok` means the engine can run it without any further checks.
pub fn model(m: &Model<'_>) -> Result<(), FormatError> {
    let h = &m.header;
    if h.name.len() > MAX_NAME_LEN {
        return Err(FormatError::Header("name is longer than 64 bytes"));
    }
    if h.input_size == 0 {
        return Err(FormatError::Header("input_size is 0"));
    }
    if h.time_steps == 0 {
        return Err(FormatError::Header("time_steps is 0"));
    }
    if h.num_classes == 0 {
        return Err(FormatError::Header("num_classes is 0"));
    }
    if h.neurons_per_class == 0 {
        return Err(FormatError::Header("neurons_per_class is 0"));
    }
    if matches!(h.encoding, Encoding::Delta { threshold: 0 }) {
        return Err(FormatError::Header("delta encoding threshold is 0"));
    }
    channels(&h.encoding, usize::from(h.input_size), &m.channels).map_err(FormatError::Header)?;
    if m.layers.is_empty() {
        return Err(FormatError::Header("model has no layers"));
    }
    let mut expected_inputs = h.input_size;
    for (i, layer) in m.layers.iter().enumerate() {
        let idx = i as u8;
        let err = |what| FormatError::Layer { layer: idx, what };
        if layer.inputs != expected_inputs {
            return Err(err(
                "inputs differ from the previous layer's neurons (or input_size)",
            ));
        }
        check_layer(layer).map_err(err)?;
        expected_inputs = layer.neurons;
    }
    if !m.synapses.is_empty() && m.synapses.len() != m.layers.len() {
        return Err(FormatError::Header(
            "the synapse section has not one synapse per layer",
        ));
    }
    for (i, s) in m.synapses.iter().enumerate() {
        let s = s.map_err(|_| FormatError::Header("the synapse section is malformed"))?;
        if let Synapse::Current(Leak::PerNeuron(alpha)) = s {
            if !alpha.is_whole() || alpha.len() != usize::from(m.layers[i].neurons) {
                return Err(FormatError::Layer {
                    layer: i as u8,
                    what: "per-neuron synaptic decay length differs from neurons",
                });
            }
        }
    }
    let outputs = u32::from(h.num_classes) * u32::from(h.neurons_per_class);
    if m.output_neurons() as u32 != outputs {
        return Err(FormatError::Header(
            "last layer's neurons differ from num_classes * neurons_per_class",
        ));
    }
    if m.has_readout() {
        readout(m)?;
    }
    Ok(())
}

/// A readout ([`crate::format::Output::MaxMembrane`]) is the last layer (the section names no
/// other), never spikes, so it has no recurrent weights (they would only ever see silence) and
/// no reset ([`Reset::None`]), and it has one neuron per class (the class's value is its
/// neuron's membrane).
fn readout(m: &Model<'_>) -> Result<(), FormatError> {
    let last = m.layers.len() - 1;
    let err = |what| FormatError::Layer {
        layer: last as u8,
        what,
    };
    let l = &m.layers[last];
    if l.recurrent.is_some() {
        return Err(err(
            "a non-spiking readout has recurrent weights (it never spikes, so they do nothing)",
        ));
    }
    if l.reset != Reset::None {
        return Err(err("a non-spiking readout has a reset other than None"));
    }
    if m.header.neurons_per_class != 1 {
        return Err(FormatError::Header(
            "a model with a non-spiking readout has neurons_per_class other than 1",
        ));
    }
    Ok(())
}

/// Checks the channel constants against the encoding: a continuous encoding needs one finite
/// offset and scale per channel (`input_size / inputs_per_channel` of them) and, for the delta
/// encoders, one positive threshold per channel; every other encoding needs none.
fn channels(e: &Encoding, input_size: usize, c: &Channels<'_>) -> Result<(), &'static str> {
    let per = e.inputs_per_channel();
    if per == 0 {
        return if c.is_empty() {
            Ok(())
        } else {
            Err("channel constants are only allowed with a continuous encoding")
        };
    }
    if input_size % per != 0 {
        return Err("input_size of a delta encoding is not 2 x channels");
    }
    let n = input_size / per;
    if !c.offset.is_whole() || c.offset.len() != n {
        return Err("channel offsets differ from the encoding's channel count");
    }
    if !c.scale.is_whole() || c.scale.len() != n {
        return Err("channel scales differ from the encoding's channel count");
    }
    if !c.offset.iter().chain(c.scale.iter()).all(f32::is_finite) {
        return Err("a channel offset or scale is not finite");
    }
    let wanted = if per == 2 { n } else { 0 };
    if !c.threshold.is_whole() || c.threshold.len() != wanted {
        return Err("channel thresholds differ from the encoding (one per channel for delta, none for direct)");
    }
    if c.threshold.iter().any(|t| t == 0) {
        return Err("a channel delta threshold is 0");
    }
    Ok(())
}

fn check_layer(l: &Layer<'_>) -> Result<(), &'static str> {
    if l.neurons == 0 {
        return Err("layer has no neurons");
    }
    let (lo, hi) = match l.weight_bits {
        8 => (i8::MIN, i8::MAX),
        4 => (-8, 7),
        _ => return Err("weight_bits is neither 8 nor 4"),
    };
    if l.shift > MAX_SHIFT {
        return Err("shift is above 30");
    }
    weights(&l.feedforward, l.inputs, l.neurons, lo, hi).map_err(|f| f.message(false))?;
    if let Some(rec) = &l.recurrent {
        weights(rec, l.neurons, l.neurons, lo, hi).map_err(|f| f.message(true))?;
    }
    if let Some(bias) = &l.bias {
        if !bias.is_whole() || bias.len() != usize::from(l.neurons) {
            return Err("bias length differs from neurons");
        }
    }
    if let Leak::PerNeuron(leaks) = &l.leak {
        if !leaks.is_whole() || leaks.len() != usize::from(l.neurons) {
            return Err("per-neuron leak length differs from neurons");
        }
    }
    if l.threshold <= 0 {
        return Err("threshold is not positive");
    }
    if l.budget.max_rate > RATE_ONE || l.budget.min_rate > l.budget.max_rate {
        return Err("rate budget is outside 0 <= min <= max <= 1");
    }
    Ok(())
}

/// What is wrong with a weight matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    DenseLength,
    Range,
    RowPtrLength,
    RowPtrStart,
    RowPtrOrder,
    RowPtrEnd,
    PostLength,
    PostIndex,
    PostOrder,
}

impl Fault {
    /// The message for feed-forward (`recurrent == false`) or recurrent weights.
    fn message(self, recurrent: bool) -> &'static str {
        use Fault::*;
        match (recurrent, self) {
            (false, DenseLength) => "feedforward: dense values length is not inputs * neurons",
            (true, DenseLength) => "recurrent: dense values length is not neurons * neurons",
            (false, Range) => "feedforward: a weight is outside the weight_bits range",
            (true, Range) => "recurrent: a weight is outside the weight_bits range",
            (false, RowPtrLength) => "feedforward: row_ptr length is not inputs + 1",
            (true, RowPtrLength) => "recurrent: row_ptr length is not neurons + 1",
            (false, RowPtrStart) => "feedforward: row_ptr does not start at 0",
            (true, RowPtrStart) => "recurrent: row_ptr does not start at 0",
            (false, RowPtrOrder) => "feedforward: row_ptr decreases",
            (true, RowPtrOrder) => "recurrent: row_ptr decreases",
            (false, RowPtrEnd) => "feedforward: row_ptr does not end at the number of values",
            (true, RowPtrEnd) => "recurrent: row_ptr does not end at the number of values",
            (false, PostLength) => "feedforward: post and values lengths differ",
            (true, PostLength) => "recurrent: post and values lengths differ",
            (false, PostIndex) => "feedforward: a post index is not below neurons",
            (true, PostIndex) => "recurrent: a post index is not below neurons",
            (false, PostOrder) => "feedforward: post indices are not increasing within a row",
            (true, PostOrder) => "recurrent: post indices are not increasing within a row",
        }
    }
}

/// Checks a `pre x post` matrix: lengths, CSR structure (offsets from 0, non-decreasing, ending
/// at `nnz`; post indices in range and strictly increasing per row) and the weight range.
fn weights(w: &Weights<'_>, pre: u16, post: u16, lo: i8, hi: i8) -> Result<(), Fault> {
    let in_range = |v: &[u8]| v.iter().all(|&b| (lo..=hi).contains(&(b as i8)));
    match w {
        Weights::Dense { values } => {
            if values.0.len() != usize::from(pre) * usize::from(post) {
                return Err(Fault::DenseLength);
            }
            if !in_range(values.0) {
                return Err(Fault::Range);
            }
        }
        Weights::Sparse {
            row_ptr,
            post: posts,
            values,
        } => {
            let nnz = values.0.len();
            if !row_ptr.is_whole() || row_ptr.len() != usize::from(pre) + 1 {
                return Err(Fault::RowPtrLength);
            }
            if !posts.is_whole() || posts.len() != nnz {
                return Err(Fault::PostLength);
            }
            if row_ptr.get(0) != Some(0) {
                return Err(Fault::RowPtrStart);
            }
            // Offsets first (so a bad offset is reported as such), then each row's indices.
            let mut prev = 0u32;
            for end in row_ptr.iter().skip(1) {
                if end < prev {
                    return Err(Fault::RowPtrOrder);
                }
                prev = end;
            }
            if prev as usize != nnz {
                return Err(Fault::RowPtrEnd);
            }
            let mut start = 0usize;
            for end in row_ptr.iter().skip(1) {
                let end = end as usize;
                let mut last: Option<u16> = None;
                for k in start..end {
                    let p = posts.get(k).ok_or(Fault::PostLength)?;
                    if p >= post {
                        return Err(Fault::PostIndex);
                    }
                    if last.is_some_and(|q| p <= q) {
                        return Err(Fault::PostOrder);
                    }
                    last = Some(p);
                }
                start = end;
            }
            if !in_range(values.0) {
                return Err(Fault::Range);
            }
        }
    }
    Ok(())
}
