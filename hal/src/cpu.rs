//! The CPU backend: model bytes in a caller-provided buffer, run by the one `snn_models` engine.
use crate::backend::{Backend, Limits};
use crate::protocol::{
    truncated, ErrorCode, ErrorReply, InferResult, Input, LayerResult, ModelInfo, EVENT_BYTES,
    MAX_OUTPUTS,
};
use crate::spike_out::SpikeOutput;
use core::fmt::Write;
use snn_models::codec::{PREFIX_LEN, TRAILER_LEN};
use snn_models::encode::Encoder;
use snn_models::{crc::crc32, decode, Engine, EngineError, FormatError, Model, Requirements};

/// Caller-provided storage: static arrays on a device, vectors on the host.
#[derive(Debug)]
pub struct CpuBuffers<'a> {
    /// Model file bytes (its length is the largest model accepted).
    pub model: &'a mut [u8],
    /// Membranes, one per neuron of all layers.
    pub membrane: &'a mut [i32],
    /// Synaptic accumulators, the largest layer.
    pub current: &'a mut [i32],
    /// Spike lists: the input plus every layer.
    pub spikes: &'a mut [u16],
    /// Output spike counts.
    pub out_counts: &'a mut [u16],
    /// Input spike indices of one step of an event input (length = largest `input_size`).
    pub step: &'a mut [u16],
}

/// Runs models on the CPU with the `snn_models` engine.
#[derive(Debug)]
pub struct CpuBackend<'a> {
    buf: CpuBuffers<'a>,
    /// Bytes of the uploaded file (model plus any signature trailer).
    len: usize,
    /// Bytes of the model file inside it.
    model_len: usize,
    loaded: Option<ModelInfo>,
    public_key: Option<[u8; snn_models::signed::PUBLIC_KEY_LEN]>,
}

fn err(code: ErrorCode, what: impl core::fmt::Display) -> ErrorReply {
    let mut s: heapless::String<{ crate::protocol::MAX_REASON }> = heapless::String::new();
    // A reason longer than the capacity is cut short; that is fine for a diagnostic.
    let _ = write!(s, "{what}");
    ErrorReply { code, reason: s }
}

fn engine_err(e: EngineError) -> ErrorReply {
    err(ErrorCode::BadInput, e)
}

impl<'a> CpuBackend<'a> {
    /// A backend over `buf`, with no model.
    pub fn new(buf: CpuBuffers<'a>) -> Self {
        Self {
            buf,
            len: 0,
            model_len: 0,
            loaded: None,
            public_key: None,
        }
    }

    /// From now on accept only models signed with `public_key` (Ed25519): an unsigned model is
    /// refused with [`ErrorCode::Unsigned`], a wrongly signed one with
    /// [`ErrorCode::BadSignature`].
    #[cfg(feature = "signature")]
    pub fn require_signatures(&mut self, public_key: [u8; snn_models::signed::PUBLIC_KEY_LEN]) {
        self.public_key = Some(public_key);
    }

    /// The model file inside an upload: checked against the key when one is set, else with
    /// any signature trailer cut off.
    fn model_file(&self, file: &[u8]) -> Result<usize, ErrorReply> {
        use snn_models::signed::{split, SignatureError};
        let Some(key) = &self.public_key else {
            return Ok(split(file).0.len());
        };
        #[cfg(feature = "signature")]
        let r = snn_models::signed::verify(file, key).map(<[u8]>::len);
        #[cfg(not(feature = "signature"))]
        let r: Result<usize, SignatureError> = {
            let _ = key;
            Err(SignatureError::BadKey)
        };
        r.map_err(|e| {
            let code = match e {
                SignatureError::Unsigned => ErrorCode::Unsigned,
                SignatureError::Mismatch | SignatureError::BadKey => ErrorCode::BadSignature,
            };
            err(code, e)
        })
    }

    /// Loads a complete model file in one go (e.g. one built into the firmware).
    pub fn load(&mut self, bytes: &[u8]) -> Result<ModelInfo, ErrorReply> {
        let len = u32::try_from(bytes.len()).map_err(|_| err(ErrorCode::TooLarge, "model"))?;
        self.begin_load(len)?;
        self.write_chunk(0, bytes)?;
        self.finish_load(crc32(bytes))
    }

    /// The loaded model, re-read from the stored bytes. They were fully validated by
    /// `finish_load` and have not changed since, so a version-1 file (whose body is exactly
    /// `postcard((Header, layers))`, FORMAT.md) is parsed without recomputing the CRC or re-validating: a
    /// CRC over the file would cost more than a small inference. Other versions take the full
    /// `decode`.
    fn model_ref(bytes: &[u8]) -> Result<Model<'_>, ErrorReply> {
        let no_model = || err(ErrorCode::NoModel, "no model loaded");
        if bytes.get(4..PREFIX_LEN) != Some(&1u16.to_le_bytes()[..]) {
            return decode(bytes).map_err(|_| no_model());
        }
        let body = bytes
            .get(PREFIX_LEN..bytes.len().saturating_sub(TRAILER_LEN))
            .ok_or_else(no_model)?;
        // A version-1 body is the header and the layers; the channel section came in version 2.
        type V1<'b> = (
            snn_models::Header<'b>,
            heapless::Vec<snn_models::Layer<'b>, { snn_models::MAX_LAYERS }>,
        );
        let (header, layers) = postcard::from_bytes::<V1<'_>>(body).map_err(|_| no_model())?;
        Ok(Model {
            header,
            layers,
            channels: snn_models::Channels::default(),
        })
    }

    fn check_fits(&self, model: &Model<'_>) -> Result<(), ErrorReply> {
        let r = Requirements::of(model);
        let b = &self.buf;
        let too_big = |what: &str, need: usize, have: usize| {
            let mut e = err(ErrorCode::ModelTooBig, "");
            let _ = write!(e.reason, "model needs {need} {what}, device has {have}");
            e
        };
        if r.membrane > b.membrane.len() {
            return Err(too_big("neurons", r.membrane, b.membrane.len()));
        }
        if r.current > b.current.len() {
            return Err(too_big("neurons in one layer", r.current, b.current.len()));
        }
        if r.spikes > b.spikes.len() {
            return Err(too_big("spike slots", r.spikes, b.spikes.len()));
        }
        let outs = b.out_counts.len().min(MAX_OUTPUTS);
        if r.out_counts > outs {
            return Err(too_big("output neurons", r.out_counts, outs));
        }
        let inputs = usize::from(model.header.input_size);
        if inputs > b.step.len() {
            return Err(too_big("inputs", inputs, b.step.len()));
        }
        Ok(())
    }
}

impl Backend for CpuBackend<'_> {
    fn limits(&self) -> Limits {
        let b = &self.buf;
        Limits {
            max_model_bytes: b.model.len() as u32,
            max_neurons: b.membrane.len() as u32,
            max_inputs: b.step.len() as u32,
            signatures_required: self.public_key.is_some(),
        }
    }

    fn begin_load(&mut self, len: u32) -> Result<(), ErrorReply> {
        self.loaded = None;
        self.len = 0;
        self.model_len = 0;
        if len as usize > self.buf.model.len() {
            let mut e = err(ErrorCode::TooLarge, "");
            let _ = write!(
                e.reason,
                "model is {len} bytes, device takes at most {}",
                self.buf.model.len()
            );
            return Err(e);
        }
        self.len = len as usize;
        Ok(())
    }

    fn write_chunk(&mut self, offset: u32, bytes: &[u8]) -> Result<(), ErrorReply> {
        let start = offset as usize;
        let dst = start
            .checked_add(bytes.len())
            .filter(|&end| end <= self.len)
            .and_then(|end| self.buf.model.get_mut(start..end))
            .ok_or_else(|| err(ErrorCode::BadOffset, "chunk runs past the announced length"))?;
        dst.copy_from_slice(bytes);
        Ok(())
    }

    fn finish_load(&mut self, crc: u32) -> Result<ModelInfo, ErrorReply> {
        let bytes = self.buf.model.get(..self.len).unwrap_or(&[]);
        let computed = crc32(bytes);
        if computed != crc {
            let mut e = err(ErrorCode::CrcMismatch, "");
            let _ = write!(
                e.reason,
                "upload CRC-32 is {computed:#010x}, host said {crc:#010x}"
            );
            return Err(e);
        }
        let model_len = self.model_file(bytes)?;
        let bytes = bytes.get(..model_len).unwrap_or(&[]);
        let model = decode(bytes).map_err(|e: FormatError| err(ErrorCode::BadModel, e))?;
        self.check_fits(&model)?;
        let info = ModelInfo {
            name: truncated(model.header.name),
            crc,
            bytes: self.len as u32,
            input_size: model.header.input_size,
            time_steps: model.header.time_steps,
            layers: model.layers.len() as u8,
            neurons: model.layers.iter().map(|l| u32::from(l.neurons)).sum(),
            outputs: model.output_neurons() as u16,
        };
        self.model_len = model_len;
        self.loaded = Some(info.clone());
        Ok(info)
    }

    fn model(&self) -> Option<&ModelInfo> {
        self.loaded.as_ref()
    }

    fn infer(
        &mut self,
        input: Input<'_>,
        sample_seed: u32,
        out: &mut InferResult,
        spikes: &mut dyn SpikeOutput,
    ) -> Result<(), ErrorReply> {
        if self.loaded.is_none() {
            return Err(err(ErrorCode::NoModel, "no model loaded; upload one first"));
        }
        let b = &mut self.buf;
        let model = Self::model_ref(b.model.get(..self.model_len).unwrap_or(&[]))?;
        // Hand the engine only what this model needs: it clears its state on every run, and the
        // device's buffers are sized for the largest model.
        let r = Requirements::of(&model);
        let too_big = || {
            err(
                ErrorCode::ModelTooBig,
                "model needs more state than the device has",
            )
        };
        let mut engine = Engine::new(
            &model,
            b.membrane.get_mut(..r.membrane).ok_or_else(too_big)?,
            b.current.get_mut(..r.current).ok_or_else(too_big)?,
            b.spikes.get_mut(..r.spikes).ok_or_else(too_big)?,
            b.out_counts.get_mut(..r.out_counts).ok_or_else(too_big)?,
        )
        .map_err(|e| err(ErrorCode::ModelTooBig, e))?;
        match input {
            Input::Features(f) if !spikes.enabled() => {
                engine.run_features(f, sample_seed).map_err(engine_err)?
            }
            Input::Features(f) => {
                run_features(&mut engine, &model, f, sample_seed, b.step, spikes)?
            }
            Input::Events(ev) => run_events(&mut engine, &model, ev, b.step, spikes)?,
        }
        let stats = *engine.stats();
        out.counts.clear();
        for &c in engine.output_counts() {
            out.counts
                .push(c)
                .map_err(|_| err(ErrorCode::ModelTooBig, "too many output neurons"))?;
        }
        out.predicted = engine.predicted_class();
        out.layers.clear();
        for l in 0..model.layers.len() {
            let _ = out.layers.push(LayerResult {
                spikes: stats.layer_spikes[l],
                budget_ok: engine.budget_ok(l),
            });
        }
        out.steps = stats.steps;
        out.input_spikes = stats.input_spikes;
        out.synaptic_events = stats.synaptic_events;
        Ok(())
    }
}

/// Signals the output layer's spikes of the step just run.
fn show(engine: &Engine<'_, '_>, model: &Model<'_>, spikes: &mut dyn SpikeOutput) {
    let last = model.layers.len().saturating_sub(1);
    for &i in engine.layer_spikes(last) {
        spikes.spike(i);
    }
}

/// Encodes `features` with the model's encoding and runs every step, signalling output spikes
/// as they happen. Step for step what `Engine::run_features` does (same encoder, same steps;
/// the engine was reset by `Engine::new`), so the counts are the host's.
fn run_features(
    engine: &mut Engine<'_, '_>,
    model: &Model<'_>,
    features: &[u8],
    sample_seed: u32,
    step: &mut [u16],
    spikes: &mut dyn SpikeOutput,
) -> Result<(), ErrorReply> {
    let mut encoder = Encoder::new(&model.header, features, sample_seed).map_err(engine_err)?;
    for _ in 0..model.header.time_steps {
        let k = encoder.next_step(step).map_err(engine_err)?;
        engine
            .step(step.get(..k).unwrap_or(&[]))
            .map_err(engine_err)?;
        show(engine, model, spikes);
    }
    Ok(())
}

/// Runs every step of an event input: events are `(t, index)` pairs with `t` non-decreasing.
fn run_events(
    engine: &mut Engine<'_, '_>,
    model: &Model<'_>,
    events: &[u8],
    step: &mut [u16],
    spikes: &mut dyn SpikeOutput,
) -> Result<(), ErrorReply> {
    if !events.chunks_exact(EVENT_BYTES).remainder().is_empty() {
        return Err(err(
            ErrorCode::BadInput,
            "event bytes are not whole (t, index) pairs",
        ));
    }
    let steps = model.header.time_steps;
    let mut evs = events.chunks_exact(EVENT_BYTES).map(|c| {
        (
            u16::from_le_bytes([c[0], c[1]]),
            u16::from_le_bytes([c[2], c[3]]),
        )
    });
    let mut next = evs.next();
    let mut last_t = 0u16;
    for t in 0..steps {
        let mut k = 0usize;
        while let Some((et, idx)) = next {
            if et < last_t {
                return Err(err(ErrorCode::BadInput, "event times are not in order"));
            }
            if et != t {
                break;
            }
            last_t = et;
            let slot = step
                .get_mut(k)
                .ok_or_else(|| err(ErrorCode::BadInput, "more events in one step than inputs"))?;
            *slot = idx;
            k += 1;
            next = evs.next();
        }
        engine
            .step(step.get(..k).unwrap_or(&[]))
            .map_err(engine_err)?;
        show(engine, model, spikes);
    }
    if let Some((t, _)) = next {
        let mut e = err(ErrorCode::BadInput, "");
        let _ = write!(e.reason, "event at t={t} is past the model's {steps} steps");
        return Err(e);
    }
    Ok(())
}
