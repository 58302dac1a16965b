//! Host SDK: train spiking neural networks on candle, quantise them and export them to the
//! integer engine.
//!
//! One folder per subsystem; imports point one way, from the top of this list down:
//!
//! - [`cli`]: the `snn` subcommands, one module each (uses everything below);
//! - [`plot`]: figures of a run (plotters, vendored font; imports nothing from the crate);
//! - [`deploy`]: quantisation, QAT, export, the model card, the host simulation, `inspect`;
//! - [`nir`]: NIR graphs in and out (`snn import`, `snn export --nir`; uses `train` and below);
//! - [`train`]: `TrainConfig`, the `Trainer` loop, optimiser, schedules, checkpoints, metrics;
//! - [`net`]: layers, LIF dynamics, spikes and surrogate gradients, the fused BPTT op;
//! - [`structure`]: connectivity masks, topology generators, the CTRNN;
//! - [`data`], [`loss`] and [`budget`]: data sets and spike encoders, losses, firing-rate
//!   budgets (`net` uses `structure`'s masks, `structure` hands recordings to `loss`; `data`,
//!   `loss` and `budget` import no other subsystem);
//! - shared leaves that import nothing from the crate: [`rng`] (the seeded generator) and
//!   [`runtime`] (process settings for a `main`).
//!
//! Each subsystem raises its own error type; all of them are re-exported below. [`Error`]
//! (`train`'s error) wraps the errors of the subsystems below `train`, so `?` turns any of them
//! into it.
//!
//! A user starts from [`Network`], [`TrainConfig`], [`Trainer`], the data sets ([`Digits`],
//! [`Dataset`]) and [`Error`], all re-exported here.
#![deny(missing_docs)]

pub mod budget;
pub mod cli;
pub mod data;
pub mod deploy;
pub mod loss;
pub mod net;
pub mod nir;
pub mod plot;
pub mod rng;
pub mod runtime;
pub mod structure;
pub mod train;

pub use data::{Dataset, Digits};
pub use net::Network;
pub use train::{Error, Report, Result, TrainConfig, Trainer};

// Every subsystem's error type, gathered.
pub use budget::BudgetError;
pub use cli::CliError;
pub use data::csv::CsvError;
pub use data::DataError;
pub use deploy::cost::CostError;
pub use deploy::export::ExportError;
pub use deploy::inspect::InspectError;
pub use deploy::quant::QuantError;
pub use deploy::simulate::SimError;
pub use loss::LossError;
pub use net::NetworkError;
pub use nir::NirError;
pub use plot::PlotError;
pub use structure::ctrnn::CtrnnError;
pub use structure::mask::MaskError;
pub use train::ConfigError;
