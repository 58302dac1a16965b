//! Current-based synapses (format version 3, NIR `CubaLIF`): the file round trip, every fault
//! of the new section named, a hand-worked golden trace, and whole random models against a
//! plain reference loop of the documented formulas.
mod common;

use common::{frame, random_layer, random_leak, raw_body, raw_body_v2, raw_body_v3, Reference};
use snn_models::encode::Rng;
use snn_models::owned::{
    OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel, OwnedSynapse, OwnedSynapses, OwnedWeights,
};
use snn_models::EngineBuffers;
use snn_models::{decode, Encoding, FormatError, Requirements, Reset, FORMAT_VERSION};

fn model(input_size: u16, layers: Vec<OwnedLayer>, synapses: Vec<OwnedSynapse>) -> OwnedModel {
    let synapses = OwnedSynapses::new(&synapses);
    let outputs = layers.last().unwrap().neurons;
    OwnedModel {
        header: OwnedHeader {
            name: "cuba".into(),
            input_size,
            time_steps: 12,
            encoding: Encoding::Events,
            num_classes: outputs,
            neurons_per_class: 1,
        },
        layers,
        channels: Default::default(),
        synapses,
        output: Default::default(),
    }
}

/// One neuron, one input of weight 40, alpha = beta = 0.5, threshold 100, subtract reset.
fn single() -> OwnedModel {
    let mut l = OwnedLayer::new(1, 1, OwnedWeights::from_dense(1, 1, &[40]).unwrap(), 100);
    l.leak = OwnedLeak::Shared(1 << 15);
    model(
        1,
        vec![l],
        vec![OwnedSynapse::Current(OwnedLeak::Shared(1 << 15))],
    )
}

/// Two layers: a recurrent current-based one with per-neuron alpha and bias, then a plain one.
fn two_layers() -> OwnedModel {
    let w0: Vec<i8> = (0..3 * 4).map(|k| (k * 13 % 31) as i8 - 9).collect();
    let mut l0 = OwnedLayer::new(3, 4, OwnedWeights::from_dense(3, 4, &w0).unwrap(), 30);
    l0.leak = OwnedLeak::Shared(60000);
    l0.bias = Some(vec![2, -1, 0, 5].into());
    l0.recurrent = Some(
        OwnedWeights::sparse_from_dense(4, 4, &[0, 3, 0, -2, 1, 0, 0, 0, 0, 0, 4, 0, -5, 0, 0, 1])
            .unwrap(),
    );
    let w1: Vec<i8> = (0..4 * 2).map(|k| (k * 7 % 17) as i8 - 3).collect();
    let mut l1 = OwnedLayer::new(4, 2, OwnedWeights::from_dense(4, 2, &w1).unwrap(), 20);
    l1.leak = OwnedLeak::Shared(40000);
    l1.reset = Reset::Zero;
    model(
        3,
        vec![l0, l1],
        vec![
            OwnedSynapse::Current(OwnedLeak::PerNeuron(vec![50000, 0, 65535, 32768].into())),
            OwnedSynapse::Instant,
        ],
    )
}

#[test]
fn a_synapse_section_makes_version_3_and_round_trips() {
    let m = two_layers();
    let bytes = m.to_bytes().unwrap();
    assert_eq!(&bytes[4..6], &3u16.to_le_bytes());
    assert_eq!(FORMAT_VERSION, 3);
    let back = decode(&bytes).unwrap();
    assert_eq!(back, m.as_model());
    assert_eq!(OwnedModel::from_bytes(&bytes), Ok(m.clone()));
    assert_eq!(m.synapses.to_vec().len(), 2);
    assert_eq!(back.synapses.len(), 2);
    // The body is the version-2 body followed by the synapse section.
    let v3 = raw_body_v3(&m);
    assert!(v3.starts_with(&raw_body_v2(&m)));
    // Without the section the same model is version 1, bit for bit the old layout.
    let mut plain = m.clone();
    plain.synapses = OwnedSynapses::default();
    let old = plain.to_bytes().unwrap();
    assert_eq!(&old[4..6], &1u16.to_le_bytes());
    assert_eq!(old, frame(1, &raw_body(&plain)));
    // The state: every membrane, then layer 0's four currents.
    assert_eq!(Requirements::of(&back).membrane, 4 + 2 + 4);
    assert_eq!(Requirements::of(&decode(&old).unwrap()).membrane, 4 + 2);
}

#[test]
fn every_fault_of_the_synapse_section_is_an_error() {
    let good = two_layers();
    let bad = |f: &dyn Fn(&mut OwnedModel)| {
        let mut m = good.clone();
        f(&mut m);
        let err = decode(&frame(3, &raw_body_v3(&m))).unwrap_err();
        assert!(m.to_bytes().is_err(), "the writer validates too");
        err
    };
    assert_eq!(
        bad(&|m| {
            let mut s = m.synapses.to_vec();
            s.pop();
            m.synapses = OwnedSynapses::new(&s);
        }),
        FormatError::Header("the synapse section has not one synapse per layer")
    );
    assert_eq!(
        bad(&|m| {
            let mut s = m.synapses.to_vec();
            s[0] = OwnedSynapse::Current(OwnedLeak::PerNeuron(vec![1, 2].into()));
            m.synapses = OwnedSynapses::new(&s);
        }),
        FormatError::Layer {
            layer: 0,
            what: "per-neuron synaptic decay length differs from neurons"
        }
    );
    // A version-2 body framed as version 3 lacks the section; every cut is named, never a panic.
    let body = raw_body_v3(&good);
    for cut in 1..body.len() {
        assert!(
            decode(&frame(3, &body[..body.len() - cut])).is_err(),
            "cut {cut}"
        );
    }
    // An unknown synapse variant (the section is `count, tag, ...`: tag 7 after count 2).
    let v2 = raw_body_v2(&good);
    let mut unknown = v2.clone();
    unknown.extend_from_slice(&[2, 7]);
    assert_eq!(
        decode(&frame(3, &unknown)),
        Err(FormatError::Header(
            "a layer synapse has an unknown variant"
        ))
    );
    let mut nine = v2;
    nine.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(decode(&frame(3, &nine)).is_err());
    // Newer versions are refused by name.
    assert_eq!(
        decode(&frame(4, &body)),
        Err(FormatError::UnsupportedVersion {
            found: 4,
            supported: 3
        })
    );
}

/// `decay(v, 32768) = floor((v + 1) / 2)`. Every step one input spike of weight 40:
///
/// | t | c = decay(c) + 40 | u = decay(v) + c | spike | v after |
/// |---|---|---|---|---|
/// | 0 | 40 | 40 | no | 40 |
/// | 1 | 20 + 40 = 60 | 20 + 60 = 80 | no | 80 |
/// | 2 | 30 + 40 = 70 | 40 + 70 = 110 | yes | 10 |
/// | 3 | 35 + 40 = 75 | 5 + 75 = 80 | no | 80 |
/// | 4 | 38 + 40 = 78 | 40 + 78 = 118 | yes | 18 |
/// | 5 | 39 + 40 = 79 | 9 + 79 = 88 | no | 88 |
#[test]
fn golden_current_based_trace() {
    let m = single();
    let bytes = m.to_bytes().unwrap();
    let model = decode(&bytes).unwrap();
    let mut state = EngineBuffers::for_model(&model);
    let mut e = state.engine(&model).unwrap();
    let mut got = Vec::new();
    for _ in 0..6 {
        e.step(&[0]).unwrap();
        got.push((e.currents(0)[0], e.membranes(0)[0], e.layer_spikes(0).len()));
    }
    assert_eq!(
        got,
        [
            (40, 40, 0),
            (60, 80, 0),
            (70, 10, 1),
            (75, 80, 0),
            (78, 18, 1),
            (79, 88, 0)
        ]
    );
    assert_eq!(e.output_counts(), [2]);
    // A plain layer has no currents; a reset clears them.
    assert!(e.currents(1).is_empty());
    e.reset();
    assert_eq!(e.currents(0), [0]);
}

/// Random models mixing current-based and plain layers (dense and sparse, recurrent, bias,
/// shared and per-neuron decays, every reset, edge decays and weights), stepped against the
/// plain formulas of the engine's docs in `i64`: every membrane, current and spike list.
#[test]
fn random_models_equal_the_plain_formulas() {
    let mut rng = Rng::new(11, 12);
    let mut r = || rng.next_u32();
    for case in 0..150u32 {
        let input_size = 1 + (r() % 300) as u16;
        let depth = 1 + (r() % 3) as usize;
        let mut layers = Vec::new();
        let mut synapses = Vec::new();
        let mut inputs = input_size;
        for l in 0..depth {
            let n = 1 + (r() % 40) as u16;
            let big = case % 4 == 0;
            let mut layer = random_layer(&mut r, inputs, n, big);
            if case % 9 == 0 {
                layer.threshold = i32::MAX - (r() % 5) as i32;
            }
            layer.leak = random_leak(&mut r, n);
            if r() % 2 == 0 {
                let b: Vec<i32> = (0..n)
                    .map(|_| {
                        if big {
                            i32::MAX >> (r() % 3)
                        } else {
                            (r() % 21) as i32 - 10
                        }
                    })
                    .collect();
                layer.bias = Some(b.into());
            }
            if r() % 2 == 0 {
                let wr: Vec<i8> = (0..usize::from(n) * usize::from(n))
                    .map(|_| (r() % 40) as i8 - 20)
                    .collect();
                layer.recurrent = Some(OwnedWeights::from_dense(n.into(), n.into(), &wr).unwrap());
            }
            layer.reset = [Reset::Subtract, Reset::Zero, Reset::None][(r() % 3) as usize];
            synapses.push(if (case + l as u32) % 3 == 2 {
                OwnedSynapse::Instant
            } else {
                OwnedSynapse::Current(random_leak(&mut r, n))
            });
            layers.push(layer);
            inputs = n;
        }
        let m = model(input_size, layers, synapses);
        let bytes = m.to_bytes().unwrap();
        let model = decode(&bytes).unwrap();
        let mut state = EngineBuffers::for_model(&model);
        let mut e = state.engine(&model).unwrap();
        let mut want = Reference::spiking(&model);
        for t in 0..12 {
            let k = (r() as usize) % (usize::from(input_size) + 1);
            let input: Vec<u16> = (0..k)
                .map(|_| (r() % u32::from(input_size)) as u16)
                .collect();
            e.step(&input).unwrap();
            want.step(&model, &input);
            want.check(&model, &e, &format!("case {case} step {t}"));
        }
    }
}
