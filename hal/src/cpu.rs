//! The CPU backend: model bytes in a caller-provided buffer, run by the one `snn_models` engine.
use crate::backend::{Backend, Limits};
use crate::counter::CycleCounter;
use crate::protocol::{
    stream_steps, truncated, ErrorCode, ErrorReply, InferResult, Input, LayerResult, ModelInfo,
    ReadoutReply, StreamDecisions, StreamInput, StreamReply, EVENT_BYTES, MAX_OUTPUTS, MAX_READOUT,
    MAX_STREAM_OUTPUTS, MAX_STREAM_SPIKES, STEP_END,
};
use crate::spike_out::SpikeOutput;
use core::fmt::Write;
use snn_models::decision::{FinalCount, FirstToThreshold, Populations, Reached, Window};
use snn_models::encode::{raw_unit, Encoder};
use snn_models::{
    crc::crc32, decode, Carry, Engine, EngineError, FormatError, Layout, Model, Requirements,
    Weights,
};

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

/// How far to move an upload so that the largest dense weight array of `model` (whose bytes
/// lie in the upload) starts on a 4-byte boundary: 0 to 3. The
/// weight rows of a step then share that alignment (`n % 4 == 0`), and the cores that load
/// words only aligned (M0, RV32: `snn_models`' `words.rs`) read two words per row segment
/// instead of three. Same bits either way; only the instruction count changes.
fn word_shift(model: &Model<'_>) -> usize {
    let largest = model
        .layers
        .iter()
        .filter_map(|l| match &l.feedforward {
            Weights::Dense { values } => Some(values.0),
            _ => None,
        })
        .max_by_key(|v| v.len());
    largest.map_or(0, |v| (4 - (v.as_ptr() as usize) % 4) % 4)
}

/// The loaded model's bytes: `len` bytes from `start` of the model buffer.
fn loaded_bytes(model: &[u8], start: usize, len: usize) -> &[u8] {
    start
        .checked_add(len)
        .and_then(|end| model.get(start..end))
        .unwrap_or(&[])
}

/// Runs models on the CPU with the `snn_models` engine.
#[derive(Debug)]
pub struct CpuBackend<'a> {
    buf: CpuBuffers<'a>,
    /// Bytes of the uploaded file (model plus any signature trailer).
    len: usize,
    /// Bytes of the model file inside it.
    model_len: usize,
    /// Where the loaded upload starts in `buf.model` (0 to 3, [`word_shift`]).
    model_start: usize,
    loaded: Option<ModelInfo>,
    /// Where the loaded model's parts lie in `buf.model` and the state it needs, taken once
    /// when the upload was validated (meaningful only while `loaded` is `Some`: every write
    /// to `buf.model` sets `loaded` to `None` until a load succeeds).
    bound: Bound,
    public_key: Option<[u8; snn_models::signed::PUBLIC_KEY_LEN]>,
    /// The open stream: where the engine left the buffers, its raw-sample exponent and its
    /// steps since reset. `None` when the buffers hold no stream (a load or an inference ran).
    stream: Option<Stream>,
    /// Storage of the stream's decision rules (empty unless given by
    /// [`CpuBackend::with_rule_storage`]).
    rules: RuleStore<'a>,
    /// Whether the state buffers hold the readout maxima of the last inference (a readout
    /// model's [`Backend::infer`] ran, or a stream push ran steps, and no load, Infer or
    /// `StreamBegin` since).
    readout_ready: bool,
}

/// The loaded model as [`CpuBackend::finish_load`] validated it: each request rebinds it to
/// the stored bytes by slicing ([`Layout::bind`]) instead of parsing them again. Kept in place
/// in the backend (~800 B), never moved.
#[derive(Clone, Debug, Default)]
struct Bound {
    layout: Layout,
    needs: Requirements,
}

impl Bound {
    /// Fills `model` (an [`empty_model`] in the caller's frame) with the loaded model over
    /// `bytes`, the stored bytes it was taken from (unchanged: every write to them unloads
    /// the model).
    fn model<'b>(&self, bytes: &'b [u8], model: &mut Model<'b>) -> Result<(), ErrorReply> {
        self.layout.bind(bytes, model).ok_or_else(no_model)
    }

    /// The model's state buffers cut from the device's: membranes, currents, spike lists and
    /// output counts.
    fn state<'b>(
        &self,
        membrane: &'b mut [i32],
        current: &'b mut [i32],
        spikes: &'b mut [u16],
        counts: &'b mut [u16],
    ) -> Result<State<'b>, ErrorReply> {
        let r = &self.needs;
        let too_big = || {
            err(
                ErrorCode::ModelTooBig,
                "model needs more state than the device has",
            )
        };
        Ok((
            membrane.get_mut(..r.membrane).ok_or_else(too_big)?,
            current.get_mut(..r.current).ok_or_else(too_big)?,
            spikes.get_mut(..r.spikes).ok_or_else(too_big)?,
            counts.get_mut(..r.out_counts).ok_or_else(too_big)?,
        ))
    }
}

/// An engine's state buffers: membranes, currents, spike lists, output counts.
type State<'b> = (&'b mut [i32], &'b mut [i32], &'b mut [u16], &'b mut [u16]);

/// A stream between requests.
#[derive(Clone, Copy, Debug)]
struct Stream {
    carry: Carry,
    exp: i8,
    steps: u32,
    /// The decision rules' parameters and scalars (their storage is in [`RuleStore`]); `None`
    /// when the backend has no room for the model's classes.
    decide: Option<Decide>,
}

/// What resumes a stream's decision rules (`snn_models::decision`'s `mark`s).
#[derive(Clone, Copy, Debug)]
struct Decide {
    pops: Populations,
    final_mark: u32,
    /// Window width and mark (`None`: no window).
    window: Option<(usize, usize)>,
    /// Threshold and mark (`None`: no first-to-threshold).
    first: Option<(u32, (u32, Option<Reached>))>,
}

/// Caller storage of the decision rules: `counts` holds the final-count counts, the
/// first-to-threshold counts and the window's sums (`classes` each), `ring` the window's ring.
#[derive(Debug, Default)]
struct RuleStore<'a> {
    counts: &'a mut [u32],
    ring: &'a mut [u16],
}

/// The rules of one push, resumed over [`RuleStore`].
struct Rules<'r> {
    final_count: FinalCount<'r>,
    window: Option<Window<'r>>,
    first: Option<FirstToThreshold<'r>>,
}

fn decision_err(e: snn_models::decision::DecisionError) -> ErrorReply {
    err(ErrorCode::BadInput, e)
}

impl RuleStore<'_> {
    /// Whether the storage holds the rules of `classes` classes (and the reply's window
    /// decisions, `class + 1` in a byte, fit).
    fn holds(&self, classes: usize) -> bool {
        classes <= 254 && 3 * classes <= self.counts.len()
    }

    /// The count slices (final count, first to threshold, window sums) of `c` classes and the
    /// ring.
    fn split(&mut self, c: usize) -> (&mut [u32], &mut [u32], &mut [u32], &mut [u16]) {
        let (f, rest) = self.counts.split_at_mut(c.min(self.counts.len()));
        let (t, sums) = rest.split_at_mut(c.min(rest.len()));
        (f, t, sums, &mut *self.ring)
    }

    /// Fresh rules for a stream from rest: final count always, a window of `window` steps and
    /// first-to-threshold at `threshold` when non-zero.
    fn begin(
        &mut self,
        pops: Populations,
        window: u16,
        threshold: u32,
    ) -> Result<Decide, ErrorReply> {
        let (fc, tc, sums, ring) = self.split(usize::from(pops.classes()));
        let final_count = FinalCount::new(pops, fc).map_err(decision_err)?;
        let window = match usize::from(window) {
            0 => None,
            w => {
                let need = w * usize::from(pops.classes());
                if need > ring.len() {
                    let mut e = err(ErrorCode::BadInput, "");
                    let _ = write!(
                        e.reason,
                        "a window of {w} steps x {} classes needs {need} slots, the device has {}",
                        pops.classes(),
                        ring.len()
                    );
                    return Err(e);
                }
                let win = Window::new(pops, w, ring, sums).map_err(decision_err)?;
                Some((w, win.mark()))
            }
        };
        let first = match threshold {
            0 => None,
            n => Some((
                n,
                FirstToThreshold::new(pops, n, tc)
                    .map_err(decision_err)?
                    .mark(),
            )),
        };
        Ok(Decide {
            pops,
            final_mark: final_count.mark(),
            window,
            first,
        })
    }

    /// The rules of `d`, resumed over this storage.
    fn resume(&mut self, d: &Decide) -> Result<Rules<'_>, ErrorReply> {
        let (fc, tc, sums, ring) = self.split(usize::from(d.pops.classes()));
        let final_count = FinalCount::resume(d.pops, fc, d.final_mark).map_err(decision_err)?;
        let window = match d.window {
            None => None,
            Some((w, head)) => {
                Some(Window::resume(d.pops, w, ring, sums, head).map_err(decision_err)?)
            }
        };
        let first = match d.first {
            None => None,
            Some((n, mark)) => {
                Some(FirstToThreshold::resume(d.pops, n, tc, mark).map_err(decision_err)?)
            }
        };
        Ok(Rules {
            final_count,
            window,
            first,
        })
    }
}

impl Rules<'_> {
    /// Feeds one step's output spikes; records the window decision of the step in `out`.
    fn push(&mut self, fired: &[u16], out: &mut StreamDecisions) -> Result<(), ErrorReply> {
        self.final_count.push(fired).map_err(decision_err)?;
        if let Some(w) = self.window.as_mut() {
            let d = w.push(fired).map_err(decision_err)?;
            // Cannot fail: a push has at most MAX_STREAM_STEPS steps.
            let _ = out.window.push(d.map_or(0, |c| (c + 1) as u8));
        }
        if let Some(f) = self.first.as_mut() {
            f.push(fired).map_err(decision_err)?;
        }
        Ok(())
    }

    /// The decisions after the last step, and the marks to resume from.
    fn finish(&self, d: &mut Decide, out: &mut StreamDecisions) {
        out.final_count = self.final_count.decision();
        out.first = self
            .first
            .as_ref()
            .and_then(FirstToThreshold::reached)
            .map(|r| (r.class, r.step));
        d.final_mark = self.final_count.mark();
        if let (Some(w), Some((_, head))) = (&self.window, d.window.as_mut()) {
            *head = w.mark();
        }
        if let (Some(f), Some((_, mark))) = (&self.first, d.first.as_mut()) {
            *mark = f.mark();
        }
    }
}

/// A model with no layers, filled in place by [`Bound::model`].
fn empty_model() -> Model<'static> {
    Model {
        header: snn_models::Header {
            name: "",
            input_size: 0,
            time_steps: 0,
            encoding: snn_models::Encoding::Events,
            num_classes: 0,
            neurons_per_class: 0,
        },
        layers: heapless::Vec::new(),
        channels: snn_models::Channels::default(),
        synapses: snn_models::Synapses::default(),
        output: snn_models::Output::Spikes,
    }
}

fn err(code: ErrorCode, what: impl core::fmt::Display) -> ErrorReply {
    let mut s: heapless::String<{ crate::protocol::MAX_REASON }> = heapless::String::new();
    // A reason longer than the capacity is cut short; that is fine for a diagnostic.
    let _ = write!(s, "{what}");
    ErrorReply { code, reason: s }
}

fn no_model() -> ErrorReply {
    err(ErrorCode::NoModel, "no model loaded; upload one first")
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
            model_start: 0,
            loaded: None,
            bound: Bound::default(),
            public_key: None,
            stream: None,
            readout_ready: false,
            rules: RuleStore::default(),
        }
    }

    /// Gives the stream's decision rules their storage: `counts` 3 per class (final count,
    /// first to threshold, window sums), `ring` the window's `window * classes` slots (the
    /// firmware gives `3 * MAX_DECISION_CLASSES` and `MAX_DECISION_RING`, `protocol.rs`).
    /// Without it, streams carry no decisions.
    pub fn with_rule_storage(mut self, counts: &'a mut [u32], ring: &'a mut [u16]) -> Self {
        self.rules = RuleStore { counts, ring };
        self
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

    /// The loaded model file's bytes, where they lie in the model buffer (`None` without a
    /// loaded model).
    pub fn loaded_model(&self) -> Option<&[u8]> {
        self.loaded
            .as_ref()
            .map(|_| loaded_bytes(self.buf.model, self.model_start, self.model_len))
    }

    /// Whether the device's buffers hold the state of `model`, which needs `r`.
    fn check_fits(&self, model: &Model<'_>, r: &Requirements) -> Result<(), ErrorReply> {
        let b = &self.buf;
        let too_big = |what: &str, need: usize, have: usize| {
            let mut e = err(ErrorCode::ModelTooBig, "");
            let _ = write!(e.reason, "model needs {need} {what}, device has {have}");
            e
        };
        if r.membrane > b.membrane.len() {
            return Err(too_big(
                "i32 neuron states (membranes, synaptic currents)",
                r.membrane,
                b.membrane.len(),
            ));
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
        self.stream = None;
        self.readout_ready = false;
        self.len = 0;
        self.model_len = 0;
        self.model_start = 0;
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
        // The stored bytes change: no model is loaded until `finish_load` validates them again
        // (the server writes chunks only after `begin_load`, which already dropped it).
        self.loaded = None;
        self.stream = None;
        self.readout_ready = false;
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
        let needs = Requirements::of(&model);
        self.check_fits(&model, &needs)?;
        self.bound.needs = needs;
        self.bound
            .layout
            .set(&model, bytes)
            .ok_or_else(|| err(ErrorCode::BadModel, "model parts outside its bytes"))?;
        let shift = word_shift(&model);
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
        drop(model);
        // Move the upload so its largest dense weight array starts on a word boundary (the
        // layout's byte ranges are relative to the model's start, so they stay true), when the
        // buffer has the room; the M0 and RV32 then read its rows as aligned words.
        let len = self.len;
        if shift > 0 && len + shift <= self.buf.model.len() {
            self.buf.model.copy_within(0..len, shift);
            self.model_start = shift;
        }
        self.model_len = model_len;
        self.loaded = Some(info.clone());
        Ok(info)
    }

    fn model(&self) -> Option<&ModelInfo> {
        self.loaded.as_ref()
    }

    // Never inlined: `cargo xtask profile` finds the inference the server times by this
    // function's symbol, on every core (RV32's build would inline it into the server).
    #[inline(never)]
    fn infer(
        &mut self,
        input: Input<'_>,
        sample_seed: u32,
        out: &mut InferResult,
        spikes: &mut dyn SpikeOutput,
    ) -> Result<(), ErrorReply> {
        if self.loaded.is_none() {
            return Err(no_model());
        }
        let bound = &self.bound;
        // The inference overwrites the state buffers: no stream survives it.
        self.stream = None;
        self.readout_ready = false;
        let b = &mut self.buf;
        let mut model = empty_model();
        bound.model(
            loaded_bytes(b.model, self.model_start, self.model_len),
            &mut model,
        )?;
        // Hand the engine only what this model needs: it clears its state on every run, and the
        // device's buffers are sized for the largest model.
        let (membrane, current, spikes_buf, counts) =
            bound.state(b.membrane, b.current, b.spikes, b.out_counts)?;
        let mut engine = Engine::new(&model, membrane, current, spikes_buf, counts)
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
        self.readout_ready = model.has_readout();
        Ok(())
    }

    // Out of line: its parsed `Model` (~700 B) must not share the caller's frame with `infer`'s.
    #[inline(never)]
    fn readout(&mut self, out: &mut ReadoutReply) -> Result<(), ErrorReply> {
        if self.loaded.is_none() {
            return Err(no_model());
        }
        let bound = &self.bound;
        let b = &self.buf;
        let mut model = empty_model();
        bound.model(
            loaded_bytes(b.model, self.model_start, self.model_len),
            &mut model,
        )?;
        if !model.has_readout() {
            return Err(err(
                ErrorCode::BadInput,
                "the model's last layer spikes: it has no readout values",
            ));
        }
        if !self.readout_ready {
            return Err(err(
                ErrorCode::BadInput,
                "no inference or stream step since the model was loaded (or since StreamBegin)",
            ));
        }
        let values = b
            .membrane
            .get(snn_models::engine::readout_span(&model))
            .unwrap_or(&[]);
        out.values.clear();
        for &v in values {
            out.values.push(v).map_err(|_| {
                let mut e = err(ErrorCode::ModelTooBig, "");
                let _ = write!(
                    e.reason,
                    "a readout of {} classes; the link carries at most {MAX_READOUT}",
                    values.len()
                );
                e
            })?;
        }
        out.predicted = snn_models::decision::readout_class(values);
        Ok(())
    }

    fn stream_begin(
        &mut self,
        reset: bool,
        exp: i8,
        rules: (u16, u32),
        out: &mut StreamReply,
    ) -> Result<(), ErrorReply> {
        if self.loaded.is_none() {
            return Err(no_model());
        }
        if raw_unit(exp).is_none() {
            let mut e = err(ErrorCode::BadInput, "");
            let _ = write!(e.reason, "raw sample exponent {exp} is outside -60..=60");
            return Err(e);
        }
        let outputs = self.loaded.as_ref().map_or(0, |m| usize::from(m.outputs));
        if outputs > MAX_STREAM_OUTPUTS {
            let mut e = err(ErrorCode::ModelTooBig, "");
            let _ = write!(
                e.reason,
                "streams take models of at most {MAX_STREAM_OUTPUTS} output neurons, this one has {outputs}"
            );
            return Err(e);
        }
        let kept = match (reset, self.stream) {
            (false, None) => {
                return Err(err(
                    ErrorCode::NoStream,
                    "no stream state to keep (none since the model was loaded or an Infer ran); begin with reset",
                ))
            }
            (false, Some(s)) => Some(s),
            (true, _) => None,
        };
        self.stream = None;
        self.readout_ready = false;
        let b = &mut self.buf;
        let bound = &self.bound;
        let mut model = empty_model();
        bound.model(
            loaded_bytes(b.model, self.model_start, self.model_len),
            &mut model,
        )?;
        let engine = bind(
            &model,
            bound.state(b.membrane, b.current, b.spikes, b.out_counts)?,
            kept.as_ref().map(|s| &s.carry),
        )?;
        let steps = kept.map_or(0, |s| s.steps);
        out.steps = steps;
        out.spikes.clear();
        out.cost = 0;
        out.step_cost_max = 0;
        fill_counts(&engine, out)?;
        let carry = engine.carry();
        let mut decide = match kept {
            Some(k) => k.decide,
            None => {
                let pops = Populations::of(&model).map_err(decision_err)?;
                if self.rules.holds(usize::from(pops.classes())) {
                    Some(self.rules.begin(pops, rules.0, rules.1)?)
                } else if rules != (0, 0) {
                    let mut e = err(ErrorCode::BadInput, "");
                    let _ = write!(
                        e.reason,
                        "the device holds decisions of at most {} classes, the model has {}",
                        (self.rules.counts.len() / 3).min(254),
                        pops.classes()
                    );
                    return Err(e);
                } else {
                    None
                }
            }
        };
        out.decisions = match decide.as_mut() {
            Some(d) => {
                let mut o = StreamDecisions::default();
                self.rules.resume(d)?.finish(d, &mut o);
                Some(o)
            }
            None => None,
        };
        self.readout_ready = false;
        self.stream = Some(Stream {
            carry,
            exp,
            steps,
            decide,
        });
        Ok(())
    }

    fn stream_push(
        &mut self,
        input: StreamInput<'_>,
        out: &mut StreamReply,
        spikes: &mut dyn SpikeOutput,
        counter: &mut dyn CycleCounter,
    ) -> Result<(), ErrorReply> {
        let Some(mut stream) = self.stream else {
            return Err(err(
                ErrorCode::NoStream,
                "no stream open (StreamBegin first; a load or an Infer ends a stream)",
            ));
        };
        let b = &mut self.buf;
        let bound = &self.bound;
        let mut model = empty_model();
        bound.model(
            loaded_bytes(b.model, self.model_start, self.model_len),
            &mut model,
        )?;
        let mut engine = bind(
            &model,
            bound.state(b.membrane, b.current, b.spikes, b.out_counts)?,
            Some(&stream.carry),
        )?;
        out.spikes.clear();
        out.cost = 0;
        out.step_cost_max = 0;
        out.steps = stream.steps;
        let outputs = model.output_neurons();
        let mut decisions = stream.decide.map(|_| StreamDecisions::default());
        let mut rules = match stream.decide.as_ref() {
            Some(d) => Some(self.rules.resume(d)?),
            None => None,
        };
        let mut push = Push {
            rules: rules.as_mut().zip(decisions.as_mut()),
            out: &mut *out,
            spikes,
            counter,
            outputs,
            most: stream_steps(outputs),
            start: stream.steps,
            last: model.layers.len().saturating_sub(1),
        };
        let exp = stream.exp;
        let steps = match input {
            StreamInput::Values(bytes) => bytes.len() / (2 * model.channels.len()).max(1),
            StreamInput::Events(bytes) => check_events(
                bytes,
                usize::from(model.header.input_size).min(b.step.len()),
            )?,
        };
        if steps > push.most {
            let mut e = err(ErrorCode::BadInput, "");
            let _ = write!(
                e.reason,
                "{steps} steps in one push, at most {} for this model (the reply must fit a frame)",
                push.most
            );
            return Err(e);
        }
        let r = match input {
            StreamInput::Values(_) if model.channels.is_empty() => Err(err(
                ErrorCode::BadInput,
                "this model takes input spikes (StreamInput::Events), not channel values",
            )),
            StreamInput::Values(bytes) => {
                let width = 2 * model.channels.len();
                if bytes.len() % width != 0 {
                    let mut e = err(ErrorCode::BadInput, "");
                    let _ = write!(
                        e.reason,
                        "{} value bytes are not whole steps of {width} (i16 per channel)",
                        bytes.len()
                    );
                    Err(e)
                } else {
                    bytes
                        .chunks_exact(width)
                        .try_for_each(|f| push.step(&mut engine, |e| e.step_raw_le(f, exp)))
                }
            }
            StreamInput::Events(bytes) => stream_events(bytes, b.step, |step| {
                push.step(&mut engine, |e| e.step(step))
            }),
        };
        // Steps that ran stay run (the stream goes on from there), even when a later step of
        // the push was refused; the reply says how far it got in `steps`.
        stream.steps = out.steps;
        if let (Some(r), Some(d), Some(o)) = (&rules, stream.decide.as_mut(), decisions.as_mut()) {
            r.finish(d, o);
        }
        out.decisions = decisions;
        stream.carry = engine.carry();
        fill_counts(&engine, out)?;
        // A readout model's running maxima over the stream's steps since its reset are in the
        // state buffers: `Readout` answers with them until the next load, Infer or begin.
        self.readout_ready = model.has_readout() && stream.steps > 0;
        self.stream = Some(stream);
        r
    }
}

/// The steps of one push: runs each, measures it and records its output spikes.
struct Push<'a, 'r> {
    /// The decision rules and where their per-step decisions go.
    rules: Option<(&'a mut Rules<'r>, &'a mut StreamDecisions)>,
    out: &'a mut StreamReply,
    spikes: &'a mut dyn SpikeOutput,
    counter: &'a mut dyn CycleCounter,
    outputs: usize,
    most: usize,
    start: u32,
    last: usize,
}

impl Push<'_, '_> {
    /// Runs one step with `run` (encode and step the network), costs it, and appends its
    /// output spikes to the reply (signalling each on the spike output). Refuses a step past
    /// [`stream_steps`].
    fn step(
        &mut self,
        engine: &mut Engine<'_, '_>,
        run: impl FnOnce(&mut Engine<'_, '_>) -> Result<(), EngineError>,
    ) -> Result<(), ErrorReply> {
        let done = self.out.steps.wrapping_sub(self.start) as usize;
        if done >= self.most || self.out.spikes.len() + self.outputs + 1 > MAX_STREAM_SPIKES {
            let mut e = err(ErrorCode::BadInput, "");
            let _ = write!(
                e.reason,
                "more than {} steps in one push (the reply must fit a frame)",
                self.most
            );
            return Err(e);
        }
        let t0 = self.counter.now();
        run(engine).map_err(engine_err)?;
        let cost = self.counter.now().wrapping_sub(t0);
        self.out.cost = self.out.cost.saturating_add(cost);
        self.out.step_cost_max = self.out.step_cost_max.max(cost);
        self.out.steps = self.out.steps.saturating_add(1);
        let fired = engine.layer_spikes(self.last);
        // Cannot fail: room for `outputs + 1` entries was checked above.
        let _ = self.out.spikes.push(fired.len() as u16);
        for &i in fired {
            let _ = self.out.spikes.push(i);
            self.spikes.spike(i);
        }
        if let Some((rules, decisions)) = self.rules.as_mut() {
            rules.push(fired, decisions)?;
        }
        Ok(())
    }
}

/// An engine over the loaded `model` and its state buffers ([`Bound::state`]), resumed from
/// `carry` (with the step limit off) or fresh at rest.
fn bind<'m, 'b>(
    model: &'m Model<'m>,
    (membrane, current, spikes, counts): State<'b>,
    carry: Option<&Carry>,
) -> Result<Engine<'m, 'b>, ErrorReply> {
    let mut e = match carry {
        Some(c) => Engine::resume(model, membrane, current, spikes, counts, c),
        None => Engine::new(model, membrane, current, spikes, counts),
    }
    .map_err(|e| err(ErrorCode::ModelTooBig, e))?;
    e.set_step_limit(false);
    Ok(e)
}

/// Copies the running output counts into the reply.
fn fill_counts(engine: &Engine<'_, '_>, out: &mut StreamReply) -> Result<(), ErrorReply> {
    out.counts.clear();
    for &c in engine.output_counts() {
        out.counts
            .push(c)
            .map_err(|_| err(ErrorCode::ModelTooBig, "too many output neurons"))?;
    }
    Ok(())
}

/// Checks [`StreamInput::Events`] words before any step runs (so a push runs whole or not at
/// all): whole words, every index below `inputs`, at most `inputs` indices a step, no words
/// after the last [`STEP_END`]. Returns the number of steps.
fn check_events(bytes: &[u8], inputs: usize) -> Result<usize, ErrorReply> {
    let words = bytes.chunks_exact(2);
    if !words.remainder().is_empty() {
        return Err(err(
            ErrorCode::BadInput,
            "event bytes are not whole u16 words",
        ));
    }
    let (mut steps, mut k) = (0usize, 0usize);
    for w in words {
        let word = u16::from_le_bytes([w[0], w[1]]);
        if word == STEP_END {
            steps += 1;
            k = 0;
            continue;
        }
        k += 1;
        if usize::from(word) >= inputs || k > inputs {
            let mut e = err(ErrorCode::BadInput, "");
            let _ = write!(
                e.reason,
                "step {steps} of the push: input {word} (or its count {k}) is not below the model's {inputs} inputs"
            );
            return Err(e);
        }
    }
    if k != 0 {
        return Err(err(
            ErrorCode::BadInput,
            "events after the last step end (0xFFFF) in a push",
        ));
    }
    Ok(steps)
}

/// Splits [`StreamInput::Events`] words into steps (each ended by [`STEP_END`]) and calls
/// `step` with each step's indices (gathered in `buf`). Odd bytes, trailing words without their
/// [`STEP_END`] and more indices in a step than `buf` holds are refused.
fn stream_events(
    bytes: &[u8],
    buf: &mut [u16],
    mut step: impl FnMut(&[u16]) -> Result<(), ErrorReply>,
) -> Result<(), ErrorReply> {
    let words = bytes.chunks_exact(2);
    if !words.remainder().is_empty() {
        return Err(err(
            ErrorCode::BadInput,
            "event bytes are not whole u16 words",
        ));
    }
    let mut k = 0usize;
    for w in words {
        let word = u16::from_le_bytes([w[0], w[1]]);
        if word == STEP_END {
            step(buf.get(..k).unwrap_or(&[]))?;
            k = 0;
            continue;
        }
        let slot = buf
            .get_mut(k)
            .ok_or_else(|| err(ErrorCode::BadInput, "more events in one step than inputs"))?;
        *slot = word;
        k += 1;
    }
    if k != 0 {
        return Err(err(
            ErrorCode::BadInput,
            "events after the last step end (0xFFFF) in a push",
        ));
    }
    Ok(())
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
