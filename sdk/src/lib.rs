//! Host SDK: train spiking neural networks on candle, quantise them and export them to the integer engine.
#![deny(missing_docs)]

pub mod card;
pub mod export;
pub mod init;
pub mod inspect;
pub mod layer;
pub mod lif;
pub mod network;
pub mod quant;
pub mod simulate;
pub mod spike;
pub mod surrogate;
