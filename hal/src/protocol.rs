//! The host link protocol: postcard messages, one per COBS frame (terminated by a `0x00` byte),
//! each inside the [`crate::wire`] envelope (sequence number and CRC-32).
//!
//! The host sends a [`Request`], the device answers each complete frame with exactly one
//! [`Reply`] carrying the request's sequence number. A frame whose CRC fails gets
//! [`ErrorCode::BadCrc`]; a repeat of the last request (same sequence number and CRC, i.e. a
//! host retry after a lost reply) gets the same reply again without being run twice, so an
//! upload chunk is never applied twice. A model is uploaded in three steps: [`Request::LoadBegin`] (total length and CRC-32
//! of the model file), [`Request::LoadChunk`] in order (offset = bytes sent so far), then
//! [`Request::LoadEnd`], after which the device checks the CRC, decodes and validates the model.
//! Anything wrong (garbage, truncated or oversized frames, requests out of order, a bad model)
//! gets a [`Reply::Error`] and the device keeps serving.
use heapless::{String, Vec};
use serde::{Deserialize, Serialize};
use snn_models::MAX_LAYERS;

/// Protocol revision; bumped on any incompatible message change (3: streams; 4: the readout
/// values of a model ending in a non-spiking readout, [`Request::Readout`]).
pub const PROTOCOL_VERSION: u16 = 4;
/// The first protocol version with [`Request::Readout`] / [`Reply::Readout`].
pub const READOUT_PROTOCOL: u16 = 4;
/// Most classes a [`ReadoutReply`] carries (a readout model with more is refused by
/// [`Request::Readout`]).
pub const MAX_READOUT: usize = 32;
/// Largest decoded (postcard) request the device accepts, bytes.
pub const MAX_REQUEST: usize = 1024;
/// Largest encoded request frame on the wire: the envelope, COBS (one byte per 254) and the
/// terminator around [`MAX_REQUEST`].
pub const MAX_FRAME: usize = crate::wire::max_frame(MAX_REQUEST);
/// Model bytes per [`Request::LoadChunk`] the host should send (fits [`MAX_REQUEST`] with room).
pub const CHUNK: usize = 512;
/// Most output neurons a [`InferResult`] reports.
pub const MAX_OUTPUTS: usize = 256;
/// Longest error reason, bytes of UTF-8.
pub const MAX_REASON: usize = 96;
/// Longest model name (as in the model format).
pub const MAX_NAME: usize = 64;
/// Bytes per input event in [`Input::Events`]: `t` (u16 LE) then `index` (u16 LE).
pub const EVENT_BYTES: usize = 4;
/// The word that ends a step in [`StreamInput::Events`] (never an input index).
pub const STEP_END: u16 = 0xFFFF;
/// Entries of [`StreamReply::spikes`]: per step its spike count, then the spiking output indices.
pub const MAX_STREAM_SPIKES: usize = 256;
/// Most steps one [`Request::StreamPush`] may carry (every step takes at least two entries of
/// [`StreamReply::spikes`]).
pub const MAX_STREAM_STEPS: usize = MAX_STREAM_SPIKES / 2;
/// Classes the firmware keeps decision storage for (`CpuBackend::with_rule_storage`: three
/// `u32` counts per class); a model with more streams without decisions.
pub const MAX_DECISION_CLASSES: usize = 32;
/// Slots of the firmware's sliding-window ring: `window * classes <= MAX_DECISION_RING`
/// (e.g. 128 steps of 4 classes, 56 of 9).
pub const MAX_DECISION_RING: usize = 512;
/// Most output neurons of a model that streams (the running counts of a [`StreamReply`]).
pub const MAX_STREAM_OUTPUTS: usize = 128;
/// Largest decoded (postcard) reply, bytes: an [`InferResult`] with every output, or a
/// [`StreamReply`] of [`stream_steps`] steps, fits.
pub const MAX_REPLY: usize = 1150;
/// Bytes of a [`StreamReply`] besides its spike entries and counts, worst case (steps, cost,
/// maximum step cost, lengths, decisions, the reply's tag), with room.
const STREAM_FIXED: usize = 64;

/// Most steps one [`Request::StreamPush`] may carry for a model with `outputs` output neurons,
/// so that the reply (every step's spikes in the worst case, its window decision, every running
/// count) fits [`MAX_REPLY`]: `min(MAX_STREAM_SPIKES / (outputs + 1), (MAX_REPLY - 64 -
/// 3 outputs) / (b (outputs + 1) + 1))`, with `b` the postcard bytes of an entry (1 below 128
/// outputs, else 2). At least 1 up to [`MAX_STREAM_OUTPUTS`] outputs, 0 above (such a model
/// does not stream).
pub const fn stream_steps(outputs: usize) -> usize {
    if outputs > MAX_STREAM_OUTPUTS {
        return 0;
    }
    let per_step = outputs + 1;
    let entry = if outputs < 128 { 1 } else { 2 };
    let room = MAX_REPLY - STREAM_FIXED - 3 * outputs;
    let by_bytes = room / (entry * per_step + 1);
    let by_slots = MAX_STREAM_SPIKES / per_step;
    if by_bytes < by_slots {
        by_bytes
    } else {
        by_slots
    }
}

/// A request from the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request<'a> {
    /// Ask for [`Reply::Info`].
    Info,
    /// Start a model upload of `len` bytes whose CRC-32 (IEEE, as in the model file) is `crc`.
    /// Any model already loaded is dropped.
    LoadBegin {
        /// Total model file length, bytes.
        len: u32,
        /// CRC-32 of the whole model file.
        crc: u32,
    },
    /// The next piece of the model file; `offset` must equal the bytes received so far.
    LoadChunk {
        /// Position of `bytes` in the model file.
        offset: u32,
        /// The bytes (at most [`CHUNK`] recommended).
        #[serde(borrow)]
        bytes: &'a [u8],
    },
    /// Finish the upload: check length and CRC, decode and validate the model.
    LoadEnd,
    /// Run one sample through the loaded model.
    Infer {
        /// Sample seed for the rate encoder (the host uses the same one).
        sample_seed: u32,
        /// The sample.
        #[serde(borrow)]
        input: Input<'a>,
    },
    /// Reset the board (answered with `Ack { received: 0 }` first): a model stored in flash
    /// comes back, one only in RAM is gone.
    Reset,
    /// Begin a stream on the loaded model (answered with [`Reply::Stream`], no steps run).
    /// `reset`: put every membrane, spike list and running count at rest; otherwise keep the
    /// state the last stream left (refused with [`ErrorCode::NoStream`] when there is none: no
    /// stream since the model was loaded, or an [`Request::Infer`] ran since).
    StreamBegin {
        /// The host's [`PROTOCOL_VERSION`]; a different one is refused with
        /// [`ErrorCode::Version`], naming both.
        protocol: u16,
        /// Start from rest (true) or keep the state (false).
        reset: bool,
        /// Unit of raw `i16` samples in [`StreamInput::Values`]: `x = raw * 2^exp`
        /// (`snn_models::encode::raw_unit`, -60..=60).
        exp: i8,
        /// Sliding-window decision over the last `window` steps at every step (0: none;
        /// `window * classes <= MAX_DECISION_RING`). Ignored when keeping state.
        window: u16,
        /// First-to-threshold decision at `threshold` spikes of one class (0: none). Ignored
        /// when keeping state.
        threshold: u32,
    },
    /// The next steps of the stream: run them, answer each step's output spikes and the
    /// running counts ([`Reply::Stream`]). At most [`stream_steps`]`(outputs)` steps.
    StreamPush {
        /// The steps.
        #[serde(borrow)]
        input: StreamInput<'a>,
    },
    /// The readout values of the last [`Request::Infer`], or of the stream's steps since its
    /// reset, of a model ending in a non-spiking readout (format v3 `Output::MaxMembrane`):
    /// answered by [`Reply::Readout`] (protocol 4; a device of an older protocol cannot decode
    /// it, so the host checks `Info` first).
    Readout,
}

/// Steps of a stream's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamInput<'a> {
    /// Input spikes: `u16` LE words, each step's input indices (below `input_size`, at most
    /// `input_size` of them) followed by [`STEP_END`]; a silent step is a lone [`STEP_END`].
    /// The number of [`STEP_END`] words is the number of steps; trailing words are refused.
    Events(#[serde(borrow)] &'a [u8]),
    /// Raw channel samples: `i16` LE, one per channel per step (`2 * channels` bytes a step),
    /// encoded on the device with the model's per-channel constants
    /// (`snn_models::Engine::step_raw`, unit `2^exp` from [`Request::StreamBegin`]).
    Values(#[serde(borrow)] &'a [u8]),
}

/// One sample's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input<'a> {
    /// Raw `u8` features (one frame, or `time_steps` frames), encoded on the device with the
    /// model's encoding and the sample seed.
    Features(#[serde(borrow)] &'a [u8]),
    /// Input spikes given directly: [`EVENT_BYTES`] per event, `t` then `index`, both u16 LE,
    /// `t` non-decreasing and below `time_steps`, `index` below `input_size`.
    Events(#[serde(borrow)] &'a [u8]),
}

/// What the device's cost counter counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CostUnit {
    /// Core clock cycles (DWT CYCCNT on a real board).
    Cycles,
    /// Executed instructions (SysTick under `qemu -icount shift=0`, resolution 40).
    Instructions,
    /// No counter: costs read 0.
    None,
}

/// A reply from the device. `S` is what a [`Reply::Stream`] holds and `R` what a
/// [`Reply::Result`] holds: the [`StreamReply`] and [`InferResult`] themselves (the host's
/// decoded reply), or on the device references to the ones it keeps (same bytes on the wire),
/// so no large reply is ever copied onto the device's stack.
// No allocator on the device, so the large result is not boxed; one reply lives at a time.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply<S = StreamReply, R = InferResult> {
    /// Device and model description.
    Info(Info),
    /// The upload step was accepted; `received` bytes so far.
    Ack {
        /// Model bytes received so far in the current upload.
        received: u32,
    },
    /// The uploaded model is loaded and valid.
    Loaded(ModelInfo),
    /// Result of one [`Request::Infer`].
    Result(R),
    /// The request failed; the device keeps serving.
    Error(ErrorReply),
    /// Outcome of [`Request::StreamBegin`] (no steps) or [`Request::StreamPush`].
    Stream(S),
    /// Answer to [`Request::Readout`].
    Readout(ReadoutReply),
}

/// The readout values of the last inference of a model ending in a non-spiking readout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadoutReply {
    /// Per class the maximum of its readout membrane over the inference's steps (`i32` in the
    /// last layer's units `2^-shift`, `snn_models::Engine::readout`).
    pub values: Vec<i32, MAX_READOUT>,
    /// The class decided on them (`snn_models::decision::readout_class`: the largest value,
    /// ties to the lower class), the same as that inference's [`InferResult::predicted`].
    pub predicted: u16,
}

/// The outcome of the steps of one [`Request::StreamPush`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamReply {
    /// Steps of the stream since its last reset, this push's included.
    pub steps: u32,
    /// Output spikes of every step of this push, in order: the step's spike count `k`, then
    /// its `k` spiking output neuron indices (ascending).
    pub spikes: Vec<u16, MAX_STREAM_SPIKES>,
    /// Running spike count of each output neuron since the stream's reset (saturating).
    pub counts: Vec<u16, MAX_STREAM_OUTPUTS>,
    /// Cost of this push's steps in [`Info::cost_unit`]: the sum over its steps of the
    /// encoding and the network step (decoding the request and replying are not counted).
    pub cost: u64,
    /// Largest cost of one step of this push.
    pub step_cost_max: u64,
    /// The decisions (`snn_models::decision`, the host's code), when the device holds them for
    /// the model's classes (the firmware: up to [`MAX_DECISION_CLASSES`]); else `None`.
    pub decisions: Option<StreamDecisions>,
}

/// The decision rules of a stream after the steps of one push.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamDecisions {
    /// Final count: the class with most spikes since the stream's reset (ties and silence: the
    /// lowest class).
    pub final_count: u16,
    /// Sliding window: after each step of this push, `class + 1`, or 0 while the window holds
    /// no output spike; empty when the stream has no window.
    pub window: Vec<u8, MAX_STREAM_STEPS>,
    /// First to threshold, once a class reached it (sticky until a reset): the class and the
    /// 1-based step of the stream at which it did.
    pub first: Option<(u16, u32)>,
}

impl StreamReply {
    /// An empty reply (no steps yet).
    pub const fn new() -> Self {
        Self {
            steps: 0,
            spikes: Vec::new(),
            counts: Vec::new(),
            cost: 0,
            step_cost_max: 0,
            decisions: None,
        }
    }

    /// The output spikes of each step of this push.
    pub fn steps_spikes(&self) -> StepSpikes<'_> {
        StepSpikes(&self.spikes)
    }
}

impl Default for StreamReply {
    fn default() -> Self {
        Self::new()
    }
}

/// Iterator over the steps of [`StreamReply::spikes`]: one slice of output indices per step.
#[derive(Clone, Debug)]
pub struct StepSpikes<'a>(&'a [u16]);

impl<'a> Iterator for StepSpikes<'a> {
    type Item = &'a [u16];
    fn next(&mut self) -> Option<&'a [u16]> {
        let (&k, rest) = self.0.split_first()?;
        let k = usize::from(k).min(rest.len());
        let (step, rest) = rest.split_at(k);
        self.0 = rest;
        Some(step)
    }
}

/// Device description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// Firmware version (crate version).
    pub firmware: String<16>,
    /// Board name.
    pub board: String<24>,
    /// [`PROTOCOL_VERSION`] of the firmware.
    pub protocol: u16,
    /// Model format version the firmware reads (`snn_models::FORMAT_VERSION`).
    pub format_version: u16,
    /// The loaded model, if any.
    pub model: Option<ModelInfo>,
    /// RAM not used by static data (stack and free space), bytes.
    pub free_ram: u32,
    /// Largest model file the device accepts, bytes.
    pub max_model_bytes: u32,
    /// Most neurons (all layers together) the device's state buffers hold; a current-based
    /// layer's neurons (format v3) count twice, membrane and current, and so do a readout's
    /// (membrane and running maximum).
    pub max_neurons: u32,
    /// Largest `input_size` the device accepts.
    pub max_inputs: u32,
    /// What [`InferResult::cost`] counts.
    pub cost_unit: CostUnit,
    /// Whether the device refuses models without a valid Ed25519 signature (built with a key).
    pub signatures_required: bool,
    /// Deepest stack use since boot, bytes (stack painting; 0 when not measured).
    pub stack_peak: u32,
    /// Stack size available, bytes (0 when not measured).
    pub stack_size: u32,
}

/// The loaded model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model name from its header.
    pub name: String<MAX_NAME>,
    /// CRC-32 of the model file.
    pub crc: u32,
    /// Model file length, bytes.
    pub bytes: u32,
    /// Inputs of the first layer.
    pub input_size: u16,
    /// Time steps per inference.
    pub time_steps: u16,
    /// Number of layers.
    pub layers: u8,
    /// Neurons of all layers.
    pub neurons: u32,
    /// Output neurons.
    pub outputs: u16,
}

/// Per-layer outcome of one inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerResult {
    /// Spikes of the layer over all steps.
    pub spikes: u32,
    /// Whether the mean rate lies within the layer's stored rate budget.
    pub budget_ok: bool,
}

/// Outcome of one inference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferResult {
    /// Spike count of each output neuron.
    pub counts: Vec<u16, MAX_OUTPUTS>,
    /// Predicted class (population with most spikes, ties to the lower class).
    pub predicted: u16,
    /// Per layer, input to output.
    pub layers: Vec<LayerResult, MAX_LAYERS>,
    /// Time steps run.
    pub steps: u16,
    /// Input spikes fed to the first layer.
    pub input_spikes: u32,
    /// Synaptic events (weights accumulated).
    pub synaptic_events: u64,
    /// Cost of the inference in [`Info::cost_unit`].
    pub cost: u64,
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not valid COBS or not a valid request.
    BadFrame,
    /// The frame is longer than [`MAX_FRAME`].
    FrameTooLong,
    /// A chunk or end arrived with no upload in progress.
    NoUpload,
    /// A chunk's offset is not the number of bytes received so far, or runs past the length.
    BadOffset,
    /// The model is larger than the device accepts.
    TooLarge,
    /// The uploaded bytes do not match the CRC given at the start, or the length is short.
    CrcMismatch,
    /// The model file was refused by `snn_models::decode` (reason has the details).
    BadModel,
    /// The model is valid but needs more state than the device has.
    ModelTooBig,
    /// An inference was asked for with no model loaded.
    NoModel,
    /// The sample does not fit the model (length, indices, order).
    BadInput,
    /// The frame's CRC does not match: it was damaged on the link (the host retries).
    BadCrc,
    /// Storing the model in flash failed (the model may be loaded but will not survive reset).
    Storage,
    /// The device requires signed models and this one carries no signature.
    Unsigned,
    /// The model's signature does not verify with the device's public key.
    BadSignature,
    /// The host speaks another [`PROTOCOL_VERSION`] (the reason names both).
    Version,
    /// A stream push (or a `StreamBegin` keeping state) with no stream state to continue.
    NoStream,
}

impl ErrorCode {
    /// Whether the error is the link's (a damaged or unreadable frame) rather than the request's:
    /// the host retries these.
    pub fn is_link(self) -> bool {
        matches!(self, Self::BadFrame | Self::FrameTooLong | Self::BadCrc)
    }
}

/// An error reply: a code and a short human-readable reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// What is wrong, for people.
    pub reason: String<MAX_REASON>,
}

impl ErrorReply {
    /// An error reply, with `reason` cut to [`MAX_REASON`] bytes at a character boundary.
    pub fn new(code: ErrorCode, reason: &str) -> Self {
        Self {
            code,
            reason: truncated(reason),
        }
    }
}

/// `s` cut to the capacity `N` at a character boundary.
pub fn truncated<const N: usize>(s: &str) -> String<N> {
    let mut out = String::new();
    for ch in s.chars() {
        if out.push(ch).is_err() {
            break;
        }
    }
    out
}
