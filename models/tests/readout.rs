//! A non-spiking leaky-integrator readout as the last layer (format version 3's output section,
//! NIR `LI` / `I`): the file round trip, every fault named, a hand-worked trace, and random
//! models against a plain reference loop of the documented formulas.
mod common;

use common::{frame, random_decay, random_layer, random_leak, raw_body_v2, raw_body_v3, Reference};
use snn_models::decision::{readout_class, MaxMembrane};
use snn_models::encode::Rng;
use snn_models::owned::{
    OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel, OwnedSynapse, OwnedSynapses, OwnedWeights,
};
use snn_models::EngineBuffers;
use snn_models::{decode, Encoding, FormatError, Output, Requirements, Reset};

fn model(input_size: u16, layers: Vec<OwnedLayer>, synapses: Vec<OwnedSynapse>) -> OwnedModel {
    let outputs = layers.last().unwrap().neurons;
    OwnedModel {
        header: OwnedHeader {
            name: "li".into(),
            input_size,
            time_steps: 12,
            encoding: Encoding::Events,
            num_classes: outputs,
            neurons_per_class: 1,
        },
        layers,
        channels: Default::default(),
        synapses: OwnedSynapses::new(&synapses),
        output: Output::MaxMembrane,
    }
}

/// One input, two readout neurons: weights 40 and -20, bias 0 and 5, beta = 0.5.
fn single() -> OwnedModel {
    let mut l = OwnedLayer::new(1, 2, OwnedWeights::from_dense(1, 2, &[40, -20]).unwrap(), 1);
    l.leak = OwnedLeak::Shared(1 << 15);
    l.bias = Some(vec![0, 5].into());
    l.reset = Reset::None;
    model(1, vec![l], vec![])
}

/// A spiking hidden layer, then a current-based readout.
fn two_layers() -> OwnedModel {
    let w0: Vec<i8> = (0..3 * 4).map(|k| (k * 13 % 31) as i8 - 9).collect();
    let mut l0 = OwnedLayer::new(3, 4, OwnedWeights::from_dense(3, 4, &w0).unwrap(), 30);
    l0.leak = OwnedLeak::Shared(60000);
    let w1: Vec<i8> = (0..4 * 2).map(|k| (k * 7 % 17) as i8 - 3).collect();
    let mut l1 = OwnedLayer::new(4, 2, OwnedWeights::from_dense(4, 2, &w1).unwrap(), 20);
    l1.leak = OwnedLeak::Shared(40000);
    l1.reset = Reset::None;
    model(
        3,
        vec![l0, l1],
        vec![
            OwnedSynapse::Instant,
            OwnedSynapse::Current(OwnedLeak::Shared(50000)),
        ],
    )
}

#[test]
fn a_readout_makes_version_3_and_round_trips() {
    for m in [single(), two_layers()] {
        let bytes = m.to_bytes().unwrap();
        assert_eq!(&bytes[4..6], &3u16.to_le_bytes());
        let back = decode(&bytes).unwrap();
        assert_eq!(back, m.as_model());
        assert_eq!(back.output, Output::MaxMembrane);
        assert_eq!(OwnedModel::from_bytes(&bytes), Ok(m.clone()));
        // The body: the version-3 body (a synapse count of 0 when there are no entries), then
        // the output section, one byte: variant 1.
        let mut body = raw_body_v3(&m);
        if m.synapses.is_empty() {
            body.push(0);
        }
        body.push(1);
        assert_eq!(bytes, frame(3, &body));
        // The running maxima follow the membranes and currents.
        let neurons: usize = m.layers.iter().map(|l| usize::from(l.neurons)).sum();
        let currents = if m.synapses.is_empty() { 0 } else { 2 };
        assert_eq!(Requirements::of(&back).membrane, neurons + currents + 2);
    }
    // A version-3 body that ends after the synapses (every v3 file written before the output
    // section existed, FORMAT.md's example) reads as a spiking model.
    let mut spiking = two_layers();
    spiking.output = Output::Spikes;
    let bytes = spiking.to_bytes().unwrap();
    assert_eq!(bytes, frame(3, &raw_body_v3(&spiking)));
    assert_eq!(decode(&bytes).unwrap().output, Output::Spikes);
    // An explicit `Spikes` section reads the same.
    let mut explicit = raw_body_v3(&spiking);
    explicit.push(0);
    assert_eq!(decode(&frame(3, &explicit)).unwrap().output, Output::Spikes);
    // A spiking model without synapses stays version 1.
    let mut plain = single();
    plain.output = Output::Spikes;
    assert_eq!(&plain.to_bytes().unwrap()[4..6], &1u16.to_le_bytes());
}

#[test]
fn every_fault_of_a_readout_is_an_error() {
    let good = two_layers();
    let body = |m: &OwnedModel| {
        let mut b = raw_body_v3(m);
        b.push(1);
        b
    };
    let bad = |f: &dyn Fn(&mut OwnedModel)| {
        let mut m = good.clone();
        f(&mut m);
        let err = decode(&frame(3, &body(&m))).unwrap_err();
        assert!(m.to_bytes().is_err(), "the writer validates too");
        err
    };
    assert_eq!(
        bad(&|m| {
            let n = m.layers[1].neurons;
            m.layers[1].recurrent =
                Some(OwnedWeights::from_dense(n.into(), n.into(), &[0; 4]).unwrap());
        }),
        FormatError::Layer {
            layer: 1,
            what:
                "a non-spiking readout has recurrent weights (it never spikes, so they do nothing)"
        }
    );
    for reset in [Reset::Subtract, Reset::Zero] {
        assert_eq!(
            bad(&|m| m.layers[1].reset = reset),
            FormatError::Layer {
                layer: 1,
                what: "a non-spiking readout has a reset other than None"
            }
        );
    }
    assert_eq!(
        bad(&|m| {
            m.header.num_classes = 1;
            m.header.neurons_per_class = 2;
        }),
        FormatError::Header(
            "a model with a non-spiking readout has neurons_per_class other than 1"
        )
    );
    // An unknown output variant, and a byte after the section.
    let v3 = raw_body_v3(&good);
    for tag in [2u8, 0x80] {
        let mut unknown = v3.clone();
        unknown.push(tag);
        assert_eq!(
            decode(&frame(3, &unknown)),
            Err(FormatError::Header(
                "the output section has an unknown variant"
            ))
        );
    }
    let mut extra = body(&good);
    extra.push(0);
    assert_eq!(decode(&frame(3, &extra)), Err(FormatError::TrailingBytes));
    // The section does not exist before version 3: a version-2 body with it has trailing bytes.
    let mut v2 = raw_body_v2(&good);
    v2.push(1);
    assert_eq!(decode(&frame(2, &v2)), Err(FormatError::TrailingBytes));
    // Every cut of a readout file (with its CRC recomputed) is an error or, cut exactly before
    // the output byte, the same network as a spiking model: never a panic. The CRC-32 is what
    // catches a file truncated in transit.
    let full = body(&good);
    for cut in 1..full.len() {
        if let Ok(m) = decode(&frame(3, &full[..full.len() - cut])) {
            assert!(cut == 1 && m.output == Output::Spikes, "cut {cut}");
        }
    }
}

/// `decay(v, 32768) = floor((v + 1) / 2)`. Input spikes at steps 0, 1, 2, silence at 3, 4:
///
/// | t | v_0 = decay(v_0) + 40·s | v_1 = decay(v_1) − 20·s + 5 |
/// |---|---|---|
/// | 0 | 40 | −15 |
/// | 1 | 20 + 40 = 60 | −7 − 20 + 5 = −22 |
/// | 2 | 30 + 40 = 70 | −11 − 20 + 5 = −26 |
/// | 3 | 35 | −13 + 5 = −8 |
/// | 4 | 18 | −4 + 5 = 1 |
///
/// Maxima over the steps: 70 and 1 (no initial 0 takes part: after step 0 they are 40 and
/// −15); class 0.
#[test]
fn golden_readout_trace() {
    let m = single();
    let bytes = m.to_bytes().unwrap();
    let model = decode(&bytes).unwrap();
    let mut state = EngineBuffers::for_model(&model);
    let mut e = state.engine(&model).unwrap();
    let mut rule_max = [0i32; 2];
    let mut rule = MaxMembrane::new(2, &mut rule_max).unwrap();
    let mut got = Vec::new();
    for t in 0..5 {
        let input: &[u16] = if t < 3 { &[0] } else { &[] };
        e.step(input).unwrap();
        rule.push(e.membranes(0)).unwrap();
        assert!(e.layer_spikes(0).is_empty());
        assert_eq!(e.readout(), rule.values());
        if t == 0 {
            assert_eq!(e.readout(), [40, -15]);
        }
        got.push((e.membranes(0)[0], e.membranes(0)[1]));
    }
    assert_eq!(got, [(40, -15), (60, -22), (70, -26), (35, -8), (18, 1)]);
    assert_eq!(e.readout(), [70, 1]);
    assert_eq!(e.output_counts(), [0, 0]);
    assert_eq!(e.stats().layer_spikes[0], 0);
    assert_eq!(e.predicted_class(), 0);
    assert_eq!(rule.decision(), 0);
    assert_eq!(rule.steps(), 5);
    // A wrong-length push changes nothing.
    assert!(rule.push(&[1]).is_err());
    assert_eq!(rule.values(), [70, 1]);
    // A reset starts a new sample: the first step sets the maxima again.
    e.reset();
    e.step(&[]).unwrap();
    assert_eq!(e.readout(), [0, 5]);
    assert_eq!(e.predicted_class(), 1);
}

#[test]
fn readout_decision_ties_and_negatives() {
    assert_eq!(readout_class(&[3, 3]), 0);
    assert_eq!(readout_class(&[-5, -2, -2]), 1);
    assert_eq!(readout_class(&[i32::MIN, i32::MIN]), 0);
    assert_eq!(readout_class(&[]), 0);
    assert!(MaxMembrane::new(0, &mut []).is_err());
    assert!(MaxMembrane::new(3, &mut [0; 2]).is_err());
}

/// Random models (spiking layers of every kind, then a readout, plain or current-based, dense or
/// sparse, with bias, shared and per-neuron leaks, edge leaks and weights that saturate),
/// stepped against the plain formulas in `i64`: every membrane, current, spike list, the
/// readout's running maxima and the decision.
#[test]
fn random_readout_models_equal_the_plain_formulas() {
    let mut rng = Rng::new(21, 22);
    let mut r = || rng.next_u32();
    for case in 0..150u32 {
        let input_size = 1 + (r() % 300) as u16;
        let depth = 1 + (r() % 3) as usize;
        let mut layers = Vec::new();
        let mut synapses = Vec::new();
        let mut inputs = input_size;
        for l in 0..depth {
            let last = l + 1 == depth;
            let n = 1 + (r() % 40) as u16;
            let big = case % 4 == 0;
            let mut layer = random_layer(&mut r, inputs, n, big);
            layer.leak = random_leak(&mut r, n);
            if r() % 2 == 0 {
                let b: Vec<i32> = (0..n)
                    .map(|_| {
                        if big {
                            [i32::MAX >> (r() % 3), i32::MIN >> (r() % 3)][(r() % 2) as usize]
                        } else {
                            (r() % 21) as i32 - 10
                        }
                    })
                    .collect();
                layer.bias = Some(b.into());
            }
            if !last && r() % 2 == 0 {
                let wr: Vec<i8> = (0..usize::from(n) * usize::from(n))
                    .map(|_| (r() % 40) as i8 - 20)
                    .collect();
                layer.recurrent = Some(OwnedWeights::from_dense(n.into(), n.into(), &wr).unwrap());
            }
            layer.reset = if last {
                Reset::None
            } else {
                [Reset::Subtract, Reset::Zero, Reset::None][(r() % 3) as usize]
            };
            synapses.push(if (case + l as u32) % 3 == 2 {
                OwnedSynapse::Instant
            } else {
                OwnedSynapse::Current(OwnedLeak::Shared(random_decay(r())))
            });
            layers.push(layer);
            inputs = n;
        }
        // A third of the models have no synapse section at all.
        if case % 3 == 0 {
            synapses.clear();
        }
        let m = model(input_size, layers, synapses);
        let bytes = m.to_bytes().unwrap();
        let model = decode(&bytes).unwrap();
        let mut state = EngineBuffers::for_model(&model);
        let mut e = state.engine(&model).unwrap();
        let mut want = Reference::readout(&model);
        let mut max: Vec<i32> = Vec::new();
        let last = m.layers.len() - 1;
        for t in 0..12 {
            let k = (r() as usize) % (usize::from(input_size) + 1);
            let input: Vec<u16> = (0..k)
                .map(|_| (r() % u32::from(input_size)) as u16)
                .collect();
            e.step(&input).unwrap();
            want.step(&model, &input);
            want.check(&model, &e, &format!("case {case} step {t}"));
            let v = &want.membranes;
            max = if t == 0 {
                v[last].clone()
            } else {
                max.iter().zip(&v[last]).map(|(&a, &b)| a.max(b)).collect()
            };
            assert_eq!(e.readout(), &max[..], "case {case} step {t}");
            let best = (0..max.len()).fold(0, |b, i| if max[i] > max[b] { i } else { b });
            assert_eq!(
                usize::from(e.predicted_class()),
                best,
                "case {case} step {t}"
            );
            assert!(e.output_counts().iter().all(|&n| n == 0));
        }
    }
}
