//! The data subsystem's error: every failure names the file, line or value at fault.
use std::path::PathBuf;

use super::csv::CsvError;

/// An error of reading, splitting, generating or encoding data. Gathered into
/// [`crate::train::Error`] (each variant becomes the crate error's variant of the same message).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Reading a data file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A CSV file is malformed (file, line, column and text are in the message).
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// A data set cannot be used as asked (too few rows, a class missing, ...).
    #[error("data: {0}")]
    Invalid(String),
    /// The shared encoder of `snn-models` refused the input.
    #[error("spike encoding failed: {0}")]
    Encode(#[from] snn_models::EngineError),
    /// Building a spike tensor failed.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

impl DataError {
    /// A [`DataError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result with the data subsystem's [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;
