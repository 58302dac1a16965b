//! Bytes <-> [`Model`]: `MAGIC ++ version (u16 LE) ++ postcard(Model) ++ CRC-32 (u32 LE)`.
//!
//! postcard is not self-describing, so the version sits in a fixed prefix that is read before the
//! body is touched; the CRC covers every byte before it. A version-1 body is the header and the
//! layers; version 2 appends the [`Channels`] section, version 3 the synapse section (one
//! [`crate::format::Synapse`] per layer, or none) and, optionally, the output section (one
//! [`Output`], only when the last layer is a readout; a version-3 body that ends after the
//! synapses has [`Output::Spikes`]). The writer uses the oldest version that holds the model
//! ([`Model::min_version`]).
use crate::crc::crc32;
use crate::error::FormatError;
use crate::format::{
    Channels, Header, Layer, Model, Output, Synapses, CHANNELS_VERSION, FORMAT_VERSION, MAGIC,
    MAX_LAYERS, SYNAPSES_VERSION,
};
use crate::validate;

/// Bytes before the postcard body: magic (4) and version (2).
pub const PREFIX_LEN: usize = 6;
/// Bytes after the body: the CRC-32.
pub const TRAILER_LEN: usize = 4;

/// Decodes and fully validates model bytes, borrowing from them (zero-copy). Never panics.
pub fn decode(bytes: &[u8]) -> Result<Model<'_>, FormatError> {
    if bytes.len() < PREFIX_LEN + TRAILER_LEN {
        return Err(FormatError::TooShort { len: bytes.len() });
    }
    if bytes[..4] != MAGIC {
        return Err(FormatError::BadMagic);
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version > FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version == 0 {
        return Err(FormatError::Header("format version 0 does not exist"));
    }
    let (covered, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
    let stored = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let computed = crc32(covered);
    if stored != computed {
        return Err(FormatError::CrcMismatch { stored, computed });
    }
    // One arm per supported version: when the layout changes, the old arm stays so older files
    // keep loading (FORMAT.md, "Version policy").
    let model = match version {
        1 => body(&covered[PREFIX_LEN..], 1)?,
        2 => body(&covered[PREFIX_LEN..], 2)?,
        3 => body(&covered[PREFIX_LEN..], 3)?,
        _ => {
            return Err(FormatError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            })
        }
    };
    validate::model(&model)?;
    Ok(model)
}

/// Decodes a postcard body piece by piece so an error names the part that is malformed.
///
/// The wire bytes are exactly `postcard(Model)`: the header's fields, then the layer count as a
/// varint, then each layer's fields (postcard writes a struct as its fields in order), then
/// (version 2 and later) the channel constants, then (version 3) the synapse count as a varint
/// and each layer's synapse; a version-1 body stops after the layers.
fn body(bytes: &[u8], version: u16) -> Result<Model<'_>, FormatError> {
    let (header, rest) = postcard::take_from_bytes::<Header<'_>>(bytes)
        .map_err(|e| FormatError::Header(header_fault(e)))?;
    let (count, mut rest) =
        postcard::take_from_bytes::<u32>(rest).map_err(|_| FormatError::Body)?;
    if count as usize > MAX_LAYERS {
        return Err(FormatError::TooManyLayers {
            found: count as usize,
        });
    }
    let mut layers = heapless::Vec::new();
    for i in 0..count as u8 {
        let (layer, tail) =
            postcard::take_from_bytes::<Layer<'_>>(rest).map_err(|e| FormatError::Layer {
                layer: i,
                what: layer_fault(e),
            })?;
        // Cannot fail: `count <= MAX_LAYERS` was checked above.
        layers.push(layer).map_err(|_| FormatError::TooManyLayers {
            found: count as usize,
        })?;
        rest = tail;
    }
    let mut channels = Channels::default();
    if version >= CHANNELS_VERSION {
        let (c, tail) = postcard::take_from_bytes::<Channels<'_>>(rest)
            .map_err(|_| FormatError::Header("channel constants are truncated or malformed"))?;
        channels = c;
        rest = tail;
    }
    let mut synapses = Synapses::default();
    if version >= SYNAPSES_VERSION {
        let (s, tail) = Synapses::take(rest).map_err(|e| {
            FormatError::Header(match e {
                postcard::Error::SerdeDeCustom | postcard::Error::DeserializeBadEnum => {
                    "a layer synapse has an unknown variant"
                }
                _ => "the synapse section is truncated, malformed or longer than 8 layers",
            })
        })?;
        // A count of 0 (written when a readout model has no synapse entries) is no section.
        if !s.is_empty() {
            synapses = s;
        }
        rest = tail;
    }
    let mut output = Output::Spikes;
    if version >= SYNAPSES_VERSION && !rest.is_empty() {
        let (o, tail) = postcard::take_from_bytes::<Output>(rest)
            .map_err(|_| FormatError::Header("the output section has an unknown variant"))?;
        output = o;
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(FormatError::TrailingBytes);
    }
    Ok(Model {
        header,
        layers,
        channels,
        synapses,
        output,
    })
}

/// The bytes a version-3 body has after the channel constants: the synapse section (a count of
/// 0 when a readout model has no entries) and, for a readout, the output section.
fn v3_tail<'a>(model: &Model<'a>) -> ([&'a [u8]; 2], Option<u8>) {
    let syn = model.synapses.0 .0;
    let syn: [&[u8]; 2] = if syn.is_empty() {
        [&[0], &[]]
    } else {
        [syn, &[]]
    };
    // postcard writes a unit variant as its index, one varint byte.
    let out = match model.output {
        Output::Spikes => None,
        Output::MaxMembrane => Some(1),
    };
    (syn, out)
}

/// The postcard body of `model` in the layout of `version` into `buf`; returns its length.
fn write_body(model: &Model<'_>, version: u16, buf: &mut [u8]) -> Result<usize, FormatError> {
    let len = if version >= SYNAPSES_VERSION {
        let head = postcard::to_slice(&(&model.header, &model.layers, &model.channels), buf)
            .map_err(|_| FormatError::BufferTooSmall)?
            .len();
        let (syn, out) = v3_tail(model);
        let mut end = head;
        for part in syn.iter().chain([out.as_slice()].iter()) {
            let dst = buf
                .get_mut(end..end + part.len())
                .ok_or(FormatError::BufferTooSmall)?;
            dst.copy_from_slice(part);
            end += part.len();
        }
        return Ok(end);
    } else if version >= CHANNELS_VERSION {
        postcard::to_slice(&(&model.header, &model.layers, &model.channels), buf)
    } else {
        postcard::to_slice(&(&model.header, &model.layers), buf)
    }
    .map_err(|_| FormatError::BufferTooSmall)?
    .len();
    Ok(len)
}

/// What a postcard error means inside the header.
fn header_fault(e: postcard::Error) -> &'static str {
    use postcard::Error as E;
    match e {
        E::DeserializeUnexpectedEnd => "header is truncated",
        E::DeserializeBadVarint => "header has a malformed varint",
        E::DeserializeBadUtf8 => "name is not valid UTF-8",
        E::SerdeDeCustom | E::DeserializeBadEnum => "encoding has an unknown variant",
        _ => "header is malformed",
    }
}

/// What a postcard error means inside a layer.
fn layer_fault(e: postcard::Error) -> &'static str {
    use postcard::Error as E;
    match e {
        E::DeserializeUnexpectedEnd => "layer bytes are truncated",
        E::DeserializeBadVarint => "layer has a malformed varint",
        E::DeserializeBadOption => "an Option tag (recurrent or bias) is neither 0 nor 1",
        E::SerdeDeCustom | E::DeserializeBadEnum => "unknown variant of weights, leak or reset",
        _ => "layer is malformed",
    }
}

/// Validates `model` and writes its bytes into `buf`, returning the length written.
pub fn encode_to_slice(model: &Model<'_>, buf: &mut [u8]) -> Result<usize, FormatError> {
    validate::model(model)?;
    if buf.len() < PREFIX_LEN + TRAILER_LEN {
        return Err(FormatError::BufferTooSmall);
    }
    let version = model.min_version();
    buf[..4].copy_from_slice(&MAGIC);
    buf[4..6].copy_from_slice(&version.to_le_bytes());
    let body_cap = buf.len() - TRAILER_LEN;
    let body_len = write_body(model, version, &mut buf[PREFIX_LEN..body_cap])?;
    let end = PREFIX_LEN + body_len;
    let crc = crc32(&buf[..end]);
    buf[end..end + TRAILER_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(end + TRAILER_LEN)
}

/// Validates `model` and returns its bytes.
#[cfg(feature = "alloc")]
pub fn encode_to_vec(model: &Model<'_>) -> Result<alloc::vec::Vec<u8>, FormatError> {
    validate::model(model)?;
    let version = model.min_version();
    let body = if version >= SYNAPSES_VERSION {
        postcard::to_allocvec(&(&model.header, &model.layers, &model.channels)).map(|mut b| {
            let (syn, out) = v3_tail(model);
            syn.iter().for_each(|p| b.extend_from_slice(p));
            b.extend(out);
            b
        })
    } else if version >= CHANNELS_VERSION {
        postcard::to_allocvec(&(&model.header, &model.layers, &model.channels))
    } else {
        postcard::to_allocvec(&(&model.header, &model.layers))
    }
    .map_err(|_| FormatError::BufferTooSmall)?;
    let mut out = alloc::vec::Vec::with_capacity(PREFIX_LEN + body.len() + TRAILER_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&body);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}
