//! Why a series or event file was refused: one sentence naming the file, the line or record,
//! and the field.
use std::path::PathBuf;

/// An error of the time-series and event-stream loaders.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeriesError {
    /// Reading the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A text file has a bad line: `where_` is e.g. `line 12` and `field` e.g. `channel 3, value 7`.
    #[error("{}, {where_}: {field}: {reason}", path.display())]
    Parse {
        /// The file involved.
        path: PathBuf,
        /// The line (1-based) or record, as words (`line 12`, `record 40`).
        where_: String,
        /// The field that is wrong.
        field: String,
        /// What is wrong, and how to fix it where that is known.
        reason: String,
    },
    /// The file as a whole cannot be used (no samples, no labels, inconsistent channels).
    #[error("{}: {reason}", path.display())]
    File {
        /// The file involved.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl SeriesError {
    /// A [`SeriesError::Parse`] at 1-based `line`.
    pub fn line(
        path: &std::path::Path,
        line: usize,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Parse {
            path: path.to_path_buf(),
            where_: format!("line {line}"),
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A [`SeriesError::Parse`] at 0-based binary `record`.
    pub fn record(
        path: &std::path::Path,
        record: usize,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Parse {
            path: path.to_path_buf(),
            where_: format!("record {record}"),
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A [`SeriesError::File`].
    pub fn file(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Self::File {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// Reads a whole file, gunzipping it when it starts with the gzip magic bytes `1f 8b`.
pub fn read_maybe_gz(path: &std::path::Path) -> Result<Vec<u8>, SeriesError> {
    use std::io::Read;
    let io = |source| SeriesError::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(io)?;
        Ok(out)
    } else {
        Ok(raw)
    }
}
