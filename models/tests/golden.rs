//! Golden semantics: tiny networks worked out by hand in the comments, step by step.
//!
//! `decay(v, leak) = (v * leak + 2^15) >> 16`; with leak 49152 (beta 0.75) that is
//! `floor(0.75 v + 0.5)`, with 32768 (beta 0.5) `floor((v + 1) / 2)`, with 0 always 0.
mod common;

use snn_models::owned::{OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel, OwnedWeights};
use snn_models::EngineBuffers;
use snn_models::{decode, Encoding, Reset};

fn model(input_size: u16, time_steps: u16, layers: Vec<OwnedLayer>) -> OwnedModel {
    let outputs = layers.last().unwrap().neurons;
    OwnedModel {
        header: OwnedHeader {
            name: "golden".into(),
            input_size,
            time_steps,
            encoding: Encoding::Events,
            num_classes: outputs,
            neurons_per_class: 1,
        },
        layers,
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    }
}

/// Per step: each layer's membranes and spike indices after the step.
type Trace = Vec<(Vec<Vec<i32>>, Vec<Vec<u16>>)>;

/// Encodes, decodes and runs `m` on `inputs`, recording every step.
fn trace(m: &OwnedModel, inputs: &[&[u16]]) -> (Trace, Vec<u16>, snn_models::Stats) {
    let bytes = m.to_bytes().unwrap();
    let model = decode(&bytes).unwrap();
    let mut state = EngineBuffers::for_model(&model);
    let mut e = state.engine(&model).unwrap();
    let mut out = Vec::new();
    for input in inputs {
        e.step(input).unwrap();
        let layers = 0..model.layers.len();
        out.push((
            layers.clone().map(|l| e.membranes(l).to_vec()).collect(),
            layers.map(|l| e.layer_spikes(l).to_vec()).collect(),
        ));
    }
    (out, e.output_counts().to_vec(), *e.stats())
}

/// A single neuron driven by one input of weight `w` at every step.
fn single(w: i8, threshold: i32, leak: u16, reset: Reset, bias: Option<i32>) -> OwnedModel {
    let mut l = OwnedLayer::new(
        1,
        1,
        OwnedWeights::from_dense(1, 1, &[w]).unwrap(),
        threshold,
    );
    l.leak = OwnedLeak::Shared(leak);
    l.reset = reset;
    l.bias = bias.map(|b| vec![b].into());
    model(1, 9, vec![l])
}

/// Membranes and spikes (0/1) of a single neuron.
fn single_trace(m: &OwnedModel, inputs: &[&[u16]]) -> (Vec<i32>, Vec<u8>) {
    let (t, _, _) = trace(m, inputs);
    t.iter().map(|(v, s)| (v[0][0], s[0].len() as u8)).unzip()
}

const ON: &[u16] = &[0];
const OFF: &[u16] = &[];

#[test]
fn single_neuron_subtract_reset() {
    // w 12, threshold 15, beta 0.75:
    // t0: u = 0 + 12 = 12        -> v 12
    // t1: u = 9 + 12 = 21  spike -> v 6
    // t2: u = 5 + 12 = 17  spike -> v 2      (0.75 * 6 + 0.5 = 5)
    // t3: u = 2 + 12 = 14        -> v 14     (0.75 * 2 + 0.5 = 2)
    // t4: u = 11 + 12 = 23 spike -> v 8      (10.5 + 0.5 = 11)
    // t5: u = 6 + 12 = 18  spike -> v 3
    // t6: u = 2 + 12 = 14        -> v 14     (2.25 + 0.5 -> 2)
    let m = single(12, 15, 49152, Reset::Subtract, None);
    let (v, s) = single_trace(&m, &[ON; 7]);
    assert_eq!(v, [12, 6, 2, 14, 8, 3, 14]);
    assert_eq!(s, [0, 1, 1, 0, 1, 1, 0]);
}

#[test]
fn single_neuron_zero_reset() {
    // t0: 12; t1: 9 + 12 = 21 spike -> 0; then the same two steps again.
    let m = single(12, 15, 49152, Reset::Zero, None);
    let (v, s) = single_trace(&m, &[ON; 7]);
    assert_eq!(v, [12, 0, 12, 0, 12, 0, 12]);
    assert_eq!(s, [0, 1, 0, 1, 0, 1, 0]);
}

#[test]
fn single_neuron_no_reset() {
    // The membrane keeps u after a spike:
    // t0 12; t1 9+12 = 21 (s); t2 16+12 = 28 (s) (15.75+0.5 -> 16); t3 21+12 = 33 (s);
    // t4 25+12 = 37 (s) (24.75+0.5 -> 25); t5 28+12 = 40 (s); t6 30+12 = 42 (s).
    let m = single(12, 15, 49152, Reset::None, None);
    let (v, s) = single_trace(&m, &[ON; 7]);
    assert_eq!(v, [12, 21, 28, 33, 37, 40, 42]);
    assert_eq!(s, [0, 1, 1, 1, 1, 1, 1]);
}

#[test]
fn single_neuron_negative_membrane_bias_and_silence() {
    // w -7, bias 3, threshold 10, beta 0.75; input at t0 and t1 only. Negative values round
    // toward -infinity after adding 0.5: decay(-4) = floor(-3 + 0.5) = -3, decay(-7) =
    // floor(-5.25 + 0.5) = -5, decay(-2) = floor(-1.5 + 0.5) = -1.
    // t0: 0 - 7 + 3 = -4; t1: -3 - 7 + 3 = -7; t2: -5 + 3 = -2; t3: -1 + 3 = 2;
    // t4: 2 + 3 = 5; t5: 4 + 3 = 7; t6: 5 + 3 = 8; t7: 6 + 3 = 9; t8: 7 + 3 = 10 spike -> 0.
    let m = single(-7, 10, 49152, Reset::Subtract, Some(3));
    let (v, s) = single_trace(&m, &[ON, ON, OFF, OFF, OFF, OFF, OFF, OFF, OFF]);
    assert_eq!(v, [-4, -7, -2, 2, 5, 7, 8, 9, 0]);
    assert_eq!(s, [0, 0, 0, 0, 0, 0, 0, 0, 1]);
}

#[test]
fn single_neuron_spikes_at_exactly_the_threshold() {
    // leak 0 forgets everything: u = w each step; 10 >= 10 spikes, 9 does not.
    let (_, s) = single_trace(&single(10, 10, 0, Reset::Subtract, None), &[ON; 3]);
    assert_eq!(s, [1, 1, 1]);
    let (v, s) = single_trace(&single(9, 10, 0, Reset::Subtract, None), &[ON; 3]);
    assert_eq!((v, s), (vec![9, 9, 9], vec![0, 0, 0]));
}

#[test]
fn two_layer_network() {
    // Layer 0: 2 inputs -> 2 neurons, W = [[5, 9], [6, -3]] (row = input), threshold 10,
    // beta 0.5 (decay(v) = floor((v + 1) / 2)), subtract reset.
    // Layer 1: 2 -> 2, W = [[8, -2], [1, 7]], threshold 8, leak 65535, zero reset.
    let mut l0 = OwnedLayer::new(
        2,
        2,
        OwnedWeights::from_dense(2, 2, &[5, 9, 6, -3]).unwrap(),
        10,
    );
    l0.leak = OwnedLeak::Shared(32768);
    let mut l1 = OwnedLayer::new(
        2,
        2,
        OwnedWeights::from_dense(2, 2, &[8, -2, 1, 7]).unwrap(),
        8,
    );
    l1.leak = OwnedLeak::Shared(65535);
    l1.reset = Reset::Zero;
    let m = model(2, 5, vec![l0, l1]);
    // t0: in [0]:   L0 u = [5, 9]                   -> v [5, 9]
    //               L1 no input                     -> v [0, 0]
    // t1: in [0,1]: L0 u = [3 + 11, 5 + 6] = [14, 11], both spike -> v [4, 1]
    //               L1 u = [0 + 9, 0 + 5], neuron 0 spikes (zero reset) -> v [0, 5]
    // t2: in [1]:   L0 u = [2 + 6, 1 - 3] = [8, -2] -> v [8, -2]
    //               L1 u = [0, decay(5) = 5]        -> v [0, 5]   ((5*65535 + 2^15) >> 16 = 5)
    // t3: in [0,1]: L0 u = [4 + 11, -1 + 6] = [15, 5], neuron 0 spikes -> v [5, 5]
    //               L1 u = [0 + 8, 5 - 2] = [8, 3], neuron 0 spikes -> v [0, 3]
    // t4: in []:    L0 u = [3, 3]; L1 u = [0, 3]    ((3*65535 + 2^15) >> 16 = 3)
    let (t, counts, stats) = trace(&m, &[&[0], &[0, 1], &[1], &[0, 1], &[]]);
    let v: Vec<_> = t.iter().map(|(v, _)| v.clone()).collect();
    let s: Vec<_> = t.iter().map(|(_, s)| s.clone()).collect();
    assert_eq!(
        v,
        [
            [vec![5, 9], vec![0, 0]],
            [vec![4, 1], vec![0, 5]],
            [vec![8, -2], vec![0, 5]],
            [vec![5, 5], vec![0, 3]],
            [vec![3, 3], vec![0, 3]],
        ]
    );
    let none: Vec<u16> = vec![];
    assert_eq!(
        s,
        [
            [none.clone(), none.clone()],
            [vec![0, 1], vec![0]],
            [none.clone(), none.clone()],
            [vec![0], vec![0]],
            [none.clone(), none.clone()],
        ]
    );
    assert_eq!(counts, [2, 0]);
    assert_eq!(stats.steps, 5);
    assert_eq!(stats.input_spikes, 6);
    assert_eq!(&stats.layer_spikes[..3], &[3, 2, 0]);
    // Dense: every input spike touches 2 synapses (12), every layer-0 spike 2 more (6).
    assert_eq!(stats.synaptic_events, 18);
}

fn recurrent_loop(rec: OwnedWeights) -> OwnedModel {
    // One input drives neuron 0 (w 10). Recurrent: 0 -> 1 (12), 1 -> 0 (11), 1 -> 1 (-3).
    // threshold 10, beta 0.5, bias [0, 1], subtract reset.
    let mut l = OwnedLayer::new(1, 2, OwnedWeights::from_dense(1, 2, &[10, 0]).unwrap(), 10);
    l.leak = OwnedLeak::Shared(32768);
    l.bias = Some(vec![0, 1].into());
    l.recurrent = Some(rec);
    model(1, 7, vec![l])
}

const REC: [i8; 4] = [0, 12, 11, -3]; // rec[pre * 2 + post]

#[test]
fn recurrent_loop_oscillates() {
    // t0: in [0]: u = [0 + 10, 0 + 1] = [10, 1]; 0 spikes     -> v [0, 1]
    // t1: rec from {0}: [0, 12]; u = [0, 1 + 12 + 1] = [0, 14]; 1 spikes -> v [0, 4]
    // t2: rec from {1}: [11, -3]; u = [0 + 11, 2 - 3 + 1] = [11, 0]; 0 spikes -> v [1, 0]
    // t3: rec from {0}: u = [1, 0 + 12 + 1] = [1, 13]; 1 spikes -> v [1, 3]
    // t4: rec from {1}: u = [1 + 11, 2 - 3 + 1] = [12, 0]; 0 spikes -> v [2, 0]
    // t5: rec from {0}: u = [1, 13]; 1 spikes -> v [1, 3]      (decay(2) = 1)
    // t6: as t4 -> v [2, 0], 0 spikes
    let m = recurrent_loop(OwnedWeights::sparse_from_dense(2, 2, &REC).unwrap());
    let input: [&[u16]; 7] = [ON, OFF, OFF, OFF, OFF, OFF, OFF];
    let (t, counts, stats) = trace(&m, &input);
    let v: Vec<Vec<i32>> = t.iter().map(|(v, _)| v[0].clone()).collect();
    let s: Vec<Vec<u16>> = t.iter().map(|(_, s)| s[0].clone()).collect();
    assert_eq!(
        v,
        [[0, 1], [0, 4], [1, 0], [1, 3], [2, 0], [1, 3], [2, 0]].map(Vec::from)
    );
    assert_eq!(
        s,
        [[0], [1], [0], [1], [0], [1], [0]].map(|x: [u16; 1]| x.to_vec())
    );
    assert_eq!(counts, [4, 3]);
    // Feed-forward: 1 spike x 2 dense synapses. Recurrent (sparse): neuron 0 has 1 synapse,
    // neuron 1 has 2; spikes at t0..t5 feed t1..t6: 1 + 2 + 1 + 2 + 1 + 2.
    assert_eq!(stats.synaptic_events, 2 + 9);

    // The same weights stored dense give the same spikes and membranes; only the synaptic
    // work differs (dense touches both posts of every spike, zeros included).
    let dense = recurrent_loop(OwnedWeights::from_dense(2, 2, &REC).unwrap());
    let (t2, counts2, stats2) = trace(&dense, &input);
    assert_eq!((t2, counts2), (t, counts));
    assert_eq!(stats2.synaptic_events, 2 + 6 * 2);
}

#[test]
fn per_neuron_leak_and_prediction() {
    // Three output neurons, one per class, each with its own leak; input w = 4 every step,
    // threshold 10, subtract reset.
    // leak 65535: u = 4, 8, 12 (s, v 2), 6, 10 (s, v 0), 4   -> 2 spikes
    //   (decay(v, 65535) = v for these small v: (v*65535 + 2^15) >> 16 = v when v < 2^15)
    // leak 32768: u = 4, 2 + 4 = 6, 3 + 4 = 7, 4 + 4 = 8, 8, 8 -> 0 spikes
    // leak 0:     u = 4 every step                             -> 0 spikes
    let mut l = OwnedLayer::new(
        1,
        3,
        OwnedWeights::from_dense(1, 3, &[4, 4, 4]).unwrap(),
        10,
    );
    l.leak = OwnedLeak::PerNeuron(vec![65535, 32768, 0].into());
    let m = model(1, 6, vec![l]);
    let (t, counts, _) = trace(&m, &[ON; 6]);
    let v: Vec<Vec<i32>> = t.iter().map(|(v, _)| v[0].clone()).collect();
    assert_eq!(
        v,
        [
            [4, 4, 4],
            [8, 6, 4],
            [2, 7, 4],
            [6, 8, 4],
            [0, 8, 4],
            [4, 8, 4]
        ]
        .map(Vec::from)
    );
    assert_eq!(counts, [2, 0, 0]);
    let bytes = m.to_bytes().unwrap();
    let model = decode(&bytes).unwrap();
    assert_eq!(snn_models::engine::predict(&model, &[2, 0, 0]), 0);
    // Ties go to the lower class; populations are summed.
    assert_eq!(snn_models::engine::predict(&model, &[1, 3, 3]), 1);
    assert_eq!(snn_models::engine::predict(&model, &[0, 0, 0]), 0);
    // Counts past the classes are not read; missing counts are 0.
    assert_eq!(snn_models::engine::predict(&model, &[1, 0, 0, 9]), 0);
    assert_eq!(snn_models::engine::predict(&model, &[0, 5]), 1);
    assert_eq!(snn_models::engine::predict(&model, &[]), 0);
}

#[test]
fn prediction_sums_populations() {
    // 2 classes x 2 neurons: class 0 = neurons 0, 1; class 1 = neurons 2, 3.
    let l = OwnedLayer::new(1, 4, OwnedWeights::from_dense(1, 4, &[0; 4]).unwrap(), 1);
    let mut m = model(1, 1, vec![l]);
    m.header.num_classes = 2;
    m.header.neurons_per_class = 2;
    let bytes = m.to_bytes().unwrap();
    let model = decode(&bytes).unwrap();
    assert_eq!(snn_models::engine::predict(&model, &[3, 0, 2, 2]), 1);
    assert_eq!(snn_models::engine::predict(&model, &[2, 2, 4, 0]), 0);
}

#[test]
fn rate_budgets_are_measured() {
    // One neuron that spikes every other step: rate 0.5 = 16384 in Q1.15.
    let mut m = single(12, 15, 49152, Reset::Zero, None);
    m.header.time_steps = 6;
    let run = |max_rate, min_rate| {
        let mut m = m.clone();
        m.layers[0].budget = snn_models::RateBudget { max_rate, min_rate };
        let bytes = m.to_bytes().unwrap();
        let model = decode(&bytes).unwrap();
        let mut state = EngineBuffers::for_model(&model);
        let mut e = state.engine(&model).unwrap();
        (0..6).for_each(|_| e.step(ON).unwrap());
        assert_eq!(e.stats().layer_spikes[0], 3);
        e.budget_ok(0)
    };
    assert!(run(16384, 16384), "exactly on both bounds");
    assert!(!run(16383, 0), "above the cap");
    assert!(!run(32768, 16385), "below the floor");
    assert!(run(32768, 0));
}
