//! Plain error enums of the `models` crate (no allocation, `Copy`).
use core::fmt;

/// Why model bytes were refused. Each variant names what is wrong and, where it applies, where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// Fewer bytes than the fixed prefix and CRC need.
    TooShort {
        /// Bytes given.
        len: usize,
    },
    /// The first four bytes are not `MAGIC`.
    BadMagic,
    /// The file was written by a newer format version than this build reads.
    UnsupportedVersion {
        /// Version in the file.
        found: u16,
        /// Newest version this build reads.
        supported: u16,
    },
    /// The CRC-32 trailer does not match the bytes before it.
    CrcMismatch {
        /// CRC stored in the file.
        stored: u32,
        /// CRC computed over the bytes.
        computed: u32,
    },
    /// The body's layer count (a varint after the header) is truncated or malformed.
    Body,
    /// Bytes were left between the decoded body and the CRC.
    TrailingBytes,
    /// A header field is out of range.
    Header(&'static str),
    /// A layer field is inconsistent; `layer` is its index.
    Layer {
        /// Index of the offending layer.
        layer: u8,
        /// What is wrong.
        what: &'static str,
    },
    /// The output buffer given to the encoder is too small.
    BufferTooSmall,
    /// The body lists more layers than [`crate::MAX_LAYERS`] (or an owned model has more).
    TooManyLayers {
        /// Layers found.
        found: usize,
    },
    /// A dense weight matrix handed to a builder does not have `pre * post` values, or a side
    /// exceeds 65535.
    DenseShape {
        /// Presynaptic count given.
        pre: usize,
        /// Postsynaptic count given.
        post: usize,
        /// Values given.
        given: usize,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len } => write!(f, "model is too short ({len} bytes)"),
            Self::BadMagic => write!(f, "not a model file (bad magic bytes)"),
            Self::UnsupportedVersion { found, supported } => write!(
                f,
                "model format version {found} is newer than this build reads (up to {supported}); upgrade the SDK/firmware"
            ),
            Self::CrcMismatch { stored, computed } => write!(
                f,
                "model is corrupt: CRC-32 is {computed:#010x}, file says {stored:#010x}"
            ),
            Self::Body => write!(f, "model body: layer count is truncated or malformed"),
            Self::TrailingBytes => write!(f, "unexpected bytes after the model body"),
            Self::Header(what) => write!(f, "invalid header: {what}"),
            Self::Layer { layer, what } => write!(f, "invalid layer {layer}: {what}"),
            Self::BufferTooSmall => write!(f, "output buffer too small for the encoded model"),
            Self::TooManyLayers { found } => write!(
                f,
                "model has {found} layers, at most {} are supported",
                crate::MAX_LAYERS
            ),
            Self::DenseShape { pre, post, given } => write!(
                f,
                "dense weights: {given} values given for a {pre} x {post} matrix \
                 (need pre * post, each side at most 65535)"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FormatError {}

/// Why the engine refused to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineError {
    /// A caller-provided state buffer is shorter than `Requirements` says.
    BufferTooSmall {
        /// Which buffer.
        buffer: &'static str,
        /// Elements needed.
        needed: usize,
        /// Elements given.
        given: usize,
    },
    /// An input spike index is not below the model's input size.
    InputIndex {
        /// The offending index.
        index: u16,
    },
    /// The input feature vector has the wrong length.
    InputLength {
        /// Expected number of features.
        expected: usize,
        /// Given number of features.
        given: usize,
    },
    /// More time steps were run than the model declares.
    TooManySteps,
    /// The input is of the wrong kind for the model's encoding; `needs` says what it takes.
    InputKind {
        /// What the model's encoding takes.
        needs: &'static str,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall {
                buffer,
                needed,
                given,
            } => {
                write!(
                    f,
                    "engine buffer `{buffer}` needs {needed} elements, got {given}"
                )
            }
            Self::InputIndex { index } => write!(f, "input spike index {index} is out of range"),
            Self::InputLength { expected, given } => {
                write!(f, "expected {expected} input features, got {given}")
            }
            Self::TooManySteps => write!(f, "more time steps than the model declares"),
            Self::InputKind { needs } => write!(f, "wrong kind of input: this model takes {needs}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EngineError {}
