//! Composite losses: zero lambdas stay out of the graph, config parsing, totals.

use candle_core::{Device, Tensor, Var};
use serde::Deserialize;
use snn_sdk::loss::composite::{CompositeLoss, LossInputs, LossTerm};
use snn_sdk::loss::criterion::{DistMetric, FiringRateDistLoss};
use snn_sdk::loss::hardware;
use snn_sdk::loss::rnn::{RNNLoss, RnnLossInputs};

fn var(shape: &[usize], offset: f64) -> Var {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| 0.05 + ((i as f64 * 0.37 + offset).sin() + 1.0) * 0.4)
        .collect();
    Var::from_vec(v, shape, &Device::Cpu).unwrap()
}

#[test]
fn rnn_loss_zero_lambda_weight_gets_no_gradient() {
    let (pred, label, states) = (
        var(&[2, 3, 2], 0.0),
        var(&[2, 3, 2], 1.0),
        var(&[2, 3, 4], 2.0),
    );
    let (w_in, w_hid, w_out) = (var(&[4, 3], 3.0), var(&[4, 4], 4.0), var(&[2, 4], 5.0));
    let inputs = RnnLossInputs {
        pred: Some(pred.as_tensor()),
        label: Some(label.as_tensor()),
        states: Some(states.as_tensor()),
        w_in: Some(w_in.as_tensor()),
        w_hid: Some(w_hid.as_tensor()),
        w_out: Some(w_out.as_tensor()),
    };
    let with_in = RNNLoss {
        lambda_mse: 1.0,
        lambda_in: 0.5,
        lambda_fr_cv: 0.2,
        ..RNNLoss::default()
    };
    let g = with_in.forward(&inputs).unwrap().backward().unwrap();
    assert!(g.get(&w_in).is_some(), "non-zero lambda_in must reach w_in");
    assert!(g.get(&states).is_some());

    let zero_in = RNNLoss {
        lambda_in: 0.0,
        ..with_in
    };
    let g = zero_in.forward(&inputs).unwrap().backward().unwrap();
    assert!(
        g.get(&w_in).is_none(),
        "lambda_in = 0 but w_in is in the graph"
    );
    assert!(g.get(&w_hid).is_none() && g.get(&w_out).is_none());
    assert!(g.get(&pred).is_some() && g.get(&states).is_some());

    // A zero lambda's input may be absent altogether; a non-zero one's may not.
    let only_mse = RNNLoss::default();
    let sparse = RnnLossInputs {
        pred: Some(pred.as_tensor()),
        label: Some(label.as_tensor()),
        ..Default::default()
    };
    assert!(only_mse.forward(&sparse).is_ok());
    let err = with_in.forward(&sparse).unwrap_err().to_string();
    assert!(err.contains("lambda_in") && err.contains("w_in"), "{err}");
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cfg {
    loss: Vec<LossTerm>,
}

fn parse(toml_text: &str) -> Vec<LossTerm> {
    toml::from_str::<Cfg>(toml_text).unwrap().loss
}

#[test]
fn composite_from_toml_sums_its_terms_and_drops_zero_lambdas() {
    let terms = parse(
        r#"
        [[loss]]
        type = "balanced_population_mse"
        params = { num_classes = 2, neurons_per_class = 2, correct_rate = 0.8, incorrect_rate = 0.1 }

        [[loss]]
        type = "firing_rate_dist"
        params = { metric = "sd" }
        lambda = 0.5
        layer = 0

        [[loss]]
        type = "firing_rate"
        params = { metric = "l2" }
        lambda = 0.0
        layer = 1
        "#,
    );
    let loss = CompositeLoss::new(&terms).unwrap();
    assert_eq!(loss.population(), Some((2, 2)));
    let hidden = var(&[3, 4, 5], 0.0);
    let extra = var(&[3, 4, 6], 1.0);
    let out = var(&[3, 4, 4], 2.0);
    let y = Tensor::new(&[0u32, 1, 1], &Device::Cpu).unwrap();
    let spikes = [
        hidden.as_tensor().clone(),
        extra.as_tensor().clone(),
        out.as_tensor().clone(),
    ];
    let o = loss
        .forward(&LossInputs {
            spikes: &spikes,
            membranes: &[],
            recurrent: &[],
            targets: &y,
        })
        .unwrap();
    let want = hardware::balanced_population_mse(out.as_tensor(), &y, 2, 2, 0.8, 0.1)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
        + 0.5
            * FiringRateDistLoss {
                metric: DistMetric::Sd,
            }
            .forward(hidden.as_tensor())
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
    let got = o.total.to_scalar::<f64>().unwrap();
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    assert_eq!(o.parts.len(), 2);
    let g = o.total.backward().unwrap();
    assert!(g.get(&hidden).is_some() && g.get(&out).is_some());
    assert!(
        g.get(&extra).is_none(),
        "the zero-lambda term on layer 1 entered the graph"
    );
}

#[test]
fn composite_config_errors_name_the_term() {
    let bad_param = parse("[[loss]]\ntype = \"firing_rate\"\nparams = { metrc = \"l1\" }\n");
    let e = CompositeLoss::new(&bad_param).unwrap_err().to_string();
    assert!(e.contains("term 0") && e.contains("metrc"), "{e}");
    let negative =
        parse("[[loss]]\ntype = \"ce_count\"\n[[loss]]\ntype = \"ce_rate\"\nlambda = -1.0\n");
    let e = CompositeLoss::new(&negative).unwrap_err().to_string();
    assert!(e.contains("term 1") && e.contains("lambda"), "{e}");
    let kl = parse("[[loss]]\ntype = \"population_kl\"\nlayer = 0\n");
    assert!(CompositeLoss::new(&kl)
        .unwrap_err()
        .to_string()
        .contains("other_layer"));
    assert!(toml::from_str::<Cfg>("[[loss]]\ntype = \"nope\"\n").is_err());
    assert!(toml::from_str::<Cfg>("[[loss]]\ntype = \"ce_count\"\nlamda = 1.0\n").is_err());
    let all_zero = parse("[[loss]]\ntype = \"ce_count\"\nlambda = 0.0\n");
    assert!(CompositeLoss::new(&all_zero).is_err());
}
