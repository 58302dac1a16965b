//! The `snn` binary driven as a user would, for the CLI tests: run it, require success, read
//! the JSON summary it prints last, and a scratch directory per test.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Runs `snn args` in `dir`.
pub fn snn(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snn"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run snn")
}

/// Runs `snn args` in `dir` and requires success; returns stdout.
pub fn ok_text(dir: &Path, args: &[&str]) -> String {
    let o = snn(dir, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "snn {args:?} failed ({:?}):\nstdout:\n{out}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The JSON summary printed as the last line of `stdout`.
pub fn last_json(stdout: &str) -> Value {
    let line = stdout.lines().last().expect("no stdout");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {line}"))
}

/// Runs `snn args` in `dir`, requires success and returns the JSON summary of its last line.
pub fn ok(dir: &Path, args: &[&str]) -> Value {
    last_json(&ok_text(dir, args))
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An empty directory `snn-<test file>-<name>-<pid>` under the system's temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "snn-{}-{name}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
