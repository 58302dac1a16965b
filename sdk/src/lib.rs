//! Host SDK: train spiking networks on candle, quantise them and export them to the integer engine.
#![deny(missing_docs)]

pub mod budget;
pub mod ctrnn;
pub mod loss;
pub mod mask;
pub mod structure;
