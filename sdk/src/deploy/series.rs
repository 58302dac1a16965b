//! Export and integer simulation of a series model: the network quantised with its fitted
//! channel constants (format version 2), and the `models` engine run for exactly `T_i` steps of
//! each series (no padding on the device). A network ending in a non-spiking `readout` exports
//! with the output section (format version 3, `Output::MaxMembrane`) and is decided on its
//! maximum membrane over the series' own steps (`Engine::predicted_class`).
use snn_models::owned::{OwnedHeader, OwnedModel};
use snn_models::Encoding;

use crate::data::series::input::SeriesInput;
use crate::data::series::SeriesSet;
use crate::deploy::decide::{Decider, DecisionReport, StepSpikes};
use crate::net::Network;
use crate::train::config::DecisionConfig;
use crate::train::{Error, Result};

/// Quantises `net` (no-clipping shifts) into a model with the fitted input: encoding and
/// channel constants in the file, `time_steps` = the longest sample it takes.
pub fn export(
    net: &Network,
    input: &SeriesInput,
    name: &str,
    time_steps: usize,
    classes: usize,
) -> Result<OwnedModel> {
    let float: Vec<crate::deploy::quant::FloatLayer> = net
        .layer_params()?
        .iter()
        .enumerate()
        .map(|(i, l)| crate::deploy::quant::FloatLayer::from_network(l, i))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Data(e.to_string()))?;
    let q = crate::deploy::quant::quantize(&float, &crate::deploy::quant::QuantConfig::default())
        .map_err(|e| Error::Data(e.to_string()))?;
    let header = OwnedHeader {
        name: name.chars().take(64).collect(),
        input_size: input.inputs() as u16,
        time_steps: time_steps.min(usize::from(u16::MAX)) as u16,
        // Built (and validated) as an event model first: the layers do not depend on it.
        encoding: Encoding::Events,
        num_classes: classes as u16,
        neurons_per_class: 1,
    };
    let mut model =
        crate::deploy::export::build_model(&header, &q).map_err(|e| Error::Data(e.to_string()))?;
    model.header.encoding = input.encoding;
    model.channels = input.channels.clone();
    model.validate().map_err(|e| Error::Data(e.to_string()))?;
    Ok(model)
}

/// What the integer engine did on a set.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineReport {
    /// Fraction predicted correctly.
    pub accuracy: f64,
    /// Predicted class of each series.
    pub predictions: Vec<u16>,
    /// Mean spikes of all layers per inference.
    pub spikes_per_inference: f64,
    /// Mean rate of each layer (spikes per neuron per valid step).
    pub layer_rates: Vec<f64>,
    /// Accuracy and mean latency of each decision rule ([`crate::deploy::decide`]).
    pub decisions: DecisionReport,
    /// Mean synaptic events per inference (one whole series).
    pub synaptic_events_per_inference: f64,
    /// Mean steps per inference (one whole series).
    pub steps_per_inference: f64,
}

/// Runs the integer engine on every series of `set` for exactly its `T_i` steps (default
/// decision rules): real values through `step_values`, or, for an `events` model, each step's
/// inputs above 0.5 as that step's input spikes through `step`.
pub fn run_engine(bytes: &[u8], set: &SeriesSet) -> Result<EngineReport> {
    run_engine_with(bytes, set, DecisionConfig::default())
}

/// [`run_engine`] with the decision rules' window and threshold: each series is stepped frame
/// by frame (`Engine::step_values`, as `run_values` does) and each step's output spikes go
/// through the rules.
pub fn run_engine_with(
    bytes: &[u8],
    set: &SeriesSet,
    rules: DecisionConfig,
) -> Result<EngineReport> {
    let model = snn_models::decode(bytes).map_err(|e| Error::Data(e.to_string()))?;
    let mut state = snn_models::EngineBuffers::for_model(&model);
    let mut e = state.engine(&model).map_err(Error::Encode)?;
    let layers = model.layers.len();
    let (mut correct, mut spikes, mut steps, mut events) = (0usize, 0u64, 0u64, 0u64);
    let mut per_layer = vec![0u64; layers];
    let mut predictions = Vec::with_capacity(set.series.len());
    let decision_err = |e: snn_models::decision::DecisionError| Error::Data(e.to_string());
    let mut decider = Decider::new(&model, rules).map_err(decision_err)?;
    let mut decided = Vec::with_capacity(set.series.len());
    let mut steps_out = StepSpikes::default();
    let c = model.channels.len();
    let max = c * usize::from(model.header.time_steps);
    for (s, &y) in set.series.iter().zip(&set.labels) {
        e.reset();
        steps_out.clear();
        if model.header.encoding == Encoding::Events {
            // `Engine::run_spike_steps`, one step at a time so each step's output spikes are seen.
            let mut input = Vec::with_capacity(s.channels);
            for t in 0..s.len() {
                input.clear();
                input.extend(
                    (0..s.channels)
                        .filter(|&i| s.step(t)[i] > 0.5)
                        .map(|i| i as u16),
                );
                e.step(&input).map_err(Error::Encode)?;
                steps_out.push(e.layer_spikes(layers - 1));
            }
        } else {
            // `Engine::run_values`, one frame at a time so each step's output spikes are seen.
            if c == 0 || s.values.is_empty() || s.values.len() % c != 0 || s.values.len() > max {
                return Err(Error::Encode(snn_models::EngineError::InputLength {
                    expected: max,
                    given: s.values.len(),
                }));
            }
            for frame in s.values.chunks_exact(c) {
                e.step_values(frame).map_err(Error::Encode)?;
                steps_out.push(e.layer_spikes(layers - 1));
            }
        }
        let mut d = decider.decide(steps_out.steps()).map_err(decision_err)?;
        if model.has_readout() {
            // A non-spiking readout decides on its maximum membranes over the series' steps,
            // not on (absent) spikes; the window and threshold rules stay silent.
            d.final_class = e.predicted_class();
        }
        decided.push(d);
        let p = e.predicted_class();
        predictions.push(p);
        correct += usize::from(usize::from(p) == y);
        let st = e.stats();
        steps += u64::from(st.steps);
        events += st.synaptic_events;
        for (l, c) in per_layer.iter_mut().enumerate() {
            *c += u64::from(st.layer_spikes[l]);
            spikes += u64::from(st.layer_spikes[l]);
        }
    }
    let n = set.series.len().max(1) as f64;
    let labels: Vec<u16> = set.labels.iter().map(|&y| y as u16).collect();
    Ok(EngineReport {
        decisions: DecisionReport::new(rules, decided, &labels).with_readout(model.has_readout()),
        accuracy: correct as f64 / n,
        predictions,
        spikes_per_inference: spikes as f64 / n,
        synaptic_events_per_inference: events as f64 / n,
        steps_per_inference: steps as f64 / n,
        layer_rates: per_layer
            .iter()
            .zip(model.layers.iter())
            .map(|(&c, l)| c as f64 / (f64::from(l.neurons) * steps.max(1) as f64))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::series::input::SeriesEncoding;
    use crate::data::series::Series;
    use crate::data::SplitMix64;
    use crate::net::NetworkConfig;
    use crate::train::series::{accuracy_float, masked_counts, train, SeriesTrainOptions};
    use candle_core::Device;

    /// Two classes of 2-channel series of 5..=12 steps: class 1 rises on channel 0, class 0
    /// falls; channel 1 is noise.
    fn toy(n: usize, seed: u64) -> SeriesSet {
        let mut rng = SplitMix64::new(seed);
        let mut series = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let y = i % 2;
            let len = 5 + rng.below(8);
            let mut values = Vec::new();
            for t in 0..len {
                let trend = t as f32 / len as f32;
                values.push(
                    if y == 1 { trend } else { -trend } + 0.1 * (rng.below(100) as f32 / 100.0),
                );
                values.push(rng.below(100) as f32 / 50.0 - 1.0);
            }
            series.push(Series {
                channels: 2,
                values,
            });
            labels.push(y);
        }
        SeriesSet {
            name: "toy".into(),
            channels: 2,
            classes: vec!["fall".into(), "rise".into()],
            series,
            labels,
        }
    }

    fn net(inputs: usize) -> Network {
        let cfg: NetworkConfig = toml::from_str(&format!(
            "input_size = {inputs}\n[[layers]]\nsize = 16\nkind = \"recurrent\"\n[[layers]]\nsize = 2"
        ))
        .unwrap();
        Network::new(&cfg, 1, &Device::Cpu).unwrap()
    }

    #[test]
    fn a_padded_batch_computes_what_each_sample_computes_alone() {
        // Padding at the end cannot change valid steps (causality), so counts over the masked
        // steps of a batch equal each sample's own run.
        let set = toy(6, 3);
        let input = SeriesInput::fit(SeriesEncoding::Direct, &set);
        let n = net(input.inputs());
        let all: Vec<&Series> = set.series.iter().collect();
        let (x, mask) = input.batch(&all, &Device::Cpu).unwrap();
        let outs = n.forward(&x).unwrap();
        let batch_counts = masked_counts(&outs[1].spikes, &mask)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (b, s) in all.iter().enumerate() {
            let (x1, m1) = input.batch(&[s], &Device::Cpu).unwrap();
            let o1 = n.forward(&x1).unwrap();
            let own = masked_counts(&o1[1].spikes, &m1)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            assert_eq!(own[0], batch_counts[b], "sample {b} of length {}", s.len());
            // The first layer's membranes on valid steps agree bit for bit too.
            let mb = outs[0].mem.get(b).unwrap().narrow(0, 0, s.len()).unwrap();
            let m_own = o1[0].mem.get(0).unwrap();
            assert_eq!(
                mb.to_vec2::<f32>().unwrap(),
                m_own.to_vec2::<f32>().unwrap()
            );
        }
    }

    #[test]
    fn direct_input_is_the_engines_quantised_value() {
        let set = toy(4, 5);
        let input = SeriesInput::fit(SeriesEncoding::Direct, &set);
        let c = input.channels.as_channels();
        let x = input.encode(&set.series[0]).unwrap();
        let (o, s) = (c.offset.get(1).unwrap(), c.scale.get(1).unwrap());
        let q = snn_models::encode::quantise(set.series[0].step(2)[1], o, s);
        assert_eq!(x[2 * 2 + 1], f32::from(q) / 256.0);
        let delta = SeriesInput::fit(SeriesEncoding::SigmaDelta { threshold_std: 0.5 }, &set);
        assert_eq!(delta.inputs(), 4);
        let x = delta.encode(&set.series[0]).unwrap();
        assert!(x.iter().all(|&v| v == 0.0 || v == 1.0));
    }

    #[test]
    fn a_readout_network_exports_with_its_output_section_and_the_engine_decides_like_the_float() {
        use crate::train::series::{predictions_float, SeriesLoss};
        let (train_set, test_set) = (toy(64, 1), toy(48, 2));
        let cfg: NetworkConfig = toml::from_str(
            "input_size = 2\n[[layers]]\nsize = 16\nkind = \"recurrent\"\n[[layers]]\n\
             size = 2\nkind = \"readout\"\nreset = \"none\"\nbeta = 0.9",
        )
        .unwrap();
        let cfg_delta = cfg.clone();
        for (enc, cfg) in [
            (SeriesEncoding::Direct, cfg),
            (SeriesEncoding::SigmaDelta { threshold_std: 0.3 }, cfg_delta),
        ] {
            let input = SeriesInput::fit(enc, &train_set);
            let mut cfg = cfg;
            cfg.input_size = input.inputs();
            let mut n = Network::new(&cfg, 1, &Device::Cpu).unwrap();
            let opts = SeriesTrainOptions {
                epochs: 40,
                batch_size: 16,
                lr: 0.01,
                seed: 7,
                loss: SeriesLoss::MaxMembrane,
                ..SeriesTrainOptions::default()
            };
            train(&mut n, &input, &train_set, &opts).unwrap();
            let float = accuracy_float(&n, &input, &test_set).unwrap();
            // Two classes: chance is 50 %.
            assert!(float >= 0.8, "{enc:?}: float accuracy {float}");
            let model = export(&n, &input, "toy", 12, 2).unwrap();
            assert_eq!(model.output, snn_models::Output::MaxMembrane);
            assert_eq!(model.header.encoding, input.encoding);
            let bytes = model.to_bytes().unwrap();
            assert_eq!(&bytes[4..6], &3u16.to_le_bytes(), "format version 3");
            let r = run_engine(&bytes, &test_set).unwrap();
            let fp = predictions_float(&n, &input, &test_set).unwrap();
            let agree = fp
                .iter()
                .zip(&r.predictions)
                .filter(|(f, p)| **f == usize::from(**p))
                .count() as f64
                / fp.len() as f64;
            eprintln!(
                "{enc:?}: float {float}, engine {}, agreement {agree}",
                r.accuracy
            );
            assert!(
                agree >= 0.9,
                "{enc:?}: float and integer decisions agree on {agree} (engine {}, float {float})",
                r.accuracy
            );
            assert_eq!(r.layer_rates[1], 0.0, "a readout never spikes");
            // The decision report's final row is the readout's decision, the engine's own.
            let d = &r.decisions;
            assert!(d.readout);
            assert_eq!(d.final_count.accuracy, r.accuracy);
            for (s, p) in d.samples.iter().zip(&r.predictions) {
                assert_eq!(s.final_class, *p);
                assert_eq!(s.window_class, None, "no output spikes for the window");
            }
        }
    }

    #[test]
    fn trains_exports_and_the_engine_agrees_with_the_float_network() {
        let (train_set, test_set) = (toy(64, 1), toy(32, 2));
        for enc in [
            SeriesEncoding::Direct,
            SeriesEncoding::SigmaDelta { threshold_std: 0.3 },
        ] {
            let input = SeriesInput::fit(enc, &train_set);
            let mut n = net(input.inputs());
            let opts = SeriesTrainOptions {
                epochs: 15,
                batch_size: 16,
                lr: 0.01,
                seed: 7,
                grad_clip: Some(5.0),
                ..SeriesTrainOptions::default()
            };
            train(&mut n, &input, &train_set, &opts).unwrap();
            let float = accuracy_float(&n, &input, &test_set).unwrap();
            assert!(float >= 0.9, "{enc:?}: float accuracy {float}");
            let model = export(&n, &input, "toy", 12, 2).unwrap();
            let bytes = model.to_bytes().unwrap();
            assert_eq!(&bytes[4..6], &2u16.to_le_bytes());
            let r = run_engine(&bytes, &test_set).unwrap();
            assert!(
                (r.accuracy - float).abs() <= 0.1,
                "{enc:?}: engine {} vs float {float}",
                r.accuracy
            );
            assert_eq!(r.layer_rates.len(), 2);
            // Stepped frame by frame through the decision rules, the final count is the
            // engine's prediction and every rule decides within the samples' own steps.
            let d = &r.decisions;
            assert_eq!(d.final_count.accuracy, r.accuracy);
            let mean_len = test_set.series.iter().map(|s| s.len() as f64).sum::<f64>()
                / test_set.series.len() as f64;
            assert!((d.final_count.mean_latency_steps - mean_len).abs() < 1e-9);
            for (s, p) in d.samples.iter().zip(&r.predictions) {
                assert_eq!(s.final_class, *p);
                assert!(s.window_latency <= s.steps && s.first_latency() <= s.steps);
            }
        }
    }
}
