//! Data: CSV tables, the bundled digits and other data sets, the stratified split, `u8` feature
//! scaling, batches, seeded synthetic data and the spike encoders that turn samples into the
//! device's own spikes.
//!
//! Owns: [`csv`] (the CSV reader and its line/column errors), [`dataset`] (`Dataset`, `Digits`,
//! `Split`, `Samples`, `Scaler`), [`synthetic`] (seeded data of any shape), [`encode`] (spike
//! tensors from `snn_models::encode`, the encoder the device runs). Raises [`DataError`].
//!
//! May import: [`crate::rng`] and `snn_models`; never `net`, `train`, `loss`, `budget`,
//! `structure`, `deploy`, `plot` or `cli`.

pub mod csv;
pub mod dataset;
pub mod encode;
mod error;
pub mod series;
pub mod synthetic;

pub use dataset::{Dataset, Digits, Samples, Scaler, Scaling, Split, SplitMix64, DIGITS_CSV_GZ};
pub use error::{DataError, Result};
