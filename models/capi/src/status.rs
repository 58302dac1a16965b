//! Status codes returned by every entry point, their fixed messages, and the text of an error's
//! details (which layer, which buffer, which event) written into a caller buffer.
use core::fmt::{self, Write};
use snn_models::{EngineError, FormatError};

/// Result of an entry point: `SNN_OK` (0) or the reason it failed (positive, never reused).
///
/// The numbers are part of the ABI: a new failure gets a new number at the end.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the C names are SNN_OK, SNN_ERR_*
pub enum SnnStatus {
    /// Success.
    SnnOk = 0,
    /// A required pointer is NULL (a length of 0 allows NULL data).
    SnnErrNull = 1,
    /// The handle was never opened, its open failed, or it was moved/copied after opening.
    SnnErrNotOpen = 2,
    /// The model bytes are shorter than the fixed prefix and CRC.
    SnnErrModelTooShort = 3,
    /// The model bytes do not start with the magic `SNNM`.
    SnnErrBadMagic = 4,
    /// The model was written by a newer format version than this library reads.
    SnnErrUnsupportedVersion = 5,
    /// The model's CRC-32 does not match its bytes (corrupt or truncated).
    SnnErrCrcMismatch = 6,
    /// The model is malformed or inconsistent (details: `snn_model_error_text`).
    SnnErrInvalidModel = 7,
    /// The RAM given to `snn_engine_open` is not 4-byte aligned, or a handle or buffer pointer
    /// is not aligned for its type.
    SnnErrMisaligned = 8,
    /// The RAM given to `snn_engine_open` is smaller than `ram_bytes`.
    SnnErrRamTooSmall = 9,
    /// A caller output buffer is smaller than the result.
    SnnErrBufferTooSmall = 10,
    /// An input spike index is not below the model's `input_size`.
    SnnErrInputIndex = 11,
    /// Wrong number of features, or more input spikes in one step than `input_size`.
    SnnErrInputLength = 12,
    /// More steps than the model's `time_steps` since the last reset.
    SnnErrTooManySteps = 13,
    /// An event's `t` is below the previous event's or not below `time_steps`.
    SnnErrEventOrder = 14,
    /// A layer index is not below the model's layer count.
    SnnErrLayerIndex = 15,
    /// The model the engine was opened on has been re-opened on other bytes since.
    SnnErrModelChanged = 16,
    /// The model's last layer spikes: it has no non-spiking readout values.
    SnnErrNoReadout = 17,
    /// Real-valued input (`snn_step_values`, `snn_step_raw`) for a model that takes `u8`
    /// features or spikes (its `snn_model_channels` is 0).
    SnnErrInputKind = 18,
    /// A raw sample exponent outside -60..=60 (`snn_step_raw`).
    SnnErrRawExponent = 19,
    /// A decision rule parameter is out of range: window width 0, threshold 0, or a model
    /// whose classes times neurons per class is 0 or above 65535.
    SnnErrDecisionParam = 20,
    /// A spike-count decision rule on a model whose last layer is a non-spiking readout (it
    /// decides on `snn_readout` / `snn_predicted_class`).
    SnnErrReadoutRule = 21,
}

impl SnnStatus {
    /// Every status, in numeric order (for tests and the message table).
    pub const ALL: [SnnStatus; 22] = [
        Self::SnnOk,
        Self::SnnErrNull,
        Self::SnnErrNotOpen,
        Self::SnnErrModelTooShort,
        Self::SnnErrBadMagic,
        Self::SnnErrUnsupportedVersion,
        Self::SnnErrCrcMismatch,
        Self::SnnErrInvalidModel,
        Self::SnnErrMisaligned,
        Self::SnnErrRamTooSmall,
        Self::SnnErrBufferTooSmall,
        Self::SnnErrInputIndex,
        Self::SnnErrInputLength,
        Self::SnnErrTooManySteps,
        Self::SnnErrEventOrder,
        Self::SnnErrLayerIndex,
        Self::SnnErrModelChanged,
        Self::SnnErrNoReadout,
        Self::SnnErrInputKind,
        Self::SnnErrRawExponent,
        Self::SnnErrDecisionParam,
        Self::SnnErrReadoutRule,
    ];

    /// The fixed message of `code`, NUL-terminated (any `i32`: unknown codes get their own text).
    pub fn message(code: i32) -> &'static str {
        let Some(s) = usize::try_from(code).ok().and_then(|i| Self::ALL.get(i)) else {
            return "unknown status code\0";
        };
        match s {
            Self::SnnOk => "ok\0",
            Self::SnnErrNull => "a required pointer is NULL\0",
            Self::SnnErrNotOpen => "handle is not open (never opened, open failed, or moved)\0",
            Self::SnnErrModelTooShort => "model is too short to be a model file\0",
            Self::SnnErrBadMagic => "not a model file (bad magic bytes)\0",
            Self::SnnErrUnsupportedVersion => {
                "model format version is newer than this library reads\0"
            }
            Self::SnnErrCrcMismatch => "model is corrupt (CRC-32 mismatch)\0",
            Self::SnnErrInvalidModel => "model is malformed or inconsistent\0",
            Self::SnnErrMisaligned => {
                "engine RAM is not 4-byte aligned (or a pointer is misaligned for its type)\0"
            }
            Self::SnnErrRamTooSmall => "engine RAM is smaller than the model's ram_bytes\0",
            Self::SnnErrBufferTooSmall => "output buffer is too small\0",
            Self::SnnErrInputIndex => "input spike index is not below input_size\0",
            Self::SnnErrInputLength => "wrong number of input features or spikes\0",
            Self::SnnErrTooManySteps => "more steps than the model's time_steps; reset first\0",
            Self::SnnErrEventOrder => "event times must be non-decreasing and below time_steps\0",
            Self::SnnErrLayerIndex => "layer index is out of range\0",
            Self::SnnErrModelChanged => "the engine's model was re-opened; open the engine again\0",
            Self::SnnErrNoReadout => "the model's last layer spikes: it has no readout values\0",
            Self::SnnErrInputKind => {
                "the model takes u8 features or spikes, not real-valued channels\0"
            }
            Self::SnnErrRawExponent => "raw sample exponent is outside -60..=60\0",
            Self::SnnErrDecisionParam => {
                "decision rule parameter out of range (window width or threshold 0, or classes)\0"
            }
            Self::SnnErrReadoutRule => {
                "the model ends in a readout: decide with snn_predicted_class, not spike counts\0"
            }
        }
    }
}

impl From<FormatError> for SnnStatus {
    fn from(e: FormatError) -> Self {
        match e {
            FormatError::TooShort { .. } => Self::SnnErrModelTooShort,
            FormatError::BadMagic => Self::SnnErrBadMagic,
            FormatError::UnsupportedVersion { .. } => Self::SnnErrUnsupportedVersion,
            FormatError::CrcMismatch { .. } => Self::SnnErrCrcMismatch,
            _ => Self::SnnErrInvalidModel,
        }
    }
}

impl From<EngineError> for SnnStatus {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::BufferTooSmall { .. } => Self::SnnErrRamTooSmall,
            EngineError::InputIndex { .. } => Self::SnnErrInputIndex,
            EngineError::InputLength { .. } => Self::SnnErrInputLength,
            EngineError::TooManySteps => Self::SnnErrTooManySteps,
            _ => Self::SnnErrInvalidModel,
        }
    }
}

/// What went wrong in an engine call, kept for `snn_engine_error_text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Nothing failed yet.
    None,
    /// A bare status (no more to say than its message).
    Status(SnnStatus),
    /// The engine refused.
    Engine(EngineError),
    /// Event `position` has time `t`, below the one before it or not below `time_steps`.
    Event {
        /// Index of the event in the caller's array.
        position: usize,
        /// Its time step.
        t: u16,
        /// The model's time steps.
        time_steps: u16,
    },
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("no error"),
            Self::Status(s) => f.write_str(SnnStatus::message(*s as i32).trim_end_matches('\0')),
            Self::Engine(e) => write!(f, "{e}"),
            Self::Event {
                position,
                t,
                time_steps,
            } => write!(
                f,
                "event {position}: t = {t} is below the previous event's t or not below \
                 time_steps = {time_steps}"
            ),
        }
    }
}

/// Writes `text` into `buf` as a NUL-terminated C string, truncated to fit; returns the bytes
/// written before the NUL (0 for an empty buffer).
pub fn write_c_string(buf: &mut [u8], text: impl fmt::Display) -> usize {
    struct Cursor<'a> {
        buf: &'a mut [u8],
        len: usize,
    }
    impl Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            // Room for the bytes that fit, always keeping one for the NUL.
            let room = self.buf.len().saturating_sub(1).saturating_sub(self.len);
            let n = s.len().min(room);
            if let (Some(dst), Some(src)) = (
                self.buf.get_mut(self.len..self.len + n),
                s.as_bytes().get(..n),
            ) {
                dst.copy_from_slice(src);
                self.len += n;
            }
            Ok(())
        }
    }
    if buf.is_empty() {
        return 0;
    }
    let mut c = Cursor { buf, len: 0 };
    let _ = write!(c, "{text}");
    let len = c.len;
    if let Some(b) = c.buf.get_mut(len) {
        *b = 0;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_nul_terminated_message() {
        for (i, s) in SnnStatus::ALL.iter().enumerate() {
            assert_eq!(*s as i32, i as i32, "codes are dense and in order");
            let m = SnnStatus::message(i as i32);
            assert!(m.ends_with('\0') && m.len() > 1 && !m[..m.len() - 1].contains('\0'));
            for j in 0..i {
                assert_ne!(m, SnnStatus::message(j as i32), "codes {i} and {j}");
            }
        }
        assert_eq!(SnnStatus::message(-1), "unknown status code\0");
        assert_eq!(SnnStatus::message(22), "unknown status code\0");
        assert_eq!(SnnStatus::message(i32::MAX), "unknown status code\0");
    }

    #[test]
    fn c_strings_are_truncated_and_terminated() {
        let mut buf = [0xAAu8; 8];
        assert_eq!(write_c_string(&mut buf, "hello world"), 7);
        assert_eq!(&buf, b"hello w\0");
        assert_eq!(write_c_string(&mut buf[..1], "x"), 0);
        assert_eq!(buf[0], 0);
        assert_eq!(write_c_string(&mut [], "x"), 0);
        let mut buf = [0u8; 64];
        let n = write_c_string(
            &mut buf,
            Detail::Event {
                position: 3,
                t: 9,
                time_steps: 5,
            },
        );
        assert!(core::str::from_utf8(&buf[..n])
            .unwrap()
            .starts_with("event 3: t = 9"));
    }
}
