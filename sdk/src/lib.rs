//! Host SDK: train spiking neural networks on candle, quantise them and export them to the
//! integer engine.
//!
//! Network side (snnTorch names and defaults):
//! - [`network`]: `NetworkConfig` (TOML) and `Network` (parameters in a candle `VarMap`,
//!   `forward` over `[batch, time, inputs]`, `layer_params` for export);
//! - [`layer`]: one layer's configuration (`leaky`, `recurrent`, `synaptic`, reset, leak,
//!   threshold, learnable flags);
//! - [`surrogate`]: surrogate gradients of the spike (built-ins and a user trait);
//! - [`lif`]: the LIF recurrence, with the per-step autograd reference [`lif::lif_slow`];
//! - [`fused`]: the same recurrence as one candle op with a hand-written backward through time
//!   (what `Network::forward` runs; CPU, f32);
//! - [`spike`]: Heaviside-with-surrogate as a candle op; [`init`]: seeded initialisation.
#![deny(missing_docs)]

pub mod fused;
pub mod init;
mod kernels;
pub mod layer;
pub mod lif;
pub mod network;
pub mod spike;
pub mod surrogate;
