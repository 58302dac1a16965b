//! The safe half of the C API: what an open model and an open engine hold, and every operation
//! on them in plain Rust over `snn_models` (the FFI module only checks pointers and calls these).
use crate::status::{Detail, SnnStatus};
use snn_models::{Encoding, Engine, EngineError, Model, Requirements};

/// Model input encoding, as `snn_requirements_t.encoding`.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnnEncoding {
    /// Rate coding of `u8` features (seeded xorshift32): use `snn_run_features`.
    SnnEncodingRate = 0,
    /// Latency coding of `u8` features: use `snn_run_features`.
    SnnEncodingLatency = 1,
    /// Delta coding of a sequence of `u8` frames: use `snn_run_features`.
    SnnEncodingDelta = 2,
    /// Spikes given directly: use `snn_run_events` or `snn_step`.
    SnnEncodingEvents = 3,
    /// An encoding added to the model format after this ABI version (upgrade the header).
    SnnEncodingOther = 255,
}

/// What a model needs and declares, filled by `snn_model_requirements`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnnRequirements {
    /// Bytes of RAM (4-byte aligned) to give `snn_engine_open`:
    /// `4 * (membrane + current) + 2 * (spikes + out_counts + input_size)`.
    pub ram_bytes: usize,
    /// Bytes of the model file (which stay where they are, e.g. in flash).
    pub model_bytes: usize,
    /// Input channels: spike indices are below this; one feature frame has this many values.
    pub input_size: u16,
    /// Time steps of one sample.
    pub time_steps: u16,
    /// Neurons of the output layer (entries of `snn_output_counts`).
    pub output_neurons: u16,
    /// Classes of the population decoder (`snn_predicted_class`).
    pub num_classes: u16,
    /// Output neurons per class.
    pub neurons_per_class: u16,
    /// Layers (entries of `snn_layer_spike_totals`).
    pub layers: u16,
    /// How `snn_run_features` encodes features (or that the model takes spikes directly).
    pub encoding: SnnEncoding,
}

/// Counters of the steps run since the last reset, filled by `snn_stats`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SnnStats {
    /// Synaptic events: weights added into accumulators (the work done).
    pub synaptic_events: u64,
    /// Input spikes fed to the first layer.
    pub input_spikes: u32,
    /// Time steps run.
    pub steps: u16,
}

/// One input spike of `snn_run_events`: channel `index` at time step `t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SnnEvent {
    /// Time step, non-decreasing along the array and below `time_steps`.
    pub t: u16,
    /// Input channel, below `input_size`.
    pub index: u16,
}

/// RAM an engine needs: the engine's state ([`Requirements::bytes`]) plus `input_size` `u16`
/// slots where `snn_run_events` gathers one step's indices.
pub fn ram_bytes(model: &Model<'_>) -> usize {
    Requirements::of(model).bytes() + 2 * usize::from(model.header.input_size)
}

/// The requirements of `model`, read from `model_bytes` bytes.
pub fn requirements(model: &Model<'_>, model_bytes: usize) -> SnnRequirements {
    let h = &model.header;
    SnnRequirements {
        ram_bytes: ram_bytes(model),
        model_bytes,
        input_size: h.input_size,
        time_steps: h.time_steps,
        output_neurons: model.layers.last().map_or(0, |l| l.neurons),
        num_classes: h.num_classes,
        neurons_per_class: h.neurons_per_class,
        layers: model.layers.len() as u16,
        encoding: match h.encoding {
            Encoding::Rate { .. } => SnnEncoding::SnnEncodingRate,
            Encoding::Latency { .. } => SnnEncoding::SnnEncodingLatency,
            Encoding::Delta { .. } => SnnEncoding::SnnEncodingDelta,
            Encoding::Events => SnnEncoding::SnnEncodingEvents,
            _ => SnnEncoding::SnnEncodingOther,
        },
    }
}

/// The caller's RAM cut into the engine's buffers (sizes from [`Requirements::of`]).
pub struct Buffers<'s> {
    /// Membranes.
    pub membrane: &'s mut [i32],
    /// Accumulators.
    pub current: &'s mut [i32],
    /// Spike lists.
    pub spikes: &'s mut [u16],
    /// Output counts.
    pub out_counts: &'s mut [u16],
    /// Staging of one step's event indices.
    pub stage: &'s mut [u16],
}

impl<'s> Buffers<'s> {
    /// Cuts `words` (the first `4 * (membrane + current)` bytes) and `halves` (the rest) into the
    /// buffers `model` needs; `RamTooSmall` when either part is short.
    pub fn cut(
        model: &Model<'_>,
        words: &'s mut [i32],
        halves: &'s mut [u16],
    ) -> Result<Self, SnnStatus> {
        let r = Requirements::of(model);
        let input = usize::from(model.header.input_size);
        let short = SnnStatus::SnnErrRamTooSmall;
        let (membrane, rest) = split(words, r.membrane).ok_or(short)?;
        let (current, _) = split(rest, r.current).ok_or(short)?;
        let (spikes, rest) = split(halves, r.spikes).ok_or(short)?;
        let (out_counts, rest) = split(rest, r.out_counts).ok_or(short)?;
        let (stage, _) = split(rest, input).ok_or(short)?;
        Ok(Self {
            membrane,
            current,
            spikes,
            out_counts,
            stage,
        })
    }

    /// Bytes of the `i32` part for `model` (the `u16` part follows it).
    pub fn word_bytes(model: &Model<'_>) -> usize {
        let r = Requirements::of(model);
        4 * (r.membrane + r.current)
    }
}

fn split<T>(s: &mut [T], n: usize) -> Option<(&mut [T], &mut [T])> {
    (n <= s.len()).then(|| s.split_at_mut(n))
}

/// Resets and runs every time step of `model`, feeding the `events` of each step (gathered in
/// `stage`); every event is checked before the first step runs.
pub fn run_events(
    engine: &mut Engine<'_, '_>,
    model: &Model<'_>,
    stage: &mut [u16],
    events: &[SnnEvent],
) -> Result<(), Detail> {
    let time_steps = model.header.time_steps;
    let mut last = 0u16;
    for (position, e) in events.iter().enumerate() {
        if e.t < last || e.t >= time_steps {
            return Err(Detail::Event {
                position,
                t: e.t,
                time_steps,
            });
        }
        last = e.t;
    }
    engine.reset();
    let mut rest = events;
    for t in 0..time_steps {
        let now = rest.iter().take_while(|e| e.t == t).count();
        let (step, tail) = rest.split_at(now);
        rest = tail;
        if step.len() > stage.len() {
            return Err(Detail::Engine(EngineError::InputLength {
                expected: stage.len(),
                given: step.len(),
            }));
        }
        for (slot, e) in stage.iter_mut().zip(step) {
            *slot = e.index;
        }
        engine.step(&stage[..step.len()]).map_err(Detail::Engine)?;
    }
    Ok(())
}

/// Copies `src` into the front of `dst`; `BufferTooSmall` when it does not fit.
pub fn copy_out<T: Copy>(src: &[T], dst: &mut [T]) -> Result<(), SnnStatus> {
    dst.get_mut(..src.len())
        .ok_or(SnnStatus::SnnErrBufferTooSmall)?
        .copy_from_slice(src);
    Ok(())
}

/// Real-valued channels of one step of `model` (`snn_step_values`, `snn_step_raw`): the
/// channel count of a continuous encoding (direct, send-on-delta, sigma-delta), 0 for a model
/// that takes `u8` features or spikes.
pub fn channels(model: &Model<'_>) -> u16 {
    if model.header.encoding.inputs_per_channel() == 0 {
        return 0;
    }
    model.channels.len() as u16
}

/// One step of a continuous-encoding model on real values or raw
/// `i16` samples `x_c = raw_c * 2^exp`: the model's kind and the exponent are checked here,
/// the channel count by the engine (`SNN_ERR_INPUT_LENGTH` naming both counts).
pub fn step_input(
    engine: &mut Engine<'_, '_>,
    model: &Model<'_>,
    input: StepInput<'_>,
) -> Result<(), Detail> {
    if channels(model) == 0 {
        return Err(Detail::Status(SnnStatus::SnnErrInputKind));
    }
    match input {
        StepInput::Values(v) => engine.step_values(v),
        StepInput::Raw(raw, exp) => {
            if snn_models::encode::raw_unit(exp).is_none() {
                return Err(Detail::Status(SnnStatus::SnnErrRawExponent));
            }
            engine.step_raw(raw, exp)
        }
    }
    .map_err(Detail::Engine)
}

/// The input of one streamed step of a continuous-encoding model.
#[derive(Clone, Copy, Debug)]
pub enum StepInput<'a> {
    /// One `f32` per channel.
    Values(&'a [f32]),
    /// One raw `i16` per channel and the exponent of their unit `2^exp`.
    Raw(&'a [i16], i8),
}
