//! The Arm MPS2 boards as emulated by QEMU, one per core: AN385 (Cortex-M3), AN386 (Cortex-M4F),
//! AN500 (Cortex-M7) and AN505 (Cortex-M33, run in the Secure state it boots in).
//!
//! Link: CMSDK APB UART0 (QEMU's first `-serial`; at `0x4000_4000`, on the AN505 at its Secure
//! alias `0x5020_0000`). Counter: SysTick on the core clock (25 MHz; 20 MHz on the AN505) with a
//! wrap counter in its exception; under `-icount shift=0` one instruction is one virtual
//! nanosecond, so costs are reported in instructions (resolution 40; 50 on the AN505). defmt
//! goes out over semihosting.
use super::cmsdk_uart::Uart;
use super::systick::SysTickCounter;
use snn_hal::protocol::CostUnit;
use snn_hal::{IoLink, NoSpikeOutput};

#[cfg(feature = "board-mps2-an385")]
mod this {
    /// Board name reported in `Info`.
    pub const NAME: &str = "mps2-an385";
    pub const UART0: usize = 0x4000_4000;
    pub const CLOCK_HZ: u32 = 25_000_000;
}
#[cfg(feature = "board-mps2-an386")]
mod this {
    /// Board name reported in `Info`.
    pub const NAME: &str = "mps2-an386";
    pub const UART0: usize = 0x4000_4000;
    pub const CLOCK_HZ: u32 = 25_000_000;
}
#[cfg(feature = "board-mps2-an500")]
mod this {
    /// Board name reported in `Info`.
    pub const NAME: &str = "mps2-an500";
    pub const UART0: usize = 0x4000_4000;
    pub const CLOCK_HZ: u32 = 25_000_000;
}
#[cfg(feature = "board-mps2-an505")]
mod this {
    /// Board name reported in `Info`.
    pub const NAME: &str = "mps2-an505";
    pub const UART0: usize = 0x5020_0000;
    pub const CLOCK_HZ: u32 = 20_000_000;
}
pub use this::NAME;
use this::{CLOCK_HZ, UART0};

/// Largest model file accepted, bytes.
pub const MAX_MODEL_BYTES: usize = 256 * 1024;
/// Most neurons over all layers.
pub const MAX_NEURONS: usize = 8192;
/// Most neurons in one layer.
pub const MAX_LAYER_NEURONS: usize = 4096;
/// Largest input size.
pub const MAX_INPUTS: usize = 2048;
/// Most output neurons (the protocol's limit).
pub const MAX_OUTPUTS: usize = snn_hal::protocol::MAX_OUTPUTS;

/// Instructions per SysTick tick under `-icount shift=0`: `1e9 / CLOCK_HZ`.
const INSTRUCTIONS_PER_TICK: u64 = 1_000_000_000 / CLOCK_HZ as u64;

/// The cost counter: SysTick counting instructions.
pub type Counter = SysTickCounter<INSTRUCTIONS_PER_TICK, 1>;

/// What `init` hands the firmware.
pub struct Board {
    /// Host link.
    pub link: IoLink<Uart<UART0>>,
    /// Cost counter.
    pub counter: Counter,
    /// Spike output (none on the emulated board).
    pub spikes: NoSpikeOutput,
    /// Model slots (RAM that survives a reset).
    pub slots: Option<snn_hal::Slots<super::storage_mps2::Flash>>,
    /// The MPU (for the stack guard; the M33's ARMv8-M MPU is not programmed).
    #[cfg(feature = "mpu-guard")]
    pub mpu: cortex_m::peripheral::MPU,
}

/// Sets up UART0 and SysTick.
pub fn init() -> Board {
    let Some(mut p) = cortex_m::Peripherals::take() else {
        // Only reachable if init ran twice; the entry function calls it once.
        loop {
            cortex_m::asm::wfi();
        }
    };
    Board {
        link: IoLink(Uart::init(CLOCK_HZ)),
        counter: Counter::start(&mut p.SYST, CostUnit::Instructions),
        spikes: NoSpikeOutput,
        slots: super::storage_mps2::slots(),
        #[cfg(feature = "mpu-guard")]
        mpu: p.MPU,
    }
}
