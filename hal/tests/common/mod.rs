//! Set-up shared by the hal integration tests: the RAM a `CpuBackend` runs in, and a protocol
//! server over it with an in-memory link (no counter, no spike output, a "test" device).
// Each test crate uses a different part of this module.
#![allow(dead_code)]

use snn_hal::protocol::{MAX_DECISION_CLASSES, MAX_DECISION_RING};
use snn_hal::{CpuBackend, CpuBuffers, Device, NoCounter, NoSpikeOutput, Server};

/// The protocol server of the tests.
pub type Srv<'a> = Server<CpuBackend<'a>, NoCounter, NoSpikeOutput>;

/// Owned buffers for a `CpuBackend` (what a firmware keeps in statics), and decision storage.
pub struct Store {
    pub model: Vec<u8>,
    pub membrane: Vec<i32>,
    pub current: Vec<i32>,
    pub spikes: Vec<u16>,
    pub out: Vec<u16>,
    pub step: Vec<u16>,
    pub rule_counts: Vec<u32>,
    pub ring: Vec<u16>,
}

impl Store {
    /// `model_bytes` of model buffer, `neurons` of membrane and current, `spikes` spike slots
    /// and `step` per-step slots; 256 output counters; decision storage for the largest rules.
    pub fn sized(model_bytes: usize, neurons: usize, spikes: usize, step: usize) -> Self {
        Self {
            model: vec![0; model_bytes],
            membrane: vec![0; neurons],
            current: vec![0; neurons],
            spikes: vec![0; spikes],
            out: vec![0; 256],
            step: vec![0; step],
            rule_counts: vec![0; 3 * MAX_DECISION_CLASSES],
            ring: vec![0; MAX_DECISION_RING],
        }
    }

    /// The backend's buffers and the decision storage, borrowed apart.
    fn parts(&mut self) -> (CpuBuffers<'_>, &mut [u32], &mut [u16]) {
        let buffers = CpuBuffers {
            model: &mut self.model,
            membrane: &mut self.membrane,
            current: &mut self.current,
            spikes: &mut self.spikes,
            out_counts: &mut self.out,
            step: &mut self.step,
        };
        (buffers, &mut self.rule_counts, &mut self.ring)
    }

    /// A backend over these buffers, without decision storage.
    pub fn backend(&mut self) -> CpuBackend<'_> {
        CpuBackend::new(self.parts().0)
    }

    /// A server over [`Self::backend`] (streams without decisions).
    pub fn server(&mut self) -> Srv<'_> {
        Server::new(self.backend(), NoCounter, NoSpikeOutput, device())
    }

    /// A server whose backend has decision storage (streams with decisions).
    pub fn server_with_rules(&mut self) -> Srv<'_> {
        let (buffers, counts, ring) = self.parts();
        let backend = CpuBackend::new(buffers).with_rule_storage(counts, ring);
        Server::new(backend, NoCounter, NoSpikeOutput, device())
    }
}

/// The device a test server reports.
pub fn device() -> Device {
    Device {
        firmware: "test",
        board: "host",
        free_ram: 0,
        stack: None,
    }
}
