//! Hardware abstraction for the firmware: host link, spike output, cycle counter, inference backend.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
