//! One build of candle: the crates under `snn-sdk` must resolve the same features in the demo's
//! `cargo build -p snn-sdk --bin snn` as in `cargo test --workspace`, or cargo compiles candle
//! (and everything between it and the differing crate) a second time, minutes on 2 cores.
//!
//! `cargo test --workspace` unifies features over every member and dev-dependency; building
//! `snn-sdk` alone does not. The cure is the feature pins in `sdk/Cargo.toml`; this check (two
//! `cargo tree` calls, about a second) fails when a dependency change makes them stale, and says
//! which crate needs which features.
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context, Result};

use crate::setup::cargo;

/// Each package with the feature sets it is built with (two when it is also a build
/// dependency with other features), as `cargo tree` resolves them for `args`.
type Resolved = BTreeMap<String, BTreeSet<String>>;

/// [`Resolved`] for `cargo tree ARGS`.
fn resolved(args: &[&str]) -> Result<Resolved> {
    let out = cargo()
        .args(["tree", "--prefix", "none", "--format", "{p}|{f}"])
        .args(args)
        .output()
        .context("could not run `cargo tree`")?;
    if !out.status.success() {
        bail!(
            "`cargo tree {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `cargo tree --prefix none --format {p}|{f}` lines (`name vX (path)|f1,f2`, repeated
/// packages marked ` (*)`).
fn parse(text: &str) -> Resolved {
    let mut out = Resolved::new();
    for (p, f) in text.lines().filter_map(|l| l.split_once('|')) {
        let p = p.trim_end_matches(" (*)").trim().to_owned();
        let f = f.trim_end_matches(" (*)").trim().to_owned();
        out.entry(p).or_default().insert(f);
    }
    out
}

/// The packages of the demo build whose features differ in the test build, as
/// `(package, demo features, test features)`.
fn differences(demo: &Resolved, test: &Resolved) -> Vec<(String, String, String)> {
    let show = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join("] [");
    demo.iter()
        .filter(|(p, _)| !p.contains(" (/")) // workspace members are rebuilt for tests anyway
        .filter_map(|(p, f)| {
            let t = test.get(p)?;
            (t != f).then(|| (p.clone(), show(f), show(t)))
        })
        .collect()
}

/// Fails when the demo build and the test build would resolve different features for a
/// dependency of `snn-sdk`.
pub fn check() -> Result<()> {
    let demo = resolved(&["-p", "snn-sdk", "-e", "normal,build"])?;
    let test = resolved(&["--workspace", "-e", "normal,build,dev"])?;
    let diff = differences(&demo, &test);
    if diff.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = diff
        .iter()
        .map(|(p, d, t)| format!("  {p}: demo [{d}], test [{t}]"))
        .collect();
    bail!(
        "the demo and the tests would compile these dependencies of snn-sdk with different \
         features, so candle would be compiled twice; pin the test features in sdk/Cargo.toml \
         (\"Feature pins\"):\n{}",
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_difference_is_reported_and_members_are_skipped() {
        let demo = parse(
            "snn-sdk v0.1.0 (/w/sdk)|default\nserde_json v1.0.1|std\nlog v0.4.3|\nlog v0.4.3 (*)|\n\
             syn v2.0.1|full\nsyn v2.0.1|derive,full\n",
        );
        let test = parse(
            "snn-sdk v0.1.0 (/w/sdk)|\nserde_json v1.0.1|arbitrary_precision,std\nlog v0.4.3|\n\
             syn v2.0.1|derive,full\nsyn v2.0.1|full\n",
        );
        assert_eq!(
            differences(&demo, &test),
            vec![(
                "serde_json v1.0.1".to_owned(),
                "std".to_owned(),
                "arbitrary_precision,std".to_owned()
            )]
        );
        assert!(differences(&demo, &demo).is_empty());
    }
}
