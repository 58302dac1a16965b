//! The dense int8 baseline: a non-spiking ReLU MLP stored in its own small file and run with
//! int8 weights, int8 activations and int32 accumulators (the thing an embedded engineer would
//! otherwise deploy, and what the spiking engine's cost is held against).
//!
//! Not the SNN format: its own magic `SNDM`, version and CRC-32 ([`decode_dense`]); no
//! allocation, no panic on any input. Arithmetic, identical on every core:
//!
//! - input: `x_i = feature_i >> 1` (the `u8` features, `0..=127`).
//! - layer: `acc_o = bias_o + Σ_i w_oi · x_i` in `i32`. Validation bounds `|bias| ≤ 2^30` and
//!   `inputs ≤ 4096`, so `|acc| ≤ 2^30 + 4096 · 128 · 127 < 2^31`: no sum can overflow, in any
//!   order, which is why the DSP kernel's pairwise `SMLAD` and the portable loop give the same bits.
//! - hidden layers requantise: `h_o = (acc_o · m) >> 32` (the high word of the 64-bit product,
//!   one `SMULL`), then `y_o = clamp((h_o + ⌊2^s / 2⌋) >> s, 0, 127)` (`0 < m < 2^31` the
//!   multiplier, `0 ≤ s ≤ 31` the shift, `>>` arithmetic, i.e. rounding half up; the clamp at 0
//!   is the ReLU). `m / 2^(32+s) ≈ s_in · s_w / s_out`, the float scales of input, weights and
//!   output.
//! - the last layer's `acc` are the logits; the prediction is the first index of the largest.
//!
//! Kernels (`kernel.rs`): one portable loop for every core, and on Arm cores with the DSP
//! extension (feature `arm-dsp`: Cortex-M4/M7/M33) the dual 16-bit MAC kernel in `dsp.rs`, the
//! one target-specific place.
mod codec;
#[cfg(all(feature = "arm-dsp", target_arch = "arm"))]
#[allow(unsafe_code)]
mod dsp;
mod kernel;

pub use codec::decode_dense;
#[cfg(feature = "alloc")]
pub use codec::{encode_dense, DenseLayerSpec};
pub use kernel::{infer, DenseBuffers};

/// The first four bytes of a dense model file.
pub const DENSE_MAGIC: [u8; 4] = *b"SNDM";
/// The dense format version this build writes and reads.
pub const DENSE_VERSION: u8 = 1;
/// Most layers a dense model may have.
pub const MAX_DENSE_LAYERS: usize = 8;
/// Most inputs or outputs of one layer.
pub const MAX_DENSE_WIDTH: usize = 4096;
/// Largest `|bias|`: `2^30`, so an accumulator cannot overflow (see the module doc).
pub const MAX_DENSE_BIAS: i32 = 1 << 30;

/// Why dense model bytes or an inference were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseError {
    /// Fewer bytes than the header and CRC need, or a layer runs past the end.
    TooShort,
    /// The first four bytes are not [`DENSE_MAGIC`].
    BadMagic,
    /// A version this build does not read.
    UnsupportedVersion(u8),
    /// The CRC-32 trailer does not match.
    CrcMismatch,
    /// Bytes left between the last layer and the CRC.
    TrailingBytes,
    /// Layer `layer` is inconsistent; `what` says how.
    Layer {
        /// Index of the layer.
        layer: u8,
        /// What is wrong.
        what: &'static str,
    },
    /// The input has not the model's input count.
    InputLength {
        /// Inputs the model takes.
        expected: usize,
        /// Features given.
        given: usize,
    },
    /// A caller buffer is smaller than [`DenseModel::max_width`] needs.
    BufferTooSmall,
}

impl core::fmt::Display for DenseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort => write!(f, "dense model truncated"),
            Self::BadMagic => write!(f, "not a dense model (magic is not SNDM)"),
            Self::UnsupportedVersion(v) => {
                write!(
                    f,
                    "dense model version {v} (this build reads {DENSE_VERSION})"
                )
            }
            Self::CrcMismatch => write!(f, "dense model CRC-32 mismatch"),
            Self::TrailingBytes => write!(f, "bytes after the last dense layer"),
            Self::Layer { layer, what } => write!(f, "dense layer {layer}: {what}"),
            Self::InputLength { expected, given } => {
                write!(
                    f,
                    "dense input has {given} features, the model takes {expected}"
                )
            }
            Self::BufferTooSmall => write!(f, "dense buffers smaller than the widest layer"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DenseError {}

/// One fully connected layer, borrowed from the model bytes.
#[derive(Debug, Clone, Copy)]
pub struct DenseLayer<'a> {
    /// Inputs.
    pub inputs: u16,
    /// Outputs.
    pub outputs: u16,
    /// Requantisation multiplier `m` (hidden layers; 0 on the last).
    pub multiplier: i32,
    /// Requantisation shift `s`, `0..=31` (hidden layers; 0 on the last).
    pub shift: u8,
    /// Hidden layer (requantised, ReLU) rather than the output layer.
    pub hidden: bool,
    /// `outputs` little-endian `i32` biases.
    bias: &'a [u8],
    /// `outputs × inputs` `i8` weights, row `o` = the weights into output `o`.
    weights: &'a [u8],
}

impl<'a> DenseLayer<'a> {
    /// Bias of output `o` (0 when out of range; validated models never ask).
    pub fn bias(&self, o: usize) -> i32 {
        match self.bias.get(4 * o..4 * o + 4) {
            Some(&[a, b, c, d]) => i32::from_le_bytes([a, b, c, d]),
            _ => 0,
        }
    }

    /// The `inputs` weights into output `o`, as stored bytes (`i8` two's complement).
    pub fn row(&self, o: usize) -> &'a [u8] {
        let n = usize::from(self.inputs);
        self.weights.get(o * n..(o + 1) * n).unwrap_or(&[])
    }

    /// Requantises a hidden accumulator: `clamp((((acc · m) >> 32) + ⌊2^s / 2⌋) >> s, 0, 127)`.
    #[inline(always)]
    pub fn requantise(&self, acc: i32) -> i8 {
        let s = u32::from(self.shift) & 31;
        let h = ((i64::from(acc) * i64::from(self.multiplier)) >> 32) as i32;
        // |h| < 2^30, so adding at most 2^30 cannot overflow.
        (h.wrapping_add((1i32 << s) >> 1) >> s).clamp(0, 127) as i8
    }

    /// The `outputs` little-endian `i32` biases, as stored.
    pub(super) fn bias_bytes(&self) -> &'a [u8] {
        self.bias
    }

    /// All weights, `outputs` rows of `inputs` bytes.
    pub(super) fn weights(&self) -> &'a [u8] {
        self.weights
    }
}

/// A validated dense model, borrowed from its bytes.
#[derive(Debug, Clone)]
pub struct DenseModel<'a> {
    /// The layers, input first.
    pub layers: heapless::Vec<DenseLayer<'a>, MAX_DENSE_LAYERS>,
}

impl DenseModel<'_> {
    /// Inputs of the first layer.
    pub fn inputs(&self) -> usize {
        self.layers.first().map_or(0, |l| usize::from(l.inputs))
    }

    /// Outputs of the last layer (logits).
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| usize::from(l.outputs))
    }

    /// Widest layer side: each [`DenseBuffers`] activation buffer needs this many entries.
    pub fn max_width(&self) -> usize {
        self.layers
            .iter()
            .map(|l| usize::from(l.inputs.max(l.outputs)))
            .max()
            .unwrap_or(0)
    }

    /// Multiply-accumulates per inference, `Σ inputs · outputs`.
    pub fn macs(&self) -> usize {
        self.layers
            .iter()
            .map(|l| usize::from(l.inputs) * usize::from(l.outputs))
            .sum()
    }
}
