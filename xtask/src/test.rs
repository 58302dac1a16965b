//! `cargo xtask test`: every test, in the order that fails fastest.
use crate::setup::{cargo, ensure_component, run};
use anyhow::Result;

/// Runs formatting and lint checks, then every host test of the workspace.
pub fn run_all(_args: &[String]) -> Result<()> {
    ensure_component("rustfmt", &["fmt", "--version"])?;
    ensure_component("clippy", &["clippy", "--version"])?;
    println!("xtask test: cargo fmt --all --check");
    run(cargo().args(["fmt", "--all", "--check"]))?;
    println!("xtask test: cargo clippy --workspace --all-targets -- -D warnings");
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    println!("xtask test: cargo test --workspace");
    run(cargo().args(["test", "--workspace"]))?;
    Ok(())
}

pub use run_all as run;
