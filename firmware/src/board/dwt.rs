//! The DWT cycle counter of the real Cortex-M3/M4/M7/M33 boards, extended to 64 bits.
use cortex_m::peripheral::{DCB, DWT};
use snn_hal::protocol::CostUnit;
use snn_hal::CycleCounter;

/// DWT CYCCNT extended to 64 bits: each read adds the wrapped difference since the last one
/// (exact as long as reads are less than 2^32 cycles, about 25 s at 168 MHz, apart while
/// measuring).
pub struct DwtCounter {
    high: u64,
    last: u32,
}

impl DwtCounter {
    /// Enables tracing and the cycle counter.
    pub fn start(dcb: &mut DCB, dwt: &mut DWT) -> Self {
        dcb.enable_trace();
        dwt.enable_cycle_counter();
        Self { high: 0, last: 0 }
    }
}

impl CycleCounter for DwtCounter {
    fn now(&mut self) -> u64 {
        let c = DWT::cycle_count();
        self.high += u64::from(c.wrapping_sub(self.last));
        self.last = c;
        self.high
    }
    fn unit(&self) -> CostUnit {
        CostUnit::Cycles
    }
}
