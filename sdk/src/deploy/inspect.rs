//! `snn inspect`: a model file's header and layer table, or a clear reason it is refused.
use crate::deploy::card::ModelCard;
use snn_models::FormatError;
use std::fmt::Write;
use std::path::Path;
use thiserror::Error;

/// Why a model file could not be inspected.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InspectError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bytes are not a valid model.
    #[error("{path} is not a valid model: {source}")]
    Format {
        /// The file.
        path: String,
        /// What the decoder found wrong.
        source: FormatError,
    },
}

/// Reads and fully validates a model file, returning its bytes (decode them again to borrow);
/// of a signed file, the model file inside (the signature is the device's to check).
pub fn read_model(path: &Path) -> Result<Vec<u8>, InspectError> {
    let mut bytes = std::fs::read(path).map_err(|source| InspectError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let model_len = snn_models::signed::split(&bytes).0.len();
    bytes.truncate(model_len);
    snn_models::decode(&bytes).map_err(|source| InspectError::Format {
        path: path.display().to_string(),
        source,
    })?;
    Ok(bytes)
}

/// The card of a valid model file (what `inspect --json` prints).
pub fn card_of(path: &Path) -> Result<ModelCard, InspectError> {
    let bytes = read_model(path)?;
    let model = snn_models::decode(&bytes).map_err(|source| InspectError::Format {
        path: path.display().to_string(),
        source,
    })?;
    Ok(ModelCard::describe(&model, &bytes))
}

/// Human-readable header and layer table.
pub fn render(card: &ModelCard) -> String {
    let mut s = String::new();
    let r = &card.resources;
    let _ = writeln!(
        s,
        "model      {}\nformat     v{}  crc32 {}  {} bytes (flash)\ninput      {} channels, {} steps, {}\noutput     {} classes x {} neurons\nengine RAM {} bytes ({} neuron states, {} accumulators, {} spike slots, {} counters)",
        card.name,
        card.format_version,
        card.crc32,
        r.flash_bytes,
        card.input_size,
        card.time_steps,
        card.encoding,
        card.num_classes,
        card.neurons_per_class,
        r.ram_bytes,
        r.membrane,
        r.current,
        r.spikes,
        r.out_counts
    );
    let _ = writeln!(
        s,
        "\n{:>3}  {:>11}  {:>4}  {:>4}  {:>5}  {:>6}  {:>9}  {:>7}  {:>9}  {:>13}  {:>8}  {:>4}  {:>15}",
        "#", "shape", "rec", "bits", "shift", "store", "synapses", "density", "threshold", "beta", "reset", "bias", "budget max/min"
    );
    for l in &card.layers {
        let beta = if (l.beta[0] - l.beta[1]).abs() < 1e-12 {
            format!("{:.4}", l.beta[0])
        } else {
            format!("{:.3}..{:.3}", l.beta[0], l.beta[1])
        };
        let _ = writeln!(
            s,
            "{:>3}  {:>11}  {:>4}  {:>4}  {:>5}  {:>6}  {:>9}  {:>7.3}  {:>9}  {:>13}  {:>8}  {:>4}  {:>15}",
            l.index,
            format!("{}x{}", l.shape[0], l.shape[1]),
            if l.recurrent { "yes" } else { "no" },
            l.weight_bits,
            l.shift,
            l.storage,
            l.synapses,
            l.density,
            l.threshold,
            beta,
            l.reset,
            if l.bias { "yes" } else { "no" },
            format!("{:.4}/{:.4}", l.budget[0], l.budget[1]),
        );
    }
    for l in &card.layers {
        if let Some([lo, hi]) = l.alpha {
            let _ = writeln!(
                s,
                "layer {}: current-based synapse (CubaLIF), alpha {lo:.4}..{hi:.4}",
                l.index
            );
        }
    }
    s
}
