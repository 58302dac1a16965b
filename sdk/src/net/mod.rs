//! The spiking network: layers, their LIF dynamics, the spike and its surrogate gradients, the
//! fused BPTT op and its kernels, seeded initialisation (snnTorch names and defaults).
//!
//! Owns: [`network`] (`NetworkConfig` in TOML, `Network` with its parameters in a candle
//! `VarMap`, `forward` over `[batch, time, inputs]`, `layer_params` for export), [`layer`] (one
//! layer's configuration: `leaky`, `recurrent`, `synaptic`, reset, leak, threshold, learnable
//! flags), [`surrogate`] (built-in surrogate gradients and the user trait), [`spike`]
//! (Heaviside-with-surrogate as a candle op), [`lif`] (the recurrence, with the per-step autograd
//! reference [`lif::lif_slow`]), [`fused`] + `kernels` (the same recurrence over all `T` steps as
//! one candle op with a hand-written backward through time; CPU, f32) and [`init`] (PyTorch's
//! `nn.Linear` initialisation from a seed); [`mlp`] is the non-spiking ReLU MLP of the same
//! shape, the dense baseline. Raises [`NetworkError`].
//!
//! May import: [`crate::structure::mask`] (a layer carries its connectivity masks) and
//! [`crate::rng`]; never `data`, `train`, `loss`, `budget`, `deploy`, `plot` or `cli`.

mod error;
pub mod fused;
pub mod init;
mod kernels;
pub mod layer;
pub mod lif;
pub mod mlp;
pub mod network;
pub mod spike;
pub mod surrogate;

pub use error::{NetworkError, Result};
pub use network::{Network, NetworkConfig};
