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
#[cfg(feature = "dense-bench")]
mod dense_bench;
#[cfg(feature = "imu")]
mod sensor;
mod stack;

#[cfg(all(feature = "imu", not(feature = "board-nucleo-f446re")))]
compile_error!("feature `imu` needs `board-nucleo-f446re` (the X-NUCLEO-IKS01A3 shield's board)");

use board::{MAX_INPUTS, MAX_LAYER_NEURONS, MAX_MODEL_BYTES, MAX_NEURONS, MAX_OUTPUTS};
use snn_hal::protocol::{MAX_DECISION_CLASSES, MAX_DECISION_RING};
use snn_hal::{Backend, CpuBackend, CpuBuffers, Device, Persistent, Server};
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
/// Storage of a stream's decision rules: three counts per class, and the window's ring.
static RULE_COUNTS: ConstStaticCell<[u32; 3 * MAX_DECISION_CLASSES]> =
    ConstStaticCell::new([0; 3 * MAX_DECISION_CLASSES]);
static RULE_RING: ConstStaticCell<[u16; MAX_DECISION_RING]> =
    ConstStaticCell::new([0; MAX_DECISION_RING]);

// `PUBLIC_KEY`: the Ed25519 key uploads must be signed with (`SNN_FW_PUBKEY`, see build.rs).
#[cfg(feature = "signed-models")]
include!(concat!(env!("OUT_DIR"), "/public_key.rs"));

/// Boots the board, arms the stack guard and paints the stack, restores a stored model (or
/// loads the built-in one), and serves the host link forever.
#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(feature = "board-virt-rv32", riscv_rt::entry)]
#[cfg_attr(feature = "board-esp32c3", esp_hal::main)]
#[cfg_attr(feature = "imu", allow(unreachable_code, unused_variables))]
fn main() -> ! {
    #[cfg_attr(not(feature = "mpu-guard"), allow(unused_mut))]
    let mut b = board::init();
    #[cfg(feature = "mpu-guard")]
    stack::init(&mut b.mpu);
    #[cfg(not(feature = "mpu-guard"))]
    stack::init();
    #[cfg(feature = "stack-overflow-test")]
    {
        defmt::info!("stack-overflow-test: recursing until the guard");
        let _ = stack::overflow(0);
    }
    // With a sensor the board classifies what it feels instead of serving the link.
    #[cfg(feature = "imu")]
    sensor::run(
        b,
        BUILTIN_MODEL,
        sensor::Buffers {
            membrane: MEMBRANE.take(),
            current: CURRENT.take(),
            spikes: SPIKES.take(),
            out_counts: OUT_COUNTS.take(),
        },
    );
    #[cfg(feature = "dense-bench")]
    dense_bench::run(&mut b.counter);
    let device = Device {
        firmware: env!("CARGO_PKG_VERSION"),
        board: board::NAME,
        free_ram: board::free_ram(),
        stack: Some(stack::usage),
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
    #[cfg_attr(not(feature = "signed-models"), allow(unused_mut))]
    let mut cpu = CpuBackend::new(CpuBuffers {
        model: MODEL.take(),
        membrane: MEMBRANE.take(),
        current: CURRENT.take(),
        spikes: SPIKES.take(),
        out_counts: OUT_COUNTS.take(),
        step: STEP.take(),
    })
    .with_rule_storage(RULE_COUNTS.take(), RULE_RING.take());
    #[cfg(feature = "signed-models")]
    if let Some(key) = PUBLIC_KEY {
        cpu.require_signatures(key);
        defmt::info!("models must be signed (Ed25519)");
    }
    let mut backend = Persistent::new(cpu, b.slots);
    // The newest valid stored model comes first; a built-in model only when none is stored.
    let restored = match backend.restore() {
        Ok(Some((slot, m))) => {
            defmt::info!(
                "stored model {=str} restored from slot {} (generation {}): {} bytes",
                m.name.as_str(),
                slot.index,
                slot.generation,
                m.bytes
            );
            true
        }
        Ok(None) => false,
        Err(e) => {
            defmt::error!("stored model refused: {=str}", e.reason.as_str());
            false
        }
    };
    let mut server = Server::new(backend, b.counter, b.spikes, device);
    if !BUILTIN_MODEL.is_empty() && server.backend_mut().model().is_none() && !restored {
        match server.backend_mut().inner_mut().load(BUILTIN_MODEL) {
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
        if let Err(e) = server.poll(&mut link) {
            defmt::warn!("link error: {}", defmt::Debug2Format(&e));
        }
        if server.take_reset() {
            defmt::info!("reset requested over the link");
            board::reset();
        }
    }
}
