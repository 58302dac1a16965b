//! The link envelope around every message: a sequence number and a CRC, inside one COBS frame.
//!
//! `frame = COBS(seq (u16 LE) ++ postcard(message) ++ CRC-32 (u32 LE)) ++ 0x00`, where the CRC is
//! `snn_models::crc::crc32(seq ++ postcard(message))`. A reply carries the `seq` of the request
//! it answers, so the host can tell a reply from a stale or duplicated one; a flipped bit anywhere
//! in the frame fails the CRC (all errors of up to 3 bits in a frame up to 91,607 bits, and all
//! but `2^-32` of the rest) instead of decoding as a different but valid message.
use serde::Serialize;
use snn_models::crc::crc32;

/// Bytes of the sequence number in front of the message.
pub const SEQ_LEN: usize = 2;
/// Bytes of the CRC-32 after the message.
pub const CRC_LEN: usize = 4;
/// Envelope bytes around a message before COBS: `SEQ_LEN + CRC_LEN`.
pub const OVERHEAD: usize = SEQ_LEN + CRC_LEN;

/// Largest COBS frame (with its `0x00` terminator) for a message of at most `msg` bytes:
/// `n + ceil(n / 254) + 1` for `n = msg + OVERHEAD`.
pub const fn max_frame(msg: usize) -> usize {
    let n = msg + OVERHEAD;
    n + n.div_ceil(254) + 1
}

/// Why a frame does not yield a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The bytes are not valid COBS, or too short to hold a sequence number and a CRC.
    Malformed,
    /// The CRC does not match: the frame was damaged on the way. `seq` is what the frame's first
    /// two bytes say, which may be damaged too.
    Crc {
        /// The (unverified) sequence number.
        seq: u16,
    },
    /// The message does not fit the output buffer.
    TooLarge,
}

/// A checked frame: its sequence number, its CRC and the message bytes (postcard).
#[derive(Debug, PartialEq, Eq)]
pub struct Checked<'a> {
    /// The sequence number.
    pub seq: u16,
    /// The frame's CRC-32 (identifies the exact frame, e.g. to recognise a repeat).
    pub crc: u32,
    /// The postcard message.
    pub msg: &'a [u8],
}

/// Encodes `msg` with `seq` into `out` as one terminated frame, using `raw` as scratch for the
/// bytes before COBS; returns the frame length.
pub fn encode<T: Serialize + ?Sized>(
    seq: u16,
    msg: &T,
    raw: &mut [u8],
    out: &mut [u8],
) -> Result<usize, WireError> {
    let body = raw.get_mut(SEQ_LEN..).ok_or(WireError::TooLarge)?;
    let n = postcard::to_slice(msg, body)
        .map_err(|_| WireError::TooLarge)?
        .len();
    let covered = SEQ_LEN + n;
    raw.get_mut(..SEQ_LEN)
        .ok_or(WireError::TooLarge)?
        .copy_from_slice(&seq.to_le_bytes());
    let crc = crc32(raw.get(..covered).ok_or(WireError::TooLarge)?);
    raw.get_mut(covered..covered + CRC_LEN)
        .ok_or(WireError::TooLarge)?
        .copy_from_slice(&crc.to_le_bytes());
    let src = raw.get(..covered + CRC_LEN).ok_or(WireError::TooLarge)?;
    let k = cobs::try_encode(src, out).map_err(|_| WireError::TooLarge)?;
    *out.get_mut(k).ok_or(WireError::TooLarge)? = 0;
    Ok(k + 1)
}

/// Decodes one frame (COBS bytes without the terminator) in place and checks its CRC.
pub fn decode(frame: &mut [u8]) -> Result<Checked<'_>, WireError> {
    let n = cobs::decode_in_place(frame).map_err(|_| WireError::Malformed)?;
    let raw = frame.get(..n).ok_or(WireError::Malformed)?;
    if n < OVERHEAD {
        return Err(WireError::Malformed);
    }
    let (covered, tail) = raw.split_at(n - CRC_LEN);
    let seq = u16::from_le_bytes([covered[0], covered[1]]);
    let crc = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32(covered) != crc {
        return Err(WireError::Crc { seq });
    }
    Ok(Checked {
        seq,
        crc,
        msg: &covered[SEQ_LEN..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u16, msg: &[u8]) -> Vec<u8> {
        let mut raw = [0u8; 300];
        let mut out = [0u8; max_frame(290)];
        let n = encode(seq, msg, &mut raw, &mut out).unwrap();
        out[..n].to_vec()
    }

    #[test]
    fn round_trips_and_has_one_terminator() {
        let msg: Vec<u8> = (0..=255u8).collect();
        let f = frame(0xBEEF, &msg[..]);
        assert_eq!(f.iter().filter(|&&b| b == 0).count(), 1);
        assert_eq!(*f.last().unwrap(), 0);
        let mut body = f[..f.len() - 1].to_vec();
        let c = decode(&mut body).unwrap();
        assert_eq!(c.seq, 0xBEEF);
        let back: &[u8] = postcard::from_bytes(c.msg).unwrap();
        assert_eq!(back, &msg[..]);
    }

    #[test]
    fn every_single_bit_flip_is_caught() {
        let f = frame(7, &b"a result that must not change"[..]);
        let body = &f[..f.len() - 1];
        for i in 0..body.len() * 8 {
            let mut g = body.to_vec();
            g[i / 8] ^= 1 << (i % 8);
            assert!(decode(&mut g).is_err(), "flip of bit {i} went unnoticed");
        }
    }

    #[test]
    fn short_and_invalid_frames_are_malformed() {
        assert_eq!(decode(&mut []), Err(WireError::Malformed));
        assert_eq!(decode(&mut [0x03, 1, 2]), Err(WireError::Malformed));
        assert_eq!(decode(&mut [0xFF, 1, 2]), Err(WireError::Malformed));
        let mut raw = [0u8; 8];
        let mut out = [0u8; 64];
        assert_eq!(
            encode(1, &[0u8; 32][..], &mut raw, &mut out),
            Err(WireError::TooLarge)
        );
    }
}
