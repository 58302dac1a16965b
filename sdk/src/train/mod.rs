//! Training: the TOML configuration, the `Trainer` loop, Adam/AdamW, learning-rate schedules,
//! checkpoints, metrics and progress output.
//!
//! Owns: [`config`] (`TrainConfig`, TOML with defaults, nearest-key suggestions, validation;
//! raises [`config::ConfigError`]), [`trainer`] (`Trainer`: encode → forward → loss → backward →
//! clip → Adam, evaluation, resume, the NaN/Inf stop), [`optim`], [`schedule`], [`checkpoint`]
//! (safetensors + config, atomic), [`metrics`] (`metrics.jsonl`), [`progress`] and [`mlp`] (the
//! non-spiking dense baseline trained on the same data and split).
//!
//! Also the crate's main error, [`Error`] (wrapping the errors of the subsystems below, with
//! training's own failures), and [`atomic`] file writes (used by checkpoints, metrics, export
//! and `snn init`).
//!
//! May import: [`crate::net`], [`crate::data`], [`crate::loss`], [`crate::budget`],
//! [`crate::structure`] and [`crate::rng`]; never `deploy`, `plot` or `cli`.

pub mod atomic;
pub mod checkpoint;
pub mod config;
mod error;
pub mod metrics;
pub mod mlp;
pub mod optim;
pub mod progress;
pub mod schedule;
pub mod series;
pub mod trainer;

pub use config::{ConfigError, TrainConfig};
pub use error::{Error, Result};
pub use trainer::{Report, Trainer};
