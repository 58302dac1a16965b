//! `cargo xtask test`: every test, in the order that fails fastest.
use crate::setup::{cargo, ensure_component, run as sh};
use anyhow::Result;

/// Runs formatting and lint checks, then every host test of the workspace.
pub fn run(_args: &[String]) -> Result<()> {
    ensure_component("rustfmt", &["fmt", "--version"])?;
    ensure_component("clippy", &["clippy", "--version"])?;
    println!("xtask test: cargo fmt --all --check");
    sh(cargo().args(["fmt", "--all", "--check"]))?;
    println!("xtask test: cargo clippy --workspace --all-targets -- -D warnings");
    sh(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    println!("xtask test: cargo test --workspace");
    sh(cargo().args(["test", "--workspace"]))?;
    Ok(())
}
