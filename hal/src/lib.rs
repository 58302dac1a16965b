//! Hardware abstraction for the firmware: host link, spike output, cycle counter, inference
//! backend, and the protocol server that ties them together.
//!
//! Everything the device does with a request lives here, generic over small fallible traits
//! ([`link::Link`], [`counter::CycleCounter`], [`spike_out::SpikeOutput`], [`backend::Backend`]),
//! so it runs unchanged in the firmware and in host tests. Board support (UART and counter
//! drivers) lives in the firmware; the host side of the link (feature `std`) in [`host`].
//! Sensor drivers written against the `embedded-hal` bus traits live here ([`imu`]), with the
//! sensor-to-decision loop [`sensor_stream`] and the LED blink code [`decision_led`].
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backend;
pub mod counter;
pub mod cpu;
pub mod decision_led;
pub mod frame;
#[cfg(feature = "std")]
pub mod host;
pub mod imu;
pub mod link;
#[cfg(feature = "std")]
pub mod noise;
pub mod persist;
pub mod protocol;
pub mod ram_flash;
pub mod sensor_stream;
pub mod server;
pub mod slots;
pub mod spike_out;
#[cfg(feature = "std")]
pub mod synthetic;
pub mod wire;

pub use backend::{Backend, Limits};
pub use counter::{CycleCounter, NoCounter};
pub use cpu::{CpuBackend, CpuBuffers};
pub use link::{IoLink, Link, NbLink};
pub use persist::Persistent;
pub use server::{Device, Server};
pub use slots::Slots;
pub use spike_out::{NoSpikeOutput, PinSpikeOutput, SpikeOutput};
