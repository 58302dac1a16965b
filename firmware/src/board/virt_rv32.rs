//! QEMU's `virt` RISC-V board with one RV32IMAC hart (`qemu-system-riscv32 -M virt -bios none`).
//!
//! Link: the NS16550A UART at `0x1000_0000` (QEMU's first `-serial`), polled. Counter: the
//! `minstret` CSR, which under `-icount shift=0` QEMU derives from its instruction count, so
//! costs are exact instructions (resolution 1). defmt frames and the panic exit go over RISC-V
//! semihosting (`-semihosting-config enable=on,target=native`), like the Arm boards'.
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use semihosting::io::Write as _;
use snn_hal::protocol::CostUnit;
use snn_hal::{CycleCounter, IoLink, NoSpikeOutput};

/// Board name reported in `Info`.
pub const NAME: &str = "virt-rv32";
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

/// What `init` hands the firmware.
pub struct Board {
    /// Host link.
    pub link: IoLink<Uart>,
    /// Cost counter.
    pub counter: InstretCounter,
    /// Spike output (none on the emulated board).
    pub spikes: NoSpikeOutput,
    /// Model slots: none, so nothing is kept over a reset.
    pub slots: Option<snn_hal::Slots<super::NoFlash>>,
}

/// Sets up nothing that QEMU has not: its UART needs no configuration, `minstret` runs.
pub fn init() -> Board {
    Board {
        link: IoLink(Uart(())),
        counter: InstretCounter(()),
        slots: None,
        spikes: NoSpikeOutput,
    }
}

/// Retired instructions, from the 64-bit `minstret` CSR pair.
pub struct InstretCounter(());

impl CycleCounter for InstretCounter {
    fn now(&mut self) -> u64 {
        riscv::register::minstret::read64()
    }
    fn unit(&self) -> CostUnit {
        CostUnit::Instructions
    }
}

const UART0: usize = 0x1000_0000;
const RBR_THR: usize = 0;
const LSR: usize = 5;
const LSR_DATA_READY: u8 = 1 << 0;
const LSR_THR_EMPTY: u8 = 1 << 5;

fn read_reg(offset: usize) -> u8 {
    // SAFETY: the UART's byte registers are valid MMIO on this board; reads have no side effect
    // beyond RBR's (taking the received byte, which is what the caller wants).
    unsafe { core::ptr::read_volatile((UART0 + offset) as *const u8) }
}

fn write_reg(offset: usize, value: u8) {
    // SAFETY: as above; the driver is the only user of the UART.
    unsafe { core::ptr::write_volatile((UART0 + offset) as *mut u8, value) }
}

/// NS16550A UART, polled.
pub struct Uart(());

impl embedded_io::ErrorType for Uart {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let mut n = 0;
        for slot in buf.iter_mut() {
            if n == 0 {
                while read_reg(LSR) & LSR_DATA_READY == 0 {}
            } else if read_reg(LSR) & LSR_DATA_READY == 0 {
                break;
            }
            *slot = read_reg(RBR_THR);
            n += 1;
        }
        Ok(n)
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for &b in buf {
            while read_reg(LSR) & LSR_THR_EMPTY == 0 {}
            write_reg(RBR_THR, b);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        while read_reg(LSR) & LSR_THR_EMPTY == 0 {}
        Ok(())
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic");
    semihosting::process::exit(1)
}

/// defmt's global logger: frames go to the host's stdout over semihosting.
#[defmt::global_logger]
struct Logger;

/// The logger's state; only touched inside the critical section `acquire` opens.
struct LoggerState {
    taken: AtomicBool,
    restore: UnsafeCell<critical_section::RestoreState>,
    encoder: UnsafeCell<defmt::Encoder>,
    out: UnsafeCell<Option<semihosting::io::Stdout>>,
}

// SAFETY: every access to the cells happens between `acquire` and `release`, inside one
// critical section on a single hart, and `taken` refuses re-entry.
unsafe impl Sync for LoggerState {}

static LOGGER: LoggerState = LoggerState {
    taken: AtomicBool::new(false),
    restore: UnsafeCell::new(critical_section::RestoreState::invalid()),
    encoder: UnsafeCell::new(defmt::Encoder::new()),
    out: UnsafeCell::new(None),
};

/// The logger's encoder and the host's stdout (opened on first use).
///
/// # Safety
/// Only between `acquire` and `release` (exclusive access inside the critical section), and
/// only one pair alive at a time.
unsafe fn parts() -> (&'static mut defmt::Encoder, impl FnMut(&[u8])) {
    // SAFETY: the caller holds the critical section and the `taken` flag.
    let (encoder, out) = unsafe { (&mut *LOGGER.encoder.get(), &mut *LOGGER.out.get()) };
    if out.is_none() {
        *out = semihosting::io::stdout().ok();
    }
    let emit = move |bytes: &[u8]| {
        if let Some(o) = out.as_mut() {
            let _ = o.write_all(bytes);
        }
    };
    (encoder, emit)
}

// SAFETY: defmt calls acquire / write / flush / release in that discipline; the state is used
// only while the critical section taken in `acquire` is held.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        // SAFETY: released in `release`, the only place the state is given back.
        let restore = unsafe { critical_section::acquire() };
        if LOGGER.taken.load(Ordering::Relaxed) {
            // Re-entrant logging can only come from a panic while logging: fail the run.
            semihosting::process::exit(1)
        }
        LOGGER.taken.store(true, Ordering::Relaxed);
        // SAFETY: inside the critical section, and `taken` guarantees exclusive access.
        unsafe {
            LOGGER.restore.get().write(restore);
            let (encoder, emit) = parts();
            encoder.start_frame(emit);
        }
    }

    unsafe fn flush() {}

    unsafe fn release() {
        // SAFETY: `acquire` took the section and marked the state taken.
        unsafe {
            let (encoder, emit) = parts();
            encoder.end_frame(emit);
            let restore = LOGGER.restore.get().read();
            LOGGER.taken.store(false, Ordering::Relaxed);
            critical_section::release(restore);
        }
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: called between `acquire` and `release`.
        unsafe {
            let (encoder, emit) = parts();
            encoder.write(bytes, emit);
        }
    }
}
