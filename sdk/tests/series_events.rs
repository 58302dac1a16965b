//! Event streams and the user's path for every series format: SHD HDF5 files written through
//! `rust-hdf5` and read back (also with a deflated dataset), their errors naming file, record
//! and dataset; `snn init --data` on `.ts`, a sequence CSV, an SHD `.h5` and an N-MNIST
//! directory writing configs that train; the SHD-shaped zoo config training on synthetic event
//! streams and its integer engine agreeing with the float network; validation reports; resume
//! equal to an uninterrupted run; `snn plot raster --data`.
mod common;

use std::path::{Path, PathBuf};

use common::cli::{ok, ok_text, repo, scratch, snn};
use serde_json::Value;
use snn_sdk::data::series::nmnist::{encode_record, EventSet};
use snn_sdk::data::series::{shd, Event, EventStream};

/// Two separable classes of SHD-like streams over `channels` channels: class 0 fires on the
/// low channels early, class 1 on the high channels late; `n` streams per class.
fn two_class_streams(n: usize, channels: u32, seed: u64) -> EventSet {
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut streams, mut labels) = (Vec::new(), Vec::new());
    for i in 0..2 * n {
        let y = i % 2;
        let mut events: Vec<Event> = (0..400)
            .map(|_| {
                let ch = (next() % u64::from(channels / 2)) as u32;
                let t = next() % 100_000;
                Event {
                    time_us: if y == 0 { t } else { 100_000 + t },
                    channel: if y == 0 { ch } else { channels / 2 + ch },
                    polarity: None,
                }
            })
            .collect();
        events.sort_by_key(|e| e.time_us);
        streams.push(EventStream { channels, events });
        labels.push(y);
    }
    EventSet {
        classes: vec!["0".into(), "1".into()],
        streams,
        labels,
    }
}

#[test]
fn shd_files_round_trip_through_rust_hdf5_and_errors_name_the_record() {
    let dir = scratch("h5");
    for compress in [false, true] {
        let set = two_class_streams(3, 40, 1);
        let p = dir.join(format!("s{compress}.h5"));
        shd::write(&p, &set, compress).unwrap();
        let back = shd::read(&p, 40).unwrap();
        assert_eq!(back.labels, set.labels);
        assert_eq!(back.classes, ["0", "1"]);
        for (a, b) in set.streams.iter().zip(&back.streams) {
            assert_eq!(a.events.len(), b.events.len());
            for (x, y) in a.events.iter().zip(&b.events) {
                assert_eq!(x.channel, y.channel);
                // f32 seconds keep microseconds up to 0.2 s within one microsecond.
                assert!(x.time_us.abs_diff(y.time_us) <= 1, "{x:?} vs {y:?}");
            }
        }
    }
    // A unit beyond the configured channels: file, record, dataset and the fix.
    let p = dir.join("strue.h5");
    let e = shd::read(&p, 30).unwrap_err().to_string();
    assert!(
        e.contains("strue.h5, record ")
            && e.contains("spikes/units")
            && e.contains("series.channels"),
        "{e}"
    );
    // Missing datasets and non-HDF5 bytes.
    let f = rust_hdf5::H5File::create(dir.join("nolabels.h5")).unwrap();
    let g = f.create_group("spikes").unwrap();
    let t: &[f32] = &[0.1];
    let u: &[u16] = &[3];
    g.write_vlen_numeric("times", &[t]).unwrap();
    g.write_vlen_numeric("units", &[u]).unwrap();
    f.close().unwrap();
    let e = shd::read(&dir.join("nolabels.h5"), 700)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nolabels.h5") && e.contains("has no dataset labels"),
        "{e}"
    );
    std::fs::write(dir.join("text.h5"), "not hdf5").unwrap();
    let e = shd::read(&dir.join("text.h5"), 700)
        .unwrap_err()
        .to_string();
    assert!(e.contains("text.h5: not a readable HDF5 file"), "{e}");
    // Times and units of different lengths in one record.
    let f = rust_hdf5::H5File::create(dir.join("ragged.h5")).unwrap();
    let g = f.create_group("spikes").unwrap();
    let u2: &[u16] = &[3, 4];
    g.write_vlen_numeric("times", &[t, t]).unwrap();
    g.write_vlen_numeric("units", &[u, u2]).unwrap();
    f.new_dataset::<u16>()
        .shape([2])
        .create("labels")
        .unwrap()
        .write_raw(&[0u16, 1])
        .unwrap();
    f.close().unwrap();
    let e = shd::read(&dir.join("ragged.h5"), 700)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ragged.h5, record 1: spikes/units: 2 units for 1 spike times"),
        "{e}"
    );
    // Times stored as strings: refused by their type, naming the dataset.
    let f = rust_hdf5::H5File::create(dir.join("strings.h5")).unwrap();
    let g = f.create_group("spikes").unwrap();
    g.write_vlen_strings("times", &["0.1"]).unwrap();
    g.write_vlen_numeric("units", &[u]).unwrap();
    f.new_dataset::<u16>()
        .shape([1])
        .create("labels")
        .unwrap()
        .write_raw(&[0u16])
        .unwrap();
    f.close().unwrap();
    let e = shd::read(&dir.join("strings.h5"), 700)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("strings.h5: spikes/times: expected a variable-length sequence"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `snn init --data PATH` then `snn train` (`epochs`) of the written config; returns the
/// training summary and init's report.
fn init_and_train(dir: &Path, name: &str, data: &Path, epochs: &str) -> (Value, String) {
    let cfg = format!("{name}.toml");
    let report = ok_text(dir, &["init", &cfg, "--data", data.to_str().unwrap()]);
    let run = format!("run-{name}");
    let v = ok(
        dir,
        &[
            "train", "--config", &cfg, "--out", &run, "--epochs", epochs, "--json",
        ],
    );
    (v, report)
}

#[test]
fn init_data_writes_a_config_that_trains_for_every_format() {
    let dir = scratch("init");
    // .ts: NAME_TRAIN.ts finds NAME_TEST.ts beside it.
    let ts = repo().join("sdk/data/BasicMotions_TRAIN.ts.gz");
    let (v, report) = init_and_train(&dir, "bm", &ts, "2");
    assert!(
        report.contains("40 series of 6 channels, lengths 100..=100 steps"),
        "{report}"
    );
    assert!(
        report.contains("4 classes") && report.contains("BasicMotions_TEST.ts.gz"),
        "{report}"
    );
    assert!(v["test_acc"].as_f64().is_some());
    let text = std::fs::read_to_string(dir.join("bm.toml")).unwrap();
    assert!(
        text.contains("format = \"ts\"") && text.contains("input_size = 6"),
        "{text}"
    );

    // Sequence CSV without a test file: a 20 % holdout of each class.
    let mut csv = String::from("sample,label,a,b\n");
    for s in 0..20 {
        for t in 0..(5 + s % 4) {
            let x = if s % 2 == 0 { t as f32 } else { -(t as f32) };
            csv.push_str(&format!("{s},{},{x},{}\n", ["up", "down"][s % 2], s % 3));
        }
    }
    std::fs::write(dir.join("mine.csv"), csv).unwrap();
    let (v, report) = init_and_train(&dir, "mine", &dir.join("mine.csv"), "2");
    assert!(
        report.contains("20 series of 2 channels, lengths 5..=8 steps"),
        "{report}"
    );
    assert!(report.contains("held out for testing"), "{report}");
    assert!(v["test_acc"].as_f64().is_some());

    // SHD .h5: shd_train.h5 finds shd_test.h5; 700 channels, 10 ms steps.
    shd::write(
        &dir.join("shd_train.h5"),
        &two_class_streams(8, 700, 2),
        true,
    )
    .unwrap();
    shd::write(
        &dir.join("shd_test.h5"),
        &two_class_streams(4, 700, 3),
        false,
    )
    .unwrap();
    let (v, report) = init_and_train(&dir, "shd", &dir.join("shd_train.h5"), "10");
    assert!(
        report.contains("16 event streams over 700 channels"),
        "{report}"
    );
    assert!(report.contains("up to 20 steps, 700 inputs"), "{report}");
    assert!(report.contains("shd_test.h5"), "{report}");
    let acc = v["test_acc"].as_f64().unwrap();
    assert!(acc >= 0.75, "two separable classes, test accuracy {acc}");

    // N-MNIST: a data set root with Train/ and Test/ class folders (given one .bin inside).
    for (split, n) in [("Train", 6), ("Test", 3)] {
        for class in 0..2u8 {
            let d = dir.join("nmnist").join(split).join(class.to_string());
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..n {
                let mut bytes = Vec::new();
                for k in 0..300u32 {
                    let x = (k % 10) as u8 + 20 * class;
                    bytes.extend(encode_record(x, (k % 7) as u8, k % 2 == 0, 100 * k + i));
                }
                std::fs::write(d.join(format!("{i:05}.bin")), bytes).unwrap();
            }
        }
    }
    let one = dir.join("nmnist/Train/1/00002.bin");
    let (v, report) = init_and_train(&dir, "nm", &one, "10");
    assert!(
        report.contains("12 event streams over 1156 channels (x2 polarities)"),
        "{report}"
    );
    assert!(
        report.contains("2312 inputs") && report.contains("Test"),
        "{report}"
    );
    assert_eq!(
        v["test_acc"].as_f64().unwrap(),
        1.0,
        "x separates the classes"
    );
    // Its model exports (events encoding, format v1) and simulates on the test directory.
    let e = ok(&dir, &["export", "run-nm", "-o", "nm.snn", "--json"]);
    let bytes = std::fs::read(dir.join("nm.snn")).unwrap();
    assert_eq!(
        &bytes[4..6],
        &1u16.to_le_bytes(),
        "event models stay format version 1"
    );
    let test_dir = dir.join("nmnist/Test");
    let sim = ok(
        &dir,
        &[
            "simulate",
            "nm.snn",
            "--data",
            test_dir.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(sim["accuracy"], e["accuracy"]);
    assert_eq!(sim["samples"].as_u64().unwrap(), 6);
    // eval --data reads a directory in the run's format (here the test directory again).
    let ev = ok(
        &dir,
        &[
            "eval",
            "run-nm",
            "--data",
            test_dir.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(ev["samples"].as_u64().unwrap(), 6);
    assert_eq!(ev["accuracy"], e["float_accuracy"]);

    // plot raster --data: the binned input events of one sample, with and without a run.
    let h5 = dir.join("shd_test.h5");
    ok_text(
        &dir,
        &[
            "plot",
            "raster",
            "--data",
            h5.to_str().unwrap(),
            "--sample",
            "1",
            "-o",
            "in.svg",
        ],
    );
    let svg = std::fs::read_to_string(dir.join("in.svg")).unwrap();
    assert!(
        svg.contains("700 inputs, events binned at 10 ms"),
        "raster title"
    );
    ok_text(
        &dir,
        &[
            "plot",
            "raster",
            "run-shd",
            "--data",
            h5.to_str().unwrap(),
            "-o",
            "net.svg",
        ],
    );
    let svg = std::fs::read_to_string(dir.join("net.svg")).unwrap();
    assert!(svg.contains("layer 1 (output)"), "every layer of the run");
    let o = snn(
        &dir,
        &["plot", "raster", "--data", "missing.h5", "-o", "x.svg"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("missing.h5"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The zoo's SHD-shaped config, shrunk to a few streams per class.
fn small_shd(dir: &Path, epochs: usize) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("models/zoo/shd_recurrent.toml")).unwrap();
    assert!(text.contains("format = \"synthetic_events\""));
    let small = text
        .replace("train_per_class = 40", "train_per_class = 6")
        .replace("test_per_class = 10", "test_per_class = 3")
        .replace("validation = 0.1", "validation = 0.2")
        .replace("batch_size = 64", "batch_size = 32")
        .replace("epochs = 5", &format!("epochs = {epochs}"));
    let p = dir.join("shd_small.toml");
    std::fs::write(&p, small).unwrap();
    p
}

#[test]
fn the_shd_zoo_config_trains_on_synthetic_event_streams_and_resumes_exactly() {
    let dir = scratch("zoo");
    let cfg = small_shd(&dir, 6);
    let cfg = cfg.to_str().unwrap();
    let full = ok(&dir, &["train", "--config", cfg, "--out", "full", "--json"]);
    let acc = full["test_acc"].as_f64().unwrap();
    // 20 classes: chance is 5 %.
    assert!(acc >= 0.25, "test accuracy {acc} after 6 epochs");
    let val = full["validation"].as_array().unwrap();
    assert_eq!(val.len(), 6, "a validation score after every epoch");
    assert!(val.iter().all(|v| v["validation_acc"].as_f64().is_some()));
    // The integer engine (binned events as input spikes) agrees with the float network.
    let e = ok(&dir, &["export", "full", "-o", "full.snn", "--json"]);
    assert_eq!(e["encoding"], "Events");
    let (float, int) = (
        e["float_accuracy"].as_f64().unwrap(),
        e["accuracy"].as_f64().unwrap(),
    );
    assert!((int - float).abs() <= 0.1, "engine {int} vs float {float}");
    // `--resume` continues a stopped run from its checkpoint (exactness: the next test).
    ok(
        &dir,
        &[
            "train", "--config", cfg, "--out", "part", "--epochs", "1", "--json",
        ],
    );
    let resumed = ok(
        &dir,
        &[
            "train", "--resume", "--out", "part", "--epochs", "2", "--json",
        ],
    );
    assert_eq!(resumed["resumed_from_epoch"].as_u64(), Some(1));
    assert_eq!(resumed["validation"].as_array().unwrap().len(), 1);
    let o = snn(
        &dir,
        &["train", "--resume", "--out", "part", "--epochs", "2"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("already trained 2 epochs"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_resumed_series_run_equals_the_uninterrupted_one_bit_for_bit() {
    use candle_core::Device;
    use snn_sdk::data::series::input::{SeriesEncoding, SeriesInput};
    use snn_sdk::data::series::synthetic::SyntheticEvents;
    use snn_sdk::data::series::{binned_set, Binning};
    use snn_sdk::train::checkpoint::{self, CheckpointMeta};
    use snn_sdk::train::series::{train_with, SeriesHooks, SeriesTrainOptions};
    let shape = SyntheticEvents {
        channels: 40,
        classes: 3,
        train_per_class: 5,
        duration_ms: 200,
        ..SyntheticEvents::default()
    };
    let bin = Binning {
        dt_us: 10_000,
        max_duration_us: 200_000,
        pool: 1,
        polarity_channels: false,
    };
    let set = binned_set("s", &shape.generate().0, &bin);
    let input = SeriesInput::fit(SeriesEncoding::Events, &set);
    let net_cfg: snn_sdk::net::NetworkConfig = toml::from_str(
        "input_size = 40\n[[layers]]\nsize = 16\nkind = \"recurrent\"\n[[layers]]\nsize = 3",
    )
    .unwrap();
    let opts = SeriesTrainOptions {
        epochs: 4,
        batch_size: 4,
        lr: 0.01,
        seed: 5,
        grad_clip: Some(5.0),
        // noise too: a resumed run replays the skipped epochs' noise draws
        input_noise: 0.05,
        ..SeriesTrainOptions::default()
    };
    let dir = scratch("exact");
    // One thread: the batch's parallel gradient sums then add in one order in both runs.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        // Uninterrupted, saving the checkpoint of epoch 2 on the way.
        let mut full = snn_sdk::Network::new(&net_cfg, 1, &Device::Cpu).unwrap();
        let mut save =
            |net: &snn_sdk::Network, opt: &snn_sdk::train::optim::Adam, epoch: usize, _| {
                if epoch == 2 {
                    let meta = CheckpointMeta {
                        epoch,
                        step: 0,
                        optimizer_steps: opt.steps(),
                        wall_s: 0.0,
                        config_toml: String::new(),
                        budget_state: None,
                    };
                    checkpoint::save(&dir, net, opt, &meta)?;
                }
                Ok(())
            };
        let hooks = SeriesHooks {
            on_epoch: Some(&mut save),
            ..SeriesHooks::default()
        };
        train_with(&mut full, &input, &set, &opts, hooks).unwrap();
        // A fresh process's view: new network, weights and Adam state from the checkpoint.
        let ck = checkpoint::load(&dir, &Device::Cpu).unwrap();
        let mut resumed = snn_sdk::Network::new(&net_cfg, 99, &Device::Cpu).unwrap();
        ck.restore_network(&resumed).unwrap();
        let restore = |opt: &mut snn_sdk::train::optim::Adam| ck.restore_optimizer(opt);
        let hooks = SeriesHooks {
            start_epoch: ck.meta.epoch,
            restore: Some(&restore),
            on_epoch: None,
        };
        train_with(&mut resumed, &input, &set, &opts, hooks).unwrap();
        let a = checkpoint::sorted_vars(&full);
        let b = checkpoint::sorted_vars(&resumed);
        assert_eq!(a.len(), b.len());
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            let (x, y) = (
                x.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
                y.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
            );
            assert_eq!(x, y, "{name} differs after resuming");
        }
    });
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn event_config_errors_name_the_file_and_field() {
    let dir = scratch("bad");
    let cases = [
        (
            "format = \"shd\"\ntrain = \"x.h5\"",
            "series.encoder must be { kind = \"events\" }",
        ),
        (
            "format = \"shd\"\ntrain = \"x.h5\"\nencoder = { kind = \"events\" }\ndt_ms = 0.0",
            "series.dt_ms must be at least 0.001",
        ),
        (
            "format = \"shd\"\ntrain = \"x.h5\"\nencoder = { kind = \"events\" }\npool = 0",
            "series.pool must be at least 1",
        ),
        (
            "format = \"ts\"\ntrain = \"x.ts\"\nencoder = { kind = \"events\" }",
            "needs an event format",
        ),
        (
            "format = \"synthetic_events\"\ntrain = \"x.h5\"\nencoder = { kind = \"events\" }",
            "do not apply to format = \"synthetic_events\"",
        ),
        (
            "format = \"ts\"\ntrain = \"x.ts\"\nvalidation = 1.5",
            "series.validation must be in [0, 1)",
        ),
        (
            "format = \"shd\"\ntrain = \"x.h5\"\nencoder = { kind = \"events\" }",
            "x.h5: no such file",
        ),
    ];
    for (i, (series, needle)) in cases.iter().enumerate() {
        let name = format!("bad{i}.toml");
        std::fs::write(
            dir.join(&name),
            format!(
                "[series]\n{series}\n[network]\ninput_size = 700\n[[network.layers]]\nsize = 20\n"
            ),
        )
        .unwrap();
        let o = snn(&dir, &["train", "--config", &name]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(needle), "{name}: `{needle}` not in {err}");
        if i < 6 {
            assert!(err.contains(&name), "{name} not named: {err}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
