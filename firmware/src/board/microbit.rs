//! BBC micro:bit v1 (nRF51822, Cortex-M0, 256 KiB flash), as emulated by
//! `qemu-system-arm -M microbit -global nrf51-soc.sram-size=32768`: the RAM of the 32 KiB
//! nRF51822-QFAC rather than the micro:bit's 16 KiB, which cannot hold the zoo model's bytes,
//! its state and the ~8 KiB stack the request path takes (see `memory/microbit.x`).
//!
//! Link: UART0 at `0x4000_2000` (QEMU's first `-serial`), polled through its TXDRDY / RXDRDY
//! events. Counter: SysTick on the 16 MHz core clock; under `-icount shift=0` one tick is 62.5
//! instructions, so costs are reported in instructions (resolution 62.5). defmt goes out over
//! semihosting. RAM bounds the model: the exported zoo digits model (64-128-10, 10,093 bytes)
//! fits with room for the stack.
//!
//! Feature `sram-256k` (bench builds only) gives QEMU's nRF51 256 KiB of SRAM
//! (`memory/microbit-256k.x`, `-global nrf51-soc.sram-size=262144`; no such nRF51 exists) and
//! larger buffers, so the zoo series models fit and their streams are counted on the M0's
//! instruction set: the same code, so the same instructions, as on a chip with that much RAM.
use super::systick::SysTickCounter;
use snn_hal::protocol::CostUnit;
use snn_hal::{IoLink, NoSpikeOutput};

/// Board name reported in `Info`.
pub const NAME: &str = "microbit";
/// Largest model file accepted, bytes.
#[cfg(not(feature = "sram-256k"))]
pub const MAX_MODEL_BYTES: usize = 12 * 1024;
/// Largest model file accepted, bytes (bench build with 256 KiB of SRAM: the zoo series models).
#[cfg(feature = "sram-256k")]
pub const MAX_MODEL_BYTES: usize = 128 * 1024;
/// Most neurons over all layers.
#[cfg(not(feature = "sram-256k"))]
pub const MAX_NEURONS: usize = 256;
/// Most neurons over all layers (bench build with 256 KiB of SRAM).
#[cfg(feature = "sram-256k")]
pub const MAX_NEURONS: usize = 1024;
/// Most neurons in one layer.
#[cfg(not(feature = "sram-256k"))]
pub const MAX_LAYER_NEURONS: usize = 192;
/// Most neurons in one layer (bench build with 256 KiB of SRAM).
#[cfg(feature = "sram-256k")]
pub const MAX_LAYER_NEURONS: usize = 512;
/// Largest input size.
#[cfg(not(feature = "sram-256k"))]
pub const MAX_INPUTS: usize = 64;
/// Largest input size (bench build with 256 KiB of SRAM).
#[cfg(feature = "sram-256k")]
pub const MAX_INPUTS: usize = 256;
/// Most output neurons.
pub const MAX_OUTPUTS: usize = 32;

/// The cost counter: SysTick at 16 MHz counting instructions (`ticks * 125 / 2`).
pub type Counter = SysTickCounter<125, 2>;

/// What `init` hands the firmware.
pub struct Board {
    /// Host link.
    pub link: IoLink<Uart>,
    /// Cost counter.
    pub counter: Counter,
    /// Spike output (none on the emulated board).
    pub spikes: NoSpikeOutput,
    /// Model slots: none, so nothing is kept over a reset.
    pub slots: Option<snn_hal::Slots<super::NoFlash>>,
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
        link: IoLink(Uart::init()),
        counter: Counter::start(&mut p.SYST, CostUnit::Instructions),
        slots: None,
        spikes: NoSpikeOutput,
    }
}

const UART0: usize = 0x4000_2000;
const TASKS_STARTRX: usize = 0x000;
const TASKS_STARTTX: usize = 0x008;
const EVENTS_RXDRDY: usize = 0x108;
const EVENTS_TXDRDY: usize = 0x11C;
const ENABLE: usize = 0x500;
const RXD: usize = 0x518;
const TXD: usize = 0x51C;
const BAUDRATE: usize = 0x524;
const ENABLE_UART: u32 = 4;
const BAUD_115200: u32 = 0x01D7_E000;

fn read_reg(offset: usize) -> u32 {
    // SAFETY: UART0 registers are valid, aligned MMIO words on the nRF51; reads have no side
    // effect beyond RXD's (taking the received byte, which is what the caller wants).
    unsafe { core::ptr::read_volatile((UART0 + offset) as *const u32) }
}

fn write_reg(offset: usize, value: u32) {
    // SAFETY: as above; the driver is the only user of UART0.
    unsafe { core::ptr::write_volatile((UART0 + offset) as *mut u32, value) }
}

/// nRF51 UART0, polled.
pub struct Uart(());

impl Uart {
    fn init() -> Self {
        write_reg(BAUDRATE, BAUD_115200);
        write_reg(ENABLE, ENABLE_UART);
        write_reg(TASKS_STARTRX, 1);
        write_reg(TASKS_STARTTX, 1);
        Self(())
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let mut n = 0;
        for slot in buf.iter_mut() {
            if n == 0 {
                while read_reg(EVENTS_RXDRDY) == 0 {}
            } else if read_reg(EVENTS_RXDRDY) == 0 {
                break;
            }
            // Clear the event before taking the byte: taking it re-raises the event when more
            // bytes wait in the receive FIFO.
            write_reg(EVENTS_RXDRDY, 0);
            *slot = read_reg(RXD) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for &b in buf {
            write_reg(TXD, u32::from(b));
            while read_reg(EVENTS_TXDRDY) == 0 {}
            write_reg(EVENTS_TXDRDY, 0);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}
