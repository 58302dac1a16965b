//! SysTick as a cost counter: instructions on the emulated Arm boards, cycles on a real
//! Cortex-M0+ (which has no DWT cycle counter).
//!
//! Under `qemu -icount shift=0` one instruction is one virtual nanosecond, so a SysTick on a core
//! clock of `f` Hz ticks every `1e9 / f` instructions: `instructions = ticks * NUM / DEN` with
//! `NUM / DEN = 1e9 / f` (40/1 at 25 MHz, 50/1 at 20 MHz, 125/2 at 16 MHz). DWT CYCCNT reads 0
//! under QEMU and is not used. On real hardware SysTick on the core clock counts cycles
//! (`NUM = DEN = 1`).
use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{SCB, SYST};
use cortex_m_rt::exception;
use snn_hal::protocol::CostUnit;
use snn_hal::CycleCounter;

const RELOAD: u32 = 0x00FF_FFFF;
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    // Only this handler writes WRAPS, and it cannot preempt itself: a load and a store are
    // enough (Cortex-M0 has no atomic read-modify-write).
    WRAPS.store(
        WRAPS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// SysTick extended to 64 bits by counting wraps: `ticks = wraps * 2^24 + (RELOAD - current)`,
/// reported as `ticks * NUM / DEN` in `unit`.
pub struct SysTickCounter<const NUM: u64, const DEN: u64> {
    unit: CostUnit,
}

impl<const NUM: u64, const DEN: u64> SysTickCounter<NUM, DEN> {
    /// Starts SysTick on the core clock with its wrap interrupt; costs are reported in `unit`.
    pub fn start(syst: &mut SYST, unit: CostUnit) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        Self { unit }
    }
}

impl<const NUM: u64, const DEN: u64> CycleCounter for SysTickCounter<NUM, DEN> {
    fn now(&mut self) -> u64 {
        let ticks = cortex_m::interrupt::free(|_| {
            let mut wraps = u64::from(WRAPS.load(Ordering::Relaxed));
            let mut current = SYST::get_current();
            // A wrap that happened with interrupts off is pending, not yet counted: count it
            // and re-read the (post-wrap) current value.
            if SCB::is_pendst_pending() {
                wraps += 1;
                current = SYST::get_current();
            }
            (wraps << 24) + u64::from(RELOAD - current)
        });
        ticks * NUM / DEN
    }
    fn unit(&self) -> CostUnit {
        self.unit
    }
}
