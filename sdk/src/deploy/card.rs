//! The model card: a human-readable JSON description written beside every exported model.
//!
//! It is derived from the model bytes themselves ([`ModelCard::describe`]) plus what only the
//! exporter knows (accuracies, where the model came from), so it can never disagree with the file.
use serde::{Deserialize, Serialize};
use snn_models::{Encoding, Leak, Model, Requirements, Reset, Weights, LEAK_ONE, RATE_ONE};

/// The whole card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Model name from the header.
    pub name: String,
    /// Format version of the file.
    pub format_version: u16,
    /// CRC-32 of the file (the trailer), as `0x%08x`.
    pub crc32: String,
    /// Input channels.
    pub input_size: u16,
    /// Time steps per inference.
    pub time_steps: u16,
    /// Input encoding, e.g. `rate(seed=42)`.
    pub encoding: String,
    /// Number of classes.
    pub num_classes: u16,
    /// Output neurons per class.
    pub neurons_per_class: u16,
    /// One entry per layer.
    pub layers: Vec<LayerCard>,
    /// Flash and RAM the engine needs.
    pub resources: Resources,
    /// Accuracies measured at export (absent when no data was given).
    pub accuracy: Option<Accuracy>,
    /// How the model was produced (checkpoint path, quantisation settings).
    pub provenance: Option<Provenance>,
}

/// One layer of the card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerCard {
    /// Layer index.
    pub index: usize,
    /// `[inputs, neurons]`.
    pub shape: [u16; 2],
    /// Whether the layer has recurrent weights.
    pub recurrent: bool,
    /// 8 or 4.
    pub weight_bits: u8,
    /// Weight scale exponent (real = q * 2^-shift).
    pub shift: u8,
    /// `dense` or `sparse` (feed-forward storage).
    pub storage: String,
    /// Stored synapses (feed-forward + recurrent).
    pub synapses: usize,
    /// Fraction of possible synapses stored.
    pub density: f64,
    /// Threshold in membrane units.
    pub threshold: i32,
    /// Threshold as a real number (`threshold * 2^-shift`).
    pub threshold_real: f64,
    /// Smallest and largest beta (`leak / 2^16`).
    pub beta: [f64; 2],
    /// Smallest and largest synaptic decay alpha of a current-based layer (format v3; absent
    /// for a plain LIF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<[f64; 2]>,
    /// `subtract`, `zero` or `none`.
    pub reset: String,
    /// Whether the layer has biases.
    pub bias: bool,
    /// Rate budget `[max, min]` in spikes/neuron/step.
    pub budget: [f64; 2],
}

/// Memory the engine needs on the device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Bytes of the model file (read in place from flash).
    pub flash_bytes: usize,
    /// Bytes of engine state in RAM (neuron state, accumulators, spike lists, output counts).
    pub ram_bytes: usize,
    /// `i32` neuron state: membranes, synaptic currents (format v3), delta references.
    pub membrane: usize,
    /// `i32` synaptic accumulators.
    pub current: usize,
    /// `u16` spike list slots.
    pub spikes: usize,
    /// `u16` output counters.
    pub out_counts: usize,
}

/// Accuracies measured at export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accuracy {
    /// Data the numbers were measured on, e.g. `digits test split (360 samples)`.
    pub data: String,
    /// Samples evaluated.
    pub samples: usize,
    /// Float network (trained parameters) accuracy, 0..=1.
    pub float: f64,
    /// Float network after quantisation-aware fine-tuning (its latent float weights), 0..=1;
    /// absent without QAT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub float_after_qat: Option<f64>,
    /// Float network run with the dequantised parameters, 0..=1.
    pub float_quantised: f64,
    /// Integer engine accuracy, 0..=1.
    pub integer: f64,
    /// Fraction of samples where the integer engine and the float network with the quantised
    /// parameters predict the same class.
    pub fidelity: f64,
    /// Per-layer mean rates on the integer engine.
    pub rates: Vec<f64>,
    /// Mean synaptic events per inference on the integer engine.
    pub synaptic_events_per_inference: f64,
}

/// Where the model came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Checkpoint exported.
    pub checkpoint: String,
    /// Weight bits asked for.
    pub weight_bits: u8,
    /// Calibration samples used to choose shifts (0 = range only).
    pub calibration_samples: usize,
    /// Whether quantisation-aware fine-tuning ran before export.
    pub qat: bool,
}

/// `rate(seed=…)`, `latency(threshold=…)`, `delta(threshold=…)` or `events`.
pub fn encoding_name(e: &Encoding) -> String {
    match e {
        Encoding::Rate { seed } => format!("rate(seed={seed})"),
        Encoding::Latency { threshold } => format!("latency(threshold={threshold})"),
        Encoding::Delta { threshold } => format!("delta(threshold={threshold})"),
        Encoding::Events => "events".into(),
        Encoding::Direct => "direct".into(),
        Encoding::SendOnDelta => "send-on-delta".into(),
        Encoding::SigmaDelta => "sigma-delta".into(),
        _ => "unknown".into(),
    }
}

/// `subtract`, `zero` or `none`.
pub fn reset_name(r: Reset) -> &'static str {
    match r {
        Reset::Subtract => "subtract",
        Reset::Zero => "zero",
        Reset::None => "none",
    }
}

/// `(storage, stored synapses)` of a weight matrix.
pub fn weights_summary(w: &Weights<'_>) -> (&'static str, usize) {
    match w {
        Weights::Dense { values } => ("dense", values.0.len()),
        Weights::Sparse { values, .. } => ("sparse", values.0.len()),
    }
}

impl ModelCard {
    /// Describes a decoded model and its file bytes (`bytes` must be the bytes `model` came from).
    pub fn describe(model: &Model<'_>, bytes: &[u8]) -> Self {
        let h = &model.header;
        let crc = bytes.len().checked_sub(4).map_or(0, |i| {
            u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]])
        });
        let version = bytes
            .get(4..6)
            .map_or(0, |v| u16::from_le_bytes([v[0], v[1]]));
        let layers = model
            .layers
            .iter()
            .enumerate()
            .map(|(index, l)| {
                let (storage, ff) = weights_summary(&l.feedforward);
                let rec = l.recurrent.as_ref().map_or(0, |r| weights_summary(r).1);
                let n = usize::from(l.neurons);
                let possible =
                    usize::from(l.inputs) * n + if l.recurrent.is_some() { n * n } else { 0 };
                let range = |leak: &Leak<'_>| -> [f64; 2] {
                    let v: Vec<f64> = match leak {
                        Leak::Shared(b) => vec![f64::from(*b)],
                        Leak::PerNeuron(ls) => ls.iter().map(f64::from).collect(),
                    };
                    let one = f64::from(LEAK_ONE);
                    [
                        v.iter().cloned().fold(f64::INFINITY, f64::min) / one,
                        v.iter().cloned().fold(f64::NEG_INFINITY, f64::max) / one,
                    ]
                };
                let [lo, hi] = range(&l.leak);
                let alpha = match model.synapse(index) {
                    snn_models::Synapse::Current(a) => Some(range(&a)),
                    snn_models::Synapse::Instant => None,
                };
                let rate = |v: u16| f64::from(v) / f64::from(RATE_ONE);
                LayerCard {
                    index,
                    shape: [l.inputs, l.neurons],
                    recurrent: l.recurrent.is_some(),
                    weight_bits: l.weight_bits,
                    shift: l.shift,
                    storage: storage.into(),
                    synapses: ff + rec,
                    density: (ff + rec) as f64 / possible.max(1) as f64,
                    threshold: l.threshold,
                    threshold_real: f64::from(l.threshold) / f64::from(1u32 << l.shift),
                    beta: [lo, hi],
                    alpha,
                    reset: reset_name(l.reset).into(),
                    bias: l.bias.is_some(),
                    budget: [rate(l.budget.max_rate), rate(l.budget.min_rate)],
                }
            })
            .collect();
        let r = Requirements::of(model);
        Self {
            name: h.name.into(),
            format_version: version,
            crc32: format!("{crc:#010x}"),
            input_size: h.input_size,
            time_steps: h.time_steps,
            encoding: encoding_name(&h.encoding),
            num_classes: h.num_classes,
            neurons_per_class: h.neurons_per_class,
            layers,
            resources: Resources {
                flash_bytes: bytes.len(),
                ram_bytes: r.bytes(),
                membrane: r.membrane,
                current: r.current,
                spikes: r.spikes,
                out_counts: r.out_counts,
            },
            accuracy: None,
            provenance: None,
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain structs of numbers and strings cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Path of the card beside a model file: `model.snn` -> `model.card.json`.
    pub fn path_for(model_path: &std::path::Path) -> std::path::PathBuf {
        model_path.with_extension("card.json")
    }
}
