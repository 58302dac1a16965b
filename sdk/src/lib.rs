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
//!
//! Training side:
//! - [`data`] (bundled digits, stratified split, `u8` scaling, batches) and [`csv`] (CSV tables);
//! - [`encode`]: spike tensors through the device's own encoder (`snn_models::encode`);
//! - [`config`]: the TOML training config; [`train`]: the `Trainer` loop; [`optim`] (Adam/AdamW),
//!   [`schedule`] (learning-rate schedules), [`checkpoint`], [`metrics`], [`progress`],
//!   [`atomic`] (atomic file writes), [`error`];
//! - [`loss`] (losses) and [`budget`] (firing-rate budgets).
//!
//! Device side (`snn export` / `simulate` / `inspect`):
//! - [`quant`]: post-training quantisation (per-layer power-of-two shift, i8/i4, Q0.16 leak);
//! - [`qat`]: quantisation-aware fine-tuning (fake quantisation, straight-through estimator);
//! - [`export`]: calibration, model layout (dense or CSR), evaluation, atomic writes;
//! - [`card`]: the JSON model card; [`simulate`]: the integer engine and the float reference
//!   on the host; [`inspect`]: a model file's header and layer table.
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
mod kernels;
pub mod layer;
pub mod lif;
pub mod loss;
pub mod mask;
pub mod metrics;
pub mod network;
pub mod optim;
pub mod plot;
pub mod progress;
pub mod qat;
pub mod quant;
pub mod runtime;
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
