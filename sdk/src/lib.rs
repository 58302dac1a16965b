//! Host SDK: train spiking networks on candle, quantise them and export them to the integer engine.
#![deny(missing_docs)]

pub mod budget;
pub mod ctrnn;
pub mod fused;
pub mod init;
pub mod layer;
pub mod lif;
pub mod loss;
pub mod mask;
pub mod network;
pub mod plot;
pub mod spike;
pub mod structure;
pub mod surrogate;
