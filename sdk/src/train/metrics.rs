//! Per-epoch metrics and the `metrics.jsonl` log (one JSON object per epoch).
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::train::{Error, Result};

/// What one epoch measured; one line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (weighted by batch size).
    pub train_loss: f64,
    /// Training accuracy (0..1) on the epoch's spikes, with the weights as they were per batch.
    pub train_acc: f64,
    /// Test loss (fixed evaluation spikes; `null` without a test split).
    pub test_loss: Option<f64>,
    /// Test accuracy (0..1; `null` without a test split).
    pub test_acc: Option<f64>,
    /// Mean firing rate of each layer (spikes per neuron per step) on the test split (the train
    /// split when there is no test split).
    pub rates: Vec<f64>,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Seconds since the start of training (including earlier runs when resumed).
    pub wall_s: f64,
    /// Training samples per second in this epoch (forward, loss, backward, step, encoding).
    pub samples_per_s: f64,
    /// Per-layer rate statistics on the same split as `rates`: mean rate, budget, multiplier and a
    /// histogram of per-neuron rates (see [`crate::budget::LayerRateReport`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layer_rates: Vec<crate::budget::LayerRateReport>,
}

/// The `metrics.jsonl` file of a run; rewritten atomically after every epoch.
#[derive(Clone, Debug)]
pub struct MetricsLog {
    path: PathBuf,
    epochs: Vec<EpochMetrics>,
}

impl MetricsLog {
    /// A log at `path` holding `epochs` (e.g. those read back on resume).
    pub fn new(path: impl Into<PathBuf>, epochs: Vec<EpochMetrics>) -> Self {
        Self {
            path: path.into(),
            epochs,
        }
    }

    /// Reads the log at `path` (missing file: empty), keeping only epochs `<= up_to`.
    pub fn read(path: &Path, up_to: usize) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut epochs = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let m: EpochMetrics = serde_json::from_str(line).map_err(|e| Error::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("line {}: not a metrics record: {e}", i + 1),
            })?;
            if m.epoch <= up_to {
                epochs.push(m);
            }
        }
        Ok(Self::new(path, epochs))
    }

    /// All epochs so far.
    pub fn epochs(&self) -> &[EpochMetrics] {
        &self.epochs
    }

    /// Adds an epoch and rewrites the file atomically.
    pub fn push(&mut self, m: EpochMetrics) -> Result<()> {
        self.epochs.push(m);
        self.write()
    }

    /// Writes all epochs to the file atomically.
    pub fn write(&self) -> Result<()> {
        let mut out = String::new();
        for m in &self.epochs {
            out.push_str(&serde_json::to_string(m).map_err(|e| Error::Data(e.to_string()))?);
            out.push('\n');
        }
        crate::train::atomic::write(&self.path, out.as_bytes())
    }
}
