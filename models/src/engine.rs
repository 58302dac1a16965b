//! The one integer inference engine: event-driven LIF layers in saturating fixed point.
//!
//! Per step and layer (units of `2^-shift`, see `FORMAT.md`):
//! `syn_i = sum over spiking presynaptic j of w_ji (+ recurrent w_ki over last step's spikes k)`,
//! `u_i = sat(sat(decay(v_i, leak_i) + syn_i) + bias_i)`, spike `s_i = u_i >= threshold`,
//! then `v_i = u_i - threshold` (subtract), `0` (zero) or `u_i` (none) when `s_i`, else `u_i`.
//! Only neurons that spiked cost synaptic work: a silent neuron's fan-out is never read.
use crate::encode::Encoder;
use crate::error::EngineError;
use crate::fixed::{decay, sat_add, sat_sub};
use crate::format::{Layer, Leak, Model, Reset, Weights, MAX_LAYERS, RATE_ONE};

/// Sizes of the caller-provided state buffers a model needs (elements, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Requirements {
    /// `i32` membranes: every neuron of every layer.
    pub membrane: usize,
    /// `i32` synaptic accumulators: the largest layer.
    pub current: usize,
    /// `u16` spike lists: the input plus every layer.
    pub spikes: usize,
    /// `u16` spike counts of the output neurons.
    pub out_counts: usize,
}

impl Requirements {
    /// What `model` needs.
    pub fn of(model: &Model<'_>) -> Self {
        let neurons = model.layers.iter().map(|l| usize::from(l.neurons));
        Self {
            membrane: neurons.clone().sum(),
            current: neurons.clone().max().unwrap_or(0),
            spikes: usize::from(model.header.input_size) + neurons.sum::<usize>(),
            out_counts: model.output_neurons(),
        }
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
        let r = Requirements::of(model);
        check("membrane", r.membrane, membrane.len())?;
        check("current", r.current, current.len())?;
        check("spikes", r.spikes, spikes.len())?;
        check("out_counts", r.out_counts, out_counts.len())?;
        let mut e = Self {
            model,
            membrane,
            current,
            spikes,
            out_counts,
            spike_len: [0; MAX_LAYERS],
            stats: Stats::default(),
        };
        e.reset();
        Ok(e)
    }

    /// Puts every membrane at rest and clears spike lists, counts and stats.
    pub fn reset(&mut self) {
        self.membrane.iter_mut().for_each(|v| *v = 0);
        self.out_counts.iter_mut().for_each(|c| *c = 0);
        self.spike_len = [0; MAX_LAYERS];
        self.stats = Stats::default();
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
    pub fn step(&mut self, input: &[u16]) -> Result<(), EngineError> {
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
    fn step_staged(&mut self, k: usize) -> Result<(), EngineError> {
        if self.stats.steps >= self.model.header.time_steps {
            return Err(EngineError::TooManySteps);
        }
        let input_size = usize::from(self.model.header.input_size);
        let (in_buf, mut layer_bufs) = self.spikes.split_at_mut(input_size);
        let mut pre: &[u16] = &in_buf[..k];
        self.stats.input_spikes = self.stats.input_spikes.saturating_add(k as u32);
        let mut mem_off = 0usize;
        let last = self.model.layers.len().saturating_sub(1);
        for (l, layer) in self.model.layers.iter().enumerate() {
            let n = usize::from(layer.neurons);
            let (own, rest) = core::mem::take(&mut layer_bufs).split_at_mut(n);
            layer_bufs = rest;
            let cur = &mut self.current[..n];
            cur.iter_mut().for_each(|c| *c = 0);
            let mut events = fan_out(&layer.feedforward, n, pre, cur);
            if let Some(rec) = &layer.recurrent {
                let prev = &own[..usize::from(self.spike_len[l])];
                events += fan_out(rec, n, prev, cur);
            }
            self.stats.synaptic_events = self.stats.synaptic_events.saturating_add(events);
            let count = update(layer, &mut self.membrane[mem_off..mem_off + n], cur, own);
            self.spike_len[l] = count as u16;
            self.stats.layer_spikes[l] = self.stats.layer_spikes[l].saturating_add(count as u32);
            if l == last {
                for &i in &own[..count] {
                    let c = &mut self.out_counts[usize::from(i)];
                    *c = c.saturating_add(1);
                }
            }
            mem_off += n;
            pre = &own[..count];
        }
        self.stats.steps += 1;
        Ok(())
    }

    /// Resets, encodes `features` with the model's encoding and runs every time step.
    pub fn run_features(&mut self, features: &[u8], sample_seed: u32) -> Result<(), EngineError> {
        self.reset();
        let header = self.model.header;
        let mut encoder = Encoder::new(&header, features, sample_seed)?;
        let input_size = usize::from(header.input_size);
        for _ in 0..header.time_steps {
            let k = encoder.next_step(&mut self.spikes[..input_size])?;
            self.step_staged(k)?;
        }
        Ok(())
    }

    /// Predicted class: the population with most spikes (ties go to the lower class).
    pub fn predicted_class(&self) -> u16 {
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
    let mut best = (0u16, 0u32);
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
    let mut events = 0u64;
    match w {
        Weights::Dense { values } => {
            for &j in spikes {
                let start = usize::from(j) * n;
                if let Some(row) = values.0.get(start..start + n) {
                    for (c, &b) in cur.iter_mut().zip(row) {
                        *c += i32::from(b as i8);
                    }
                    events += n as u64;
                }
            }
        }
        Weights::Sparse {
            row_ptr,
            post,
            values,
        } => {
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
        }
    }
    events
}

/// Leak, integrate, fire and reset every neuron of a layer; writes spike indices to `out`.
#[inline]
fn update(layer: &Layer<'_>, v: &mut [i32], cur: &[i32], out: &mut [u16]) -> usize {
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
