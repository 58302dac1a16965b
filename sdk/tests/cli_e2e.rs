//! The `snn` binary driven as a user would: init → train (short) → eval → export → inspect →
//! simulate → plot, checking each output; then bad inputs, each with its documented message and
//! exit code (1 runtime, 2 usage/config/data).
mod common;

use std::path::Path;

use common::cli::{last_json, ok_text, scratch, snn};
use serde_json::Value;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs and requires failure with `code`, a single `error: ...` line on stderr containing every
/// string of `needles`, and no backtrace.
fn fails(dir: &Path, args: &[&str], code: i32, needles: &[&str]) {
    let o = snn(dir, args);
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(code),
        "snn {args:?}: expected exit code {code}; stderr:\n{err}"
    );
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "snn {args:?}: stderr:\n{err}");
    assert!(
        !err.contains("backtrace") && !err.contains("panicked"),
        "snn {args:?}: {err}"
    );
    for n in needles {
        assert!(
            last.contains(n),
            "snn {args:?}: the error should mention `{n}`:\n{err}"
        );
    }
}

/// A small valid config the error cases edit.
const BASE: &str = "name = \"base\"\n[train]\nepochs = 20\nbatch_size = 128\nlr = 5e-3\n\
                    [network]\ninput_size = 64\n[[network.layers]]\nsize = 16\n\
                    [[network.layers]]\nsize = 10\n";

/// `(width, height)` from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert!(b.len() > 1000, "{} is nearly empty", path.display());
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

#[test]
fn user_path_init_train_eval_export_inspect_simulate_plot() {
    let dir = scratch("path");
    let d = dir.as_path();

    // init: writes a valid commented config, refuses to overwrite without --force.
    ok_text(d, &["init", "digits.toml"]);
    let cfg = std::fs::read_to_string(d.join("digits.toml")).unwrap();
    assert!(cfg.contains("# ") && cfg.contains("[network]"), "{cfg}");
    fails(d, &["init", "digits.toml"], 2, &["digits.toml", "--force"]);
    ok_text(d, &["init", "digits.toml", "--force"]);

    // train: a short run (2 epochs) must be clearly above chance (10 %).
    let out = ok_text(
        d,
        &[
            "train",
            "--config",
            "digits.toml",
            "--epochs",
            "2",
            "--out",
            "run",
            "--json",
        ],
    );
    let train = last_json(&out);
    let test_acc = train["test_acc"].as_f64().unwrap();
    assert!(test_acc > 0.3, "2 epochs reached only {test_acc}");
    assert_eq!(train["rates"].as_array().unwrap().len(), 2);
    for f in ["checkpoint.safetensors", "config.toml", "metrics.jsonl"] {
        assert!(d.join("run").join(f).exists(), "run/{f} missing");
    }

    // eval: the checkpoint on the same test split gives the training run's number exactly.
    let eval = last_json(&ok_text(d, &["eval", "run", "--json"]));
    assert_eq!(eval["accuracy"].as_f64().unwrap(), test_acc);
    assert_eq!(eval["epoch"].as_u64(), Some(2));
    let all = last_json(&ok_text(d, &["eval", "run", "--split", "all", "--json"]));
    assert_eq!(all["samples"].as_u64(), Some(1797));

    // export: model + card; integer engine close to the float network.
    let exp = last_json(&ok_text(d, &["export", "run", "-o", "model.snn", "--json"]));
    assert!(d.join("model.snn").exists() && d.join("model.card.json").exists());
    let float = exp["float_accuracy"].as_f64().unwrap();
    let int = exp["accuracy"].as_f64().unwrap();
    // The float network on the same test spikes (event-driven f32 stepping vs the training op:
    // at most a borderline sample or two may differ).
    assert!(
        (float - test_acc).abs() < 0.006,
        "export's float accuracy {float} vs training's {test_acc}"
    );
    assert!((float - int).abs() < 0.05, "float {float} vs integer {int}");
    assert!(exp["fidelity"].as_f64().unwrap() > 0.9);
    let card: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("model.card.json")).unwrap()).unwrap();
    assert_eq!(card["input_size"], 64);
    assert_eq!(card["crc32"], exp["crc32"]);

    // inspect: header and layer table; JSON card.
    let table = ok_text(d, &["inspect", "model.snn"]);
    assert!(
        table.contains("64x128") && table.contains("128x10"),
        "{table}"
    );
    assert!(table.contains("rate(seed=0)"), "{table}");
    let icard = last_json(&ok_text(d, &["inspect", "model.snn", "--json"]));
    assert_eq!(icard["layers"].as_array().unwrap().len(), 2);

    // keygen + export --sign: the signed file is the same model plus a signature that verifies
    // with the public key; inspect reads it; a second keygen refuses to overwrite the pair.
    ok_text(d, &["keygen", "--out", "k"]);
    fails(d, &["keygen", "--out", "k"], 2, &["k.secret", "--force"]);
    let signed = last_json(&ok_text(
        d,
        &[
            "export",
            "run",
            "-o",
            "signed.snn",
            "--sign",
            "k.secret",
            "--json",
        ],
    ));
    assert_eq!(signed["signed"], true);
    let plain = std::fs::read(d.join("model.snn")).unwrap();
    let file = std::fs::read(d.join("signed.snn")).unwrap();
    let pk_hex = std::fs::read_to_string(d.join("k.pub")).unwrap();
    let pk = snn_sdk::deploy::signing::parse_hex_key(&pk_hex).unwrap();
    assert_eq!(snn_models::signed::verify(&file, &pk), Ok(&plain[..]));
    assert!(ok_text(d, &["inspect", "signed.snn"]).contains("64x128"));
    fails(
        d,
        &["export", "run", "-o", "x.snn", "--sign", "missing.secret"],
        2,
        &["missing.secret"],
    );

    // simulate: the integer engine over the run's test split reproduces export's numbers, with
    // one JSON line per sample (row, label, prediction) before the summary.
    let out = ok_text(
        d,
        &["simulate", "model.snn", "--checkpoint", "run", "--json"],
    );
    let sim = last_json(&out);
    assert_eq!(sim["accuracy"].as_f64().unwrap(), int);
    assert_eq!(sim["float_accuracy"].as_f64().unwrap(), float);
    assert!(sim["synaptic_events_per_inference"].as_f64().unwrap() > 0.0);
    let per_sample = out.lines().filter(|l| l.contains("\"row\"")).count();
    assert_eq!(per_sample as u64, sim["samples"].as_u64().unwrap());

    // plot: every kind, PNG of the asked size, and SVG.
    ok_text(d, &["plot", "all", "run", "--dir", "plots"]);
    for f in [
        "curves",
        "raster",
        "traces",
        "rates",
        "connectivity_0",
        "connectivity_1",
    ] {
        assert_eq!(
            png_size(&d.join("plots").join(format!("{f}.png"))),
            (1024, 768),
            "{f}"
        );
    }
    ok_text(
        d,
        &[
            "plot",
            "traces",
            "run",
            "--layer",
            "0",
            "--neurons",
            "0,5,7",
            "--sample",
            "3",
            "-o",
            "t.png",
            "--width",
            "640",
            "--height",
            "480",
        ],
    );
    assert_eq!(png_size(&d.join("t.png")), (640, 480));
    ok_text(d, &["plot", "curves", "run/metrics.jsonl", "-o", "c.svg"]);
    let svg = std::fs::read_to_string(d.join("c.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("width=\"1024\""),
        "{}",
        &svg[..80.min(svg.len())]
    );

    // Bad inputs that need a trained run.
    fails(
        d,
        &["plot", "curves", "run", "-o", "c.jpg"],
        2,
        &["c.jpg", ".png or .svg"],
    );
    fails(
        d,
        &["plot", "raster", "run", "--sample", "100000", "-o", "r.png"],
        2,
        &["--sample 100000"],
    );
    fails(
        d,
        &["plot", "connectivity", "run", "--recurrent", "-o", "r.png"],
        2,
        &["recurrent"],
    );
    fails(
        d,
        &["simulate", "model.snn", "--max-ram", "100"],
        2,
        &["--max-ram 100"],
    );
    fails(
        d,
        &["train", "--config", "digits.toml", "--out", "run"],
        2,
        &["--resume", "--overwrite"],
    );
    // A runtime failure: the output path's parent is a file.
    fails(
        d,
        &["export", "run", "-o", "digits.toml/m.snn"],
        1,
        &["digits.toml"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_give_one_clear_line_and_exit_code_2() {
    let dir = scratch("bad");
    let d = dir.as_path();
    let write = |name: &str, body: &str| std::fs::write(d.join(name), body).unwrap();
    let base = BASE.to_owned();
    let edit = |from: &str, to: &str| {
        assert!(base.contains(from), "BASE has no `{from}`");
        base.replace(from, to)
    };

    // Missing files.
    fails(d, &["train", "--config", "nope.toml"], 2, &["nope.toml"]);
    fails(d, &["eval", "no_run"], 2, &["no_run", "does not exist"]);
    fails(d, &["inspect", "none.snn"], 2, &["none.snn"]);
    fails(
        d,
        &["plot", "curves", "none.jsonl", "-o", "c.png"],
        2,
        &["none.jsonl"],
    );

    // Malformed TOML: file, line and column.
    write("malformed.toml", "name = \"x\"\n[train\nepochs = 3\n");
    fails(
        d,
        &["train", "--config", "malformed.toml"],
        2,
        &["malformed.toml:2:"],
    );

    // Unknown key with the nearest valid one suggested.
    write("unknown.toml", &edit("batch_size = 128", "batchsize = 128"));
    fails(
        d,
        &["train", "--config", "unknown.toml"],
        2,
        &["unknown.toml:", "batchsize", "did you mean `batch_size`"],
    );

    // Wrong type.
    write("type.toml", &edit("epochs = 20", "epochs = \"twenty\""));
    fails(
        d,
        &["train", "--config", "type.toml"],
        2,
        &["type.toml:", "[train]"],
    );

    // A bad value.
    write("value.toml", &edit("lr = 5e-3", "lr = -1.0"));
    fails(
        d,
        &["train", "--config", "value.toml"],
        2,
        &["value.toml", "train.lr", "-1"],
    );

    // A CSV with a bad row: file, line and column.
    let mut csv = String::new();
    for i in 0..20 {
        csv.push_str(&format!("{},{},{}\n", i, 20 - i, i % 2));
    }
    csv.push_str("3,abc,1\n");
    write("bad.csv", &csv);
    let cfg = "name = \"csv\"\n[data]\nsource = \"csv\"\npath = \"bad.csv\"\n\
               [network]\ninput_size = 2\n[[network.layers]]\nsize = 2\n";
    write("csv.toml", cfg);
    fails(
        d,
        &["train", "--config", "csv.toml"],
        2,
        &["bad.csv:21:", "abc"],
    );

    // `snn init --csv` on a file with a header line: the error says to pass --header.
    write(
        "header.csv",
        &format!("x,y,label\n{csv}").replace("3,abc,1\n", ""),
    );
    fails(
        d,
        &["init", "header.toml", "--csv", "header.csv"],
        2,
        &["header.csv:1:", "column 1", "pass --header"],
    );
    ok_text(
        d,
        &["init", "header.toml", "--csv", "header.csv", "--header"],
    );

    // A corrupt model file.
    write("corrupt.snn", "SNNM this is not a model");
    fails(d, &["inspect", "corrupt.snn"], 2, &["corrupt.snn"]);

    // Usage errors (clap): exit code 2.
    let o = snn(d, &["train", "--no-such-option"]);
    assert_eq!(o.status.code(), Some(2));
    let o = snn(d, &["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));

    // Every subcommand documents its options with their defaults.
    for sub in [
        "train", "eval", "export", "simulate", "inspect", "plot", "init", "keygen",
    ] {
        let help = ok_text(d, &[sub, "--help"]);
        assert!(help.contains("Usage: snn"), "{sub}: {help}");
    }
    let help = ok_text(d, &["--help"]);
    assert!(
        help.contains("Exit codes") && help.contains("2  usage"),
        "{help}"
    );
    let help = ok_text(d, &["export", "--help"]);
    assert!(
        help.contains("[default: 8]") && help.contains("[default: 256]"),
        "{help}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zoo_training_configs_are_valid_and_shd_is_event_streams_of_its_shape() {
    let zoo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/zoo");
    let mut seen = 0;
    for entry in std::fs::read_dir(&zoo).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".toml") || name.starts_with("ctrnn_") {
            continue; // ctrnn_*.toml are CTRNN configs, checked by ctrnn_zoo.rs
        }
        snn_sdk::TrainConfig::from_toml_file(&path)
            .unwrap_or_else(|e| panic!("models/zoo/{name}: {e}"));
        seen += 1;
    }
    assert!(seen >= 3, "digits, digits_balanced_budget, shd_recurrent");
    let shd = snn_sdk::TrainConfig::from_toml_file(zoo.join("shd_recurrent.toml")).unwrap();
    // SHD's shape as event streams: 700 channels, 20 classes, up to 100 steps of 10 ms.
    let src = shd
        .series
        .as_ref()
        .expect("shd_recurrent has a [series] table");
    assert!(src.format.is_events());
    assert_eq!(src.binning().max_steps(), 100);
    let synth = src.synthetic.clone().unwrap_or_default();
    assert_eq!((synth.channels, synth.classes), (700, 20));
    assert_eq!(shd.network.input_size, 700);
    assert_eq!(shd.network.layers[0].size, 256);
    assert_eq!(shd.network.layers[1].size, 20);
}
