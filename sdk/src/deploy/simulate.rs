//! Host simulation: the `snn_models` integer engine over a data set, and the float reference.
//!
//! [`run_engine`] drives the ONE integer engine (the same code the firmware runs) over samples, each
//! encoded with the model's own encoder and seeded with its row index, and reports accuracy,
//! per-layer rates against budgets and synaptic events. [`FloatNet`] is the float network run on the
//! same encoded spikes, `u[t] = beta*v[t-1] + W x[t] + R s[t-1] + b; s[t] = H(u[t] - thr)`,
//! `v[t] = u[t] - s[t]*thr` (subtract) / `u[t]*(1 - s[t])` (zero) / `u[t]` (none), and for a
//! current-based (`synaptic`) layer `i[t] = alpha*i[t-1] + W x[t] + R s[t-1] + b`,
//! `u[t] = beta*v[t-1] + i[t]`: with the dequantised parameters it is the "float model with the
//! quantised weights" the engine must match.
use crate::deploy::decide::{Decider, DecisionReport, StepSpikes};
use crate::deploy::quant::FloatLayer;
use crate::train::config::DecisionConfig;
use serde::Serialize;
use snn_models::encode::Encoder;
use snn_models::{EngineBuffers, EngineError, Header, Model, Requirements, Reset, RATE_ONE};
use thiserror::Error;

/// One input sample: raw `u8` features, its label, and the encoder's sample seed (its row index).
#[derive(Clone, Copy, Debug)]
pub struct Sample<'a> {
    /// Features, `input_size` values (or `time_steps * input_size` for a sequence).
    pub features: &'a [u8],
    /// True class.
    pub label: u16,
    /// Sample seed of the rate encoder: the row index in the data file.
    pub seed: u32,
}

/// Why a simulation could not run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SimError {
    /// The engine refused a sample.
    #[error("sample {index} (row seed {seed}): {source}")]
    Engine {
        /// Position of the sample in the data set.
        index: usize,
        /// Its seed.
        seed: u32,
        /// The engine's reason.
        source: EngineError,
    },
    /// The model's engine state does not fit the RAM limit.
    #[error(
        "the model needs {needed} bytes of engine state (membranes {membrane} x 4 B, currents \
         {current} x 4 B, spike lists {spikes} x 2 B, output counts {out_counts} x 2 B), more than \
         --max-ram {limit} bytes"
    )]
    TooMuchRam {
        /// Bytes the engine state needs.
        needed: usize,
        /// The limit.
        limit: usize,
        /// Membrane elements.
        membrane: usize,
        /// Current elements.
        current: usize,
        /// Spike list elements.
        spikes: usize,
        /// Output count elements.
        out_counts: usize,
    },
    /// The data set is empty or does not fit the model.
    #[error("{0}")]
    Data(String),
    /// The decision rules refused their parameters (window, threshold) for this model.
    #[error("decision rules: {0}")]
    Decision(#[from] snn_models::decision::DecisionError),
}

/// Refuses a model whose engine state ([`Requirements::bytes`]) exceeds `limit` bytes.
pub fn check_ram(model: &Model<'_>, limit: usize) -> Result<usize, SimError> {
    let r = Requirements::of(model);
    let needed = r.bytes();
    if needed > limit {
        return Err(SimError::TooMuchRam {
            needed,
            limit,
            membrane: r.membrane,
            current: r.current,
            spikes: r.spikes,
            out_counts: r.out_counts,
        });
    }
    Ok(needed)
}

/// One layer's measured activity over a whole simulation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerRate {
    /// Layer index.
    pub layer: usize,
    /// Mean rate in spikes/neuron/step over every sample and step.
    pub rate: f64,
    /// Budget cap (1.0 = none).
    pub max_rate: f64,
    /// Budget floor (0.0 = none).
    pub min_rate: f64,
    /// Whether the mean rate is within `[min_rate, max_rate]`.
    pub within_budget: bool,
    /// Samples whose own rate was within budget (the engine's `budget_ok`), 0..=1.
    pub samples_within_budget: f64,
}

/// What a simulation measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimReport {
    /// Samples run.
    pub samples: usize,
    /// Fraction classified correctly, 0..=1.
    pub accuracy: f64,
    /// Predicted class of each sample, in order.
    pub predictions: Vec<u16>,
    /// True class of each sample, in order.
    pub labels: Vec<u16>,
    /// Per-layer rates against budgets.
    pub rates: Vec<LayerRate>,
    /// Mean synaptic events (weights added) per inference.
    pub synaptic_events_per_inference: f64,
    /// Mean input spikes per inference.
    pub input_spikes_per_inference: f64,
    /// Engine state bytes ([`Requirements::bytes`]).
    pub ram_bytes: usize,
    /// Accuracy and mean latency of each decision rule ([`crate::deploy::decide`]).
    pub decisions: DecisionReport,
}

/// Runs the integer engine over `samples` (reset, encode, all steps, predict, per sample), with
/// the default decision rules.
pub fn run_engine(model: &Model<'_>, samples: &[Sample<'_>]) -> Result<SimReport, SimError> {
    run_engine_with(model, samples, DecisionConfig::default())
}

/// [`run_engine`] with the decision rules' window and threshold: the engine is stepped one step
/// at a time and each step's output spikes go through the rules.
pub fn run_engine_with(
    model: &Model<'_>,
    samples: &[Sample<'_>],
    rules: DecisionConfig,
) -> Result<SimReport, SimError> {
    if samples.is_empty() {
        return Err(SimError::Data("the data set has no samples".into()));
    }
    let mut state = EngineBuffers::for_model(model);
    let mut engine = state.engine(model).map_err(|source| SimError::Engine {
        index: 0,
        seed: 0,
        source,
    })?;
    let layers = model.layers.len();
    let mut spikes = vec![0u64; layers];
    let mut ok = vec![0usize; layers];
    let (mut events, mut inputs) = (0u64, 0u64);
    let mut predictions = Vec::with_capacity(samples.len());
    let mut decider = Decider::new(model, rules)?;
    let mut decided = Vec::with_capacity(samples.len());
    let mut steps_out = StepSpikes::default();
    let mut input = vec![0u16; usize::from(model.header.input_size)];
    for (index, x) in samples.iter().enumerate() {
        let err = |source| SimError::Engine {
            index,
            seed: x.seed,
            source,
        };
        // `Engine::run_features`, one step at a time so each step's output spikes are seen.
        engine.reset();
        steps_out.clear();
        let mut encoder = Encoder::new(&model.header, x.features, x.seed).map_err(err)?;
        for _ in 0..model.header.time_steps {
            let k = encoder.next_step(&mut input).map_err(err)?;
            engine.step(&input[..k]).map_err(err)?;
            steps_out.push(engine.layer_spikes(layers - 1));
        }
        let mut d = decider.decide(steps_out.steps())?;
        if model.has_readout() {
            // A non-spiking readout decides on its maximum membranes, not on spikes (it has
            // none): the final row is that decision; the spike rules see a silent output.
            d.final_class = engine.predicted_class();
        }
        decided.push(d);
        let st = engine.stats();
        for l in 0..layers {
            spikes[l] += u64::from(st.layer_spikes[l]);
            ok[l] += usize::from(engine.budget_ok(l));
        }
        events += st.synaptic_events;
        inputs += u64::from(st.input_spikes);
        predictions.push(engine.predicted_class());
    }
    let n = samples.len();
    let steps = f64::from(model.header.time_steps) * n as f64;
    let rates = model
        .layers
        .iter()
        .enumerate()
        .map(|(l, layer)| {
            let rate = spikes[l] as f64 / (steps * f64::from(layer.neurons));
            let q = |v: u16| f64::from(v) / f64::from(RATE_ONE);
            let (max_rate, min_rate) = (q(layer.budget.max_rate), q(layer.budget.min_rate));
            LayerRate {
                layer: l,
                rate,
                max_rate,
                min_rate,
                within_budget: rate <= max_rate && rate >= min_rate,
                samples_within_budget: ok[l] as f64 / n as f64,
            }
        })
        .collect();
    let labels: Vec<u16> = samples.iter().map(|x| x.label).collect();
    Ok(SimReport {
        samples: n,
        decisions: DecisionReport::new(rules, decided, &labels).with_readout(model.has_readout()),
        accuracy: agreement(&predictions, &labels),
        predictions,
        labels,
        rates,
        synaptic_events_per_inference: events as f64 / n as f64,
        input_spikes_per_inference: inputs as f64 / n as f64,
        ram_bytes: Requirements::of(model).bytes(),
    })
}

/// Fraction of positions where `a` and `b` agree (0 for empty input).
pub fn agreement(a: &[u16], b: &[u16]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// One float layer prepared for event-driven stepping (weights presynaptic-major).
#[derive(Clone, Debug)]
struct FloatState {
    n: usize,
    w_ff: Vec<f32>,
    w_rec: Option<Vec<f32>>,
    bias: Vec<f32>,
    beta: Vec<f32>,
    /// Synaptic decay of a current-based layer, with its currents `i`.
    alpha: Option<Vec<f32>>,
    i: Vec<f32>,
    thr: f32,
    reset: Reset,
    /// A non-spiking readout: never fires.
    readout: bool,
    v: Vec<f32>,
    spikes: Vec<usize>,
    prev: Vec<usize>,
}

/// The float network stepped on spike indices (f32, the training semantics; see the module docs).
#[derive(Clone, Debug)]
pub struct FloatNet {
    layers: Vec<FloatState>,
    counts: Vec<u32>,
    layer_spikes: Vec<u64>,
    /// A readout output's running maximum membrane per neuron (`None` before the first step).
    readout_max: Option<Vec<f32>>,
}

impl FloatNet {
    /// Prepares `layers` (validated shapes are assumed: use [`FloatLayer::validate`]).
    pub fn new(layers: &[FloatLayer]) -> Self {
        let states: Vec<FloatState> = layers
            .iter()
            .map(|l| {
                let n = l.neurons;
                let t = |w: &[f32], pre: usize| {
                    let mut out = vec![0.0; w.len()];
                    for i in 0..n {
                        for j in 0..pre {
                            out[j * n + i] = w[i * pre + j];
                        }
                    }
                    out
                };
                FloatState {
                    n,
                    w_ff: t(&l.w_ff, l.inputs),
                    w_rec: l.w_rec.as_ref().map(|r| t(r, n)),
                    bias: l.bias.clone().unwrap_or_else(|| vec![0.0; n]),
                    beta: l.beta.clone(),
                    alpha: l.alpha.clone(),
                    i: vec![0.0; n],
                    thr: l.threshold,
                    reset: l.reset,
                    readout: l.readout,
                    v: vec![0.0; n],
                    spikes: Vec::with_capacity(n),
                    prev: Vec::with_capacity(n),
                }
            })
            .collect();
        let out = states.last().map_or(0, |l| l.n);
        Self {
            layer_spikes: vec![0; states.len()],
            layers: states,
            counts: vec![0; out],
            readout_max: None,
        }
    }

    /// Membranes at rest, counts cleared.
    pub fn reset(&mut self) {
        for l in &mut self.layers {
            l.v.iter_mut().for_each(|v| *v = 0.0);
            l.i.iter_mut().for_each(|i| *i = 0.0);
            l.spikes.clear();
            l.prev.clear();
        }
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.layer_spikes.iter_mut().for_each(|c| *c = 0);
        self.readout_max = None;
    }

    /// One time step on the input spike indices.
    pub fn step(&mut self, input: &[usize]) {
        let mut pre: Vec<usize> = input.to_vec();
        for (li, l) in self.layers.iter_mut().enumerate() {
            let n = l.n;
            std::mem::swap(&mut l.prev, &mut l.spikes);
            // Synaptic input first, then the decayed membrane (same sum as the equations).
            let mut syn = vec![0.0f32; n];
            for &j in &pre {
                for (s, w) in syn.iter_mut().zip(&l.w_ff[j * n..(j + 1) * n]) {
                    *s += w;
                }
            }
            if let Some(r) = &l.w_rec {
                for &k in &l.prev {
                    for (s, w) in syn.iter_mut().zip(&r[k * n..(k + 1) * n]) {
                        *s += w;
                    }
                }
            }
            l.spikes.clear();
            let (thr, reset) = (l.thr, l.reset);
            for (i, (v, s)) in l.v.iter_mut().zip(&syn).enumerate() {
                // A current-based layer: `c = alpha·c + syn + b`, `u = beta·v + c`.
                let u = match &l.alpha {
                    Some(a) => {
                        l.i[i] = a[i] * l.i[i] + s + l.bias[i];
                        l.beta[i] * *v + l.i[i]
                    }
                    None => l.beta[i] * *v + s + l.bias[i],
                };
                *v = if !l.readout && u >= thr {
                    l.spikes.push(i);
                    match reset {
                        Reset::Subtract => u - thr,
                        Reset::Zero => 0.0,
                        Reset::None => u,
                    }
                } else {
                    u
                };
            }
            self.layer_spikes[li] += l.spikes.len() as u64;
            pre.clone_from(&l.spikes);
        }
        if let Some(last) = self.layers.last() {
            for &i in &last.spikes {
                self.counts[i] += 1;
            }
            if last.readout {
                let m = self.readout_max.get_or_insert_with(|| last.v.clone());
                for (m, &v) in m.iter_mut().zip(&last.v) {
                    *m = m.max(v);
                }
            }
        }
    }

    /// A readout output's maximum membrane per neuron over the steps since the reset (empty
    /// before the first step or without a readout).
    pub fn readout(&self) -> &[f32] {
        self.readout_max.as_deref().unwrap_or(&[])
    }

    /// The decision after the steps so far: for a readout output the class with the largest
    /// maximum membrane, else the population with most spikes (ties to the lower class, as
    /// the engine decides).
    pub fn decide(&self, header: &Header<'_>) -> u16 {
        match &self.readout_max {
            Some(m) => {
                let mut best = (0u16, f32::NEG_INFINITY);
                for (c, &v) in m.iter().enumerate() {
                    if v > best.1 {
                        best = (c as u16, v);
                    }
                }
                best.0
            }
            None => predict_counts(header, &self.counts),
        }
    }

    /// Membranes `v[t]` (after reset, as the engine keeps them) of layer `layer` at the last step
    /// (empty for a bad index).
    pub fn membranes(&self, layer: usize) -> &[f32] {
        self.layers.get(layer).map_or(&[], |l| &l.v)
    }

    /// Spike count of each output neuron so far.
    pub fn output_counts(&self) -> &[u32] {
        &self.counts
    }

    /// Spikes of each layer so far.
    pub fn layer_spikes(&self) -> &[u64] {
        &self.layer_spikes
    }

    /// Resets and runs one sample encoded with `header`'s encoder; returns the predicted class
    /// ([`FloatNet::decide`]).
    pub fn run_features(
        &mut self,
        header: &Header<'_>,
        features: &[u8],
        seed: u32,
    ) -> Result<u16, EngineError> {
        self.reset();
        let mut enc = Encoder::new(header, features, seed)?;
        let mut buf = vec![0u16; usize::from(header.input_size)];
        let mut idx = Vec::with_capacity(buf.len());
        for _ in 0..header.time_steps {
            let k = enc.next_step(&mut buf)?;
            idx.clear();
            idx.extend(buf[..k].iter().map(|&j| usize::from(j)));
            self.step(&idx);
        }
        Ok(self.decide(header))
    }
}

/// The engine's decision rule on float-side counts: population with most spikes, ties -> lower.
pub fn predict_counts(header: &Header<'_>, counts: &[u32]) -> u16 {
    let per = usize::from(header.neurons_per_class).max(1);
    let mut best = (0u16, 0u32);
    for c in 0..header.num_classes {
        let start = usize::from(c) * per;
        let total: u32 = counts.get(start..start + per).map_or(0, |s| s.iter().sum());
        if total > best.1 {
            best = (c, total);
        }
    }
    best.0
}

/// Float-network predictions for every sample (encoded with `header`, like the engine).
pub fn run_float(
    layers: &[FloatLayer],
    header: &Header<'_>,
    samples: &[Sample<'_>],
) -> Result<Vec<u16>, SimError> {
    let mut net = FloatNet::new(layers);
    samples
        .iter()
        .enumerate()
        .map(|(index, x)| {
            net.run_features(header, x.features, x.seed)
                .map_err(|source| SimError::Engine {
                    index,
                    seed: x.seed,
                    source,
                })
        })
        .collect()
}

impl SimReport {
    /// The one-line JSON summary `snn simulate --json` prints last: `accuracy`, `float_accuracy`
    /// (when the float network is known), `rates` (per layer), `within_budget` (per layer),
    /// `synaptic_events_per_inference`, `input_spikes_per_inference`, `samples`, `ram_bytes`,
    /// `decisions` ([`DecisionReport::json`]).
    pub fn summary_json(&self, float_accuracy: Option<f64>) -> String {
        let v = serde_json::json!({
            "samples": self.samples,
            "accuracy": self.accuracy,
            "float_accuracy": float_accuracy,
            "rates": self.rates.iter().map(|r| r.rate).collect::<Vec<_>>(),
            "within_budget": self.rates.iter().map(|r| r.within_budget).collect::<Vec<_>>(),
            "synaptic_events_per_inference": self.synaptic_events_per_inference,
            "input_spikes_per_inference": self.input_spikes_per_inference,
            "ram_bytes": self.ram_bytes,
            "decisions": self.decisions.json(),
        });
        v.to_string()
    }

    /// Human-readable report: accuracy, a per-layer rate/budget table and the event count.
    pub fn render(&self, float_accuracy: Option<f64>) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "samples {}  integer accuracy {:.2} %{}",
            self.samples,
            100.0 * self.accuracy,
            float_accuracy.map_or(String::new(), |f| format!("  (float {:.2} %)", 100.0 * f))
        );
        let _ = writeln!(
            s,
            "synaptic events/inference {:.0}  input spikes/inference {:.1}  engine RAM {} bytes",
            self.synaptic_events_per_inference, self.input_spikes_per_inference, self.ram_bytes
        );
        let _ = writeln!(
            s,
            "{:>5}  {:>8}  {:>8}  {:>8}  {:>6}  {:>14}",
            "layer", "rate", "max", "min", "ok", "samples ok"
        );
        for r in &self.rates {
            let _ = writeln!(
                s,
                "{:>5}  {:>8.4}  {:>8.4}  {:>8.4}  {:>6}  {:>13.1}%",
                r.layer,
                r.rate,
                r.max_rate,
                r.min_rate,
                if r.within_budget { "yes" } else { "NO" },
                100.0 * r.samples_within_budget
            );
        }
        s.push_str(&self.decisions.render());
        s
    }
}

/// Every row of a data set as evaluation samples' storage (no split): scaled with the data set's
/// default scaling fitted on all rows (digits: `q = p * 255 / 16`; CSV: min-max over the file),
/// row index = position in the file.
pub fn all_rows(data: &crate::data::Dataset) -> crate::data::Samples {
    let table = &data.table;
    let rows: Vec<usize> = (0..table.rows()).collect();
    let scaler = crate::data::Scaler::fit(data.default_scaling, table, &rows);
    let f = table.num_features;
    let features = table
        .features
        .chunks_exact(f.max(1))
        .flat_map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, &x)| scaler.scale(i, x))
                .collect::<Vec<_>>()
        })
        .collect();
    crate::data::Samples {
        num_features: f,
        num_classes: data.num_classes,
        features,
        labels: table.labels.clone(),
        rows: rows.iter().map(|&r| r as u32).collect(),
    }
}
