//! Set-up shared by the hal integration tests: the RAM a `CpuBackend` runs in, a protocol
//! server over it with an in-memory link (no counter, no spike output, a "test" device), and
//! the host's side of that link: request frames in, replies out, model uploads.
// Each test crate uses a different part of this module.
#![allow(dead_code)]

use snn_hal::host::Client;
use snn_hal::protocol::{
    ErrorCode, Reply, Request, CHUNK, MAX_DECISION_CLASSES, MAX_DECISION_RING,
};
use snn_hal::wire;
use snn_hal::{CpuBackend, CpuBuffers, Device, NoCounter, NoSpikeOutput, Server};
use snn_models::{decode, EngineBuffers};
use std::sync::atomic::{AtomicU16, Ordering};

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

/// Sequence number of the next request frame.
static SEQ: AtomicU16 = AtomicU16::new(0);

/// The request's frame with a fresh sequence number.
pub fn frame(req: &Request<'_>) -> Vec<u8> {
    Client::frame(SEQ.fetch_add(1, Ordering::Relaxed), req).unwrap()
}

/// Decodes one reply frame (terminator included) and checks its envelope: `(seq, reply)`.
pub fn reply_of(frame: &[u8]) -> (u16, Reply) {
    let mut f = frame[..frame.len() - 1].to_vec();
    let c = wire::decode(&mut f).unwrap();
    (c.seq, postcard::from_bytes::<Reply>(c.msg).unwrap())
}

/// Feeds bytes to the server one at a time; returns every reply they produced.
pub fn feed(s: &mut Srv<'_>, bytes: &[u8]) -> Vec<Reply> {
    let mut out = Vec::new();
    for &b in bytes {
        if let Some(r) = s.push(b) {
            out.push(reply_of(r).1);
        }
    }
    out
}

/// Sends one request and requires exactly one reply.
pub fn call(s: &mut Srv<'_>, req: &Request<'_>) -> Reply {
    let mut r = feed(s, &frame(req));
    assert_eq!(r.len(), 1, "one reply per request");
    r.pop().unwrap()
}

/// The code of an error reply, which must carry a reason; panics on any other reply.
pub fn code(r: &Reply) -> ErrorCode {
    match r {
        Reply::Error(e) => {
            assert!(!e.reason.is_empty(), "error replies carry a reason");
            e.code
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Uploads `model` announced with `crc` (`LoadBegin`, every `CHUNK`, each acknowledged) and
/// returns the reply to `LoadEnd`.
pub fn upload(s: &mut Srv<'_>, model: &[u8], crc: u32) -> Reply {
    let begin = Request::LoadBegin {
        len: model.len() as u32,
        crc,
    };
    assert!(matches!(call(s, &begin), Reply::Ack { received: 0 }));
    for (i, bytes) in model.chunks(CHUNK).enumerate() {
        let offset = (i * CHUNK) as u32;
        let r = call(s, &Request::LoadChunk { offset, bytes });
        assert!(matches!(r, Reply::Ack { .. }), "{r:?}");
    }
    call(s, &Request::LoadEnd)
}

/// The host engine's output counts and spikes per layer for one sample of `features`.
pub fn host_run(model: &[u8], features: &[u8], seed: u32) -> (Vec<u16>, Vec<u32>) {
    let m = decode(model).unwrap();
    let mut state = EngineBuffers::for_model(&m);
    let mut e = state.engine(&m).unwrap();
    e.run_features(features, seed).unwrap();
    let layers = e.stats().layer_spikes[..m.layers.len()].to_vec();
    (e.output_counts().to_vec(), layers)
}
