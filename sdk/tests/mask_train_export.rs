//! Masks through the whole user path: a digits network with sparse, Dale's-law input and output
//! masks is trained by `Trainer::fit` (the loop `snn train` runs), then quantised and exported.
//! The trained float weights keep every masked zero and every sign, and so does the model file.
use candle_core::Device;
use snn_models::owned::OwnedHeader;
use snn_models::{decode, Encoding, Weights};
use snn_sdk::deploy::export::export;
use snn_sdk::deploy::quant::{FloatLayer, QuantConfig};
use snn_sdk::{Digits, Network, TrainConfig, Trainer};

const CONFIG: &str = r#"
name = "masked"
seed = 3
[data]
source = "digits"
[train]
epochs = 2
batch_size = 32
time_steps = 10
lr = 1e-2
[loss]
kind = "ce_count"
[network]
input_size = 64
[[network.layers]]
size = 48
[network.layers.masks]
density = 0.3       # 30 % of input synapses exist
exc_pct = 0.75      # inputs 0..48 excitatory, 48..64 inhibitory
[[network.layers]]
size = 10
[network.layers.masks]
exc_pct = 0.75      # hidden 0..36 excitatory, 36..48 inhibitory
"#;

/// Dense `[post][pre]` view of stored weights, `None` where a synapse is absent.
fn dense(w: &Weights<'_>, pre: usize, post: usize) -> Vec<Option<i8>> {
    let mut out = vec![None; pre * post];
    match w {
        Weights::Dense { values } => {
            for j in 0..pre {
                for i in 0..post {
                    out[i * pre + j] = Some(values.0[j * post + i] as i8);
                }
            }
        }
        Weights::Sparse {
            row_ptr,
            post: idx,
            values,
        } => {
            for j in 0..pre {
                for k in row_ptr.get(j).unwrap() as usize..row_ptr.get(j + 1).unwrap() as usize {
                    let i = usize::from(idx.get(k).unwrap());
                    out[i * pre + j] = Some(values.0[k] as i8);
                }
            }
        }
    }
    out
}

#[test]
fn trained_masks_hold_in_the_weights_and_in_the_exported_model() {
    let cfg = TrainConfig::from_toml_str(CONFIG, "masked.toml").unwrap();
    let net = Network::new(&cfg.network, cfg.seed, &Device::Cpu).unwrap();
    let mut trainer = Trainer::new(cfg, net).unwrap();
    let report = trainer.fit(&Digits::load().unwrap()).unwrap();
    assert!(
        report.train_acc > 0.3,
        "the masked network learned nothing: {report:?}"
    );

    let params = trainer.network().layer_params().unwrap();
    let layers: Vec<FloatLayer> = params
        .iter()
        .enumerate()
        .map(|(i, l)| FloatLayer::from_network(l, i).unwrap())
        .collect();
    let sign_of = |pre: usize, n_pre: usize| if pre < n_pre * 3 / 4 { 1.0f32 } else { -1.0 };
    for (li, l) in layers.iter().enumerate() {
        let (m, n) = (l.inputs, l.neurons);
        // Layer 0 has a sparsity mask; layer 1 only E/I labels (every synapse present).
        assert_eq!(
            l.ff_mask.is_some(),
            li == 0,
            "layer {li} sparsity mask reaches export"
        );
        let mask = l.ff_mask.clone().unwrap_or_else(|| vec![true; m * n]);
        let signs = l.ff_sign.as_ref().expect("signs reach export");
        let mut present = 0;
        for i in 0..n {
            for j in 0..m {
                let w = l.w_ff[i * m + j];
                assert_eq!(
                    f32::from(signs[j]),
                    sign_of(j, m),
                    "layer {li} sign of input {j}"
                );
                if mask[i * m + j] {
                    present += 1;
                    assert!(
                        w * sign_of(j, m) >= 0.0,
                        "layer {li} w[{i}][{j}] = {w} breaks Dale"
                    );
                } else {
                    assert_eq!(w, 0.0, "layer {li} masked w[{i}][{j}] moved");
                }
            }
        }
        if li == 0 {
            let density = present as f64 / (m * n) as f64;
            assert!((0.2..0.4).contains(&density), "layer 0 density {density}");
        }
    }

    let header = OwnedHeader {
        name: "masked".into(),
        input_size: 64,
        time_steps: 10,
        encoding: Encoding::Rate { seed: 0 },
        num_classes: 10,
        neurons_per_class: 1,
    };
    let exported = export(&layers, &header, &[], None, &QuantConfig::default(), None).unwrap();
    let model = decode(&exported.bytes).unwrap();
    for (li, (stored, l)) in model.layers.iter().zip(&layers).enumerate() {
        let (m, n) = (l.inputs, l.neurons);
        let q = dense(&stored.feedforward, m, n);
        let mask = l.ff_mask.clone().unwrap_or_else(|| vec![true; m * n]);
        for i in 0..n {
            for j in 0..m {
                match q[i * m + j] {
                    Some(w) if w != 0 => {
                        assert!(
                            mask[i * m + j],
                            "layer {li}: synapse [{i}][{j}] is not in the mask"
                        );
                        assert_eq!(
                            f32::from(w.signum()),
                            sign_of(j, m),
                            "layer {li} [{i}][{j}]"
                        );
                    }
                    _ => {}
                }
            }
        }
        if li == 0 {
            assert!(
                matches!(stored.feedforward, Weights::Sparse { .. }),
                "a 30 %-dense masked layer is stored sparse"
            );
        }
    }
}
