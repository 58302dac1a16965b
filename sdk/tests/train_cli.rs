//! The `snn train` command: JSON summary as the last stdout line, clear one-line errors.
mod common;

use common::cli::scratch;
use std::process::Command;

fn snn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_snn"))
}

const SMALL: &str = "name = \"cli\"\n[train]\ntime_steps = 5\nbatch_size = 128\n\
    [network]\ninput_size = 64\n[[network.layers]]\nsize = 16\n[[network.layers]]\nsize = 10\n";

#[test]
fn train_prints_a_json_summary_last_and_resumes() {
    let dir = scratch("ok");
    let cfg = dir.join("small.toml");
    std::fs::write(&cfg, SMALL).unwrap();
    let run = dir.join("run");
    let out = snn()
        .args(["train", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&run)
        .args(["--epochs", "1", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    let acc = v["test_acc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert!(v["train_samples_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(v["rates"].as_array().unwrap().len(), 2);
    assert!(v["wall_s"].as_f64().unwrap() > 0.0);
    assert!(v["checkpoint"]
        .as_str()
        .unwrap()
        .ends_with("checkpoint.safetensors"));

    // A second run into the same directory is refused without --resume/--overwrite.
    let again = snn()
        .args(["train", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));

    // --resume with the run directory's own config continues to epoch 2.
    let resumed = snn()
        .args(["train", "--resume", "--out"])
        .arg(&run)
        .args(["--epochs", "2", "--json", "--quiet"])
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let stdout = String::from_utf8(resumed.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(v["epochs"].as_u64(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn config_errors_are_one_clear_line_with_nonzero_exit() {
    let dir = scratch("bad");
    let cfg = dir.join("bad.toml");
    std::fs::write(
        &cfg,
        format!(
            "[train]\nbatch = 3\n{}",
            &SMALL[SMALL.find("[network]").unwrap()..]
        ),
    )
    .unwrap();
    let out = snn()
        .args(["train", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "config errors exit with 2 (see snn --help)"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("bad.toml:2:1"), "{err}");
    assert!(
        err.contains("unknown field `batch`; did you mean `batch_size`?"),
        "{err}"
    );
    assert!(
        !err.contains("backtrace") && !err.contains("panicked"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
