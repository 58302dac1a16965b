//! The model format and the one integer inference engine for spiking networks.
//!
//! `no_std`, no allocation to load or run a model, no panics on any input. The same code runs in
//! the host SDK's simulation and in the firmware, so their spike counts are equal by construction.
//! The byte format and the fixed-point arithmetic are specified in `FORMAT.md`.
//!
//! - [`decode`] checks a model file (magic, version, CRC-32, every length, index and range) and
//!   borrows a [`Model`] from its bytes; [`encode_to_slice`] / [`encode_to_vec`] write one.
//! - [`Engine`] runs a model over caller buffers sized by [`Requirements::of`]; [`encode`] turns
//!   `u8` features into input spikes the same way on the host and on the device.
//! - [`decision`] turns the output spikes of each step into a class: final count, sliding
//!   window, first-to-threshold (the same rules on the host and on the device).
//! - [`dense`] is the non-spiking int8 MLP baseline: its own small file format and kernels.
//! - With the `alloc` feature, [`owned::OwnedModel`] builds or edits a model in `Vec`s (SDK
//!   export, tools) and borrows it as a [`Model`]; [`owned::EngineBuffers`] owns an engine's
//!   state buffers sized for a model.
#![cfg_attr(not(feature = "std"), no_std)]
// `unsafe` is forbidden but in three marked places, all inline assembly: with feature `arm-dsp`
// on an Arm target the engine's synaptic loop (`dsp.rs`) and the dense baseline's kernel
// (`dense/dsp.rs`); on ARMv6-M (`cfg(armv6m)`, set by `build.rs`; without `arm-dsp`) the
// M0's aligned-word loop (`armv6m.rs`).
#![cfg_attr(
    not(any(all(feature = "arm-dsp", target_arch = "arm"), armv6m)),
    forbid(unsafe_code)
)]
#![cfg_attr(
    any(all(feature = "arm-dsp", target_arch = "arm"), armv6m),
    deny(unsafe_code)
)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod codec;
pub mod crc;
pub mod decision;
pub mod dense;
// ARMv6-M (Cortex-M0/M0+): the aligned-word block sums' loop in assembly.
#[cfg(all(armv6m, not(feature = "arm-dsp")))]
mod armv6m;
#[cfg(all(feature = "arm-dsp", target_arch = "arm"))]
mod dsp;
pub mod encode;
pub mod engine;
pub mod error;
pub mod fixed;
pub mod format;
pub mod layout;
#[cfg(feature = "alloc")]
pub mod owned;
pub mod signed;
pub mod validate;
// The portable dense loop's aligned-word reads (M0, RV32; compiled on the host for its tests);
// the Arm cores with unaligned loads (M3, and the DSP cores' `dsp.rs`) never take it.
#[cfg(not(all(
    target_arch = "arm",
    any(target_has_atomic = "32", feature = "arm-dsp")
)))]
mod words;

#[cfg(feature = "alloc")]
pub use codec::encode_to_vec;
pub use codec::{decode, encode_to_slice};
pub use engine::{Carry, Engine, Requirements, Stats};
pub use error::{EngineError, FormatError};
pub use format::*;
pub use layout::Layout;
#[cfg(feature = "alloc")]
pub use owned::{
    EngineBuffers, LeVec, OwnedChannels, OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel,
    OwnedSynapse, OwnedSynapses, OwnedWeights,
};
