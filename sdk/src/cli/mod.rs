//! The `snn` command-line tool: one module per subcommand; `src/bin/snn.rs` only dispatches.
//!
//! Exit codes (also printed by `snn --help`):
//! - `0` success;
//! - `1` runtime failure: training stopped on NaN/Inf, a file could not be written, a tensor
//!   operation failed;
//! - `2` usage, configuration or data error: a bad option (clap also uses 2), a missing or
//!   malformed input file (config, CSV, checkpoint, model), an invalid config value, or a model
//!   refused by a limit such as `--max-ram`.
//!
//! Errors print as one line, `error: <what is wrong, naming the file, field or value>`, with no
//! backtrace.
use std::fmt;

pub mod eval;
pub mod export;
pub mod init;
pub mod init_series;
pub mod inspect;
pub mod keygen;
pub mod plot;
pub mod run;
pub mod series;
pub mod simulate;
pub mod train;
pub mod ui;

/// The exit codes, as documented in `snn --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  runtime failure (training stopped on NaN/Inf, a file could not be written, ...)
  2  usage, config or data error (bad option, missing or malformed config/CSV/checkpoint/model
     file, invalid config value, model refused by --max-ram)";

/// What kind of failure ended a command; decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Something went wrong while working (exit code 1).
    Runtime,
    /// The user's input is wrong: options, config, data, model or checkpoint files (exit code 2).
    Input,
}

/// A command failure: one sentence for the user and the exit code it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// Runtime (1) or input (2).
    pub kind: Kind,
    /// The message, naming the file, field or value at fault.
    pub message: String,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl CliError {
    /// An input error (exit code 2).
    pub fn input(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Input,
            message: message.into(),
        }
    }

    /// A runtime error (exit code 1).
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Runtime,
            message: message.into(),
        }
    }

    /// The process exit code: 1 runtime, 2 input.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Runtime => 1,
            Kind::Input => 2,
        }
    }

    /// Prefixes the message with `context: `.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

impl From<crate::train::Error> for CliError {
    fn from(e: crate::train::Error) -> Self {
        use crate::train::Error as E;
        let kind = match &e {
            E::Csv(_)
            | E::Config(_)
            | E::Network(_)
            | E::Data(_)
            | E::Encode(_)
            | E::Checkpoint { .. } => Kind::Input,
            E::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => Kind::Input,
            _ => Kind::Runtime,
        };
        Self {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<crate::data::DataError> for CliError {
    fn from(e: crate::data::DataError) -> Self {
        crate::train::Error::from(e).into()
    }
}

impl From<crate::train::config::ConfigError> for CliError {
    fn from(e: crate::train::config::ConfigError) -> Self {
        Self::input(e.to_string())
    }
}

impl From<crate::plot::PlotError> for CliError {
    fn from(e: crate::plot::PlotError) -> Self {
        use crate::plot::PlotError as P;
        let kind = match &e {
            P::Draw(_) | P::Png(_) | P::Write { .. } | P::Font => Kind::Runtime,
            _ => Kind::Input,
        };
        Self {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<crate::deploy::inspect::InspectError> for CliError {
    fn from(e: crate::deploy::inspect::InspectError) -> Self {
        Self::input(e.to_string())
    }
}

impl From<crate::deploy::simulate::SimError> for CliError {
    fn from(e: crate::deploy::simulate::SimError) -> Self {
        Self::input(e.to_string())
    }
}

impl From<crate::deploy::export::ExportError> for CliError {
    fn from(e: crate::deploy::export::ExportError) -> Self {
        match e {
            crate::deploy::export::ExportError::Sdk(e) => e.into(),
            other => Self::input(other.to_string()),
        }
    }
}

impl From<crate::net::NetworkError> for CliError {
    fn from(e: crate::net::NetworkError) -> Self {
        crate::train::Error::from(e).into()
    }
}

impl From<candle_core::Error> for CliError {
    fn from(e: candle_core::Error) -> Self {
        Self::runtime(format!("tensor operation failed: {e}"))
    }
}
