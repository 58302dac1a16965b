//! The time-series CLI path end to end with the `snn` binary and the vendored JapaneseVowels
//! files: `train` of the zoo config (few epochs) → `eval` → `export` (format v2) → `simulate`
//! (integer engine, each utterance for its own length), checking the engine's accuracy against
//! the float network's; the BasicMotions zoo config with a non-spiking `readout` (its whole run,
//! `--resume`, format v3 export, max-membrane decisions of float and engine agreeing); then
//! config errors that name the file and field.
mod common;

use std::path::Path;

use common::cli::{ok, ok_text, repo, scratch, snn};

fn fails(dir: &Path, args: &[&str], needles: &[&str]) {
    let o = snn(dir, args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "snn {args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "snn {args:?}: `{n}` not in {err}");
    }
}

#[test]
fn japanese_vowels_trains_exports_and_simulates_through_the_cli() {
    let dir = scratch("jv");
    let cfg = repo().join("models/zoo/japanese_vowels.toml");
    let cfg = cfg.to_str().unwrap();
    let train = ok(
        &dir,
        &[
            "train", "--config", cfg, "--out", "run", "--epochs", "20", "--json",
        ],
    );
    let float = train["test_acc"].as_f64().unwrap();
    // 9 speakers: chance is 11 %; twenty epochs separate most of them.
    assert!(float > 0.6, "float test accuracy {float}");
    let eval = ok(&dir, &["eval", "run", "--json"]);
    assert_eq!(eval["accuracy"].as_f64().unwrap(), float);
    assert_eq!(eval["samples"].as_u64().unwrap(), 370);
    let export = ok(&dir, &["export", "run", "-o", "jv.snn", "--json"]);
    let bytes = std::fs::read(dir.join("jv.snn")).unwrap();
    assert_eq!(&bytes[4..6], &2u16.to_le_bytes(), "format version 2");
    assert_eq!(export["time_steps"].as_u64().unwrap(), 29);
    let sim = ok(
        &dir,
        &["simulate", "jv.snn", "--checkpoint", "run", "--json"],
    );
    let int = sim["accuracy"].as_f64().unwrap();
    assert_eq!(sim["samples"].as_u64().unwrap(), 370);
    assert_eq!(sim["float_accuracy"].as_f64().unwrap(), float);
    assert_eq!(export["accuracy"].as_f64().unwrap(), int);
    assert!(
        (int - float).abs() <= 0.03,
        "integer engine {int} vs float {float}"
    );
    // The model also runs on a series file given directly (every sample its own T_i).
    let test_file = repo().join("sdk/data/JapaneseVowels_TEST.ts.gz");
    let direct = ok(
        &dir,
        &[
            "simulate",
            "jv.snn",
            "--data",
            test_file.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(direct["accuracy"].as_f64().unwrap(), int);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_basic_motions_readout_config_trains_resumes_exports_and_decides_on_its_maximum_membrane() {
    let dir = scratch("bm-readout");
    let cfg = repo().join("models/zoo/basic_motions_readout.toml");
    let cfg = cfg.to_str().unwrap();
    // The whole zoo run (60 epochs of 40 series: under a second).
    let train = ok(&dir, &["train", "--config", cfg, "--out", "run", "--json"]);
    assert_eq!(train["epochs"].as_u64(), Some(60));
    let float = train["test_acc"].as_f64().unwrap();
    // 4 activities: chance is 25 %; the config reaches 97.5 % (models/zoo/README.md).
    assert!(float >= 0.9, "float test accuracy {float}");
    // `--resume` continues a stopped readout run from its checkpoint.
    ok(
        &dir,
        &[
            "train", "--config", cfg, "--out", "part", "--epochs", "2", "--json",
        ],
    );
    let resumed = ok(
        &dir,
        &[
            "train", "--resume", "--out", "part", "--epochs", "4", "--json",
        ],
    );
    assert_eq!(resumed["resumed_from_epoch"].as_u64(), Some(2));
    assert!(resumed["last_loss"].as_f64().unwrap().is_finite());
    let eval = ok(&dir, &["eval", "run", "--json"]);
    assert_eq!(eval["accuracy"].as_f64().unwrap(), float);
    assert_eq!(eval["samples"].as_u64().unwrap(), 40);
    let export = ok(&dir, &["export", "run", "-o", "bm.snn", "--json"]);
    let bytes = std::fs::read(dir.join("bm.snn")).unwrap();
    assert_eq!(&bytes[4..6], &3u16.to_le_bytes(), "format version 3");
    let model = snn_models::decode(&bytes).unwrap();
    assert_eq!(model.output, snn_models::Output::MaxMembrane);
    assert_eq!(model.header.encoding, snn_models::Encoding::Direct);
    assert_eq!(export["readout"], true);
    assert_eq!(export["float_accuracy"].as_f64().unwrap(), float);
    let (int, agreement) = (
        export["accuracy"].as_f64().unwrap(),
        export["agreement"].as_f64().unwrap(),
    );
    // Fidelity: the engine decides (max membrane over each series' own steps, integer) as the
    // float network does on nearly every test series.
    assert!(
        agreement >= 0.95,
        "float and integer decisions agree on {agreement} (float {float}, engine {int})"
    );
    let sim = ok(
        &dir,
        &["simulate", "bm.snn", "--checkpoint", "run", "--json"],
    );
    assert_eq!(sim["accuracy"].as_f64().unwrap(), int);
    assert_eq!(sim["float_accuracy"].as_f64().unwrap(), float);
    let d = &sim["decisions"];
    assert_eq!(d["readout"], true);
    assert_eq!(d["final_count"]["accuracy"].as_f64().unwrap(), int);
    assert_eq!(
        d["final_count"]["mean_latency_steps"].as_f64().unwrap(),
        100.0
    );
    let text = ok_text(&dir, &["simulate", "bm.snn", "--checkpoint", "run"]);
    assert!(text.contains("max membrane (readout)"), "{text}");
    assert!(
        text.contains("n/a: a readout layer has no output spikes"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn series_config_errors_name_the_file_and_field() {
    let dir = scratch("bad");
    let data = repo().join("sdk/data");
    let jv = |f: &str| {
        data.join(format!("JapaneseVowels_{f}.ts.gz"))
            .display()
            .to_string()
    };
    let write = |name: &str, series: &str, input: usize| {
        std::fs::write(
            dir.join(name),
            format!(
                "[series]\n{series}\n[network]\ninput_size = {input}\n[[network.layers]]\nsize = 9\n"
            ),
        )
        .unwrap();
    };
    write(
        "typo.toml",
        &format!(
            "train = {:?}\ntest = {:?}\nencodr = {{ kind = \"direct\" }}",
            jv("TRAIN"),
            jv("TEST")
        ),
        12,
    );
    fails(
        &dir,
        &["train", "--config", "typo.toml"],
        &["typo.toml:4", "encodr", "encoder"],
    );
    write(
        "size.toml",
        &format!("train = {:?}\ntest = {:?}", jv("TRAIN"), jv("TEST")),
        10,
    );
    fails(
        &dir,
        &["train", "--config", "size.toml"],
        &["network.input_size = 10", "12 channels"],
    );
    write(
        "thr.toml",
        &format!(
            "train = {:?}\ntest = {:?}\nencoder = {{ kind = \"sigma_delta\", threshold_std = 0.0 }}",
            jv("TRAIN"),
            jv("TEST")
        ),
        24,
    );
    fails(
        &dir,
        &["train", "--config", "thr.toml"],
        &["thr.toml", "series.encoder.threshold_std"],
    );
    write(
        "missing.toml",
        "train = \"nope.ts\"\ntest = \"nope.ts\"",
        12,
    );
    fails(&dir, &["train", "--config", "missing.toml"], &["nope.ts"]);
    std::fs::remove_dir_all(&dir).ok();
}
