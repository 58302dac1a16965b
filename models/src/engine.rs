//! The one integer inference engine: event-driven LIF layers in saturating fixed point.
//!
//! Per step and layer (units of `2^-shift`, see `FORMAT.md`):
//! `syn_i = sum over spiking presynaptic j of w_ji (+ recurrent w_ki over last step's spikes k)`,
//! `u_i = sat(sat(decay(v_i, leak_i) + syn_i) + bias_i)`, spike `s_i = u_i >= threshold`,
//! then `v_i = u_i - threshold` (subtract), `0` (zero) or `u_i` (none) when `s_i`, else `u_i`.
//! Only neurons that spiked cost synaptic work: a silent neuron's fan-out is never read.
//!
//! A layer with a current-based synapse ([`Synapse::Current`], NIR `CubaLIF`, format version 3)
//! keeps one more `i32` per neuron, its synaptic current `c_i`, and integrates through it:
//! `c_i = sat(sat(decay(c_i, alpha_i) + syn_i) + bias_i)`, then
//! `u_i = sat(decay(v_i, leak_i) + c_i)` and the same spike and reset (see [`integrate_current`]).
//! Such a layer always takes the general path below (never the fused or DSP step), so every
//! core computes it with the same portable code.
//!
//! A model whose last layer is a non-spiking readout ([`Output::MaxMembrane`], NIR `LI` / `I`,
//! format version 3) runs that layer without threshold, reset or spikes:
//! `v_i = sat(sat(decay(v_i, leak_i) + syn_i) + bias_i)` (with a current-based synapse,
//! `v_i = sat(decay(v_i, leak_i) + c_i)`, `c_i` as above), every addition saturating at the
//! `i32` range ([`integrate`]). After each step the engine folds the readout's membranes into
//! their running maximum over the sample's steps ([`crate::decision::max_membrane_step`]; kept
//! in the `membrane` buffer after the currents) that [`Engine::readout`] returns and
//! [`Engine::predicted_class`] decides on. The readout takes the general path too (portable
//! code, same bits on every core); the spiking layers before it keep their fast paths.
//!
//! Two paths compute exactly that. A dense layer whose step adds at most 256 rows (feed-forward
//! spikes plus last step's recurrent spikes) takes the fused `step_dense`: per block of 8
//! neurons, one pass over the spiking rows sums `w + 128` in packed 16-bit lanes
//! (`add_rows`), and `syn_i = lane_i - 128 * rows` goes straight into the update (`lif`),
//! so `syn` never touches memory. Anything else (sparse weights, more rows, weights lacking a
//! named row) takes the general path: zero the `current` buffer, add every fan-out into it
//! (`fan_out`), then update. Both are bit-identical to the plain loops in the tests.
use crate::encode::{encode_frame, encode_raw_frame, encode_raw_le, rate_step, Encoder, Rng};
use crate::error::EngineError;
use crate::fixed::{sat_add, sat_sub};
use crate::format::{
    Encoding, Layer, LeI32s, Leak, Model, Output, Reset, Synapse, Weights, MAX_LAYERS, RATE_ONE,
};

/// Sizes of the caller-provided state buffers a model needs (elements, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Requirements {
    /// `i32` neuron state: every neuron's membrane (layer by layer), then the synaptic current
    /// of every neuron of a current-based layer ([`Synapse::Current`]), then (a non-spiking
    /// readout, [`Output::MaxMembrane`]) the running maximum of each readout membrane, then
    /// (delta encodings of real channels) one reference per input channel.
    pub membrane: usize,
    /// `i32` synaptic accumulators of the general path (on the fused dense path, last step's
    /// spikes of a recurrent layer): the largest layer.
    pub current: usize,
    /// `u16` spike lists: the input plus every layer.
    pub spikes: usize,
    /// `u16` spike counts of the output neurons.
    pub out_counts: usize,
}

impl Requirements {
    /// What `model` needs.
    pub fn of(model: &Model<'_>) -> Self {
        // One pass over the layers (a device binds an engine per request).
        let (mut total, mut largest) = (0usize, 0usize);
        for layer in &model.layers {
            let n = usize::from(layer.neurons);
            total += n;
            largest = largest.max(n);
        }
        Self {
            membrane: total
                + current_neurons(model)
                + readout_neurons(model)
                + delta_channels(model),
            current: largest,
            spikes: usize::from(model.header.input_size) + total,
            out_counts: model.output_neurons(),
        }
    }

    /// Whether the buffers are at least this long (else the first one too short).
    fn check(
        &self,
        membrane: &[i32],
        current: &[i32],
        spikes: &[u16],
        out_counts: &[u16],
    ) -> Result<(), EngineError> {
        check("membrane", self.membrane, membrane.len())?;
        check("current", self.current, current.len())?;
        check("spikes", self.spikes, spikes.len())?;
        check("out_counts", self.out_counts, out_counts.len())
    }

    /// Total state bytes: `4 * (membrane + current) + 2 * (spikes + out_counts)`.
    pub fn bytes(&self) -> usize {
        4 * (self.membrane + self.current) + 2 * (self.spikes + self.out_counts)
    }
}

/// Counters of one inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Stats {
    /// Time steps run.
    pub steps: u16,
    /// Input spikes fed to the first layer.
    pub input_spikes: u32,
    /// Spikes of each layer (index = layer).
    pub layer_spikes: [u32; MAX_LAYERS],
    /// Synaptic events: weights added into accumulators (the work done).
    pub synaptic_events: u64,
}

/// The engine over one model and caller-provided state.
#[derive(Debug)]
pub struct Engine<'m, 's> {
    model: &'m Model<'m>,
    membrane: &'s mut [i32],
    current: &'s mut [i32],
    spikes: &'s mut [u16],
    out_counts: &'s mut [u16],
    spike_len: [u16; MAX_LAYERS],
    stats: Stats,
    /// Whether steps stop at the model's `time_steps` (off for a stream).
    limited: bool,
    /// What the step loop would otherwise re-derive every step, decided once per model.
    plan: Plan,
    /// Whether the state is as [`Engine::reset`] left it (no step since), so
    /// [`Engine::run_features`] need not clear it again.
    at_rest: bool,
}

/// The per-model facts of the step loop, decided once when an engine is bound ([`Plan::of`]),
/// so the common model's step does no per-step dispatch on encoding, synapse or readout and no
/// per-step check that its weights cover every row. One byte: the C API's `snn_engine_t`
/// holds an engine in a fixed size (`models/capi/src/ffi.rs`), so the plan keeps no per-layer
/// data (a per-layer array of the fused steps' constants measured ~0.4 % faster on the M4 but
/// did not fit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plan {
    /// Every layer takes the fused dense step ([`step_dense`]) whenever the step adds at most
    /// [`BATCH`] rows: spike input (not direct), no synaptic current ([`Synapse::Instant`]),
    /// no readout, dense weights with a whole row for every index the layer can receive
    /// (`rows >= pre_bound` feed-forward, `rows >= neurons` recurrent, `neurons > 0`), a bias
    /// value for every neuron if any ([`bias_whole`]). Then [`Engine::step_lean`] runs each
    /// step; otherwise [`Engine::step_general`]. A readout model ([`Output::MaxMembrane`]) is
    /// lean under the same conditions when its readout layer has no recurrent weights: its
    /// layer takes [`readout_sums`] and [`integrate_lean`] instead of the fused step.
    lean: bool,
    /// The last layer is a non-spiking readout ([`Output::MaxMembrane`]); read by
    /// [`Engine::step_lean`] only.
    readout: bool,
}

impl Plan {
    /// The plan of `model`.
    fn of(model: &Model<'_>) -> Self {
        let spikes_in = !matches!(model.header.encoding, Encoding::Direct);
        let instant = model.synapses.0 .0.is_empty()
            || (0..model.layers.len()).all(|l| matches!(model.synapse(l), Synapse::Instant));
        let whole = |w: &Weights<'_>, n: usize, bound: usize| match w {
            Weights::Dense { values } => n > 0 && values.0.len() / n >= bound,
            Weights::Sparse { .. } => false,
        };
        let mut bound = usize::from(model.header.input_size);
        let mut dense = !model.layers.is_empty();
        for layer in &model.layers {
            let n = usize::from(layer.neurons);
            dense &= whole(&layer.feedforward, n, bound)
                && layer.recurrent.as_ref().is_none_or(|r| whole(r, n, n))
                && bias_whole(layer.bias, n);
            bound = n;
        }
        let readout = model.output.is_readout();
        // A readout never spikes, so recurrent weights would add nothing; the format forbids
        // them, the plan only leaves them to the general step.
        let plain_readout = !readout || model.layers.last().is_some_and(|l| l.recurrent.is_none());
        Self {
            lean: spikes_in && instant && plain_readout && dense,
            readout,
        }
    }
}

/// The engine's own state besides the caller's buffers (last step's spike-list lengths,
/// counters, step limit): with the same buffers untouched in between, [`Engine::resume`]
/// continues a network exactly where [`Engine::carry`] left it (a stream across requests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Carry {
    spike_len: [u16; MAX_LAYERS],
    stats: Stats,
    limited: bool,
}

/// Neurons with a synaptic current (every neuron of a [`Synapse::Current`] layer): their
/// currents live after the membranes.
fn current_neurons(model: &Model<'_>) -> usize {
    // A model without a synapse section (every file before version 3) has none.
    if model.synapses.0 .0.is_empty() {
        return 0;
    }
    model
        .layers
        .iter()
        .enumerate()
        .filter(|(l, _)| matches!(model.synapse(*l), Synapse::Current(_)))
        .map(|(_, layer)| usize::from(layer.neurons))
        .sum()
}

/// Neurons of a non-spiking readout ([`Output::MaxMembrane`]; 0 without one): their running
/// maxima live after the currents.
fn readout_neurons(model: &Model<'_>) -> usize {
    match model.output {
        Output::MaxMembrane => model.output_neurons(),
        Output::Spikes => 0,
    }
}

/// Where a readout's running maxima ([`Engine::readout`]) lie in the `membrane` buffer: after
/// every membrane and current (empty for a model whose last layer spikes). A device that keeps
/// the buffer after an inference reads them from there.
pub fn readout_span(model: &Model<'_>) -> core::ops::Range<usize> {
    let total: usize = model.layers.iter().map(|l| usize::from(l.neurons)).sum();
    let start = total + current_neurons(model);
    start..start + readout_neurons(model)
}

/// Channels whose delta-encoder reference lives after the membranes (0 unless the model uses
/// [`Encoding::SendOnDelta`] or [`Encoding::SigmaDelta`]).
fn delta_channels(model: &Model<'_>) -> usize {
    match model.header.encoding {
        Encoding::SendOnDelta | Encoding::SigmaDelta => usize::from(model.header.input_size) / 2,
        _ => 0,
    }
}

fn check(buffer: &'static str, needed: usize, given: usize) -> Result<(), EngineError> {
    if given < needed {
        Err(EngineError::BufferTooSmall {
            buffer,
            needed,
            given,
        })
    } else {
        Ok(())
    }
}

impl<'m, 's> Engine<'m, 's> {
    /// Binds a validated model to state buffers sized by [`Requirements::of`]; state starts at rest.
    pub fn new(
        model: &'m Model<'m>,
        membrane: &'s mut [i32],
        current: &'s mut [i32],
        spikes: &'s mut [u16],
        out_counts: &'s mut [u16],
    ) -> Result<Self, EngineError> {
        Requirements::of(model).check(membrane, current, spikes, out_counts)?;
        let mut e = Self {
            model,
            membrane,
            current,
            spikes,
            out_counts,
            spike_len: [0; MAX_LAYERS],
            stats: Stats::default(),
            limited: true,
            plan: Plan::of(model),
            at_rest: false,
        };
        e.reset();
        Ok(e)
    }

    /// Binds a model to buffers that hold the state an engine over the same model left in
    /// them, and continues from it with `carry` (from [`Engine::carry`]); nothing is reset.
    /// Every carried spike list is checked against its layer, so stale or foreign buffers give
    /// an error, never a panic.
    pub fn resume(
        model: &'m Model<'m>,
        membrane: &'s mut [i32],
        current: &'s mut [i32],
        spikes: &'s mut [u16],
        out_counts: &'s mut [u16],
        carry: &Carry,
    ) -> Result<Self, EngineError> {
        Requirements::of(model).check(membrane, current, spikes, out_counts)?;
        let mut start = usize::from(model.header.input_size);
        for (l, layer) in model.layers.iter().enumerate() {
            let n = usize::from(layer.neurons);
            let len = usize::from(carry.spike_len[l]);
            let ok = len <= n
                && spikes
                    .get(start..start + len)
                    .is_some_and(|s| s.iter().all(|&i| usize::from(i) < n));
            if !ok {
                return Err(EngineError::BufferTooSmall {
                    buffer: "carried spike list",
                    needed: len,
                    given: n,
                });
            }
            start += n;
        }
        if carry.spike_len[model.layers.len()..]
            .iter()
            .any(|&k| k != 0)
        {
            return Err(EngineError::BufferTooSmall {
                buffer: "carried spike list",
                needed: model.layers.len() + 1,
                given: model.layers.len(),
            });
        }
        Ok(Self {
            model,
            membrane,
            current,
            spikes,
            out_counts,
            spike_len: carry.spike_len,
            stats: carry.stats,
            limited: carry.limited,
            plan: Plan::of(model),
            at_rest: false,
        })
    }

    /// What [`Engine::resume`] needs to continue from here.
    pub fn carry(&self) -> Carry {
        Carry {
            spike_len: self.spike_len,
            stats: self.stats,
            limited: self.limited,
        }
    }

    /// Turns the step limit on (the default: at most the model's `time_steps` steps after a
    /// reset, else [`EngineError::TooManySteps`]) or off (a stream: any number of steps;
    /// `Stats::steps` then saturates at 65,535, spike counts at 65,535 per output neuron).
    pub fn set_step_limit(&mut self, on: bool) {
        self.limited = on;
    }

    /// Whether the step limit stops the next step.
    fn at_limit(&self) -> bool {
        self.limited && self.stats.steps >= self.model.header.time_steps
    }

    /// Puts every membrane at rest and clears spike lists, counts and stats.
    pub fn reset(&mut self) {
        self.membrane.iter_mut().for_each(|v| *v = 0);
        self.out_counts.iter_mut().for_each(|c| *c = 0);
        self.spike_len = [0; MAX_LAYERS];
        self.stats = Stats::default();
        self.at_rest = true;
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Spike count of each output neuron so far.
    pub fn output_counts(&self) -> &[u16] {
        &self.out_counts[..self.model.output_neurons()]
    }

    /// Membranes of layer `layer` (for tests and traces); empty for a bad index.
    pub fn membranes(&self, layer: usize) -> &[i32] {
        let (start, n) = self.layer_span(layer);
        self.membrane.get(start..start + n).unwrap_or(&[])
    }

    /// Synaptic currents of layer `layer` (for tests and traces); empty for a bad index or a
    /// layer without a current ([`Synapse::Instant`]).
    pub fn currents(&self, layer: usize) -> &[i32] {
        if !matches!(self.model.synapse(layer), Synapse::Current(_)) {
            return &[];
        }
        let total: usize = self
            .model
            .layers
            .iter()
            .map(|l| usize::from(l.neurons))
            .sum();
        let start = total
            + (0..layer)
                .filter(|&l| matches!(self.model.synapse(l), Synapse::Current(_)))
                .map(|l| usize::from(self.model.layers[l].neurons))
                .sum::<usize>();
        let n = usize::from(self.model.layers[layer].neurons);
        self.membrane.get(start..start + n).unwrap_or(&[])
    }

    /// The running maximum of each readout membrane over the steps since the last reset (one
    /// value per class, `i32` in the layer's membrane units `2^-shift`; 0 before the first
    /// step), the result a readout model ([`Output::MaxMembrane`]) decides on; empty for a
    /// model whose last layer spikes.
    pub fn readout(&self) -> &[i32] {
        self.membrane.get(readout_span(self.model)).unwrap_or(&[])
    }

    /// Spike indices of layer `layer` at the last step.
    pub fn layer_spikes(&self, layer: usize) -> &[u16] {
        let input = usize::from(self.model.header.input_size);
        let (start, _) = self.layer_span(layer);
        let len = self.spike_len.get(layer).copied().unwrap_or(0);
        self.spikes
            .get(input + start..input + start + usize::from(len))
            .unwrap_or(&[])
    }

    fn layer_span(&self, layer: usize) -> (usize, usize) {
        let start = self
            .model
            .layers
            .iter()
            .take(layer)
            .map(|l| usize::from(l.neurons))
            .sum();
        let n = self
            .model
            .layers
            .get(layer)
            .map_or(0, |l| usize::from(l.neurons));
        (start, n)
    }

    /// Runs one time step given the input spike indices (any order, each below `input_size`,
    /// at most `input_size` of them).
    /// A direct-input model takes values, not spikes: use [`step_values`](Self::step_values).
    pub fn step(&mut self, input: &[u16]) -> Result<(), EngineError> {
        if matches!(self.model.header.encoding, Encoding::Direct) {
            return Err(EngineError::InputKind {
                needs: "real-valued channels (step_values / run_values), not spike indices",
            });
        }
        let input_size = usize::from(self.model.header.input_size);
        if input.len() > input_size {
            return Err(EngineError::InputLength {
                expected: input_size,
                given: input.len(),
            });
        }
        if let Some(&index) = input.iter().find(|&&j| usize::from(j) >= input_size) {
            return Err(EngineError::InputIndex { index });
        }
        self.spikes[..input.len()].copy_from_slice(input);
        self.step_staged(input.len())
    }

    /// Runs one step on the `k` valid input indices already in the input slot of `spikes`.
    #[inline]
    fn step_staged(&mut self, k: usize) -> Result<(), EngineError> {
        if self.at_limit() {
            return Err(EngineError::TooManySteps);
        }
        self.at_rest = false;
        if self.plan.lean {
            self.step_lean(k);
            Ok(())
        } else {
            self.step_general(k);
            Ok(())
        }
    }

    /// One step of a model whose [`Plan`] is lean: per layer, the fused [`step_dense`] on the
    /// weights the plan proved whole (a step adding more than [`BATCH`] rows takes
    /// [`general_dense`]), the fused
    /// steps' synaptic events summed in a `u32` (each adds at most `BATCH * 65,535 < 2^24`, at
    /// most [`MAX_LAYERS`] of them) and added once per step.
    /// The same results as [`step_general`](Self::step_general) on such a model.
    fn step_lean(&mut self, k: usize) {
        let input_size = usize::from(self.model.header.input_size);
        let (in_buf, mut layer_bufs) = self.spikes.split_at_mut(input_size);
        let mut pre: &[u16] = in_buf.get(..k).unwrap_or(&[]);
        let mut v_bufs = &mut self.membrane[..];
        let mut events = 0u32;
        let last = self.model.layers.len().saturating_sub(1);
        for (l, layer) in self.model.layers.iter().enumerate() {
            // Dense weights, as the plan proved (sparse ones would add nothing).
            let ff = match &layer.feedforward {
                Weights::Dense { values } => values.0,
                Weights::Sparse { .. } => &[],
            };
            if self.plan.readout && l == last {
                // The non-spiking readout: `v <- sat(sat(decay(v, beta) + W s) + b)` as
                // `step_general` computes it, its sums packed ([`readout_sums`]), then the
                // running maxima, which follow the membranes (no currents: the plan is instant).
                let n = usize::from(layer.neurons);
                let (v, max) = core::mem::take(&mut v_bufs).split_at_mut(n);
                let cur = &mut self.current[..n];
                let e = readout_sums(ff, pre, cur);
                self.stats.synaptic_events = self.stats.synaptic_events.saturating_add(e);
                integrate_lean(layer, v, cur);
                let m = max.len().min(n);
                crate::decision::max_membrane_step(&mut max[..m], v, self.stats.steps == 0);
                self.spike_len[l] = 0;
                pre = &[];
                break;
            }
            let rec = match &layer.recurrent {
                Some(Weights::Dense { values }) => values.0,
                _ => &[],
            };
            let f = &Fused::of(layer, ff, rec);
            let n = usize::from(layer.neurons);
            let (own, rest) = core::mem::take(&mut layer_bufs).split_at_mut(n);
            layer_bufs = rest;
            let (v, rest) = core::mem::take(&mut v_bufs).split_at_mut(n);
            v_bufs = rest;
            // Last step's spikes feed back only through recurrent weights (never empty: the
            // plan proved `n * n > 0` bytes of them).
            let prev_len = if f.rec.is_empty() {
                0
            } else {
                usize::from(self.spike_len[l])
            };
            let rows = pre.len() + prev_len;
            let count = if rows <= BATCH {
                // Last step's spikes move to the accumulator buffer first (see
                // `step_general`).
                let cur = self.current.get_mut(..prev_len).unwrap_or(&mut []);
                for (c, &k) in cur.iter_mut().zip(&own[..prev_len]) {
                    *c = i32::from(k);
                }
                events += (rows * n) as u32;
                step_dense(f, pre, cur, v, own)
            } else {
                let (e, count) = general_dense(f.layer, pre, prev_len, v, self.current, own);
                self.stats.synaptic_events = self.stats.synaptic_events.saturating_add(e);
                count
            };
            self.spike_len[l] = count as u16;
            self.stats.layer_spikes[l] = self.stats.layer_spikes[l].saturating_add(count as u32);
            pre = &own[..count];
        }
        // `pre` is the last layer's spikes.
        for &i in pre {
            if let Some(c) = self.out_counts.get_mut(usize::from(i)) {
                *c = c.saturating_add(1);
            }
        }
        self.stats.input_spikes = self.stats.input_spikes.saturating_add(k as u32);
        self.stats.synaptic_events = self.stats.synaptic_events.saturating_add(u64::from(events));
        self.stats.steps = self.stats.steps.saturating_add(1);
    }

    /// One step of any model: per layer, the synapse, readout and input kind decide the path.
    fn step_general(&mut self, k: usize) {
        let input_size = usize::from(self.model.header.input_size);
        let (in_buf, mut layer_bufs) = self.spikes.split_at_mut(input_size);
        let mut pre: &[u16] = &in_buf[..k];
        // Direct input stages one value per channel: its events are the non-zero values.
        let events_in = match self.model.header.encoding {
            Encoding::Direct => pre.iter().filter(|&&q| q != 0).count(),
            _ => k,
        };
        self.stats.input_spikes = self.stats.input_spikes.saturating_add(events_in as u32);
        // Membranes first, then the synaptic currents of current-based layers (`Requirements`).
        let total: usize = self
            .model
            .layers
            .iter()
            .map(|l| usize::from(l.neurons))
            .sum();
        let (mut v_bufs, mut c_bufs) = self.membrane.split_at_mut(total);
        // A model without a synapse section (every file before version 3) reads no entry.
        let instant_only = self.model.synapses.0 .0.is_empty();
        // Every index in `pre` is below `pre_bound`: the input was checked by `step` (or written
        // by the encoder), and a layer's spike list only names its own neurons.
        let mut pre_bound = input_size;
        let last = self.model.layers.len().saturating_sub(1);
        let readout = self.model.output.is_readout();
        for (l, layer) in self.model.layers.iter().enumerate() {
            let n = usize::from(layer.neurons);
            let (own, rest) = core::mem::take(&mut layer_bufs).split_at_mut(n);
            layer_bufs = rest;
            let (v, rest) = core::mem::take(&mut v_bufs).split_at_mut(n);
            v_bufs = rest;
            let synapse = if instant_only {
                Synapse::Instant
            } else {
                self.model.synapse(l)
            };
            let syn_state = match synapse {
                Synapse::Current(_) => {
                    let (c, rest) = core::mem::take(&mut c_bufs).split_at_mut(n);
                    c_bufs = rest;
                    c
                }
                Synapse::Instant => &mut [][..],
            };
            let cur = &mut self.current[..n];
            let prev_len = usize::from(self.spike_len[l]);
            let direct = l == 0 && matches!(self.model.header.encoding, Encoding::Direct);
            let is_readout = readout && l == last;
            let fused = match synapse {
                Synapse::Instant if !direct && !is_readout => {
                    dense_weights(layer, pre, pre_bound, &own[..prev_len])
                }
                _ => None,
            };
            let (events, count) = match fused {
                Some((ff, rec)) => {
                    // The fused step rewrites `own` block by block while every block still
                    // reads last step's spikes, so those move to the accumulator buffer first.
                    let prev: &[i32] = match rec {
                        Some(_) => {
                            for (c, &k) in cur.iter_mut().zip(&own[..prev_len]) {
                                *c = i32::from(k);
                            }
                            &cur[..prev_len]
                        }
                        None => &[],
                    };
                    let rec = rec.unwrap_or(&[]);
                    let events = ((pre.len() + prev.len()) * n) as u64;
                    let f = Fused::of(layer, ff, rec);
                    (events, step_fused(&f, pre, prev, v, own))
                }
                None => {
                    cur.iter_mut().for_each(|c| *c = 0);
                    let mut events = if direct {
                        fan_out_values(&layer.feedforward, n, pre, cur)
                    } else {
                        fan_out(&layer.feedforward, n, pre, cur)
                    };
                    if let Some(rec) = &layer.recurrent {
                        events += fan_out(rec, n, &own[..prev_len], cur);
                    }
                    let count = match synapse {
                        Synapse::Instant if is_readout => {
                            integrate(layer, layer.bias, v, cur);
                            0
                        }
                        Synapse::Current(alpha) if is_readout => {
                            integrate_current(&alpha, layer.bias, syn_state, cur);
                            integrate(layer, None, v, cur);
                            0
                        }
                        Synapse::Instant => update(layer, v, cur, own),
                        Synapse::Current(alpha) => {
                            integrate_current(&alpha, layer.bias, syn_state, cur);
                            // The bias went into the current.
                            let no_bias = Layer {
                                bias: None,
                                ..*layer
                            };
                            update(&no_bias, v, cur, own)
                        }
                    };
                    (events, count)
                }
            };
            if is_readout {
                // The readout's running maxima follow the currents (`Requirements`).
                let (max, _) = core::mem::take(&mut c_bufs).split_at_mut(n);
                crate::decision::max_membrane_step(max, v, self.stats.steps == 0);
            }
            self.stats.synaptic_events = self.stats.synaptic_events.saturating_add(events);
            self.spike_len[l] = count as u16;
            self.stats.layer_spikes[l] = self.stats.layer_spikes[l].saturating_add(count as u32);
            if l == last {
                for &i in &own[..count] {
                    let c = &mut self.out_counts[usize::from(i)];
                    *c = c.saturating_add(1);
                }
            }
            pre = &own[..count];
            pre_bound = n;
        }
        self.stats.steps = self.stats.steps.saturating_add(1);
    }

    /// Resets, encodes `features` with the model's encoding and runs every time step.
    pub fn run_features(&mut self, features: &[u8], sample_seed: u32) -> Result<(), EngineError> {
        // A fresh engine (`Engine::new`) is at rest already: no second clear.
        if !self.at_rest {
            self.reset();
        }
        let header = self.model.header;
        let input_size = usize::from(header.input_size);
        if let (Encoding::Rate { seed }, true) = (header.encoding, features.len() == input_size) {
            // One frame every step: what `Encoder::next_step` does for it, without its per-step
            // checks (the step count is the loop's, the input slot holds `input_size`).
            let mut rng = Rng::new(seed, sample_seed);
            if self.plan.lean {
                // From rest, `time_steps` steps never reach the step limit: no per-step check.
                self.at_rest = false;
                for _ in 0..header.time_steps {
                    let k = rate_step(&mut rng, features, &mut self.spikes[..input_size]);
                    self.step_lean(k);
                }
                return Ok(());
            }
            for _ in 0..header.time_steps {
                let k = rate_step(&mut rng, features, &mut self.spikes[..input_size]);
                self.step_staged(k)?;
            }
            return Ok(());
        }
        let mut encoder = Encoder::new(&header, features, sample_seed)?;
        for _ in 0..header.time_steps {
            let k = encoder.next_step(&mut self.spikes[..input_size])?;
            self.step_staged(k)?;
        }
        Ok(())
    }

    /// Runs one step of a continuous encoding on `frame` (one real value per channel): encodes
    /// it with the model's per-channel constants ([`encode_frame`]) and steps the network.
    /// State carries over from the previous step; [`reset`](Self::reset) starts a new sample.
    /// This is the streaming entry point: a sample of `T_i` steps is `T_i` calls.
    pub fn step_values(&mut self, frame: &[f32]) -> Result<(), EngineError> {
        self.step_encoded(|enc, ch, state, out| encode_frame(enc, ch, frame, state, out))
    }

    /// [`step_values`](Self::step_values) on raw `i16` samples with unit `2^exp`
    /// ([`encode_raw_frame`]: `x_c = raw_c * 2^exp`): the on-board encoder of a sensor or a
    /// stream. The host simulation of raw input calls this too, so both see the same spikes.
    pub fn step_raw(&mut self, raw: &[i16], exp: i8) -> Result<(), EngineError> {
        self.step_encoded(|enc, ch, state, out| encode_raw_frame(enc, ch, raw, exp, state, out))
    }

    /// [`step_raw`](Self::step_raw) on the samples as little-endian `i16` bytes.
    pub fn step_raw_le(&mut self, bytes: &[u8], exp: i8) -> Result<(), EngineError> {
        self.step_encoded(|enc, ch, state, out| encode_raw_le(enc, ch, bytes, exp, state, out))
    }

    /// Encodes one frame with `encode` into the input slot (delta references after the
    /// membranes) and runs the step.
    fn step_encoded(
        &mut self,
        encode: impl FnOnce(
            Encoding,
            &crate::format::Channels<'_>,
            &mut [i32],
            &mut [u16],
        ) -> Result<usize, EngineError>,
    ) -> Result<(), EngineError> {
        if self.at_limit() {
            return Err(EngineError::TooManySteps);
        }
        self.at_rest = false;
        let input_size = usize::from(self.model.header.input_size);
        let neurons = self.membrane.len() - delta_channels(self.model);
        let state = self.membrane.get_mut(neurons..).unwrap_or(&mut []);
        let k = encode(
            self.model.header.encoding,
            &self.model.channels,
            state,
            &mut self.spikes[..input_size],
        )?;
        self.step_staged(k)
    }

    /// Resets and runs one sample of real-valued channels: `values` holds `T_i` frames of
    /// `C` channels (frame `t` at `t * C`), `1 <= T_i <= time_steps`. Exactly `T_i` steps run,
    /// so counts, stats and budgets cover the sample's valid steps only (no padding).
    pub fn run_values(&mut self, values: &[f32]) -> Result<(), EngineError> {
        self.reset();
        let c = self.model.channels.len();
        let max = c * usize::from(self.model.header.time_steps);
        if c == 0 || values.is_empty() || values.len() % c != 0 || values.len() > max {
            return Err(EngineError::InputLength {
                expected: max,
                given: values.len(),
            });
        }
        for frame in values.chunks_exact(c) {
            self.step_values(frame)?;
        }
        Ok(())
    }

    /// Resets and runs one sample given as spike events per step (`steps[t]` are the input
    /// indices of step `t`, `1 <= T_i <= time_steps` steps): binned event streams.
    pub fn run_spike_steps<'i>(
        &mut self,
        steps: impl IntoIterator<Item = &'i [u16]>,
    ) -> Result<(), EngineError> {
        self.reset();
        for input in steps {
            self.step(input)?;
        }
        Ok(())
    }

    /// Predicted class: the population with most spikes (ties go to the lower class), or for
    /// a readout model the class with the largest [`readout`](Self::readout) value
    /// ([`crate::decision::readout_class`], ties go to the lower class).
    pub fn predicted_class(&self) -> u16 {
        if self.model.output.is_readout() {
            return crate::decision::readout_class(self.readout());
        }
        predict(self.model, self.output_counts())
    }

    /// Whether each layer's mean rate over the steps run lies within its budget.
    pub fn budget_ok(&self, layer: usize) -> bool {
        let Some(l) = self.model.layers.get(layer) else {
            return false;
        };
        let denom = u64::from(l.neurons) * u64::from(self.stats.steps);
        let spikes = u64::from(self.stats.layer_spikes[layer]) * u64::from(RATE_ONE);
        spikes <= u64::from(l.budget.max_rate) * denom
            && spikes >= u64::from(l.budget.min_rate) * denom
    }
}

/// Class with the most output spikes summed over its `neurons_per_class` neurons; ties -> lowest.
pub fn predict(model: &Model<'_>, counts: &[u16]) -> u16 {
    let per = usize::from(model.header.neurons_per_class).max(1);
    let classes = usize::from(model.header.num_classes);
    let mut best = (0u16, 0u32);
    if per == 1 {
        // One neuron per class: the first largest count.
        for (c, &x) in counts.iter().take(classes).enumerate() {
            if u32::from(x) > best.1 {
                best = (c as u16, u32::from(x));
            }
        }
        return best.0;
    }
    for c in 0..model.header.num_classes {
        let start = usize::from(c) * per;
        let total: u32 = counts
            .get(start..start + per)
            .map_or(0, |s| s.iter().map(|&x| u32::from(x)).sum());
        if total > best.1 {
            best = (c, total);
        }
    }
    best.0
}

/// Adds the fan-out of every index in `spikes` into `cur`; returns the synaptic events.
/// Sums cannot overflow: at most 2 * 65535 events of |w| <= 128 per neuron per step.
#[inline]
fn fan_out(w: &Weights<'_>, n: usize, spikes: &[u16], cur: &mut [i32]) -> u64 {
    match w {
        Weights::Dense { values } => fan_out_dense(values.0, n, spikes, cur),
        Weights::Sparse {
            row_ptr,
            post,
            values,
        } => {
            let mut events = 0u64;
            for &j in spikes {
                let j = usize::from(j);
                let (Some(a), Some(b)) = (row_ptr.get(j), row_ptr.get(j + 1)) else {
                    continue;
                };
                let (a, b) = (a as usize, b as usize);
                let (Some(vals), Some(idx)) = (values.0.get(a..b), post.0 .0.get(2 * a..2 * b))
                else {
                    continue;
                };
                for (&v, p) in vals.iter().zip(idx.chunks_exact(2)) {
                    if let Some(c) = cur.get_mut(usize::from(u16::from_le_bytes([p[0], p[1]]))) {
                        *c += i32::from(v as i8);
                    }
                }
                events += (b - a) as u64;
            }
            events
        }
    }
}

/// Direct input of the first layer: `q` holds one `i16` per input channel (as `u16` bits);
/// `cur_i = (sat-sum over channels c ascending with q_c != 0 of w_ci * q_c, then sat(+128)) >> 8`,
/// i.e. the weighted sum of `x_hat = q / 256` in membrane units, rounded half up. `cur` must be
/// zero on entry; returns the synaptic events (weights read for non-zero channels).
fn fan_out_values(w: &Weights<'_>, n: usize, q: &[u16], cur: &mut [i32]) -> u64 {
    let mut events = 0u64;
    for (j, &bits) in q.iter().enumerate() {
        let x = i32::from(bits as i16);
        if x == 0 {
            continue;
        }
        match w {
            Weights::Dense { values } => {
                let Some(row) = values.0.get(j * n..j * n + n) else {
                    continue;
                };
                for (c, &b) in cur.iter_mut().zip(row) {
                    *c = c.saturating_add(i32::from(b as i8) * x);
                }
                events += n as u64;
            }
            Weights::Sparse {
                row_ptr,
                post,
                values,
            } => {
                let (Some(a), Some(b)) = (row_ptr.get(j), row_ptr.get(j + 1)) else {
                    continue;
                };
                let (a, b) = (a as usize, b as usize);
                let (Some(vals), Some(idx)) = (values.0.get(a..b), post.0 .0.get(2 * a..2 * b))
                else {
                    continue;
                };
                for (&v, p) in vals.iter().zip(idx.chunks_exact(2)) {
                    if let Some(c) = cur.get_mut(usize::from(u16::from_le_bytes([p[0], p[1]]))) {
                        *c = c.saturating_add(i32::from(v as i8) * x);
                    }
                }
                events += (b - a) as u64;
            }
        }
    }
    let half = 1 << (crate::encode::Q_FRAC - 1);
    for c in cur.iter_mut() {
        *c = c.saturating_add(half) >> crate::encode::Q_FRAC;
    }
    events
}

/// Postsynaptic neurons per register block of the dense fan-out (four accumulator words, so the
/// whole block stays in registers on a Cortex-M4).
const BLOCK: usize = 8;
/// Presynaptic rows summed per batch: a 16-bit lane then holds at most `256 * 255 < 2^16`.
const BATCH: usize = 256;
/// `w ^ 0x80` maps an `i8` weight (as its byte) to the unsigned `w + 128` in `0..=255`.
pub(crate) const BIAS_BYTES: u32 = 0x8080_8080;
/// Selects bytes 0 and 2 of a word as two 16-bit lanes.
pub(crate) const LANES: u32 = 0x00FF_00FF;

/// Dense fan-out of the general path (the fused [`step_dense`] sums the same way, in one batch),
/// exactly `cur[i] += sum over spiking j of (values[j * n + i] as i8)` for every
/// row `j` that exists, computed as packed integer sums (SWAR) so a 32-bit core adds two
/// weights per instruction:
/// for each block of [`BLOCK`] (then 4) neurons and each batch of at most [`BATCH`] spikes,
/// every weight is biased to `w + 128` (one XOR per four weights), even and odd bytes are spread
/// into the 16-bit lanes of two words and summed without carries between lanes; then
/// `sum(w) = lane - 128 * rows_in_batch` is added to `cur`. The sums are exact integers, so the
/// result is bit-identical to the plain loop (kept as the reference in the tests). The last
/// `n % 4` neurons, and any spike list naming a row that does not exist, take the plain loop.
fn fan_out_dense(values: &[u8], n: usize, spikes: &[u16], cur: &mut [i32]) -> u64 {
    let Some(cur) = cur.get_mut(..n) else {
        return 0;
    };
    if n == 0 || spikes.is_empty() {
        return 0;
    }
    let rows = values.len() / n;
    let valid = spikes.iter().filter(|&&j| usize::from(j) < rows).count();
    let mut done = 0;
    if valid == spikes.len() {
        let (blocks, rest) = cur.split_at_mut(n / BLOCK * BLOCK);
        for (b, out) in blocks.chunks_exact_mut(BLOCK).enumerate() {
            dense_block::<BLOCK, { BLOCK / 2 }>(values, n, b * BLOCK, spikes, out);
        }
        done = blocks.len();
        if rest.len() >= 4 {
            dense_block::<4, 2>(values, n, done, spikes, &mut rest[..4]);
            done += 4;
        }
    }
    let tail = &mut cur[done..];
    if !tail.is_empty() {
        for &j in spikes {
            let start = usize::from(j) * n + done;
            if usize::from(j) >= rows {
                continue;
            }
            if let Some(row) = values.get(start..start + tail.len()) {
                for (c, &b) in tail.iter_mut().zip(row) {
                    *c += i32::from(b as i8);
                }
            }
        }
    }
    (valid * n) as u64
}

/// Adds columns `off..off + B` of the rows in `spikes` (all existing rows) into `out` (`B`
/// long), `W = B / 2` accumulator words held in registers.
#[inline(always)]
fn dense_block<const B: usize, const W: usize>(
    values: &[u8],
    n: usize,
    off: usize,
    spikes: &[u16],
    out: &mut [i32],
) {
    let cols = values.get(off..).unwrap_or(&[]);
    for batch in spikes.chunks(BATCH) {
        let mut acc = [0u32; W];
        for &j in batch {
            let start = usize::from(j) * n;
            let Some(Ok(w)) = cols.get(start..start + B).map(<&[u8; B]>::try_from) else {
                continue; // unreachable for existing rows (off + B <= n)
            };
            for q in 0..B / 4 {
                let x = u32::from_le_bytes([w[4 * q], w[4 * q + 1], w[4 * q + 2], w[4 * q + 3]])
                    ^ BIAS_BYTES;
                acc[2 * q] += x & LANES;
                acc[2 * q + 1] += (x >> 8) & LANES;
            }
        }
        // Lanes: acc[2q] = (post 4q, post 4q + 2), acc[2q + 1] = (post 4q + 1, post 4q + 3).
        let bias = 128 * batch.len() as i32;
        for (q, o) in out.chunks_exact_mut(4).enumerate().take(B / 4) {
            let (e, d) = (acc[2 * q], acc[2 * q + 1]);
            o[0] += (e & 0xFFFF) as i32 - bias;
            o[1] += (d & 0xFFFF) as i32 - bias;
            o[2] += (e >> 16) as i32 - bias;
            o[3] += (d >> 16) as i32 - bias;
        }
    }
}

/// The per-layer constants of the fire-and-reset step. A spiking neuron's membrane becomes
/// `sat(u - sub) & keep`: `sub = threshold, keep = !0` subtracts, `sub = 0, keep = 0` zeroes and
/// `sub = 0, keep = !0` keeps `u`, with no branch on the reset mode.
#[derive(Clone, Copy, Debug)]
struct Fire {
    threshold: i32,
    sub: i32,
    keep: i32,
}

impl Fire {
    fn of(layer: &Layer<'_>) -> Self {
        let threshold = layer.threshold;
        let (sub, keep) = match layer.reset {
            Reset::Subtract => (threshold, !0),
            Reset::Zero => (0, 0),
            Reset::None => (0, !0),
        };
        Self {
            threshold,
            sub,
            keep,
        }
    }
}

/// `leak` as the multiplier of [`decay_q`]: `leak << 16` as an `i32`, i.e. `(leak as i16) * 2^16`.
#[inline(always)]
fn leak_q(leak: u16) -> i32 {
    (u32::from(leak) << 16) as i32
}

/// [`crate::fixed::decay`]`(v, leak)` from `q = leak_q(leak)` and `hi = q >> 31`, in two
/// Cortex-M4 instructions (`and`, `smmlar`). With `s = leak as i16` (so `q = s * 2^16`),
/// `(v * q + 2^31) >> 32 = (v * s + 2^15) >> 16`. For `leak < 2^15`, `s = leak` and that is the
/// decay; otherwise `s = leak - 2^16` and `v * leak = v * s + v * 2^16`, so adding `v & hi = v`
/// gives `(v * leak + 2^15) >> 16` exactly. Both parts and the result lie in `i32` (`|s| <=
/// 2^15`, `|decay| <= |v|`), so the wrapping add is exact; `decay`'s clamp never binds for a
/// `u16` leak.
///
/// ARMv6-M (Cortex-M0/M0+, `cfg(armv6m)` from `build.rs`) has
/// no 32 × 32 → 64 multiply: there the product is [`decay_q_narrow`]'s two 32-bit ones instead
/// of a library call (`__aeabi_lmul`, ~37 instructions per neuron update).
#[inline(always)]
fn decay_q(v: i32, q: i32, hi: i32) -> i32 {
    #[cfg(not(armv6m))]
    let r = ((i64::from(v) * i64::from(q) + (1 << 31)) >> 32) as i32;
    #[cfg(armv6m)]
    let r = decay_q_narrow(v, q);
    r.wrapping_add(v & hi)
}

/// `(v * q + 2^31) >> 32` for `q = s * 2^16` (`s = q >> 16`, an `i16`) with 32-bit products
/// only: split `v = vh * 2^16 + vl` (`vh = v >> 16`, `vl = v & 0xFFFF`), then
/// `(v * s + 2^15) >> 16 = vh * s + ((vl * s + 2^15) >> 16)` exactly, since `vh * s * 2^16` is
/// a multiple of `2^16`. No step overflows: `|vh * s| <= 2^30` and `vl * s + 2^15` lies in
/// `[-2^31 + 2^15, 2^31 - 2^16]`.
#[cfg_attr(not(armv6m), allow(dead_code))]
#[inline(always)]
fn decay_q_narrow(v: i32, q: i32) -> i32 {
    let s = q >> 16;
    let (vh, vl) = (v >> 16, v & 0xFFFF);
    (vh * s).wrapping_add((vl * s + (1 << 15)) >> 16)
}

/// `u_i = sat(sat(decay(v_i, leak_i) + syn_i) + bias_i)` for the neurons `base..base + v.len()`
/// (`decay(i, v)` is the decay of neuron `i`, `bias` yields `bias_i` in order); spike when
/// `u_i >= threshold`, appending `i` to `out` at `count`, and reset.
#[allow(clippy::too_many_arguments)] // one inlined step; the arguments are its registers
#[inline(always)]
fn lif(
    v: &mut [i32],
    base: usize,
    syn: impl Iterator<Item = i32>,
    fire: Fire,
    decay: &impl Fn(usize, i32) -> i32,
    bias: impl Iterator<Item = i32>,
    out: &mut [u16],
    count: &mut usize,
) {
    for (k, ((vi, s), b)) in v.iter_mut().zip(syn).zip(bias).enumerate() {
        let i = base + k;
        let u = sat_add(sat_add(decay(i, *vi), s), b);
        if u >= fire.threshold {
            if let Some(o) = out.get_mut(*count) {
                *o = i as u16;
            }
            *count += 1;
            *vi = sat_sub(u, fire.sub) & fire.keep;
        } else {
            *vi = u;
        }
    }
}

/// A layer's per-neuron bias, read per neuron or a block at a time.
trait Bias: Copy {
    /// `bias_i` (0 past the end).
    fn at(self, i: usize) -> i32;
    /// The little-endian bytes of `bias_off .. bias_off + B` with one bounds check for the
    /// block (empty without bias: every value 0), read with [`le_i32`] where each neuron is
    /// updated, so the block's values are not all held in registers at once. [`step_dense`]
    /// is called only when the bias holds a value for every neuron ([`bias_whole`]: the plan
    /// and [`step_fused`] check it); a block past its end (never reached) reads zeros rather
    /// than panicking.
    fn block<'a, const B: usize>(self, off: usize) -> &'a [u8]
    where
        Self: 'a;
    /// The bias bytes of neurons `0..n / BLOCK * BLOCK`, a block of [`BLOCK`] at a time in
    /// order (all zeros without bias); as [`Bias::block`] but one bounds check for the layer.
    fn blocks<'a>(self, n: usize) -> impl Iterator<Item = &'a [u8; 4 * BLOCK]>
    where
        Self: 'a;
}

/// The bytes of a block of [`BLOCK`] zeros.
const ZEROS: [u8; 4 * BLOCK] = [0; 4 * BLOCK];

/// Whether `bias` (if any) holds a value for each of the `n` neurons, as the fused step's
/// block reads ([`Bias::block`]) need (a validated model's always does; otherwise
/// the step takes [`step_dense_short`]).
fn bias_whole(bias: Option<LeI32s<'_>>, n: usize) -> bool {
    bias.is_none_or(|b| b.len() >= n)
}

/// The `i32` at bytes `4k .. 4k + 4` of `bytes`, little-endian (0 past the end).
#[inline(always)]
fn le_i32(bytes: &[u8], k: usize) -> i32 {
    bytes
        .get(4 * k..4 * k + 4)
        .map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A layer without bias.
#[derive(Clone, Copy)]
struct NoBias;

impl Bias for NoBias {
    #[inline(always)]
    fn at(self, _: usize) -> i32 {
        0
    }
    #[inline(always)]
    fn block<'a, const B: usize>(self, _: usize) -> &'a [u8]
    where
        Self: 'a,
    {
        &[]
    }
    #[inline(always)]
    fn blocks<'a>(self, _: usize) -> impl Iterator<Item = &'a [u8; 4 * BLOCK]>
    where
        Self: 'a,
    {
        core::iter::repeat(&ZEROS)
    }
}

impl Bias for LeI32s<'_> {
    #[inline(always)]
    fn at(self, i: usize) -> i32 {
        self.get(i).unwrap_or(0)
    }
    #[inline(always)]
    fn block<'a, const B: usize>(self, off: usize) -> &'a [u8]
    where
        Self: 'a,
    {
        off.checked_mul(4)
            .and_then(|start| self.0 .0.get(start..start.checked_add(4 * B)?))
            .unwrap_or(&ZEROS[..4 * B])
    }
    #[inline(always)]
    fn blocks<'a>(self, n: usize) -> impl Iterator<Item = &'a [u8; 4 * BLOCK]>
    where
        Self: 'a,
    {
        // A bias shorter than the layer (never, see `bias_whole`) yields fewer blocks.
        let bytes = n.checked_mul(4).and_then(|len| self.0 .0.get(..len));
        bytes
            .unwrap_or(&[])
            .chunks_exact(4 * BLOCK)
            .map(|c| <&[u8; 4 * BLOCK]>::try_from(c).unwrap_or(&ZEROS))
    }
}

/// Calls `$run` with the layer's decay closure and [`Bias`], one monomorphic copy per leak/bias
/// variant, so the variants are resolved once per layer, not per neuron. A shared leak also
/// splits on the sign of `q = leak_q(leak)` (`hi = q >> 31` is a constant in each copy, so
/// [`decay_q`] is one `smmulr` or one `smmlar` on a Cortex-M4).
macro_rules! with_leak_bias {
    ($layer:expr, |$decay:ident, $bias:ident| $run:expr) => {
        match (&$layer.leak, &$layer.bias) {
            (Leak::Shared(l), b) => {
                let q = leak_q(*l);
                if q >= 0 {
                    let $decay = &|_: usize, v: i32| decay_q(v, q, 0);
                    with_leak_bias!(@bias b, $bias, $run)
                } else {
                    let $decay = &|_: usize, v: i32| decay_q(v, q, -1);
                    with_leak_bias!(@bias b, $bias, $run)
                }
            }
            (Leak::PerNeuron(ls), b) => {
                let $decay = &|i: usize, v: i32| {
                    let q = leak_q(ls.get(i).unwrap_or(0));
                    decay_q(v, q, q >> 31)
                };
                with_leak_bias!(@bias b, $bias, $run)
            }
        }
    };
    (@bias $b:expr, $bias:ident, $run:expr) => {
        match $b {
            None => {
                let $bias = NoBias;
                $run
            }
            Some(b) => {
                let $bias = *b;
                $run
            }
        }
    };
}

/// The synaptic currents of a current-based layer ([`Synapse::Current`]): for every neuron `i`,
/// `c_i = sat(sat(decay(c_i, alpha_i) + syn_i) + bias_i)` with `decay(c, a) = (c·a + 2^15) >> 16`
/// ([`crate::fixed::decay`], `alpha = a / 2^16`), stored in `state` and written over `syn`
/// (`syn_i = cur_i` on entry) as the membrane's input for [`update`] (without bias).
fn integrate_current(
    alpha: &Leak<'_>,
    bias: Option<LeI32s<'_>>,
    state: &mut [i32],
    cur: &mut [i32],
) {
    for (i, (c, s)) in state.iter_mut().zip(cur.iter_mut()).enumerate() {
        let a = match alpha {
            Leak::Shared(a) => *a,
            Leak::PerNeuron(a) => a.get(i).unwrap_or(0),
        };
        let b = bias.and_then(|b| b.get(i)).unwrap_or(0);
        *c = sat_add(sat_add(crate::fixed::decay(*c, a), *s), b);
        *s = *c;
    }
}

/// A non-spiking readout's step ([`Output::MaxMembrane`]): for every neuron `i`,
/// `v_i = sat(sat(decay(v_i, leak_i) + cur_i) + bias_i)` with `decay(v, l) = (v·l + 2^15) >> 16`
/// ([`crate::fixed::decay`], `beta = l / 2^16`) and `sat` the clamp to the `i32` range; no
/// threshold, no reset, no spike. `bias` is `None` when it already went into a current.
fn integrate(layer: &Layer<'_>, bias: Option<LeI32s<'_>>, v: &mut [i32], cur: &[i32]) {
    for (i, (vi, &s)) in v.iter_mut().zip(cur).enumerate() {
        let l = match &layer.leak {
            Leak::Shared(l) => *l,
            Leak::PerNeuron(ls) => ls.get(i).unwrap_or(0),
        };
        let b = bias.and_then(|b| b.get(i)).unwrap_or(0);
        *vi = sat_add(sat_add(crate::fixed::decay(*vi, l), s), b);
    }
}

/// [`integrate`] with the layer's own bias, its leak and bias dispatched once per layer
/// (`with_leak_bias!`, the decay as [`decay_q`], which equals [`crate::fixed::decay`]) instead
/// of per neuron: the lean readout step's update, the same bits.
fn integrate_lean(layer: &Layer<'_>, v: &mut [i32], cur: &[i32]) {
    with_leak_bias!(layer, |decay, bias| {
        for (i, (vi, &s)) in v.iter_mut().zip(cur).enumerate() {
            *vi = sat_add(sat_add(decay(i, *vi), s), bias.at(i));
        }
    })
}

/// Leak, integrate, fire and reset every neuron of a layer from the accumulated `cur`; writes
/// spike indices to `out`.
#[inline]
fn update(layer: &Layer<'_>, v: &mut [i32], cur: &[i32], out: &mut [u16]) -> usize {
    let fire = Fire::of(layer);
    let mut count = 0;
    let c = &mut count;
    with_leak_bias!(layer, |decay, bias| lif(
        v,
        0,
        cur.iter().copied(),
        fire,
        decay,
        (0..).map(|i| bias.at(i)),
        out,
        c
    ));
    count
}

/// A lean layer's step that adds more than [`BATCH`] rows (`pre` plus the `prev_len` spikes of
/// last step in `own`): zero `cur`, add every fan-out into it, then update, as
/// [`Engine::step_general`] does for such a step. Returns `(events, spikes)`.
#[inline(never)] // rare: kept out of the lean step loop
fn general_dense(
    layer: &Layer<'_>,
    pre: &[u16],
    prev_len: usize,
    v: &mut [i32],
    cur: &mut [i32],
    own: &mut [u16],
) -> (u64, usize) {
    let n = usize::from(layer.neurons);
    let cur = &mut cur[..n];
    cur.iter_mut().for_each(|c| *c = 0);
    let mut events = fan_out(&layer.feedforward, n, pre, cur);
    if let Some(rec) = &layer.recurrent {
        events += fan_out(rec, n, own.get(..prev_len).unwrap_or(&[]), cur);
    }
    (events, update(layer, v, cur, own))
}

/// The synaptic sums of a lean readout layer (`n = cur.len()` neurons, dense feed-forward
/// weights `ff` with a row for every index in `pre`): `cur_i = sum over j in pre of
/// (ff[j * n + i] as i8)`, the same integers the general step's [`fan_out`] adds into a zeroed
/// `cur`, by the fused step's packed sums ([`Dense::sums`]: the DSP kernel on a Cortex-M4/M33)
/// when `pre` has at most [`BATCH`] rows, else by [`fan_out_dense`]. Returns the synaptic
/// events (`pre.len() * n`).
#[inline(never)] // its own register allocation, as `step_dense`
fn readout_sums(ff: &[u8], pre: &[u16], cur: &mut [i32]) -> u64 {
    let n = cur.len();
    if n == 0 || pre.is_empty() || pre.len() > BATCH {
        cur.iter_mut().for_each(|c| *c = 0);
        return fan_out_dense(ff, n, pre, cur);
    }
    // The plan checked that every row exists.
    let w = Dense::new(ff, &[], n, pre, &[]);
    w.sums(cur);
    (pre.len() * n) as u64
}

/// The dense weight bytes of a layer (feed-forward, recurrent if any) when the fused
/// [`step_dense`] applies: no sparse weights, at most [`BATCH`] rows to add (`pre` and `prev`,
/// last step's spikes of this layer, together) so the 16-bit lanes cannot overflow, and every
/// index in `pre` (all below `pre_bound`) and `prev` names an existing row. Otherwise `None`,
/// and the layer takes the general path (`fan_out` into `current`, then `update`).
fn dense_weights<'a>(
    layer: &Layer<'a>,
    pre: &[u16],
    pre_bound: usize,
    prev: &[u16],
) -> Option<(&'a [u8], Option<&'a [u8]>)> {
    let n = usize::from(layer.neurons);
    if n == 0 || pre.len() + prev.len() > BATCH {
        return None;
    }
    let covers = |values: &[u8], spikes: &[u16], bound: usize| {
        let rows = values.len() / n;
        rows >= bound || spikes.iter().all(|&j| usize::from(j) < rows)
    };
    let Weights::Dense { values } = &layer.feedforward else {
        return None;
    };
    let ff = values.0;
    if !covers(ff, pre, pre_bound) {
        return None;
    }
    match &layer.recurrent {
        None => Some((ff, None)),
        Some(Weights::Dense { values }) if covers(values.0, prev, n) => Some((ff, Some(values.0))),
        Some(_) => None,
    }
}

/// A dense layer's fused step with what does not change from step to step: its weights and
/// its fire-and-reset constants. [`step_dense`] takes it by reference, one argument instead of
/// four.
#[derive(Clone, Copy, Debug)]
struct Fused<'m> {
    /// The layer (leak and bias).
    layer: &'m Layer<'m>,
    /// Feed-forward weight bytes, row-major `[inputs][n]`.
    ff: &'m [u8],
    /// Recurrent weight bytes `[n][n]` (empty without recurrent weights).
    rec: &'m [u8],
    /// [`Fire::of`] the layer.
    fire: Fire,
}

impl<'m> Fused<'m> {
    /// The fused step of `layer` over the weight bytes `ff` and `rec` ([`dense_weights`]).
    fn of(layer: &'m Layer<'m>, ff: &'m [u8], rec: &'m [u8]) -> Self {
        Self {
            layer,
            ff,
            rec,
            fire: Fire::of(layer),
        }
    }
}

/// One fused step of a dense layer: for each block of [`BLOCK`] neurons the packed sums of the
/// feed-forward rows in `pre` and the recurrent rows in `prev` (see [`add_rows`]) go straight
/// into the leak/integrate/fire step of those neurons ([`lif`]), so no accumulator is zeroed,
/// stored or reloaded. Needs what [`dense_weights`] checks and a whole bias ([`bias_whole`]). Returns the number of spikes
/// written to `out`.
#[inline(never)] // its own register allocation, apart from the step's bookkeeping
fn step_dense(f: &Fused<'_>, pre: &[u16], prev: &[i32], v: &mut [i32], out: &mut [u16]) -> usize {
    // `dense_weights` checked that every row exists.
    let w = Dense::new(f.ff, f.rec, v.len(), pre, prev);
    with_leak_bias!(f.layer, |decay, bias| w.run(v, f.fire, decay, bias, out))
}

/// The general step's fused step ([`dense_weights`] applies): [`step_dense`], or
/// [`step_dense_short`] for a bias lacking values.
/// Out of line: with this choice inlined (or the bias check in `dense_weights`), the general
/// step's direct-input loop spilled a register (+190 instructions per step of the
/// BasicMotions stream on the M4).
#[inline(never)]
fn step_fused(f: &Fused<'_>, pre: &[u16], prev: &[i32], v: &mut [i32], out: &mut [u16]) -> usize {
    if bias_whole(f.layer.bias, v.len()) {
        step_dense(f, pre, prev, v, out)
    } else {
        step_dense_short(f, pre, prev, v, out)
    }
}

/// [`step_dense`] of a layer whose bias lacks values (never a validated model's): each
/// neuron's input summed column by column ([`column_sum`]) and updated with [`Bias::at`]'s
/// zeros past the end, as the general path does. Out of line and cold, so the fused step's
/// register allocation does not see it.
#[cold]
#[inline(never)]
fn step_dense_short(
    f: &Fused<'_>,
    pre: &[u16],
    prev: &[i32],
    v: &mut [i32],
    out: &mut [u16],
) -> usize {
    let n = v.len();
    let syn = (0..n).map(|c| column_sum(f.ff, n, c, pre) + column_sum(f.rec, n, c, prev));
    // One copy for every leak and bias (this path is never hot): `decay` is `fixed::decay`,
    // which `decay_q` equals.
    let layer = f.layer;
    let decay = &|i: usize, v: i32| {
        let leak = match &layer.leak {
            Leak::Shared(l) => *l,
            Leak::PerNeuron(ls) => ls.get(i).unwrap_or(0),
        };
        crate::fixed::decay(v, leak)
    };
    let bias = (0..).map(|i| layer.bias.and_then(|b| b.get(i)).unwrap_or(0));
    let mut count = 0;
    lif(v, 0, syn, f.fire, decay, bias, out, &mut count);
    count
}

/// The synaptic input of one dense step: weights and the spiking rows of each.
struct Dense<'a> {
    ff: &'a [u8],
    rec: &'a [u8],
    pre: &'a [u16],
    prev: &'a [i32],
    /// `pre` checked against `ff` for the DSP kernel.
    #[cfg(all(feature = "arm-dsp", target_arch = "arm"))]
    pre_rows: crate::dsp::Rows<'a, u16>,
    /// `prev` checked against `rec` for the DSP kernel.
    #[cfg(all(feature = "arm-dsp", target_arch = "arm"))]
    prev_rows: crate::dsp::Rows<'a, i32>,
}

impl<'a> Dense<'a> {
    /// The synaptic input of a dense step of `n` neurons: the rows `pre` of `ff` and `prev` of
    /// `rec`. For the DSP kernel each list is checked once here to name only whole rows; a
    /// list that does not (never, after `dense_weights` or the lean plan) adds nothing rather
    /// than read past the weights.
    #[inline(always)]
    fn new(ff: &'a [u8], rec: &'a [u8], n: usize, pre: &'a [u16], prev: &'a [i32]) -> Self {
        #[cfg(not(all(feature = "arm-dsp", target_arch = "arm")))]
        let _ = n;
        Self {
            ff,
            rec,
            pre,
            prev,
            #[cfg(all(feature = "arm-dsp", target_arch = "arm"))]
            pre_rows: crate::dsp::Rows::<u16>::new(ff, n, pre)
                .unwrap_or(crate::dsp::Rows::<u16>::empty()),
            #[cfg(all(feature = "arm-dsp", target_arch = "arm"))]
            prev_rows: crate::dsp::Rows::<i32>::new(rec, n, prev)
                .unwrap_or(crate::dsp::Rows::<i32>::empty()),
        }
    }
}

impl Dense<'_> {
    /// The packed sums of columns `off..off + B` over every spiking row (see [`add_rows`]).
    #[cfg(not(all(feature = "arm-dsp", target_arch = "arm")))]
    #[inline(always)]
    fn lanes<const B: usize, const W: usize>(&self, n: usize, off: usize) -> [u32; W] {
        let mut acc = [0u32; W];
        add_rows::<B, W, u16>(self.ff, n, off, self.pre, &mut acc);
        if !self.prev.is_empty() {
            add_rows::<B, W, i32>(self.rec, n, off, self.prev, &mut acc);
        }
        acc
    }

    /// The signed packed sums of columns `off..off + B` over every spiking row, by the DSP
    /// kernel (`dsp.rs`).
    #[cfg(all(feature = "arm-dsp", target_arch = "arm"))]
    #[inline(always)]
    fn lanes<const B: usize, const W: usize>(&self, _n: usize, off: usize) -> [u32; W] {
        let mut acc = [0u32; W];
        self.pre_rows.add(off, &mut acc);
        self.prev_rows.add(off, &mut acc);
        acc
    }

    #[inline(always)]
    fn run(
        &self,
        v: &mut [i32],
        fire: Fire,
        decay: &impl Fn(usize, i32) -> i32,
        bias: impl Bias,
        out: &mut [u16],
    ) -> usize {
        let n = v.len();
        // Portable path: every weight entered the lanes as `w + 128`, so `sum(w) = lane - 128 *
        // rows`. DSP path: the lanes hold `sum(w)` itself.
        let rows = (self.pre.len() + self.prev.len()) as i32;
        let minus = if cfg!(all(feature = "arm-dsp", target_arch = "arm")) {
            0
        } else {
            rows.wrapping_mul(-128)
        };
        let mut count = 0;
        if rows == 0 {
            // No synaptic input: every neuron only leaks (and its bias adds).
            lif(
                v,
                0,
                core::iter::repeat(0),
                fire,
                decay,
                (0..).map(|i| bias.at(i)),
                out,
                &mut count,
            );
            return count;
        }
        let (blocks, rest) = v.split_at_mut(n / BLOCK * BLOCK);
        // Every block has its bias block (the callers checked the bias is whole, `bias_whole`),
        // walked with the neuron blocks (one bounds check per layer). (On the M0 the walk
        // measured worse than slicing per block until its rows were read as aligned words in
        // assembly, `armv6m.rs`; since then it is 5.4k instructions per zoo inference better
        // there too, BENCHMARKS.md.)
        let blocks = blocks.chunks_exact_mut(BLOCK).zip(bias.blocks(n));
        for (k, (vb, b)) in blocks.enumerate() {
            let b = &b[..];
            let off = k * BLOCK;
            let acc = self.lanes::<BLOCK, { BLOCK / 2 }>(n, off);
            let syn = lane_values::<BLOCK, { BLOCK / 2 }>(&acc, minus);
            lif(
                vb,
                off,
                syn.into_iter(),
                fire,
                decay,
                (0..BLOCK).map(|k| le_i32(b, k)),
                out,
                &mut count,
            );
        }
        // The last `n % 8` neurons: a block of four, then the rest from the block of four that
        // ends at `n` (its first columns are neurons already updated, their sums are dropped);
        // a layer of fewer than four neurons adds its columns one by one.
        let mut done = n - rest.len();
        let mut rest = rest;
        if rest.len() >= 4 {
            let (vb, r) = rest.split_at_mut(4);
            let syn = lane_values::<4, 2>(&self.lanes::<4, 2>(n, done), minus);
            lif(
                vb,
                done,
                syn.into_iter(),
                fire,
                decay,
                {
                    let b = bias.block::<4>(done);
                    (0..4).map(move |k| le_i32(b, k))
                },
                out,
                &mut count,
            );
            done += 4;
            rest = r;
        }
        if !rest.is_empty() {
            if n >= 4 {
                let syn = lane_values::<4, 2>(&self.lanes::<4, 2>(n, n - 4), minus);
                let syn = syn.get(4 - rest.len()..).unwrap_or(&[]).iter().copied();
                let b = (done..n).map(|i| bias.at(i));
                lif(rest, done, syn, fire, decay, b, out, &mut count);
            } else {
                let syn = (done..n).map(|c| {
                    column_sum(self.ff, n, c, self.pre) + column_sum(self.rec, n, c, self.prev)
                });
                let b = (done..n).map(|i| bias.at(i));
                lif(rest, done, syn, fire, decay, b, out, &mut count);
            }
        }
        count
    }
}

impl Dense<'_> {
    /// The synaptic sums alone, written to `cur` (`n = cur.len()` neurons, `pre` and `prev`
    /// together at most [`BATCH`] rows): the blocks [`Dense::run`] sums, without its update.
    #[inline(always)]
    fn sums(&self, cur: &mut [i32]) {
        let n = cur.len();
        let rows = (self.pre.len() + self.prev.len()) as i32;
        let minus = if cfg!(all(feature = "arm-dsp", target_arch = "arm")) {
            0
        } else {
            rows.wrapping_mul(-128)
        };
        let (blocks, rest) = cur.split_at_mut(n / BLOCK * BLOCK);
        for (k, cb) in blocks.chunks_exact_mut(BLOCK).enumerate() {
            let acc = self.lanes::<BLOCK, { BLOCK / 2 }>(n, k * BLOCK);
            cb.copy_from_slice(&lane_values::<BLOCK, { BLOCK / 2 }>(&acc, minus));
        }
        // The last `n % 8` as in `run`: a block of four, then the block of four ending at `n`.
        let mut done = n - rest.len();
        let mut rest = rest;
        if rest.len() >= 4 {
            let (cb, r) = rest.split_at_mut(4);
            cb.copy_from_slice(&lane_values::<4, 2>(&self.lanes::<4, 2>(n, done), minus));
            done += 4;
            rest = r;
        }
        if !rest.is_empty() {
            if n >= 4 {
                let syn = lane_values::<4, 2>(&self.lanes::<4, 2>(n, n - 4), minus);
                let skip = 4 - rest.len();
                for (c, &s) in rest.iter_mut().zip(&syn[skip..]) {
                    *c = s;
                }
            } else {
                for (i, c) in rest.iter_mut().enumerate() {
                    let col = done + i;
                    *c = column_sum(self.ff, n, col, self.pre)
                        + column_sum(self.rec, n, col, self.prev);
                }
            }
        }
    }
}

/// The lane values of packed sums in neuron order, plus `minus`: `acc[2q]` holds neurons `4q`
/// (low half) and `4q + 2` (high half), `acc[2q + 1]` neurons `4q + 1` and `4q + 3`.
#[inline(always)]
fn lane_values<const B: usize, const W: usize>(acc: &[u32; W], minus: i32) -> [i32; B] {
    let mut syn = [minus; B];
    for q in 0..B / 4 {
        let (e, d) = (acc[2 * q], acc[2 * q + 1]);
        syn[4 * q] += lane_lo(e);
        syn[4 * q + 1] += lane_lo(d);
        syn[4 * q + 2] += lane_hi(e);
        syn[4 * q + 3] += lane_hi(d);
    }
    syn
}

/// The low lane of a packed sum: unsigned (portable: biased weights).
#[cfg(not(all(feature = "arm-dsp", target_arch = "arm")))]
#[inline(always)]
fn lane_lo(w: u32) -> i32 {
    (w & 0xFFFF) as i32
}

/// The high lane of a packed sum: unsigned (portable: biased weights).
#[cfg(not(all(feature = "arm-dsp", target_arch = "arm")))]
#[inline(always)]
fn lane_hi(w: u32) -> i32 {
    (w >> 16) as i32
}

#[cfg(all(feature = "arm-dsp", target_arch = "arm"))]
use crate::dsp::{hi as lane_hi, lo as lane_lo};

/// A spike index as stored in a spike list.
pub(crate) trait Index: Copy {
    fn index(self) -> usize;
}

impl Index for u16 {
    #[inline(always)]
    fn index(self) -> usize {
        usize::from(self)
    }
}

impl Index for i32 {
    #[inline(always)]
    fn index(self) -> usize {
        self as u32 as usize
    }
}

/// `sum over j in spikes of (values[j * n + col] as i8)`, rows that exist only.
fn column_sum<S: Index>(values: &[u8], n: usize, col: usize, spikes: &[S]) -> i32 {
    spikes
        .iter()
        .filter_map(|&j| values.get(j.index() * n + col))
        .map(|&b| i32::from(b as i8))
        .sum()
}

/// Adds the weights of columns `off..off + B` (`off + B <= n`) of every row `j` in `spikes`
/// (at most [`BATCH`] of them, all existing rows) into the `W = B / 2` packed words `acc`, held in
/// registers: each weight byte `w` becomes `w ^ 0x80 = w + 128` in `0..=255` (one XOR per four
/// weights), even and odd bytes are spread into the 16-bit lanes of two words (`uxtb16`) and
/// one add sums two weights; at most `256 * 255 < 2^16` per lane, so no carry crosses lanes.
/// Lane layout as in [`lane_values`]. On the cores without unaligned word loads (M0, RV32) the
/// blocks of 8 read each row's weights as aligned words (`words.rs`); the same sums.
#[cfg(not(all(feature = "arm-dsp", target_arch = "arm")))]
#[inline(always)]
fn add_rows<const B: usize, const W: usize, S: Index>(
    values: &[u8],
    n: usize,
    off: usize,
    spikes: &[S],
    acc: &mut [u32; W],
) {
    #[cfg(not(all(target_arch = "arm", target_has_atomic = "32")))]
    if crate::words::ALIGNED_LOADS_ONLY && B == 8 {
        return crate::words::add_rows_words::<B, W, S>(values, n, off, spikes, acc);
    }
    let cols = values.get(off..).unwrap_or(&[]);
    for &j in spikes {
        let start = j.index() * n;
        let Some(Ok(w)) = cols.get(start..start + B).map(<&[u8; B]>::try_from) else {
            continue; // unreachable for existing rows
        };
        for q in 0..B / 4 {
            let x = u32::from_le_bytes([w[4 * q], w[4 * q + 1], w[4 * q + 2], w[4 * q + 3]])
                ^ BIAS_BYTES;
            acc[2 * q] += x & LANES;
            acc[2 * q + 1] += (x >> 8) & LANES;
        }
    }
}

#[cfg(test)]
mod fast_path_tests {
    //! The optimised `fan_out` / `update` / fused `step_dense` against the plain loops that
    //! define them.
    extern crate std;
    use super::*;
    use crate::encode::Rng;
    use crate::fixed::decay;
    use crate::format::{Bytes, LeI32s, LeU16s, RateBudget};
    use std::{vec, vec::Vec};

    /// The decay as the step computes it (`decay_q`, and the ARMv6-M form `decay_q_narrow`)
    /// equals `fixed::decay` for every leak and membrane values across the `i32` range.
    #[test]
    fn decay_q_and_its_narrow_form_are_the_decay() {
        let mut rng = Rng::new(7, 11);
        let mut vs = vec![
            0,
            1,
            -1,
            0x7FFF,
            0x8000,
            -0x8000,
            0xFFFF,
            -0x10000,
            i32::MAX,
            i32::MIN,
        ];
        vs.extend([
            i32::MAX - 1,
            i32::MIN + 1,
            0x1_0000,
            -0x1_0001,
            1 << 30,
            -(1 << 30),
        ]);
        vs.extend((0..200).map(|_| rng.next_u32() as i32));
        vs.extend((0..200).map(|_| (rng.next_u32() as i32) >> (rng.next_u32() % 31)));
        for leak in 0..=u16::MAX {
            let q = leak_q(leak);
            for &v in &vs {
                let want = decay(v, leak);
                assert_eq!(decay_q(v, q, q >> 31), want, "v {v} leak {leak}");
                let narrow = decay_q_narrow(v, q).wrapping_add(v & (q >> 31));
                assert_eq!(narrow, want, "narrow: v {v} leak {leak}");
            }
        }
    }

    fn reference_dense(values: &[u8], n: usize, spikes: &[u16], cur: &mut [i32]) -> u64 {
        let mut events = 0;
        for &j in spikes {
            let start = usize::from(j) * n;
            if let Some(row) = values.get(start..start + n) {
                for (c, &b) in cur.iter_mut().zip(row) {
                    *c += i32::from(b as i8);
                }
                events += n as u64;
            }
        }
        events
    }

    fn reference_update(layer: &Layer<'_>, v: &mut [i32], cur: &[i32], out: &mut [u16]) -> usize {
        let thr = layer.threshold;
        let mut count = 0;
        for i in 0..v.len() {
            let leak = match &layer.leak {
                Leak::Shared(b) => *b,
                Leak::PerNeuron(ls) => ls.get(i).unwrap_or(0),
            };
            let bias = layer.bias.as_ref().and_then(|b| b.get(i)).unwrap_or(0);
            let u = sat_add(sat_add(decay(v[i], leak), cur[i]), bias);
            if u >= thr {
                out[count] = i as u16;
                count += 1;
                v[i] = match layer.reset {
                    Reset::Subtract => sat_sub(u, thr),
                    Reset::Zero => 0,
                    Reset::None => u,
                };
            } else {
                v[i] = u;
            }
        }
        count
    }

    #[test]
    fn dense_fan_out_equals_the_plain_sum() {
        let mut rng = Rng::new(1, 2);
        for case in 0..300u32 {
            let n = 1 + (rng.next_u32() % 70) as usize;
            let pre = 1 + (rng.next_u32() % 40) as usize;
            // Extreme weights in some cases, to fill the lanes.
            let values: Vec<u8> = (0..pre * n)
                .map(|_| match case % 3 {
                    0 => 0x80,
                    1 => 0x7F,
                    _ => rng.next_u32() as u8,
                })
                .collect();
            // Up to 600 spikes (more than one batch), repeats and some out-of-range rows.
            let k = (rng.next_u32() % 600) as usize;
            let spikes: Vec<u16> = (0..k)
                .map(|_| (rng.next_u32() % (pre as u32 + 2)) as u16)
                .collect();
            let mut a = vec![7i32; n];
            let mut b = a.clone();
            let ea = fan_out_dense(&values, n, &spikes, &mut a);
            let eb = reference_dense(&values, n, &spikes, &mut b);
            assert_eq!((ea, &a), (eb, &b), "case {case}: n {n}, pre {pre}, k {k}");
        }
    }

    #[test]
    fn update_equals_the_plain_loop() {
        let mut rng = Rng::new(3, 4);
        for case in 0..200u32 {
            let n = 1 + (rng.next_u32() % 50) as usize;
            let leaks: Vec<u8> = (0..n)
                .flat_map(|_| (rng.next_u32() as u16).to_le_bytes())
                .collect();
            let biases: Vec<u8> = (0..n)
                .flat_map(|_| ((rng.next_u32() as i32) >> (rng.next_u32() % 32)).to_le_bytes())
                .collect();
            let w = [0u8];
            let layer = Layer {
                inputs: 1,
                neurons: n as u16,
                weight_bits: 8,
                shift: 0,
                feedforward: Weights::Dense { values: Bytes(&w) },
                recurrent: None,
                bias: (case % 2 == 0).then_some(LeI32s::new(&biases)),
                leak: if case % 4 < 2 {
                    Leak::PerNeuron(LeU16s::new(&leaks))
                } else {
                    Leak::Shared(rng.next_u32() as u16)
                },
                threshold: 1 + (rng.next_u32() >> (1 + rng.next_u32() % 31)) as i32,
                reset: [Reset::Subtract, Reset::Zero, Reset::None][(case % 3) as usize],
                budget: RateBudget::UNBOUNDED,
            };
            let edge = [i32::MIN, i32::MAX, -1, 0, 1];
            let mut v: Vec<i32> = (0..n)
                .map(|i| edge.get(i).copied().unwrap_or(rng.next_u32() as i32))
                .collect();
            let cur: Vec<i32> = (0..n)
                .map(|_| (rng.next_u32() as i32) >> (rng.next_u32() % 32))
                .collect();
            let mut v2 = v.clone();
            let (mut o1, mut o2) = (vec![0u16; n], vec![0u16; n]);
            let c1 = update(&layer, &mut v, &cur, &mut o1);
            let c2 = reference_update(&layer, &mut v2, &cur, &mut o2);
            assert_eq!((c1, &v, &o1), (c2, &v2, &o2), "case {case}");
        }
    }

    /// Edge values first, then random ones.
    fn pick(rng: &mut Rng, edge: &[u32]) -> u32 {
        let r = rng.next_u32();
        match edge.get((r % (2 * edge.len() as u32)) as usize) {
            Some(&e) => e,
            None => rng.next_u32(),
        }
    }

    const LEAK_EDGES: [u32; 7] = [0, 1, 32767, 32768, 57344, 65534, 65535];
    const I32_EDGES: [u32; 6] = [
        i32::MIN as u32,
        i32::MAX as u32,
        (-1i32) as u32,
        0,
        1,
        (i32::MAX - 200) as u32,
    ];

    fn random_bytes(rng: &mut Rng, len: usize, case: u32) -> Vec<u8> {
        (0..len)
            .map(|_| match case % 4 {
                0 => 0x80,
                1 => 0x7F,
                _ => rng.next_u32() as u8,
            })
            .collect()
    }

    /// A layer with random leak (shared or per neuron), bias, threshold and reset over `ff`/`rec`.
    #[allow(clippy::too_many_arguments)] // a test builder: every part of the layer
    fn random_layer<'a>(
        rng: &mut Rng,
        case: u32,
        inputs: usize,
        n: usize,
        ff: &'a [u8],
        rec: Option<&'a [u8]>,
        leaks: &'a [u8],
        biases: &'a [u8],
    ) -> Layer<'a> {
        Layer {
            inputs: inputs as u16,
            neurons: n as u16,
            weight_bits: 8,
            shift: 0,
            feedforward: Weights::Dense { values: Bytes(ff) },
            recurrent: rec.map(|r| Weights::Dense { values: Bytes(r) }),
            bias: (case % 2 == 0).then_some(LeI32s::new(biases)),
            leak: if case % 5 < 2 {
                Leak::PerNeuron(LeU16s::new(leaks))
            } else {
                Leak::Shared(pick(rng, &LEAK_EDGES) as u16)
            },
            threshold: match case % 7 {
                0 => pick(rng, &I32_EDGES) as i32,
                _ => 1 + (rng.next_u32() % 3000) as i32,
            },
            reset: [Reset::Subtract, Reset::Zero, Reset::None][(case % 3) as usize],
            budget: RateBudget::UNBOUNDED,
        }
    }

    fn leaks_and_biases(rng: &mut Rng, n: usize) -> (Vec<u8>, Vec<u8>) {
        let leaks = (0..n)
            .flat_map(|_| (pick(rng, &LEAK_EDGES) as u16).to_le_bytes())
            .collect();
        let biases = (0..n)
            .flat_map(|_| {
                let b = pick(rng, &I32_EDGES) as i32;
                (b >> (rng.next_u32() % 32)).to_le_bytes()
            })
            .collect();
        (leaks, biases)
    }

    /// One layer step by the plain loops: `(events, spikes)`, spike indices in `out`.
    fn reference_layer(
        layer: &Layer<'_>,
        pre: &[u16],
        prev: &[u16],
        v: &mut [i32],
        out: &mut [u16],
    ) -> (u64, usize) {
        let n = v.len();
        let mut cur = vec![0i32; n];
        fn dense<'a>(w: &Weights<'a>) -> &'a [u8] {
            match w {
                Weights::Dense { values } => values.0,
                Weights::Sparse { .. } => unreachable!("dense layers only"),
            }
        }
        let mut events = reference_dense(dense(&layer.feedforward), n, pre, &mut cur);
        if let Some(rec) = &layer.recurrent {
            events += reference_dense(dense(rec), n, prev, &mut cur);
        }
        (events, reference_update(layer, v, &cur, out))
    }

    #[test]
    fn fused_dense_step_equals_the_plain_loops() {
        let mut rng = Rng::new(5, 6);
        for case in 0..2000u32 {
            // Sizes around every block shape: < 4, 4..8, tails of 1..7, several blocks.
            let n = 1 + (rng.next_u32() % 70) as usize;
            let inputs = 1 + (rng.next_u32() % 40) as usize;
            let ff = random_bytes(&mut rng, inputs * n, case);
            let rec = random_bytes(&mut rng, n * n, case / 4);
            let (leaks, mut biases) = leaks_and_biases(&mut rng, n);
            if case % 13 == 4 {
                // A bias lacking values (not a validated model's): read as 0 past its end.
                biases.truncate(4 * (n / 2) + 3);
            }
            let recurrent = case % 3 != 1;
            let layer = random_layer(
                &mut rng,
                case,
                inputs,
                n,
                &ff,
                recurrent.then_some(&rec[..]),
                &leaks,
                &biases,
            );
            // Up to 256 rows in all (the most the fused step takes), repeats allowed; some cases
            // exactly 256.
            let k_prev = if recurrent {
                (rng.next_u32() % (n as u32 + 1)) as usize
            } else {
                0
            };
            let k = if case % 11 == 0 {
                BATCH - k_prev
            } else {
                (rng.next_u32() % (BATCH - k_prev + 1) as u32) as usize % 300
            };
            let pre: Vec<u16> = (0..k)
                .map(|_| (rng.next_u32() % inputs as u32) as u16)
                .collect();
            let prev: Vec<u16> = (0..k_prev)
                .map(|_| (rng.next_u32() % n as u32) as u16)
                .collect();
            let mut v: Vec<i32> = (0..n)
                .map(|_| {
                    let x = pick(&mut rng, &I32_EDGES) as i32;
                    x >> (rng.next_u32() % 32)
                })
                .collect();
            let mut v_ref = v.clone();
            let (mut out, mut out_ref) = (vec![0u16; n], vec![0u16; n]);

            let (ff_w, rec_w) =
                dense_weights(&layer, &pre, inputs, &prev).expect("the fused step applies");
            assert_eq!(rec_w.is_some(), recurrent);
            let prev32: Vec<i32> = prev.iter().map(|&k| i32::from(k)).collect();
            let f = Fused::of(&layer, ff_w, rec_w.unwrap_or(&[]));
            let count = step_fused(&f, &pre, &prev32, &mut v, &mut out);
            let (_, count_ref) = reference_layer(&layer, &pre, &prev, &mut v_ref, &mut out_ref);
            assert_eq!(
                (count, &v, &out[..count]),
                (count_ref, &v_ref, &out_ref[..count_ref]),
                "case {case}: n {n}, inputs {inputs}, k {k}, prev {k_prev}, {layer:?}"
            );
        }
    }

    #[test]
    fn the_fused_step_declines_what_it_cannot_take() {
        let (ff, rec) = ([1u8; 4 * 8], [1u8; 8 * 8]);
        let mut layer = random_layer(&mut Rng::new(1, 1), 3, 4, 8, &ff, Some(&rec), &[], &[]);
        assert!(dense_weights(&layer, &[0, 3], 4, &[7]).is_some());
        // More than 256 rows in one step: the lanes could overflow.
        assert!(dense_weights(&layer, &[0; 200], 4, &[1; 57]).is_none());
        assert!(dense_weights(&layer, &[0; 200], 4, &[1; 56]).is_some());
        // A row that does not exist (short weights), feed-forward or recurrent.
        layer.feedforward = Weights::Dense {
            values: Bytes(&ff[..3 * 8 + 5]),
        };
        assert!(dense_weights(&layer, &[0, 2], 4, &[]).is_some());
        assert!(dense_weights(&layer, &[0, 3], 4, &[]).is_none());
        layer.recurrent = Some(Weights::Dense {
            values: Bytes(&rec[..7 * 8]),
        });
        assert!(dense_weights(&layer, &[0], 4, &[6]).is_some());
        assert!(dense_weights(&layer, &[0], 4, &[7]).is_none());
        // Sparse weights, and an empty layer.
        let sparse = Weights::Sparse {
            row_ptr: crate::format::LeU32s::new(&[0; 36]),
            post: LeU16s::new(&[]),
            values: Bytes(&[]),
        };
        layer.recurrent = Some(sparse);
        assert!(dense_weights(&layer, &[0], 4, &[]).is_none());
        layer.feedforward = sparse;
        layer.recurrent = None;
        assert!(dense_weights(&layer, &[0], 4, &[]).is_none());
        layer.neurons = 0;
        assert!(dense_weights(&layer, &[], 4, &[]).is_none());
    }

    /// Whole steps of random dense models (recurrent layers, >256-spike steps, layers whose
    /// weights lack rows) against a plain engine built from the reference loops: membranes,
    /// spike lists, events and output counts after every step.
    #[test]
    fn engine_steps_equal_a_plain_engine() {
        let mut rng = Rng::new(7, 8);
        for case in 0..60u32 {
            let input_size = 1 + (rng.next_u32() % 320) as usize;
            let depth = 1 + (rng.next_u32() % 3) as usize;
            let sizes: Vec<usize> = (0..depth)
                .map(|_| 1 + (rng.next_u32() % 40) as usize)
                .collect();
            let mut store = Vec::new();
            let mut inputs = input_size;
            for (l, &n) in sizes.iter().enumerate() {
                // Every fifth layer lacks its last feed-forward rows (or part of one).
                let short = (case + l as u32) % 5 == 0;
                let rows = if short { inputs / 2 } else { inputs };
                let extra = if short { n / 2 } else { 0 };
                let ff = random_bytes(&mut rng, rows * n + extra, case + 2);
                // Small positive weights too, so deep layers spike.
                let ff: Vec<u8> = ff.iter().map(|&b| b.wrapping_add(l as u8 * 3)).collect();
                let rec = random_bytes(&mut rng, n * n, case + 3);
                let (leaks, mut biases) = leaks_and_biases(&mut rng, n);
                if (case + l as u32) % 7 == 3 {
                    // A bias lacking values (not a validated model's): read as 0 past its end.
                    biases.truncate(4 * (n / 2) + 1);
                }
                store.push((inputs, n, ff, rec, leaks, biases));
                inputs = n;
            }
            let mut layers = heapless::Vec::new();
            for (l, (inputs, n, ff, rec, leaks, biases)) in store.iter().enumerate() {
                let c = case.wrapping_mul(7) + l as u32;
                let with_rec = c % 2 == 0;
                let layer = random_layer(
                    &mut rng,
                    c,
                    *inputs,
                    *n,
                    ff,
                    with_rec.then_some(&rec[..]),
                    leaks,
                    biases,
                );
                assert!(layers.push(layer).is_ok());
            }
            let outputs = *sizes.last().unwrap();
            let model = Model {
                header: crate::format::Header {
                    name: "fused",
                    input_size: input_size as u16,
                    time_steps: 6,
                    encoding: crate::format::Encoding::Events,
                    num_classes: outputs as u16,
                    neurons_per_class: 1,
                },
                layers,
                channels: Default::default(),
                synapses: Default::default(),
                output: Default::default(),
            };
            let r = Requirements::of(&model);
            let (mut mem, mut cur) = (vec![0i32; r.membrane], vec![0i32; r.current]);
            let (mut spikes, mut counts) = (vec![0u16; r.spikes], vec![0u16; r.out_counts]);
            let mut e = Engine::new(&model, &mut mem, &mut cur, &mut spikes, &mut counts).unwrap();

            let mut v_ref: Vec<Vec<i32>> = sizes.iter().map(|&n| vec![0; n]).collect();
            let mut prev_ref: Vec<Vec<u16>> = sizes.iter().map(|_| Vec::new()).collect();
            let mut counts_ref = vec![0u16; outputs];
            let mut events_ref = 0u64;
            for t in 0..6 {
                // Up to `input_size` spikes (repeats allowed): beyond 256 in some steps.
                let k = (rng.next_u32() as usize % (input_size + 1)).max(input_size * (t % 2));
                let input: Vec<u16> = (0..k)
                    .map(|_| (rng.next_u32() % input_size as u32) as u16)
                    .collect();
                e.step(&input).unwrap();
                let mut pre = input;
                for (l, layer) in model.layers.iter().enumerate() {
                    let mut out = vec![0u16; sizes[l]];
                    let (ev, c) =
                        reference_layer(layer, &pre, &prev_ref[l], &mut v_ref[l], &mut out);
                    events_ref += ev;
                    out.truncate(c);
                    prev_ref[l] = out.clone();
                    pre = out;
                    assert_eq!(
                        e.membranes(l),
                        &v_ref[l][..],
                        "case {case} step {t} layer {l}"
                    );
                    assert_eq!(
                        e.layer_spikes(l),
                        &pre[..],
                        "case {case} step {t} layer {l}"
                    );
                }
                for &i in &pre {
                    counts_ref[usize::from(i)] += 1;
                }
                assert_eq!(
                    e.stats().synaptic_events,
                    events_ref,
                    "case {case} step {t}"
                );
                assert_eq!(e.output_counts(), &counts_ref[..], "case {case} step {t}");
            }
        }
    }

    /// The lean step (the plan decided once) against the general step on the same models:
    /// dense layers with whole weights, recurrent or not, steps of more than 256 rows too;
    /// membranes, spike lists, stats and output counts after every step. And what the plan
    /// declines: weights lacking rows, sparse weights.
    /// Steps `model` six times with its lean plan and with the general step on the same random
    /// spike inputs (`input_size` inputs), comparing every layer's membranes and spikes, the
    /// stats and the output counts after each step, then `check(t, lean, general)`; returns
    /// both engines' whole membrane buffers.
    fn lean_and_general(
        model: &Model<'_>,
        input_size: usize,
        rng: &mut Rng,
        case: u32,
        mut check: impl FnMut(usize, &Engine<'_, '_>, &Engine<'_, '_>),
    ) -> (Vec<i32>, Vec<i32>) {
        let r = Requirements::of(model);
        let buffers = || {
            (
                vec![0i32; r.membrane],
                vec![0i32; r.current],
                vec![0u16; r.spikes],
                vec![0u16; r.out_counts],
            )
        };
        let (mut m1, mut c1, mut s1, mut o1) = buffers();
        let (mut m2, mut c2, mut s2, mut o2) = buffers();
        {
            let mut lean = Engine::new(model, &mut m1, &mut c1, &mut s1, &mut o1).unwrap();
            let mut general = Engine::new(model, &mut m2, &mut c2, &mut s2, &mut o2).unwrap();
            general.plan.lean = false;
            for t in 0..6 {
                let k = (rng.next_u32() as usize % (input_size + 1)).max(input_size * (t % 2));
                let input: Vec<u16> = (0..k)
                    .map(|_| (rng.next_u32() % input_size as u32) as u16)
                    .collect();
                lean.step(&input).unwrap();
                general.step(&input).unwrap();
                for l in 0..model.layers.len() {
                    assert_eq!(lean.membranes(l), general.membranes(l), "case {case} t {t}");
                    assert_eq!(lean.layer_spikes(l), general.layer_spikes(l), "case {case}");
                }
                assert_eq!(lean.stats(), general.stats(), "case {case} step {t}");
                assert_eq!(lean.output_counts(), general.output_counts(), "case {case}");
                check(t, &lean, &general);
            }
        }
        (m1, m2)
    }

    #[test]
    fn lean_steps_equal_the_general_steps() {
        let mut rng = Rng::new(9, 10);
        for case in 0..40u32 {
            let input_size = 1 + (rng.next_u32() % 320) as usize;
            let sizes = [
                1 + (rng.next_u32() % 40) as usize,
                1 + (rng.next_u32() % 12) as usize,
            ];
            let mut store = Vec::new();
            let mut inputs = input_size;
            for (l, &n) in sizes.iter().enumerate() {
                let ff = random_bytes(&mut rng, inputs * n, case + 2);
                let ff: Vec<u8> = ff.iter().map(|&b| b.wrapping_add(l as u8 * 3)).collect();
                let rec = random_bytes(&mut rng, n * n, case + 3);
                let (leaks, biases) = leaks_and_biases(&mut rng, n);
                store.push((inputs, n, ff, rec, leaks, biases));
                inputs = n;
            }
            let mut layers = heapless::Vec::new();
            for (l, (inputs, n, ff, rec, leaks, biases)) in store.iter().enumerate() {
                let c = case.wrapping_mul(5) + l as u32;
                let rec = (c % 2 == 0).then_some(&rec[..]);
                let layer = random_layer(&mut rng, c, *inputs, *n, ff, rec, leaks, biases);
                assert!(layers.push(layer).is_ok());
            }
            let mut model = Model {
                header: crate::format::Header {
                    name: "lean",
                    input_size: input_size as u16,
                    time_steps: 6,
                    encoding: crate::format::Encoding::Events,
                    num_classes: sizes[1] as u16,
                    neurons_per_class: 1,
                },
                layers,
                channels: Default::default(),
                synapses: Default::default(),
                output: Default::default(),
            };
            assert!(Plan::of(&model).lean, "case {case}");
            lean_and_general(&model, input_size, &mut rng, case, |_, _, _| {});
            // Weights lacking their last row, or sparse: the general step.
            let full = model.layers[0].feedforward;
            if let Weights::Dense { values } = full {
                model.layers[0].feedforward = Weights::Dense {
                    values: Bytes(&values.0[..values.0.len() - 1]),
                };
                assert!(!Plan::of(&model).lean, "case {case}");
            }
            model.layers[0].feedforward = Weights::Sparse {
                row_ptr: crate::format::LeU32s::new(&[]),
                post: LeU16s::new(&[]),
                values: Bytes(&[]),
            };
            assert!(!Plan::of(&model).lean, "case {case}");
        }
    }

    /// A readout model ([`Output::MaxMembrane`]) on the lean step against the general step:
    /// one or two hidden layers (recurrent or not), a readout of 1 to 20 neurons with and
    /// without bias, shared and per-neuron leaks, steps of more than 256 rows too; every
    /// membrane, running maximum, spike list, stat and output count after every step. A
    /// readout with recurrent weights, or lacking a weight row, stays on the general step.
    #[test]
    fn lean_readout_steps_equal_the_general_steps() {
        let mut rng = Rng::new(16, 17);
        for case in 0..60u32 {
            let input_size = 1 + (rng.next_u32() % 320) as usize;
            let hidden = 1 + (case % 2) as usize;
            let mut sizes: Vec<usize> = (0..hidden)
                .map(|_| 1 + (rng.next_u32() % 40) as usize)
                .collect();
            sizes.push(1 + (rng.next_u32() % 20) as usize);
            let mut store = Vec::new();
            let mut inputs = input_size;
            for (l, &n) in sizes.iter().enumerate() {
                let ff = random_bytes(&mut rng, inputs * n, case + 2);
                let ff: Vec<u8> = ff.iter().map(|&b| b.wrapping_add(l as u8 * 3)).collect();
                let rec = random_bytes(&mut rng, n * n, case + 3);
                let (leaks, biases) = leaks_and_biases(&mut rng, n);
                store.push((inputs, n, ff, rec, leaks, biases));
                inputs = n;
            }
            let last = sizes.len() - 1;
            let mut layers = heapless::Vec::new();
            for (l, (inputs, n, ff, rec, leaks, biases)) in store.iter().enumerate() {
                let c = case.wrapping_mul(5) + l as u32;
                let rec = (c % 2 == 0 && l < last).then_some(&rec[..]);
                let mut layer = random_layer(&mut rng, c, *inputs, *n, ff, rec, leaks, biases);
                if l == last {
                    layer.reset = Reset::None;
                    // With and without bias (`c` is odd for every readout here).
                    layer.bias = ((case / 2) % 2 == 0).then_some(LeI32s::new(biases));
                }
                assert!(layers.push(layer).is_ok());
            }
            let mut model = Model {
                header: crate::format::Header {
                    name: "lean readout",
                    input_size: input_size as u16,
                    time_steps: 6,
                    encoding: crate::format::Encoding::Events,
                    num_classes: sizes[last] as u16,
                    neurons_per_class: 1,
                },
                layers,
                channels: Default::default(),
                synapses: Default::default(),
                output: Output::MaxMembrane,
            };
            assert!(Plan::of(&model).lean, "case {case}");
            assert!(Plan::of(&model).readout, "case {case}");
            let (m1, m2) =
                lean_and_general(&model, input_size, &mut rng, case, |t, lean, general| {
                    assert_eq!(lean.readout(), general.readout(), "case {case} t {t}");
                    assert_eq!(lean.readout().len(), sizes[last], "case {case}");
                });
            assert_eq!(m1, m2, "case {case}: every membrane and maximum");
            // A readout with recurrent weights, or lacking a weight row: the general step.
            let rec = &store[last].3;
            model.layers[last].recurrent = Some(Weights::Dense { values: Bytes(rec) });
            assert!(!Plan::of(&model).lean, "case {case}");
            model.layers[last].recurrent = None;
            if let Weights::Dense { values } = model.layers[last].feedforward {
                model.layers[last].feedforward = Weights::Dense {
                    values: Bytes(&values.0[..values.0.len() - 1]),
                };
                assert!(!Plan::of(&model).lean, "case {case}");
            }
        }
    }
}
