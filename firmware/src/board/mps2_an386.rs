//! Arm MPS2-AN386 (Cortex-M4F), as emulated by `qemu-system-arm -M mps2-an386`.
//!
//! Link: CMSDK APB UART0 at `0x4000_4000` (QEMU's first `-serial`). Counter: SysTick on the
//! 25 MHz core clock with a wrap counter in its exception; under `-icount shift=0` one instruction
//! is one virtual nanosecond, so one tick is exactly 40 instructions and costs are reported in
//! instructions (resolution 40). DWT CYCCNT reads 0 under QEMU and is not used. defmt goes out
//! over semihosting; a panic (which the code is written never to reach) exits QEMU with failure.
use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SCB;
use cortex_m_rt::exception;
use snn_hal::protocol::CostUnit;
use snn_hal::{CycleCounter, IoLink, NoSpikeOutput};

/// Board name reported in `Info`.
pub const NAME: &str = "mps2-an386";
/// Largest model file accepted, bytes.
pub const MAX_MODEL_BYTES: usize = 256 * 1024;
/// Most neurons over all layers.
pub const MAX_NEURONS: usize = 8192;
/// Most neurons in one layer.
pub const MAX_LAYER_NEURONS: usize = 4096;
/// Largest input size.
pub const MAX_INPUTS: usize = 2048;

/// What `init` hands the firmware.
pub struct Board {
    /// Host link.
    pub link: IoLink<Uart>,
    /// Cost counter.
    pub counter: SysTickCounter,
    /// Spike output (none on the emulated board).
    pub spikes: NoSpikeOutput,
    /// Model slots (RAM that survives a reset).
    pub slots: Option<snn_hal::Slots<super::storage_mps2::Flash>>,
    /// The MPU (for the stack guard).
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
    p.SYST.set_clock_source(SystClkSource::Core);
    p.SYST.set_reload(RELOAD);
    p.SYST.clear_current();
    p.SYST.enable_interrupt();
    p.SYST.enable_counter();
    Board {
        link: IoLink(Uart::init()),
        counter: SysTickCounter(()),
        spikes: NoSpikeOutput,
        slots: super::storage_mps2::slots(),
        mpu: p.MPU,
    }
}

const UART0: usize = 0x4000_4000;
const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;

fn read_reg(offset: usize) -> u32 {
    // SAFETY: UART0 registers are valid, aligned MMIO words on this board; reads have no
    // side effect beyond DATA's (consuming the received byte, which is what the caller wants).
    unsafe { core::ptr::read_volatile((UART0 + offset) as *const u32) }
}

fn write_reg(offset: usize, value: u32) {
    // SAFETY: as above; the driver is the only user of UART0.
    unsafe { core::ptr::write_volatile((UART0 + offset) as *mut u32, value) }
}

/// CMSDK APB UART, polled.
pub struct Uart(());

impl Uart {
    fn init() -> Self {
        write_reg(BAUDDIV, 25_000_000 / 115_200);
        write_reg(CTRL, 0b11); // TX and RX enable, no interrupts
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
                while read_reg(STATE) & STATE_RX_FULL == 0 {}
            } else if read_reg(STATE) & STATE_RX_FULL == 0 {
                break;
            }
            *slot = read_reg(DATA) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for &b in buf {
            while read_reg(STATE) & STATE_TX_FULL != 0 {}
            write_reg(DATA, u32::from(b));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        while read_reg(STATE) & STATE_TX_FULL != 0 {}
        Ok(())
    }
}

const RELOAD: u32 = 0x00FF_FFFF;
/// Instructions per SysTick tick under `-icount shift=0` (1 ns per instruction, 25 MHz clock).
const INSTRUCTIONS_PER_TICK: u64 = 40;
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// SysTick extended to 64 bits by counting wraps: `ticks = wraps * 2^24 + (RELOAD - current)`.
pub struct SysTickCounter(());

impl CycleCounter for SysTickCounter {
    fn now(&mut self) -> u64 {
        let ticks = cortex_m::interrupt::free(|_| {
            let mut wraps = u64::from(WRAPS.load(Ordering::Relaxed));
            let mut current = cortex_m::peripheral::SYST::get_current();
            // A wrap that happened with interrupts off is pending, not yet counted: count it
            // and re-read the (post-wrap) current value.
            if SCB::is_pendst_pending() {
                wraps += 1;
                current = cortex_m::peripheral::SYST::get_current();
            }
            (wraps << 24) + u64::from(RELOAD - current)
        });
        ticks * INSTRUCTIONS_PER_TICK
    }
    fn unit(&self) -> CostUnit {
        CostUnit::Instructions
    }
}

/// Stops after a fault: exits QEMU with failure (the log says why).
pub fn fault_stop() -> ! {
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic");
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

use defmt_semihosting as _;
