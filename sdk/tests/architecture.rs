//! The subsystem layering of ARCHITECTURE.md, checked on the source: every `crate::<subsystem>`
//! path in a subsystem's files must point down the table below, so imports between subsystems
//! never form a loop.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each subsystem (a folder of `src/`, or a root file) and the subsystems it may import.
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "cli",
        &[
            "plot",
            "deploy",
            "nir",
            "train",
            "net",
            "structure",
            "data",
            "loss",
            "budget",
            "rng",
            "runtime",
        ],
    ),
    ("plot", &[]),
    (
        "nir",
        &["train", "net", "structure", "data", "loss", "budget", "rng"],
    ),
    (
        "deploy",
        &["train", "net", "structure", "data", "loss", "budget", "rng"],
    ),
    (
        "train",
        &["net", "structure", "data", "loss", "budget", "rng"],
    ),
    ("net", &["structure", "rng"]),
    ("structure", &["loss", "rng"]),
    ("data", &["rng"]),
    ("loss", &[]),
    ("budget", &[]),
    ("rng", &[]),
    ("runtime", &[]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The subsystem a file under `src/` belongs to (`None` for `lib.rs` and `bin/`, which may use
/// everything).
fn subsystem_of(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    match first.as_str() {
        "lib.rs" | "bin" => None,
        f => Some(f.trim_end_matches(".rs").to_owned()),
    }
}

/// The subsystems named by `crate::<name>` in the code (comments and doc comments skipped).
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                refs.insert(name);
            }
            rest = after;
        }
    }
    refs
}

#[test]
fn subsystems_import_only_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let Some(me) = subsystem_of(rel) else {
            continue;
        };
        let allowed = ALLOWED
            .iter()
            .find(|(s, _)| *s == me)
            .unwrap_or_else(|| panic!("{}: subsystem `{me}` is not in ALLOWED", rel.display()))
            .1;
        let text = std::fs::read_to_string(file).unwrap();
        for name in crate_refs(&text) {
            if name != me && !allowed.contains(&name.as_str()) {
                violations.push(format!("{} uses crate::{name}", rel.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the layering (ARCHITECTURE.md):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_a_crate_path_and_skips_comments() {
    let refs = crate_refs("use crate::net::Network; // crate::cli\n/// [`crate::deploy`]\n");
    assert_eq!(refs, BTreeSet::from(["net".to_owned()]));
}
