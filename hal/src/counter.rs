//! The cost counter: cycles on real silicon, instructions under an emulator.
use crate::protocol::CostUnit;

/// A free-running counter read around each inference.
pub trait CycleCounter {
    /// Current value in [`CycleCounter::unit`]s; differences of two reads give the cost.
    fn now(&mut self) -> u64;
    /// What the counter counts.
    fn unit(&self) -> CostUnit;
}

/// No counter: every cost is 0.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCounter;

impl CycleCounter for NoCounter {
    fn now(&mut self) -> u64 {
        0
    }
    fn unit(&self) -> CostUnit {
        CostUnit::None
    }
}
