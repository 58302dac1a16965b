//! Deployment: from a trained float network to the integer engine's model file, and back to
//! check it (`snn export` / `simulate` / `inspect`).
//!
//! Owns: [`quant`] (post-training quantisation: per-layer power-of-two shift, i8/i4, Q0.16 leak,
//! every fixed-point rule of the export), [`qat`] (quantisation-aware fine-tuning, fake
//! quantisation with a straight-through estimator), [`export`] (calibration, dense or CSR layout,
//! evaluation, the model file written atomically), [`card`] (the JSON model card),
//! [`simulate`] (the `snn_models` engine over a data set, and the float reference on the same
//! spikes), [`decide`] (the decision rules of `snn_models::decision` per sample: accuracy and
//! mean latency of final count, sliding window and first to threshold), [`cost`] (instructions and time per inference on a core or board, from the per-core
//! fits of `cargo xtask bench-fw`), [`inspect`] (a model file's header and layer table) and
//! [`signing`] (Ed25519 key pairs and signed model files).
//!
//! May import: [`crate::train`] and everything below it; never `plot` or `cli`. Integer
//! semantics are never re-implemented here: they come from `snn_models`.

pub mod card;
pub mod cost;
pub mod decide;
pub mod export;
pub mod inspect;
pub mod qat;
pub mod quant;
pub mod series;
pub mod signing;
pub mod simulate;
