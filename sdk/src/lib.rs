//! Host SDK: train spiking networks on candle, quantise them and export them to the integer engine.
#![deny(missing_docs)]

pub mod fused;
pub mod init;
mod kernels;
pub mod layer;
pub mod lif;
pub mod network;
pub mod spike;
pub mod surrogate;
