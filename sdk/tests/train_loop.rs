//! The training loop end to end on the digits: reproducibility, learning, checkpoint + resume,
//! and the NaN stop. Small networks and few steps keep this suite to a few seconds per test.
use std::path::PathBuf;

use candle_core::Device;
use snn_sdk::train::checkpoint::{self, CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE};
use snn_sdk::train::metrics::MetricsLog;
use snn_sdk::{Digits, Error, Network, TrainConfig, Trainer};

fn config(epochs: usize, hidden: usize, extra: &str) -> TrainConfig {
    let text = format!(
        "name = \"t\"\nseed = 5\n[train]\nepochs = {epochs}\ntime_steps = 8\nbatch_size = 64\nlr = 1e-2\n{extra}\n\
         [network]\ninput_size = 64\n[[network.layers]]\nsize = {hidden}\n[[network.layers]]\nsize = 10\n"
    );
    TrainConfig::from_toml_str(&text, "test.toml").unwrap()
}

fn trainer(cfg: &TrainConfig) -> Trainer {
    let net = Network::new(&cfg.network, cfg.seed, &Device::Cpu).unwrap();
    Trainer::new(cfg.clone(), net).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("snn-train-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// (train loss, train acc, test loss, test acc, rates) per epoch.
type Curve = Vec<(f64, f64, Option<f64>, Option<f64>, Vec<f64>)>;

fn curve(r: &snn_sdk::Report) -> Curve {
    r.epochs
        .iter()
        .map(|m| {
            (
                m.train_loss,
                m.train_acc,
                m.test_loss,
                m.test_acc,
                m.rates.clone(),
            )
        })
        .collect()
}

#[test]
fn same_seed_gives_the_identical_loss_curve_and_another_seed_does_not() {
    let data = Digits::load().unwrap();
    let cfg = config(2, 32, "");
    let a = trainer(&cfg).fit(&data).unwrap();
    let b = trainer(&cfg).fit(&data).unwrap();
    assert_eq!(curve(&a), curve(&b));
    let mut other = cfg.clone();
    other.seed = 6;
    let c = trainer(&other).fit(&data).unwrap();
    assert_ne!(curve(&a)[0].0, curve(&c)[0].0);
}

#[test]
fn a_short_run_learns_far_above_chance() {
    let data = Digits::load().unwrap();
    let cfg = config(3, 64, "schedule = { kind = \"cosine\" }\ngrad_clip = 5.0");
    let r = trainer(&cfg).fit(&data).unwrap();
    let acc = r.test_acc.unwrap();
    assert!(
        acc > 0.6,
        "test accuracy {acc} after 3 epochs (chance is 0.1)"
    );
    assert!(r.epochs[2].train_loss < r.epochs[0].train_loss);
    assert_eq!(r.rates.len(), 2);
    assert!(r.rates.iter().all(|&x| x > 0.0 && x < 1.0), "{:?}", r.rates);
    assert!(r.train_samples_per_s > 0.0);
}

#[test]
fn checkpoint_is_atomic_and_resume_continues_exactly() {
    let data = Digits::load().unwrap();
    let straight_dir = temp_dir("straight");
    let cfg2 = config(2, 32, "");
    let straight = trainer(&cfg2).run_dir(&straight_dir).fit(&data).unwrap();

    let dir = temp_dir("resumed");
    let cfg1 = config(1, 32, "");
    trainer(&cfg1).run_dir(&dir).fit(&data).unwrap();
    for f in [CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    // Only the three files: no temporary files are left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3);
    let ck = checkpoint::load(&dir, &Device::Cpu).unwrap();
    assert_eq!(ck.meta.epoch, 1);
    assert!(ck.tensors.contains_key("layers.0.w_ff"));
    assert!(ck.tensors.contains_key("optim.m.layers.0.w_ff"));
    // The stored config is the one trained with.
    let stored = TrainConfig::from_toml_file(dir.join(CONFIG_FILE)).unwrap();
    assert_eq!(stored.network, cfg1.network);

    let resumed = trainer(&cfg2).resume(&dir).unwrap();
    assert_eq!(resumed.epochs_done(), 1);
    let mut resumed = resumed;
    let r = resumed.fit(&data).unwrap();
    assert_eq!(curve(&r), curve(&straight));
    let log = MetricsLog::read(&dir.join(METRICS_FILE), usize::MAX).unwrap();
    assert_eq!(log.epochs().len(), 2);
    assert_eq!(log.epochs()[1].epoch, 2);
    let _ = std::fs::remove_dir_all(straight_dir);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn nan_stops_training_and_keeps_the_last_good_checkpoint() {
    let data = Digits::load().unwrap();
    let dir = temp_dir("nan");
    let cfg = config(4, 16, "");
    let net = Network::new(&cfg.network, cfg.seed, &Device::Cpu).unwrap();
    // Poison one weight after epoch 2 (after its checkpoint was written).
    let err = Trainer::new(cfg, net)
        .unwrap()
        .run_dir(&dir)
        .on_epoch_end(|m, net| {
            if m.epoch == 2 {
                let w = net.varmap().data().lock().unwrap()["layers.0.w_ff"].clone();
                let mut v = w.as_tensor().flatten_all()?.to_vec1::<f32>()?;
                v[0] = f32::NAN;
                w.set(&candle_core::Tensor::from_vec(
                    v,
                    w.as_tensor().dims(),
                    &Device::Cpu,
                )?)?;
            }
            Ok(())
        })
        .fit(&data)
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NonFinite { epoch: 3, .. }), "{msg}");
    assert!(msg.contains("not finite"), "{msg}");
    assert!(msg.contains(CHECKPOINT_FILE), "{msg}");
    let ck = checkpoint::load(&dir, &Device::Cpu).unwrap();
    assert_eq!(ck.meta.epoch, 2);
    for (name, t) in &ck.tensors {
        let s = t
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(s.is_finite(), "{name} is not finite in the kept checkpoint");
    }
    let log = MetricsLog::read(&dir.join(METRICS_FILE), usize::MAX).unwrap();
    assert_eq!(log.epochs().len(), 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn huge_learning_rate_is_stopped_or_survives_without_non_finite_weights() {
    // lr = 1e30 must never leave NaN/Inf weights behind silently.
    let data = Digits::load().unwrap();
    let cfg = config(2, 16, "");
    let mut cfg = cfg;
    cfg.train.lr = 1e30;
    match trainer(&cfg).fit(&data) {
        Err(Error::NonFinite { .. }) => {}
        Ok(r) => assert!(r.epochs.iter().all(|m| m.train_loss.is_finite())),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn mismatched_network_and_data_are_named() {
    let data = Digits::load().unwrap();
    let text = "[network]\ninput_size = 64\n[[network.layers]]\nsize = 12\n";
    let cfg = TrainConfig::from_toml_str(text, "x").unwrap();
    let e = trainer(&cfg).fit(&data).unwrap_err().to_string();
    assert!(
        e.contains("network.layers[0].size") && e.contains("12"),
        "{e}"
    );
}

#[test]
fn a_csv_data_source_trains_with_paths_relative_to_the_config() {
    // The digits rewritten as "label;f0;...;f63" with a header, read through [data] source = "csv".
    let dir = temp_dir("csv");
    std::fs::create_dir_all(&dir).unwrap();
    let d = Digits::load().unwrap();
    let f = d.num_features();
    let mut text = String::from("label");
    for i in 0..f {
        text.push_str(&format!(";p{i}"));
    }
    text.push('\n');
    for r in 0..d.len() {
        text.push_str(&d.table.labels[r].to_string());
        for v in &d.table.features[r * f..(r + 1) * f] {
            text.push_str(&format!(";{v}"));
        }
        text.push('\n');
    }
    std::fs::write(dir.join("digits.csv"), text).unwrap();
    let mut cfg = config(2, 32, "");
    cfg.data.source = snn_sdk::train::config::DataSource::Csv;
    cfg.data.path = Some("digits.csv".into());
    cfg.data.header = true;
    cfg.data.delimiter = ';';
    cfg.data.label_column = Some(0);
    let cfg_text = cfg.to_toml_string();
    let cfg_path = dir.join("csv.toml");
    std::fs::write(&cfg_path, &cfg_text).unwrap();
    let cfg = TrainConfig::from_toml_file(&cfg_path).unwrap();
    let data = Trainer::load_data(&cfg).unwrap();
    assert_eq!(
        (data.len(), data.num_features(), data.num_classes),
        (1797, 64, 10)
    );
    let r = trainer(&cfg).fit(&data).unwrap();
    assert!(r.test_acc.unwrap() > 0.4, "{:?}", r.test_acc);
    let _ = std::fs::remove_dir_all(dir);
}
