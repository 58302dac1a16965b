//! A masked (sparse) network exports as CSR, its file is smaller than the dense export, and the
//! mask's zero pattern and Dale signs survive quantisation exactly.
use snn_models::owned::OwnedHeader;
use snn_models::{Encoding, Weights};
use snn_sdk::deploy::export::{export, Exported};
use snn_sdk::deploy::quant::{FloatLayer, QuantConfig};
use snn_sdk::deploy::simulate::{run_engine, Sample};

/// Deterministic pseudo-random values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn header() -> OwnedHeader {
    OwnedHeader {
        name: "sparse".into(),
        input_size: 64,
        time_steps: 10,
        encoding: Encoding::Rate { seed: 3 },
        num_classes: 4,
        neurons_per_class: 2,
    }
}

fn layers(masked: bool) -> Vec<FloatLayer> {
    let (m, n, o) = (64, 96, 8);
    let mut hidden = FloatLayer::dense(m, n, values(m * n, 1), 0.9, 1.0);
    hidden.w_rec = Some(values(n * n, 2).iter().map(|w| w * 0.3).collect());
    hidden.bias = Some(values(n, 3).iter().map(|b| b * 0.1).collect());
    let mut out = FloatLayer::dense(n, o, values(n * o, 4), 0.8, 1.0);
    if masked {
        // ~10 % feed-forward density, ~5 % recurrent, no self-connections; inputs 0..32 excitatory,
        // 32..64 inhibitory; hidden neurons alternate E/I on their recurrent edges.
        let r = values(m * n, 5);
        hidden.ff_mask = Some(r.iter().map(|v| *v > 0.8).collect());
        let rr = values(n * n, 6);
        hidden.rec_mask = Some(
            rr.iter()
                .enumerate()
                .map(|(k, v)| *v > 0.9 && k / n != k % n)
                .collect(),
        );
        hidden.ff_sign = Some((0..m).map(|j| if j < 32 { 1 } else { -1 }).collect());
        hidden.rec_sign = Some((0..n).map(|k| if k % 2 == 0 { 1 } else { -1 }).collect());
        // Dale's law as training would enforce it: |w| with the presynaptic sign.
        for i in 0..n {
            for j in 0..m {
                let w = &mut hidden.w_ff[i * m + j];
                *w = w.abs() * if j < 32 { 1.0 } else { -1.0 };
            }
        }
        let rec = hidden.w_rec.as_mut().unwrap();
        for i in 0..n {
            for k in 0..n {
                let w = &mut rec[i * n + k];
                *w = w.abs() * if k % 2 == 0 { 1.0 } else { -1.0 };
            }
        }
    }
    out.bias = Some(vec![0.05; o]);
    vec![hidden, out]
}

fn run(masked: bool) -> Exported {
    let cfg = QuantConfig {
        clip_shifts: 0,
        ..QuantConfig::default()
    };
    export(&layers(masked), &header(), &[], None, &cfg, None).unwrap()
}

#[test]
fn masked_network_exports_sparse_and_smaller() {
    let dense = run(false);
    let sparse = run(true);
    assert_eq!(dense.card.layers[0].storage, "dense");
    assert_eq!(sparse.card.layers[0].storage, "sparse");
    assert!(
        sparse.bytes.len() * 2 < dense.bytes.len(),
        "sparse file {} bytes is not clearly smaller than dense {} bytes",
        sparse.bytes.len(),
        dense.bytes.len()
    );
    let model = snn_models::decode(&sparse.bytes).unwrap();
    let l0 = &model.layers[0];
    assert!(matches!(l0.feedforward, Weights::Sparse { .. }));
    assert!(matches!(l0.recurrent, Some(Weights::Sparse { .. })));

    // Zero pattern and signs, read back from the file itself.
    let float = layers(true);
    let h = &float[0];
    let (m, n) = (h.inputs, h.neurons);
    let ff = snn_models::owned::OwnedWeights::from(&l0.feedforward).to_dense(m, n);
    let ff_mask = h.ff_mask.as_ref().unwrap();
    for i in 0..n {
        for j in 0..m {
            let q = ff[j * n + i];
            if !ff_mask[i * m + j] {
                assert_eq!(q, 0, "masked synapse {j}->{i} is not zero");
            }
            let sign = if j < 32 { 1 } else { -1 };
            assert!(
                q == 0 || q.signum() == sign,
                "synapse {j}->{i} = {q} breaks Dale's law"
            );
        }
    }
    let rec = snn_models::owned::OwnedWeights::from(l0.recurrent.as_ref().unwrap()).to_dense(n, n);
    let rec_mask = h.rec_mask.as_ref().unwrap();
    for i in 0..n {
        for k in 0..n {
            let q = rec[k * n + i];
            if !rec_mask[i * n + k] {
                assert_eq!(q, 0, "masked recurrent synapse {k}->{i} is not zero");
            }
            let sign = if k % 2 == 0 { 1 } else { -1 };
            assert!(
                q == 0 || q.signum() == sign,
                "recurrent {k}->{i} = {q} breaks Dale's law"
            );
        }
    }
    // Kept synapses that were not rounded away are stored; nothing else is.
    let nnz_ff = ff.iter().filter(|&&q| q != 0).count();
    let kept = ff_mask.iter().filter(|&&k| k).count();
    assert!(
        nnz_ff <= kept && nnz_ff * 10 >= kept * 9,
        "{nnz_ff} of {kept} kept"
    );
    assert_eq!(
        sparse.card.layers[0].synapses,
        sparse.quant[0].nonzero_weights()
    );

    // The sparse model runs and its work is proportional to the stored synapses.
    let feats: Vec<Vec<u8>> = (0..8u8)
        .map(|s| {
            (0..64u8)
                .map(|j| j.wrapping_mul(s + 3).wrapping_mul(29))
                .collect()
        })
        .collect();
    let samples: Vec<Sample<'_>> = feats
        .iter()
        .enumerate()
        .map(|(i, f)| Sample {
            features: f,
            label: (i % 4) as u16,
            seed: i as u32,
        })
        .collect();
    let d = run_engine(&snn_models::decode(&dense.bytes).unwrap(), &samples).unwrap();
    let s = run_engine(&model, &samples).unwrap();
    assert!(s.synaptic_events_per_inference < d.synaptic_events_per_inference);
}
