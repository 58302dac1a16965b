//! The dense model file: `"SNDM" ++ version u8 ++ layers u8 ++ 0u16 ++ layer* ++ CRC-32`, all
//! little-endian. A layer is `inputs u16 ++ outputs u16 ++ multiplier i32 ++ shift u8 ++
//! hidden u8 ++ bias i32 × outputs ++ weights i8 × outputs × inputs` (row-major, row = output);
//! the CRC-32 (`crate::crc`) covers every byte before it.
use super::{
    DenseError, DenseLayer, DenseModel, DENSE_MAGIC, DENSE_VERSION, MAX_DENSE_BIAS,
    MAX_DENSE_LAYERS, MAX_DENSE_WIDTH,
};
use crate::crc::crc32;

/// Bytes of the file header.
const HEADER: usize = 8;
/// Bytes of a layer header.
const LAYER_HEADER: usize = 10;

/// Checks `bytes` (magic, version, CRC, every shape and range) and borrows the model from them.
pub fn decode_dense(bytes: &[u8]) -> Result<DenseModel<'_>, DenseError> {
    if bytes.len() < HEADER + 4 {
        return Err(DenseError::TooShort);
    }
    if bytes[..4] != DENSE_MAGIC {
        return Err(DenseError::BadMagic);
    }
    if bytes[4] != DENSE_VERSION {
        return Err(DenseError::UnsupportedVersion(bytes[4]));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32(body).to_le_bytes() != crc {
        return Err(DenseError::CrcMismatch);
    }
    let count = usize::from(body[5]);
    if count == 0 || count > MAX_DENSE_LAYERS || body[6..8] != [0, 0] {
        return Err(DenseError::Layer {
            layer: 0,
            what: "layer count must be 1..=8 (and the reserved bytes 0)",
        });
    }
    let mut layers = heapless::Vec::new();
    let mut at = HEADER;
    for i in 0..count {
        let bad = |what| DenseError::Layer {
            layer: i as u8,
            what,
        };
        let h = body
            .get(at..at + LAYER_HEADER)
            .ok_or(DenseError::TooShort)?;
        let inputs = u16::from_le_bytes([h[0], h[1]]);
        let outputs = u16::from_le_bytes([h[2], h[3]]);
        let multiplier = i32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let (shift, hidden) = (h[8], h[9]);
        at += LAYER_HEADER;
        if inputs == 0 || outputs == 0 {
            return Err(bad("a side is 0"));
        }
        if usize::from(inputs) > MAX_DENSE_WIDTH || usize::from(outputs) > MAX_DENSE_WIDTH {
            return Err(bad("a side exceeds 4096"));
        }
        if let Some(prev) = layers.last().map(|l: &DenseLayer| l.outputs) {
            if prev != inputs {
                return Err(bad("inputs differ from the previous layer's outputs"));
            }
        }
        let last = i + 1 == count;
        match (hidden, last) {
            (1, false) => {
                if multiplier <= 0 || shift > 31 {
                    return Err(bad("requantisation needs multiplier > 0 and shift 0..=31"));
                }
            }
            (0, true) => {
                if multiplier != 0 || shift != 0 {
                    return Err(bad("the output layer has no requantisation (0, 0)"));
                }
            }
            _ => {
                return Err(bad(
                    "every layer but the last is hidden (flag 1), the last 0",
                ))
            }
        }
        let nb = 4 * usize::from(outputs);
        let nw = usize::from(outputs) * usize::from(inputs);
        let bias = body.get(at..at + nb).ok_or(DenseError::TooShort)?;
        at += nb;
        let weights = body.get(at..at + nw).ok_or(DenseError::TooShort)?;
        at += nw;
        if bias
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .any(|b| !(-MAX_DENSE_BIAS..=MAX_DENSE_BIAS).contains(&b))
        {
            return Err(bad("a bias exceeds 2^30 in magnitude"));
        }
        let layer = DenseLayer {
            inputs,
            outputs,
            multiplier,
            shift,
            hidden: hidden == 1,
            bias,
            weights,
        };
        // Cannot fail: count <= MAX_DENSE_LAYERS.
        let _ = layers.push(layer);
    }
    if at != body.len() {
        return Err(DenseError::TrailingBytes);
    }
    Ok(DenseModel { layers })
}

/// One layer to encode (host side).
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenseLayerSpec {
    /// Inputs.
    pub inputs: u16,
    /// Outputs.
    pub outputs: u16,
    /// Requantisation multiplier (hidden layers), 0 on the last.
    pub multiplier: i32,
    /// Requantisation shift (hidden layers), 0 on the last.
    pub shift: u8,
    /// `outputs` biases.
    pub bias: alloc::vec::Vec<i32>,
    /// `outputs × inputs` weights, row-major (row = output).
    pub weights: alloc::vec::Vec<i8>,
}

/// Writes a dense model file (every layer but the last hidden) and checks it decodes.
#[cfg(feature = "alloc")]
pub fn encode_dense(layers: &[DenseLayerSpec]) -> Result<alloc::vec::Vec<u8>, DenseError> {
    let mut out = alloc::vec::Vec::new();
    out.extend_from_slice(&DENSE_MAGIC);
    out.push(DENSE_VERSION);
    out.push(u8::try_from(layers.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(&[0, 0]);
    for (i, l) in layers.iter().enumerate() {
        if l.bias.len() != usize::from(l.outputs)
            || l.weights.len() != usize::from(l.outputs) * usize::from(l.inputs)
        {
            return Err(DenseError::Layer {
                layer: i as u8,
                what: "bias or weights do not have the layer's shape",
            });
        }
        out.extend_from_slice(&l.inputs.to_le_bytes());
        out.extend_from_slice(&l.outputs.to_le_bytes());
        out.extend_from_slice(&l.multiplier.to_le_bytes());
        out.push(l.shift);
        out.push(u8::from(i + 1 < layers.len()));
        for b in &l.bias {
            out.extend_from_slice(&b.to_le_bytes());
        }
        out.extend(l.weights.iter().map(|&w| w as u8));
    }
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    decode_dense(&out)?;
    Ok(out)
}
