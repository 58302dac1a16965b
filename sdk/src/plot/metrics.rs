//! One row of the training loop's `metrics.jsonl` and a reader with line-numbered errors.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::PlotError;

/// One epoch of training metrics, as written (one JSON object per line) by the training loop.
///
/// Only `epoch` is required; every other field may be missing or `null`, and fields this struct
/// does not know are ignored, so the loop can add columns without breaking plots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Epoch number (x axis of the curves).
    pub epoch: u32,
    /// Mean training loss over the epoch.
    #[serde(default)]
    pub train_loss: Option<f64>,
    /// Training accuracy, a fraction in 0..=1 or a percentage.
    #[serde(default)]
    pub train_acc: Option<f64>,
    /// Test loss after the epoch.
    #[serde(default)]
    pub test_loss: Option<f64>,
    /// Test accuracy, same units as `train_acc`.
    #[serde(default)]
    pub test_acc: Option<f64>,
    /// Mean firing rate per layer (spikes per neuron per step), in layer order.
    #[serde(default)]
    pub rates: Vec<f64>,
    /// Learning rate used in the epoch.
    #[serde(default)]
    pub lr: Option<f64>,
    /// Wall-clock seconds since training started.
    #[serde(default)]
    pub wall_s: Option<f64>,
    /// Training throughput.
    #[serde(default)]
    pub samples_per_s: Option<f64>,
}

/// Reads a JSON-lines metrics file: one [`MetricsRow`] object per line, blank lines skipped.
///
/// A line that is not a valid row gives [`PlotError::MetricsLine`] with its 1-based line number.
pub fn read_metrics_jsonl(path: &Path) -> Result<Vec<MetricsRow>, PlotError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlotError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_metrics_jsonl(&text, path)
}

/// Parses JSON-lines `text`; `path` only names the source in errors.
fn parse_metrics_jsonl(text: &str, path: &Path) -> Result<Vec<MetricsRow>, PlotError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|source| PlotError::MetricsLine {
                path: path.to_path_buf(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_fields_nulls_and_blank_lines() {
        let text = concat!(
            r#"{"epoch":0,"train_loss":2.3,"train_acc":0.1,"test_loss":null,"rates":[0.1,0.02],"hist":{"a":1}}"#,
            "\n\n",
            r#"{"epoch":1,"train_loss":1.1,"test_acc":0.8,"lr":0.001}"#,
            "\n"
        );
        let rows = parse_metrics_jsonl(text, Path::new("m.jsonl")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].rates, vec![0.1, 0.02]);
        assert_eq!(rows[0].test_loss, None);
        assert_eq!(rows[1].epoch, 1);
        assert_eq!(rows[1].test_acc, Some(0.8));
        assert_eq!(rows[1].train_acc, None);
    }

    #[test]
    fn bad_line_is_named_by_number() {
        let text = "{\"epoch\":0}\n\n{\"train_loss\":1.0}\n";
        let err = parse_metrics_jsonl(text, Path::new("run/metrics.jsonl")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("run/metrics.jsonl` line 3"), "{msg}");
        assert!(msg.contains("epoch"), "{msg}");
    }
}
