//! Bytes <-> [`Model`]: `MAGIC ++ version (u16 LE) ++ postcard(Model) ++ CRC-32 (u32 LE)`.
//!
//! postcard is not self-describing, so the version sits in a fixed prefix that is read before the
//! body is touched; the CRC covers every byte before it.
use crate::crc::crc32;
use crate::error::FormatError;
use crate::format::{Model, FORMAT_VERSION, MAGIC};
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
    let (model, rest) = postcard::take_from_bytes::<Model<'_>>(&covered[PREFIX_LEN..])
        .map_err(|_| FormatError::Body)?;
    if !rest.is_empty() {
        return Err(FormatError::TrailingBytes);
    }
    validate::model(&model)?;
    Ok(model)
}

/// Validates `model` and writes its bytes into `buf`, returning the length written.
pub fn encode_to_slice(model: &Model<'_>, buf: &mut [u8]) -> Result<usize, FormatError> {
    validate::model(model)?;
    if buf.len() < PREFIX_LEN + TRAILER_LEN {
        return Err(FormatError::BufferTooSmall);
    }
    buf[..4].copy_from_slice(&MAGIC);
    buf[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let body_cap = buf.len() - TRAILER_LEN;
    let body_len = postcard::to_slice(model, &mut buf[PREFIX_LEN..body_cap])
        .map_err(|_| FormatError::BufferTooSmall)?
        .len();
    let end = PREFIX_LEN + body_len;
    let crc = crc32(&buf[..end]);
    buf[end..end + TRAILER_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(end + TRAILER_LEN)
}

/// Validates `model` and returns its bytes.
#[cfg(feature = "alloc")]
pub fn encode_to_vec(model: &Model<'_>) -> Result<alloc::vec::Vec<u8>, FormatError> {
    validate::model(model)?;
    let body = postcard::to_allocvec(model).map_err(|_| FormatError::BufferTooSmall)?;
    let mut out = alloc::vec::Vec::with_capacity(PREFIX_LEN + body.len() + TRAILER_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&body);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}
