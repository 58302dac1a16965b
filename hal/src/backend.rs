//! The inference backend: loads a model and runs samples. The CPU backend ([`crate::cpu`]) runs
//! the `snn_models` engine; a neuromorphic co-processor driver would implement the same trait.
use crate::counter::CycleCounter;
use crate::protocol::{
    ErrorReply, InferResult, Input, ModelInfo, ReadoutReply, StreamInput, StreamReply,
};
use crate::spike_out::SpikeOutput;

/// Capacity of a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest model file, bytes.
    pub max_model_bytes: u32,
    /// Most neurons over all layers (`i32` neuron states: a current-based layer's neurons,
    /// format v3, count twice, membrane and current).
    pub max_neurons: u32,
    /// Largest `input_size`.
    pub max_inputs: u32,
    /// Whether only models signed with the device's key are accepted.
    pub signatures_required: bool,
}

/// Loads models (streamed in pieces) and runs inferences. Every method is fallible and reports
/// a protocol error ([`ErrorReply`]) instead of panicking.
pub trait Backend {
    /// What the backend can hold.
    fn limits(&self) -> Limits;
    /// Starts receiving a model file of `len` bytes; drops the current model.
    fn begin_load(&mut self, len: u32) -> Result<(), ErrorReply>;
    /// Stores `bytes` at `offset` of the model file (the caller keeps offsets in order and in range).
    fn write_chunk(&mut self, offset: u32, bytes: &[u8]) -> Result<(), ErrorReply>;
    /// Checks the whole file against `crc`, decodes and validates it, makes it the current model.
    fn finish_load(&mut self, crc: u32) -> Result<ModelInfo, ErrorReply>;
    /// The current model.
    fn model(&self) -> Option<&ModelInfo>;
    /// Runs one sample; fills `out` and signals each output spike on `spikes` in the step it
    /// happens.
    fn infer(
        &mut self,
        input: Input<'_>,
        sample_seed: u32,
        out: &mut InferResult,
        spikes: &mut dyn SpikeOutput,
    ) -> Result<(), ErrorReply>;
    /// Begins a stream: `reset` puts the network at rest, otherwise the last stream's state is
    /// kept; `exp` is the unit `2^exp` of raw samples; `rules` = `(window, threshold)` of the
    /// decision rules (0: none) of a stream from rest. Fills `out` (no steps, running counts,
    /// decisions so far).
    fn stream_begin(
        &mut self,
        reset: bool,
        exp: i8,
        rules: (u16, u32),
        out: &mut StreamReply,
    ) -> Result<(), ErrorReply>;
    /// The readout values of the last [`Backend::infer`] of a model ending in a non-spiking
    /// readout (an error when the model has none or no inference ran since it was loaded).
    fn readout(&mut self, out: &mut ReadoutReply) -> Result<(), ErrorReply>;
    /// Runs the next steps of the open stream; fills `out` with each step's output spikes, the
    /// running counts and the steps' costs read from `counter`, and signals each output spike on
    /// `spikes` in its step. The state stays for the next push.
    fn stream_push(
        &mut self,
        input: StreamInput<'_>,
        out: &mut StreamReply,
        spikes: &mut dyn SpikeOutput,
        counter: &mut dyn CycleCounter,
    ) -> Result<(), ErrorReply>;
}
