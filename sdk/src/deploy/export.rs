//! Float network -> calibrated integer model -> `model.snn` + `model.card.json`.
//!
//! Steps: (1) [`calibrate`] picks each layer's shift among [`crate::deploy::quant::candidate_shifts`] on
//! calibration samples (training data), greedily from the first layer: the candidate whose integer
//! engine agrees with the float network on the most predictions wins, ties broken by the smaller
//! mean squared membrane error of that layer (float units) against the float network on the same
//! spikes, then by the smaller shift (less clipping). (2) [`build_model`] lays the integers out in
//! the `snn_models` format; a weight matrix is stored sparse (CSR, zeros absent) when that is
//! smaller than dense. (3) [`evaluate`] measures float, float-with-quantised-parameters and integer
//! accuracy and their agreement. (4) [`write_exported`] writes the file and the card atomically.
use crate::deploy::card::{Accuracy, ModelCard, Provenance};
use crate::deploy::quant::{
    candidate_shifts, quantize, quantize_layer, FloatLayer, QuantConfig, QuantError, QuantLayer,
};
use crate::deploy::simulate::{agreement, run_engine, run_float, FloatNet, Sample, SimError};
use snn_models::encode::Encoder;
use snn_models::owned::{
    LeVec, OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel, OwnedSynapse, OwnedSynapses,
    OwnedWeights,
};
use snn_models::{EngineBuffers, FormatError, RateBudget};
use std::path::Path;
use thiserror::Error;

/// Why an export failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The float parameters or quantisation settings are invalid.
    #[error(transparent)]
    Quant(#[from] QuantError),
    /// The model could not be laid out in the format.
    #[error("model format: {0}")]
    Format(FormatError),
    /// A simulation failed.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// Writing a file failed, or the network could not hand over its parameters.
    #[error(transparent)]
    Sdk(#[from] crate::train::Error),
}

impl From<crate::data::DataError> for ExportError {
    fn from(e: crate::data::DataError) -> Self {
        Self::Sdk(e.into())
    }
}

impl From<FormatError> for ExportError {
    fn from(e: FormatError) -> Self {
        Self::Format(e)
    }
}

/// Sparse (CSR) byte cost of a presynaptic-major matrix: `4 (pre + 1) + 3 nnz` (u32 row pointers,
/// u16 post index and i8 value per stored synapse), against `pre * post` dense.
pub fn prefer_sparse(pre: usize, post: usize, values: &[i8]) -> bool {
    let nnz = values.iter().filter(|&&w| w != 0).count();
    4 * (pre + 1) + 3 * nnz < pre * post
}

fn owned_weights(pre: usize, post: usize, values: &[i8]) -> Result<OwnedWeights, FormatError> {
    if prefer_sparse(pre, post, values) {
        OwnedWeights::sparse_from_dense(pre, post, values)
    } else {
        OwnedWeights::from_dense(pre, post, values)
    }
}

/// Q0.16 decays in the format: shared when every neuron has the same one.
fn owned_leak(leak: &[u16]) -> OwnedLeak {
    match leak.first() {
        Some(&first) if leak.iter().all(|&l| l == first) => OwnedLeak::Shared(first),
        _ => OwnedLeak::PerNeuron(LeVec::from_slice(leak)),
    }
}

/// The synapse of a quantised layer: current-based with its `alpha` (shared when every neuron
/// has the same one), else instant.
pub fn owned_synapse(q: &QuantLayer) -> OwnedSynapse {
    match &q.alpha {
        Some(a) => OwnedSynapse::Current(owned_leak(a)),
        None => OwnedSynapse::Instant,
    }
}

/// One quantised layer in the format (leak shared when every neuron has the same one); its
/// synapse is [`owned_synapse`].
pub fn owned_layer(q: &QuantLayer) -> Result<OwnedLayer, FormatError> {
    let leak = owned_leak(&q.leak);
    Ok(OwnedLayer {
        inputs: q.inputs as u16,
        neurons: q.neurons as u16,
        weight_bits: q.weight_bits,
        shift: q.shift,
        feedforward: owned_weights(q.inputs, q.neurons, &q.w_ff)?,
        recurrent: match &q.w_rec {
            Some(r) => Some(owned_weights(q.neurons, q.neurons, r)?),
            None => None,
        },
        bias: q.bias.as_ref().map(|b| LeVec::from_slice(b)),
        leak,
        threshold: q.threshold,
        reset: q.reset,
        budget: RateBudget {
            max_rate: q.budget.0,
            min_rate: q.budget.1,
        },
    })
}

/// Reads a layer back from a model (the inverse of [`owned_layer`]): dense presynaptic-major
/// weights (absent synapses 0), per-neuron leaks and biases. Dequantise it with
/// [`QuantLayer::dequantize`] to get the float network a model file stands for.
pub fn quant_layer(l: &snn_models::Layer<'_>) -> QuantLayer {
    let (m, n) = (usize::from(l.inputs), usize::from(l.neurons));
    let leak = match &l.leak {
        snn_models::Leak::Shared(b) => vec![*b; n],
        snn_models::Leak::PerNeuron(ls) => ls.iter().collect(),
    };
    let sparse_mask = |w: &snn_models::Weights<'_>, pre: usize| match w {
        snn_models::Weights::Sparse { .. } => {
            let d = OwnedWeights::from(w).to_dense(pre, n);
            Some(d.iter().map(|&q| q != 0).collect())
        }
        _ => None,
    };
    QuantLayer {
        inputs: m,
        neurons: n,
        weight_bits: l.weight_bits,
        shift: l.shift,
        w_ff: OwnedWeights::from(&l.feedforward).to_dense(m, n),
        w_rec: l
            .recurrent
            .as_ref()
            .map(|r| OwnedWeights::from(r).to_dense(n, n)),
        ff_mask: sparse_mask(&l.feedforward, m),
        rec_mask: l.recurrent.as_ref().and_then(|r| sparse_mask(r, n)),
        bias: l.bias.as_ref().map(|b| b.iter().collect()),
        leak,
        alpha: None,
        threshold: l.threshold,
        reset: l.reset,
        budget: (l.budget.max_rate, l.budget.min_rate),
        readout: false,
    }
}

/// Every layer of a model read back ([`quant_layer`]) with its synapse (a current-based
/// layer's per-neuron `alpha`) and, for the last layer of a readout model, `readout`.
pub fn quant_layers(model: &snn_models::Model<'_>) -> Vec<QuantLayer> {
    model
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut q = quant_layer(l);
            q.readout = model.has_readout() && i + 1 == model.layers.len();
            if let snn_models::Synapse::Current(a) = model.synapse(i) {
                q.alpha = Some(match a {
                    snn_models::Leak::Shared(b) => vec![b; q.neurons],
                    snn_models::Leak::PerNeuron(ls) => ls.iter().collect(),
                });
            }
            q
        })
        .collect()
}

/// The whole model; validated as the device would on loading. The synapse section (format
/// version 3) is written only when some layer is current-based, so every other model keeps
/// its older version and bytes.
pub fn build_model(header: &OwnedHeader, layers: &[QuantLayer]) -> Result<OwnedModel, FormatError> {
    let synapses = if layers.iter().any(|q| q.alpha.is_some()) {
        OwnedSynapses::new(&layers.iter().map(owned_synapse).collect::<Vec<_>>())
    } else {
        OwnedSynapses::default()
    };
    let model = OwnedModel {
        header: header.clone(),
        layers: layers.iter().map(owned_layer).collect::<Result<_, _>>()?,
        channels: Default::default(),
        synapses,
        // A readout is the last layer (the network config refuses it anywhere else).
        output: if layers.last().is_some_and(|q| q.readout) {
            snn_models::Output::MaxMembrane
        } else {
            snn_models::Output::Spikes
        },
    };
    model.validate()?;
    Ok(model)
}

/// Score of one calibration candidate: `(agreeing predictions, membrane MSE)`.
fn score(
    model: &OwnedModel,
    float: &[FloatLayer],
    float_pred: &[u16],
    layer: usize,
    samples: &[Sample<'_>],
) -> Result<(usize, f64), ExportError> {
    let m = model.as_model();
    let mut state = EngineBuffers::for_model(&m);
    let engine_err = |index: usize, seed: u32| {
        move |source| SimError::Engine {
            index,
            seed,
            source,
        }
    };
    let mut engine = state.engine(&m).map_err(engine_err(0, 0))?;
    let mut net = FloatNet::new(float);
    let scale = 1.0 / f64::from(1u32 << m.layers[layer].shift);
    let input = usize::from(m.header.input_size);
    let (mut agree, mut err, mut count) = (0usize, 0.0f64, 0usize);
    let mut buf = vec![0u16; input];
    let mut idx = Vec::with_capacity(input);
    for (i, x) in samples.iter().enumerate() {
        engine.reset();
        net.reset();
        let mut enc = Encoder::new(&m.header, x.features, x.seed).map_err(engine_err(i, x.seed))?;
        for _ in 0..m.header.time_steps {
            let k = enc.next_step(&mut buf).map_err(engine_err(i, x.seed))?;
            engine.step(&buf[..k]).map_err(engine_err(i, x.seed))?;
            idx.clear();
            idx.extend(buf[..k].iter().map(|&j| usize::from(j)));
            net.step(&idx);
            for (&q, &f) in engine.membranes(layer).iter().zip(net.membranes(layer)) {
                let d = f64::from(q) * scale - f64::from(f);
                err += d * d;
                count += 1;
            }
        }
        agree += usize::from(engine.predicted_class() == float_pred[i]);
    }
    Ok((agree, err / count.max(1) as f64))
}

/// Quantises `layers`, choosing each shift on `samples` (see the module docs); with no samples or
/// `clip_shifts = 0` every layer keeps its no-clipping shift.
pub fn calibrate(
    layers: &[FloatLayer],
    header: &OwnedHeader,
    samples: &[Sample<'_>],
    cfg: &QuantConfig,
) -> Result<Vec<QuantLayer>, ExportError> {
    let mut quant = quantize(layers, cfg)?;
    if samples.is_empty() || cfg.clip_shifts == 0 {
        return Ok(quant);
    }
    let hdr = header.as_header();
    let float_pred = run_float(layers, &hdr, samples)?;
    for l in 0..layers.len() {
        let mut best: Option<((usize, f64), u8)> = None;
        for s in candidate_shifts(&layers[l], cfg) {
            quant[l] = quantize_layer(&layers[l], s, cfg.weight_bits);
            let model = build_model(header, &quant)?;
            let sc = score(&model, layers, &float_pred, l, samples)?;
            let better = match &best {
                None => true,
                Some((b, _)) => sc.0 > b.0 || (sc.0 == b.0 && sc.1 < b.1),
            };
            if better {
                best = Some((sc, s));
            }
        }
        if let Some((_, s)) = best {
            quant[l] = quantize_layer(&layers[l], s, cfg.weight_bits);
        }
    }
    Ok(quant)
}

/// Measures the float network, the float network with dequantised parameters and the integer
/// engine on `samples`, and their agreement (fidelity).
pub fn evaluate(
    float: &[FloatLayer],
    quant: &[QuantLayer],
    model: &OwnedModel,
    samples: &[Sample<'_>],
    data: &str,
) -> Result<Accuracy, ExportError> {
    let m = model.as_model();
    let labels: Vec<u16> = samples.iter().map(|x| x.label).collect();
    let float_pred = run_float(float, &m.header, samples)?;
    let deq: Vec<FloatLayer> = quant.iter().map(QuantLayer::dequantize).collect();
    let deq_pred = run_float(&deq, &m.header, samples)?;
    let sim = run_engine(&m, samples)?;
    Ok(Accuracy {
        data: data.into(),
        samples: samples.len(),
        float: agreement(&float_pred, &labels),
        float_after_qat: None,
        float_quantised: agreement(&deq_pred, &labels),
        integer: sim.accuracy,
        fidelity: agreement(&sim.predictions, &deq_pred),
        rates: sim.rates.iter().map(|r| r.rate).collect(),
        synaptic_events_per_inference: sim.synaptic_events_per_inference,
    })
}

/// An exported model: the integers, the format model, its bytes and its card.
#[derive(Clone, Debug)]
pub struct Exported {
    /// Quantised layers.
    pub quant: Vec<QuantLayer>,
    /// The model in the format.
    pub model: OwnedModel,
    /// The file bytes.
    pub bytes: Vec<u8>,
    /// The card.
    pub card: ModelCard,
}

/// Calibrates on `calibration`, builds the model, evaluates on `test` (if any) and fills the card.
pub fn export(
    layers: &[FloatLayer],
    header: &OwnedHeader,
    calibration: &[Sample<'_>],
    test: Option<(&[Sample<'_>], &str)>,
    cfg: &QuantConfig,
    provenance: Option<Provenance>,
) -> Result<Exported, ExportError> {
    let quant = calibrate(layers, header, calibration, cfg)?;
    let model = build_model(header, &quant)?;
    let bytes = model.to_bytes()?;
    let mut card = ModelCard::describe(&snn_models::decode(&bytes)?, &bytes);
    if let Some((samples, name)) = test {
        card.accuracy = Some(evaluate(layers, &quant, &model, samples, name)?);
    }
    card.provenance = provenance;
    Ok(Exported {
        quant,
        model,
        bytes,
        card,
    })
}

/// Writes the model and its card (`model.card.json`) beside it, both atomically.
pub fn write_exported(path: &Path, exported: &Exported) -> Result<(), ExportError> {
    crate::train::atomic::write(path, &exported.bytes)?;
    crate::train::atomic::write(
        &ModelCard::path_for(path),
        exported.card.to_json().as_bytes(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snn_models::{Encoding, Reset};

    fn header(input: u16, classes: u16) -> OwnedHeader {
        OwnedHeader {
            name: "t".into(),
            input_size: input,
            time_steps: 10,
            encoding: Encoding::Rate { seed: 7 },
            num_classes: classes,
            neurons_per_class: 1,
        }
    }

    #[test]
    fn budgets_travel_into_the_model() {
        let mut l = FloatLayer::dense(2, 2, vec![0.5, -0.5, 0.25, 0.0], 0.9, 1.0);
        l.budget = Some((0.05, 0.001));
        let q = quantize(&[l], &QuantConfig::default()).unwrap();
        let m = build_model(&header(2, 2), &q).unwrap();
        let b = m.as_model().layers[0].budget;
        assert_eq!((b.max_rate, b.min_rate), (1638, 33));
        let card = ModelCard::describe(&m.as_model(), &m.to_bytes().unwrap());
        assert!((card.layers[0].budget[0] - 0.05).abs() < 1e-4);
    }

    #[test]
    fn sparse_only_when_smaller() {
        let dense = vec![1i8; 100];
        assert!(!prefer_sparse(10, 10, &dense));
        let mut sparse = vec![0i8; 100];
        sparse[3] = 5;
        assert!(prefer_sparse(10, 10, &sparse));
    }

    #[test]
    fn engine_matches_float_on_exactly_representable_parameters() {
        // Weights and threshold are exact in fixed point and beta = 0 makes decay exact, so the
        // integer engine and the float network must produce identical spike counts.
        let w: Vec<f32> = (0..4 * 3)
            .map(|k| ((k * 37 % 11) as f32 - 4.0) / 8.0)
            .collect();
        let mut l = FloatLayer::dense(4, 3, w, 0.0, 1.0);
        l.reset = Reset::Zero;
        let h = header(4, 3);
        let feats: Vec<Vec<u8>> = (0..20u8)
            .map(|s| {
                (0..4)
                    .map(|j| s.wrapping_mul(53).wrapping_add(j * 64))
                    .collect()
            })
            .collect();
        let samples: Vec<Sample<'_>> = feats
            .iter()
            .enumerate()
            .map(|(i, f)| Sample {
                features: f,
                label: (i % 3) as u16,
                seed: i as u32,
            })
            .collect();
        let cfg = QuantConfig {
            clip_shifts: 0,
            ..QuantConfig::default()
        };
        let out = export(
            &[l],
            &h,
            &samples,
            Some((&samples, "synthetic")),
            &cfg,
            None,
        )
        .unwrap();
        let acc = out.card.accuracy.unwrap();
        assert_eq!(acc.fidelity, 1.0);
        assert_eq!(acc.float, acc.integer);
        assert_eq!(out.card.layers[0].storage, "dense");
    }
}

/// A training run read back from its checkpoint: config, network with the trained weights, and
/// the same seeded train/test split the run used.
pub struct Run {
    /// The training config stored in the checkpoint.
    pub cfg: crate::train::TrainConfig,
    /// The network with the checkpoint's weights.
    pub net: crate::net::Network,
    /// Train and test samples, split and scaled as in training.
    pub split: crate::data::Split,
    /// The checkpoint file.
    pub checkpoint: std::path::PathBuf,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("checkpoint", &self.checkpoint)
            .finish_non_exhaustive()
    }
}

/// Evaluation samples of a split part: features, label, and seed = row index in the data file.
pub fn samples_of(s: &crate::data::Samples) -> Vec<Sample<'_>> {
    (0..s.len())
        .map(|i| Sample {
            features: s.features_of(i),
            label: s.labels[i] as u16,
            seed: crate::data::encode::eval_seed(s.rows[i]),
        })
        .collect()
}

/// Loads a run from a checkpoint file or run directory (the config comes from the checkpoint's
/// metadata; relative data paths resolve against the checkpoint's directory).
pub fn load_run(path: &Path) -> Result<Run, ExportError> {
    let dev = candle_core::Device::Cpu;
    let ckpt = crate::train::checkpoint::load(path, &dev)?;
    let name = ckpt.path.display().to_string();
    let mut cfg = crate::train::TrainConfig::from_toml_str(&ckpt.meta.config_toml, &name)
        .map_err(crate::train::Error::from)?;
    cfg.base_dir = ckpt.path.parent().map(Path::to_path_buf);
    let net = crate::net::Network::new(&cfg.network, cfg.seed, &dev)
        .map_err(crate::train::Error::from)?;
    ckpt.restore_network(&net)?;
    let data = crate::train::Trainer::load_data(&cfg)?;
    let split = crate::train::Trainer::new(cfg.clone(), net.clone())?.split(&data)?;
    Ok(Run {
        cfg,
        net,
        split,
        checkpoint: ckpt.path,
    })
}

impl Run {
    /// The model header: name (or the run's), input size, steps, encoding and classes.
    pub fn header(&self, name: Option<&str>) -> Result<OwnedHeader, ExportError> {
        let fit = |v: usize, what: &'static str| {
            u16::try_from(v).map_err(|_| {
                ExportError::Quant(QuantError::Config(format!("{what} = {v} exceeds 65535")))
            })
        };
        let mut name = name.unwrap_or(&self.cfg.name).to_owned();
        while name.len() > snn_models::validate::MAX_NAME_LEN {
            name.pop();
        }
        Ok(OwnedHeader {
            name,
            input_size: fit(self.cfg.network.input_size, "network.input_size")?,
            time_steps: fit(self.cfg.train.time_steps, "train.time_steps")?,
            encoding: self.cfg.encoding.to_model(),
            num_classes: fit(self.split.test.num_classes, "classes")?,
            neurons_per_class: fit(self.cfg.train.neurons_per_class, "train.neurons_per_class")?,
        })
    }

    /// The network's current float parameters in quantiser form.
    pub fn float_layers(&self) -> Result<Vec<FloatLayer>, ExportError> {
        let params = self.net.layer_params().map_err(crate::train::Error::from)?;
        Ok(params
            .iter()
            .enumerate()
            .map(|(i, l)| FloatLayer::from_network(l, i))
            .collect::<Result<_, _>>()?)
    }
}

/// Options of [`export_run`] (`snn export` flags).
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Bit width, calibration and clipping.
    pub quant: QuantConfig,
    /// Quantisation-aware fine-tuning before export (`None` or 0 epochs: none).
    pub qat: Option<crate::deploy::qat::QatConfig>,
    /// Model name (default: the run's name).
    pub name: Option<String>,
    /// Per-layer firing-rate budgets (index = layer; `None` = unbounded), stored in the model so
    /// the device can check them. Empty (default): the training config's `[[budget]]` tables.
    pub budgets: Vec<Option<snn_models::RateBudget>>,
}

/// Exports a loaded run: optional QAT (which changes `run.net` in memory only), calibration on
/// `calibration_samples` training samples spread evenly over the split, evaluation on the test
/// split. The card's
/// `accuracy.float` is the float network as trained (before any QAT), `float_after_qat` the
/// fine-tuned one.
pub fn export_run(run: &Run, opts: &ExportOptions) -> Result<Exported, ExportError> {
    let header = run.header(opts.name.as_deref())?;
    let test = samples_of(&run.split.test);
    let trained = run.float_layers()?;
    let float_trained = agreement(
        &run_float(&trained, &header.as_header(), &test)?,
        &test.iter().map(|x| x.label).collect::<Vec<_>>(),
    );
    let mut quant = opts.quant.clone();
    let qat = opts.qat.as_ref().filter(|q| q.epochs > 0);
    if let Some(q) = qat {
        let enc = crate::data::encode::SpikeEncoder::new(
            run.cfg.encoding,
            run.cfg.network.input_size,
            run.cfg.train.time_steps,
        )?;
        let q = crate::deploy::qat::QatConfig {
            weight_bits: quant.weight_bits,
            ..q.clone()
        };
        crate::deploy::qat::finetune(
            &run.net,
            &run.split.train,
            &enc,
            &run.cfg.loss,
            run.cfg.train.neurons_per_class,
            &q,
        )?;
        // QAT trained at the range shifts; export exactly those.
        quant.clip_shifts = 0;
    }
    let mut layers = run.float_layers()?;
    let budgets: Vec<Option<snn_models::RateBudget>> = if opts.budgets.is_empty() {
        crate::budget::export_budgets(&run.cfg.budget, layers.len())
            .map_err(|e| QuantError::Config(format!("budget: {e}")))?
            .into_iter()
            .map(Some)
            .collect()
    } else {
        opts.budgets.clone()
    };
    for (l, b) in layers.iter_mut().zip(&budgets) {
        let rate = |q: u16| f32::from(q) / f32::from(snn_models::RATE_ONE);
        l.budget = b.map(|b| (rate(b.max_rate), rate(b.min_rate)));
    }
    // Calibration samples spread evenly over the training split (a file sorted by class must
    // not calibrate on its first classes only).
    let train = samples_of(&run.split.train);
    let n = quant.calibration_samples.min(train.len());
    let calib: Vec<Sample<'_>> = (0..n).map(|k| train[k * train.len() / n]).collect();
    let calib = &calib[..];
    let provenance = Provenance {
        checkpoint: run.checkpoint.display().to_string(),
        weight_bits: quant.weight_bits,
        calibration_samples: if quant.clip_shifts == 0 {
            0
        } else {
            calib.len()
        },
        qat: qat.is_some(),
    };
    let source = match run.cfg.data_path() {
        Some(p) => p.display().to_string(),
        None => "digits".to_owned(),
    };
    let data = format!("{source} test split ({} samples)", test.len());
    let mut out = export(
        &layers,
        &header,
        calib,
        Some((&test, &data)),
        &quant,
        Some(provenance),
    )?;
    if let Some(acc) = out.card.accuracy.as_mut() {
        if qat.is_some() {
            acc.float_after_qat = Some(acc.float);
        }
        acc.float = float_trained;
    }
    Ok(out)
}
