//! Host SDK: train spiking networks on candle, quantise them and export them to the integer engine.
#![deny(missing_docs)]

pub mod atomic;
pub mod budget;
pub mod card;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod csv;
pub mod ctrnn;
pub mod data;
pub mod encode;
pub mod error;
pub mod export;
pub mod fused;
pub mod init;
pub mod inspect;
pub mod layer;
pub mod lif;
pub mod linear;
pub mod loss;
pub mod mask;
pub mod metrics;
pub mod network;
pub mod optim;
pub mod plot;
pub mod progress;
pub mod qat;
pub mod quant;
pub mod schedule;
pub mod simulate;
pub mod spike;
pub mod structure;
pub mod surrogate;
pub mod synthetic;
pub mod train;

pub use config::TrainConfig;
pub use data::{Dataset, Digits};
pub use error::{Error, Result};
pub use network::Network;
pub use train::{Report, Trainer};
