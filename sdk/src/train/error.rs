//! The error of training and of everything it drives (re-exported as `snn_sdk::Error`): the
//! subsystems below `train` raise their own types ([`DataError`], [`NetworkError`],
//! [`LossError`], [`BudgetError`]) and this type wraps them next to training's own failures
//! ([`ConfigError`], a non-finite loss, a bad checkpoint). `deploy` and `cli` build on it. Every
//! failure names what is wrong and where.
use std::path::PathBuf;

use super::config::ConfigError;
use crate::budget::BudgetError;
use crate::data::csv::CsvError;
use crate::data::DataError;
use crate::loss::LossError;
use crate::net::NetworkError;

/// Any error of the host SDK's data, configuration and training code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed (shape mismatch, backend error, ...).
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A CSV file is malformed (file, line, column and text are in the message).
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// A configuration file or value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A loss function rejected its inputs.
    #[error("loss: {0}")]
    Loss(#[from] LossError),
    /// A firing-rate budget is misconfigured or does not fit the recording.
    #[error(transparent)]
    Budget(#[from] BudgetError),
    /// The network rejected its configuration or input.
    #[error("network: {0}")]
    Network(#[from] NetworkError),
    /// A data set cannot be used as asked (too few rows, a class missing, ...).
    #[error("data: {0}")]
    Data(String),
    /// The shared encoder of `snn-models` refused the input.
    #[error("spike encoding failed: {0}")]
    Encode(snn_models::EngineError),
    /// A loss value or a parameter became NaN or infinite; training stopped.
    #[error(
        "training stopped in epoch {epoch}, step {step}: {what} is not finite \
         (NaN or infinity; try a lower learning rate or gradient clipping); {checkpoint}"
    )]
    NonFinite {
        /// Epoch (1-based) in which it happened.
        epoch: usize,
        /// Global optimiser step.
        step: usize,
        /// What became non-finite (the loss, or a named parameter).
        what: String,
        /// Where the last good checkpoint is (or that none was written yet).
        checkpoint: String,
    },
    /// A checkpoint cannot be read or does not fit the network.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file or run directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<snn_models::EngineError> for Error {
    fn from(e: snn_models::EngineError) -> Self {
        Self::Encode(e)
    }
}

impl From<DataError> for Error {
    /// Each data error becomes the variant of the same message (`Io`, `Csv`, `Data`, `Encode`,
    /// `Candle`), so a user matches one type whichever subsystem raised the error.
    fn from(e: DataError) -> Self {
        match e {
            DataError::Io { path, source } => Self::Io { path, source },
            DataError::Csv(e) => Self::Csv(e),
            DataError::Invalid(s) => Self::Data(s),
            DataError::Encode(e) => Self::Encode(e),
            DataError::Candle(e) => Self::Candle(e),
        }
    }
}

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
