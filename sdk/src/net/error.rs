//! The network's error: a bad configuration value (named by its path) or a bad input.

/// Errors from building or running a [`Network`](super::Network).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// A configuration value is invalid; `field` is its path (e.g. `layers[1].beta`).
    #[error("{field}: {message}")]
    Invalid {
        /// Path of the offending field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// An input tensor has the wrong shape or type.
    #[error("input: {0}")]
    Input(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl NetworkError {
    /// An [`NetworkError::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Result with a [`NetworkError`].
pub type Result<T, E = NetworkError> = std::result::Result<T, E>;
