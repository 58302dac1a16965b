//! Host SDK: train spiking networks on candle, quantise them and export them to the integer engine.
#![deny(missing_docs)]
pub mod card;
pub mod export;
pub mod inspect;
pub mod quant;
pub mod simulate;
