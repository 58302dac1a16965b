//! Firmware: boots the board, loads the built-in model if any, and serves the host link.
//!
//! Static memory only: the model bytes and every engine buffer are fixed arrays sized per board
//! (`board::MAX_*`), handed out once as `&'static mut` by `ConstStaticCell::take` (the entry
//! function runs once, so no take can fail). Every request is answered by `snn_hal::Server`; nothing on the
//! request path can panic, and a malformed frame only produces an `Error` reply.
#![no_std]
#![no_main]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod board;

use board::{MAX_INPUTS, MAX_LAYER_NEURONS, MAX_MODEL_BYTES, MAX_NEURONS, MAX_OUTPUTS};
use snn_hal::{CpuBackend, CpuBuffers, Device, Server};
use static_cell::ConstStaticCell;

/// A model built in at compile time (`SNN_FW_MODEL`, see build.rs); empty when none.
static BUILTIN_MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin_model.bin"));

static MODEL: ConstStaticCell<[u8; MAX_MODEL_BYTES]> = ConstStaticCell::new([0; MAX_MODEL_BYTES]);
static MEMBRANE: ConstStaticCell<[i32; MAX_NEURONS]> = ConstStaticCell::new([0; MAX_NEURONS]);
static CURRENT: ConstStaticCell<[i32; MAX_LAYER_NEURONS]> =
    ConstStaticCell::new([0; MAX_LAYER_NEURONS]);
static SPIKES: ConstStaticCell<[u16; MAX_INPUTS + MAX_NEURONS]> =
    ConstStaticCell::new([0; MAX_INPUTS + MAX_NEURONS]);
static OUT_COUNTS: ConstStaticCell<[u16; MAX_OUTPUTS]> = ConstStaticCell::new([0; MAX_OUTPUTS]);
static STEP: ConstStaticCell<[u16; MAX_INPUTS]> = ConstStaticCell::new([0; MAX_INPUTS]);

/// Boots the board, loads the built-in model if any, and serves the host link forever.
#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(feature = "board-virt-rv32", riscv_rt::entry)]
#[cfg_attr(feature = "board-esp32c3", esp_hal::main)]
fn main() -> ! {
    let b = board::init();
    let device = Device {
        firmware: env!("CARGO_PKG_VERSION"),
        board: board::NAME,
        free_ram: board::free_ram(),
    };
    defmt::info!(
        "snn-firmware {} on {}: models up to {} bytes, {} neurons ({} per layer), {} inputs; {} bytes RAM free",
        device.firmware,
        device.board,
        MAX_MODEL_BYTES,
        MAX_NEURONS,
        MAX_LAYER_NEURONS,
        MAX_INPUTS,
        device.free_ram
    );
    let backend = CpuBackend::new(CpuBuffers {
        model: MODEL.take(),
        membrane: MEMBRANE.take(),
        current: CURRENT.take(),
        spikes: SPIKES.take(),
        out_counts: OUT_COUNTS.take(),
        step: STEP.take(),
    });
    let mut server = Server::new(backend, b.counter, b.spikes, device);
    if !BUILTIN_MODEL.is_empty() {
        match server.backend_mut().load(BUILTIN_MODEL) {
            Ok(m) => defmt::info!(
                "built-in model {=str} loaded: {} bytes, {} neurons",
                m.name.as_str(),
                m.bytes,
                m.neurons
            ),
            Err(e) => defmt::error!("built-in model refused: {=str}", e.reason.as_str()),
        }
    }
    let mut link = b.link;
    loop {
        // A link error (e.g. a UART overrun on real hardware) is logged and serving goes on.
        if let Err(e) = server.serve(&mut link) {
            defmt::warn!("link error: {}", defmt::Debug2Format(&e));
        }
    }
}
