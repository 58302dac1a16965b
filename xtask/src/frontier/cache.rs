//! The frontier's cache of trained models: only what is expensive and independent of the
//! firmware. Per configuration, the exported model file and its host-side accuracies (the
//! integer engine's on the test split, the float network's on the validation holdout), stored
//! with a key made of every input that decides them (the config texts and the `snn`
//! arguments) and a hash of the model's bytes. A changed key or a changed model file is a
//! miss, so a changed config retrains; the instruction counts are never cached (`run_cmd`
//! measures them on the emulated board every run).
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A trained configuration: its model file and host-side accuracies (%).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The exported model (`.snn` or `.dense`).
    pub model: PathBuf,
    /// Accuracy on the test split (integer engine or int8 network), %.
    pub test: f64,
    /// Accuracy on the validation holdout of the training split, %.
    pub validation: f64,
}

/// FNV-1a (64-bit) of `bytes`: `h = (h ^ b) · 0x100000001b3` from `0xcbf29ce484222325`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn record(dir: &Path, tag: &str) -> PathBuf {
    dir.join(format!("{tag}.cache.json"))
}

/// The cached entry of `tag` when it was made from the same `key` and its model file is
/// unchanged; `None` otherwise.
pub fn lookup(dir: &Path, tag: &str, key: &str) -> Option<Entry> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(record(dir, tag)).ok()?).ok()?;
    if v["key"].as_str()? != key {
        return None;
    }
    let model = dir.join(v["model"].as_str()?);
    let bytes = std::fs::read(&model).ok()?;
    (v["model_fnv1a"].as_str()? == format!("{:016x}", fnv1a(&bytes))).then_some(())?;
    Some(Entry {
        model,
        test: v["test"].as_f64()?,
        validation: v["validation"].as_f64()?,
    })
}

/// Stores `entry` (its model file in `dir`) as `tag`'s, made from `key`; written atomically.
pub fn store(dir: &Path, tag: &str, key: &str, entry: &Entry) -> Result<()> {
    let bytes =
        std::fs::read(&entry.model).with_context(|| format!("read {}", entry.model.display()))?;
    let name = entry
        .model
        .strip_prefix(dir)
        .with_context(|| format!("{} is not in {}", entry.model.display(), dir.display()))?;
    let v = json!({
        "key": key,
        "model": name.to_string_lossy(),
        "model_fnv1a": format!("{:016x}", fnv1a(&bytes)),
        "test": entry.test,
        "validation": entry.validation,
    });
    super::write(&record(dir, tag), &v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_key_or_model_file_misses() {
        let dir = std::env::temp_dir().join(format!("frontier-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("a.snn");
        std::fs::write(&model, b"model bytes").unwrap();
        let entry = Entry {
            model: model.clone(),
            test: 97.5,
            validation: 96.0,
        };
        let key = "time_steps = 5\nsize = 32\n";
        assert_eq!(lookup(&dir, "a", key), None, "nothing stored yet");
        store(&dir, "a", key, &entry).unwrap();
        assert_eq!(lookup(&dir, "a", key), Some(entry.clone()));
        // Any change of the config text (here one more epoch) retrains.
        assert_eq!(
            lookup(&dir, "a", "time_steps = 5\nsize = 32\nepochs = 41\n"),
            None
        );
        assert_eq!(lookup(&dir, "b", key), None, "another tag");
        // A model file changed or gone since it was stored is not trusted.
        std::fs::write(&model, b"model bytez").unwrap();
        assert_eq!(lookup(&dir, "a", key), None);
        std::fs::write(&model, b"model bytes").unwrap();
        assert_eq!(lookup(&dir, "a", key), Some(entry));
        std::fs::remove_file(&model).unwrap();
        assert_eq!(lookup(&dir, "a", key), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
