//! `snn train` (1 epoch) -> `snn export` -> `snn inspect` -> `snn simulate`, through the binary;
//! `--max-ram` refusal and a corrupt file are refused with clear messages.
mod common;

use common::cli::scratch;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn snn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snn"))
        .args(args)
        .output()
        .expect("run snn")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn train(dir: &Path) -> PathBuf {
    let cfg = dir.join("small.toml");
    std::fs::write(
        &cfg,
        "name = \"small\"\nseed = 1\n[train]\nepochs = 1\ntime_steps = 10\n\
         [network]\ninput_size = 64\n[[network.layers]]\nsize = 32\n[[network.layers]]\nsize = 10\n\
         [[budget]]\nlayer = 0\nmax_rate = 0.25\nmin_rate = 0.001\n",
    )
    .unwrap();
    let run = dir.join("run");
    let o = snn(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "train failed: {:?}", text(&o));
    run
}

#[test]
fn export_inspect_simulate_round_trip() {
    let dir = scratch("rt");
    let run = train(&dir);
    let model = dir.join("small.snn");
    let m = model.to_str().unwrap();

    let o = snn(&["export", run.to_str().unwrap(), "-o", m, "--json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "export failed: {err}");
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let bytes = std::fs::read(&model).unwrap();
    assert_eq!(summary["bytes"], bytes.len());
    assert!(dir.join("small.card.json").exists(), "card not written");
    let card: snn_sdk::deploy::card::ModelCard =
        serde_json::from_str(&std::fs::read_to_string(dir.join("small.card.json")).unwrap())
            .unwrap();
    assert_eq!(card.resources.flash_bytes, bytes.len());
    let int_acc = card.accuracy.as_ref().unwrap().integer;
    // The training budget travels into the model (Q1.15, one unit = 1/32768).
    assert_eq!(card.layers[0].budget[0], 0.25);
    assert!((card.layers[0].budget[1] - 0.001).abs() <= 1.0 / 32768.0);
    assert_eq!(card.layers[1].budget, [1.0, 0.0]);
    // No temporary files left behind by the atomic writes.
    let stray: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");

    let o = snn(&["inspect", m]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "inspect failed: {err}");
    assert!(out.contains("model      small"), "{out}");
    assert!(out.contains("64x32") && out.contains("32x10"), "{out}");
    assert!(out.contains(&card.crc32), "{out}");

    // The card names the checkpoint, so simulate runs the same test split and knows the float net.
    let o = snn(&["simulate", m, "--json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "simulate failed: {err}");
    let lines: Vec<&str> = out.lines().collect();
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["samples"], card.accuracy.as_ref().unwrap().samples);
    assert_eq!(lines.len() - 1, card.accuracy.as_ref().unwrap().samples);
    assert_eq!(last["accuracy"].as_f64().unwrap(), int_acc);
    assert!(last["float_accuracy"].as_f64().is_some());
    assert_eq!(last["rates"].as_array().unwrap().len(), 2);
    assert!(last["synaptic_events_per_inference"].as_f64().unwrap() > 0.0);
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert!(first["predicted"].as_u64().unwrap() < 10);

    // Without a known checkpoint: every row of the bundled digits set.
    std::fs::remove_file(dir.join("small.card.json")).unwrap();
    let o = snn(&["simulate", m, "--data", "digits", "--json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "simulate (digits) failed: {err}");
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(last["samples"], 1797);
    assert!(last["float_accuracy"].is_null());
    let all_acc = last["accuracy"].as_f64().unwrap();
    assert!(
        all_acc > 0.15,
        "accuracy over all rows {all_acc} (test split: {int_acc})"
    );
}

#[test]
fn max_ram_and_corrupt_files_are_refused_clearly() {
    let dir = scratch("refuse");
    let run = train(&dir);
    let model = dir.join("m.snn");
    let m = model.to_str().unwrap();
    let o = snn(&[
        "export",
        run.to_str().unwrap(),
        "-o",
        m,
        "--calibration",
        "0",
    ]);
    assert!(o.status.success(), "export failed: {:?}", text(&o));
    let card: snn_sdk::deploy::card::ModelCard =
        serde_json::from_str(&std::fs::read_to_string(dir.join("m.card.json")).unwrap()).unwrap();
    let ram = card.resources.ram_bytes;

    let o = snn(&["simulate", m, "--max-ram", &(ram - 1).to_string()]);
    let (out, err) = text(&o);
    assert!(!o.status.success());
    assert!(out.is_empty(), "nothing may run: {out}");
    assert!(
        err.contains(&format!("needs {ram} bytes"))
            && err.contains(&format!("--max-ram {}", ram - 1)),
        "{err}"
    );
    let o = snn(&["simulate", m, "--max-ram", &ram.to_string(), "--json"]);
    assert!(o.status.success(), "{:?}", text(&o));

    // One flipped bit in the body: CRC mismatch, named, for inspect and simulate.
    let mut bytes = std::fs::read(&model).unwrap();
    bytes[20] ^= 0x04;
    let bad = dir.join("bad.snn");
    std::fs::write(&bad, &bytes).unwrap();
    for cmd in ["inspect", "simulate"] {
        let o = snn(&[cmd, bad.to_str().unwrap()]);
        let (_, err) = text(&o);
        assert!(!o.status.success());
        assert!(
            err.contains("bad.snn is not a valid model") && err.contains("CRC-32"),
            "{cmd}: {err}"
        );
    }
    let o = snn(&["inspect", dir.join("missing.snn").to_str().unwrap()]);
    assert!(text(&o).1.contains("cannot read"), "{:?}", text(&o));
}
