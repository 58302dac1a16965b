//! `snn import`, `snn export --nir`, `snn eval --spikes` and `snn train --resume` on an imported
//! run, driven as a user would, on the snnTorch fixture of `tests/nir/fixtures`.
mod common;

use std::path::PathBuf;

use common::cli::{last_json, ok, ok_text, repo, scratch, snn};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    repo().join(format!("tests/nir/fixtures/{name}"))
}

/// A 2-d `u1` NPY file (format 1.0).
fn npy_u8(rows: &[Vec<u8>]) -> Vec<u8> {
    let (t, n) = (rows.len(), rows[0].len());
    let mut header = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({t}, {n}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(rows.iter().flatten());
    out
}

#[test]
fn import_eval_spikes_export_nir_and_resume() {
    let dir = scratch("import");
    let fx: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("snntorch_leaky.json")).unwrap())
            .unwrap();
    let input: Vec<Vec<u8>> = serde_json::from_value(fx["samples"][0]["input"].clone()).unwrap();
    let want: Vec<Vec<u8>> = serde_json::from_value(fx["samples"][0]["spikes"].clone()).unwrap();
    let nir = fixture("snntorch_leaky.nir");
    let s = ok_text(
        &dir,
        &[
            "import",
            nir.to_str().unwrap(),
            "--dt",
            "1e-4",
            "-o",
            "run",
            "--json",
        ],
    );
    assert_eq!(last_json(&s)["input_size"], 64);
    // The same input as JSON, CSV and NPY gives the tool's spikes.
    std::fs::write(dir.join("x.json"), serde_json::to_string(&input).unwrap()).unwrap();
    let csv: String = input
        .iter()
        .map(|r| r.iter().map(u8::to_string).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    std::fs::write(dir.join("x.csv"), csv).unwrap();
    std::fs::write(dir.join("x.npy"), npy_u8(&input)).unwrap();
    for f in ["x.json", "x.csv", "x.npy"] {
        let v = ok(&dir, &["eval", "run", "--spikes", f, "--json"]);
        let got: Vec<Vec<u8>> = serde_json::from_value(v["spikes"].clone()).unwrap();
        assert_eq!(got, want, "{f}");
    }
    // Out as NIR and back in: the same spikes.
    ok_text(&dir, &["export", "run", "--nir", "out.nir"]);
    ok_text(&dir, &["import", "out.nir", "-o", "run2"]);
    let v = ok(&dir, &["eval", "run2", "--spikes", "x.json", "--json"]);
    let got: Vec<Vec<u8>> = serde_json::from_value(v["spikes"].clone()).unwrap();
    assert_eq!(got, want, "after export --nir and import");
    // An imported run fine-tunes with --resume and exports to the integer engine.
    let v = ok(
        &dir,
        &[
            "train", "--resume", "--out", "run", "--epochs", "1", "--quiet", "--json",
        ],
    );
    assert_eq!(v["epochs"], 1);
    ok_text(
        &dir,
        &["export", "run", "--calibration", "0", "-o", "model.snn"],
    );
    assert!(dir.join("model.snn").exists());
    // Bad input: exit 2, naming the file and what is wrong.
    std::fs::write(dir.join("bad.nir"), b"garbage").unwrap();
    let o = snn(&dir, &["import", "bad.nir", "-o", "run3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.nir"));
    std::fs::write(dir.join("bad.json"), "[[0, 2]]").unwrap();
    let o = snn(&dir, &["eval", "run", "--spikes", "bad.json", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("bad.json") && e.contains("step 0, input 1"),
        "{e}"
    );
    let o = snn(&dir, &["import", nir.to_str().unwrap(), "-o", "run"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an existing run is not replaced without --overwrite"
    );
    let help = ok_text(&dir, &["import", "--help"]);
    assert!(
        help.contains("Usage: snn import") && help.contains("--dt"),
        "{help}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Norse's LI readout fixture through the CLI: `snn import` makes a `readout` run, `snn eval
/// --spikes --json` prints its membrane per step (the `readout` field) as Norse computed it, and
/// the run fine-tunes (`ce_max_membrane`), exports (format v3) and simulates like any other.
#[test]
fn an_li_readout_run_through_the_cli() {
    let dir = scratch("li");
    let fx: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("norse_li.json")).unwrap()).unwrap();
    let input: Vec<Vec<u8>> = serde_json::from_value(fx["samples"][0]["input"].clone()).unwrap();
    let want: Vec<Vec<f32>> = serde_json::from_value(fx["samples"][0]["readout"].clone()).unwrap();
    let nir = fixture("norse_li.nir");
    ok_text(
        &dir,
        &["import", nir.to_str().unwrap(), "--dt", "1e-6", "-o", "li"],
    );
    let cfg = std::fs::read_to_string(dir.join("li/config.toml")).unwrap();
    assert!(
        cfg.contains("readout") && cfg.contains("ce_max_membrane"),
        "{cfg}"
    );
    std::fs::write(dir.join("x.json"), serde_json::to_string(&input).unwrap()).unwrap();
    let v = ok(&dir, &["eval", "li", "--spikes", "x.json", "--json"]);
    let mem: Vec<Vec<f32>> = serde_json::from_value(v["readout"]["membrane"].clone()).unwrap();
    assert_eq!(mem.len(), want.len());
    for (g, w) in mem.iter().flatten().zip(want.iter().flatten()) {
        assert!((g - w).abs() <= 1e-5, "membrane {g} vs Norse {w}");
    }
    let max: Vec<f32> = (0..10)
        .map(|i| want.iter().map(|r| r[i]).fold(f32::NEG_INFINITY, f32::max))
        .collect();
    let best = (0..10).fold(0, |b, i| if max[i] > max[b] { i } else { b });
    assert_eq!(v["readout"]["class"], best);
    let counts: Vec<u32> = serde_json::from_value(v["counts"].clone()).unwrap();
    assert!(counts.iter().all(|&c| c == 0), "a readout never spikes");
    // Fine-tune, export and simulate like any run.
    ok_text(
        &dir,
        &[
            "train", "--resume", "--out", "li", "--epochs", "1", "--quiet", "--json",
        ],
    );
    ok_text(
        &dir,
        &["export", "li", "--calibration", "0", "-o", "li.snn"],
    );
    let bytes = std::fs::read(dir.join("li.snn")).unwrap();
    assert_eq!(&bytes[4..6], &3u16.to_le_bytes());
    let v = ok(&dir, &["simulate", "li.snn", "--json"]);
    assert!(v["accuracy"].as_f64().unwrap() > 0.0, "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}
