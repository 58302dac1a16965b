//! The request dispatcher and upload state machine, generic over link, backend, counter and
//! spike output, so the exact code the firmware runs is unit-tested on the host.
use crate::backend::Backend;
use crate::counter::CycleCounter;
use crate::frame::{Frame, FrameBuffer};
use crate::link::Link;
use crate::protocol::{
    ErrorCode, ErrorReply, InferResult, Info, Request, StreamReply, MAX_FRAME, PROTOCOL_VERSION,
};
use crate::spike_out::SpikeOutput;
use crate::wire::{self, WireError};
use heapless::Vec;

/// Largest reply message before the envelope ([`crate::protocol::MAX_REPLY`]).
pub const MAX_REPLY: usize = crate::protocol::MAX_REPLY;

/// The device's replies: a [`crate::protocol::Reply`] whose stream and result variants only
/// mark that the kept [`StreamReply`] or [`InferResult`] is the answer (encoded from where it
/// lives, never copied).
type Reply = crate::protocol::Reply<Kept, Kept>;

/// Marks [`crate::protocol::Reply::Stream`] or [`crate::protocol::Reply::Result`] in a device
/// reply: the server's own [`Outcome`] is encoded in its place.
#[derive(Clone, Copy, Debug, serde::Serialize)]
struct Kept;

/// The large reply of the last `Infer` or stream request. One storage for both: only one reply
/// is encoded at a time and neither is read after its encoding (a repeat is answered from
/// `tx`), so the server holds the larger of the two instead of their sum (~600 B of stack).
#[allow(clippy::large_enum_variant)] // no allocator; one of them is always in use
#[derive(Debug)]
enum Outcome {
    /// An inference's result.
    Result(InferResult),
    /// A stream request's outcome.
    Stream(StreamReply),
}

impl Outcome {
    /// The result storage (a fresh one if the last reply was a stream's; never `None`).
    fn result(&mut self) -> Option<&mut InferResult> {
        if !matches!(self, Outcome::Result(_)) {
            *self = Outcome::Result(InferResult {
                counts: Vec::new(),
                predicted: 0,
                layers: Vec::new(),
                steps: 0,
                input_spikes: 0,
                synaptic_events: 0,
                cost: 0,
            });
        }
        match self {
            Outcome::Result(r) => Some(r),
            Outcome::Stream(_) => None,
        }
    }

    /// The stream reply storage (a fresh one if the last reply was an inference's; never
    /// `None`).
    fn stream(&mut self) -> Option<&mut StreamReply> {
        if !matches!(self, Outcome::Stream(_)) {
            *self = Outcome::Stream(StreamReply::new());
        }
        match self {
            Outcome::Stream(s) => Some(s),
            Outcome::Result(_) => None,
        }
    }
}
/// Largest encoded reply frame.
pub const MAX_REPLY_FRAME: usize = wire::max_frame(MAX_REPLY);
/// Largest encoded link-error reply frame (kept apart so the last good reply stays cached).
const MAX_ERROR_FRAME: usize = wire::max_frame(crate::protocol::MAX_REASON + 8);

/// Static facts about the device, reported in [`Info`].
#[derive(Clone, Copy, Debug)]
pub struct Device {
    /// Firmware version.
    pub firmware: &'static str,
    /// Board name.
    pub board: &'static str,
    /// RAM left for the stack and unused, bytes.
    pub free_ram: u32,
    /// `(deepest stack use since boot, stack size)` in bytes, measured by the board (stack
    /// painting); `None` when the board does not measure it.
    pub stack: Option<fn() -> (u32, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Upload {
    Idle,
    Receiving { len: u32, crc: u32, received: u32 },
}

/// Everything but the receive buffer (split so a frame can borrow the buffer while handled).
#[derive(Debug)]
struct Core<B, C, S> {
    backend: B,
    counter: C,
    spikes: S,
    device: Device,
    upload: Upload,
    /// The result of the last `Infer` or the outcome of the last stream request.
    out: Outcome,
    /// The last reply frame to a well-formed request, kept to answer a repeat of that request.
    tx: [u8; MAX_REPLY_FRAME],
    /// `(seq, crc, frame length)` of the request `tx` answers.
    last: Option<(u16, u32, usize)>,
    /// A `Reset` was answered; the board should reset now.
    reset: bool,
    /// Scratch for a reply before COBS.
    raw: [u8; MAX_REPLY + wire::OVERHEAD],
    /// Replies to damaged frames.
    err_tx: [u8; MAX_ERROR_FRAME],
}

/// Serves the protocol: bytes in from the link, one reply per frame out.
#[derive(Debug)]
pub struct Server<B, C, S> {
    rx: FrameBuffer<MAX_FRAME>,
    core: Core<B, C, S>,
}

fn error(code: ErrorCode, reason: &str) -> Reply {
    Reply::Error(ErrorReply::new(code, reason))
}

impl<B: Backend, C: CycleCounter, S: SpikeOutput> Server<B, C, S> {
    /// A server with no upload in progress.
    pub fn new(backend: B, counter: C, spikes: S, device: Device) -> Self {
        Self {
            rx: FrameBuffer::new(),
            core: Core {
                backend,
                counter,
                spikes,
                device,
                upload: Upload::Idle,
                out: Outcome::Stream(StreamReply::new()),
                tx: [0; MAX_REPLY_FRAME],
                last: None,
                reset: false,
                raw: [0; MAX_REPLY + wire::OVERHEAD],
                err_tx: [0; MAX_ERROR_FRAME],
            },
        }
    }

    /// Whether a [`Request::Reset`] was answered since the last call: the board should reset
    /// now (its reply has been written).
    pub fn take_reset(&mut self) -> bool {
        core::mem::take(&mut self.core.reset)
    }

    /// The backend (e.g. to load a built-in model before serving).
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.core.backend
    }

    /// Serves forever; returns only when the link fails.
    pub fn serve<L: Link>(&mut self, link: &mut L) -> Result<(), L::Error> {
        loop {
            if self.poll(link)? == 0 {
                return Ok(());
            }
        }
    }

    /// Reads once from the link (blocking for at least one byte) and answers every frame the
    /// bytes complete. Returns the number of bytes read (0: the link is closed).
    pub fn poll<L: Link>(&mut self, link: &mut L) -> Result<usize, L::Error> {
        let mut buf = [0u8; 64];
        let n = link.read(&mut buf)?;
        for &b in buf.get(..n).unwrap_or(&[]) {
            if let Some(reply) = self.push(b) {
                link.write_all(reply)?;
            }
        }
        Ok(n)
    }

    /// Feeds one received byte; when it completes a frame, returns the encoded reply frame.
    ///
    /// A frame that is not COBS, too long, or fails its CRC gets a link error (the host retries);
    /// a repeat of the last request (same sequence number and CRC) gets the cached reply again.
    pub fn push(&mut self, byte: u8) -> Option<&[u8]> {
        let frame = match self.rx.push(byte) {
            Frame::Pending | Frame::Empty => return None,
            Frame::TooLong => {
                let e = error(ErrorCode::FrameTooLong, "frame longer than 1024 bytes");
                return Some(self.core.encode_error(0, &e));
            }
            Frame::Complete(frame) => frame,
        };
        let checked = match wire::decode(frame) {
            Ok(c) => c,
            Err(WireError::Crc { seq }) => {
                let e = error(
                    ErrorCode::BadCrc,
                    "frame CRC does not match: damaged on the link",
                );
                return Some(self.core.encode_error(seq, &e));
            }
            Err(_) => {
                let e = error(ErrorCode::BadFrame, "frame is not valid COBS or too short");
                return Some(self.core.encode_error(0, &e));
            }
        };
        let (seq, crc) = (checked.seq, checked.crc);
        if let Some((s, c, n)) = self.core.last {
            if (s, c) == (seq, crc) {
                return self.core.tx.get(..n);
            }
        }
        match postcard::from_bytes::<Request<'_>>(checked.msg) {
            Ok(req) => {
                let reply = self.core.handle(req);
                let n = self.core.encode(seq, &reply);
                self.core.last = Some((seq, crc, n));
                self.core.tx.get(..n)
            }
            Err(_) => {
                let e = error(ErrorCode::BadFrame, "frame is not a valid request");
                Some(self.core.encode_error(seq, &e))
            }
        }
    }
}

impl<B: Backend, C: CycleCounter, S: SpikeOutput> Core<B, C, S> {
    /// Encodes `reply` into `tx` (a stream reply or a result from `out`); returns the frame
    /// length.
    fn encode(&mut self, seq: u16, reply: &Reply) -> usize {
        type Wire<'r> = crate::protocol::Reply<&'r StreamReply, &'r InferResult>;
        let r = match (reply, &self.out) {
            (Reply::Stream(Kept), Outcome::Stream(s)) => {
                wire::encode(seq, &Wire::Stream(s), &mut self.raw, &mut self.tx)
            }
            (Reply::Result(Kept), Outcome::Result(r)) => {
                wire::encode(seq, &Wire::Result(r), &mut self.raw, &mut self.tx)
            }
            // Never: a handler answers `Kept` only after filling the matching storage.
            (Reply::Stream(Kept) | Reply::Result(Kept), _) => Err(WireError::TooLarge),
            (other, _) => wire::encode(seq, other, &mut self.raw, &mut self.tx),
        };
        match r {
            Ok(n) => n,
            Err(_) => {
                let fallback = error(ErrorCode::BadFrame, "reply does not fit the frame buffer");
                wire::encode(seq, &fallback, &mut self.raw, &mut self.tx).unwrap_or(0)
            }
        }
    }

    /// Encodes a link error into its own buffer (the cached reply in `tx` stays).
    fn encode_error(&mut self, seq: u16, reply: &Reply) -> &[u8] {
        let n = wire::encode(seq, reply, &mut self.raw, &mut self.err_tx).unwrap_or(0);
        self.err_tx.get(..n).unwrap_or(&[])
    }

    fn handle(&mut self, req: Request<'_>) -> Reply {
        match req {
            Request::Info => Reply::Info(self.info()),
            Request::Reset => {
                self.reset = true;
                Reply::Ack { received: 0 }
            }
            Request::LoadBegin { len, crc } => {
                self.upload = Upload::Idle;
                match self.backend.begin_load(len) {
                    Ok(()) => {
                        self.upload = Upload::Receiving {
                            len,
                            crc,
                            received: 0,
                        };
                        Reply::Ack { received: 0 }
                    }
                    Err(e) => Reply::Error(e),
                }
            }
            Request::LoadChunk { offset, bytes } => {
                let Upload::Receiving { len, crc, received } = self.upload else {
                    return error(ErrorCode::NoUpload, "chunk without LoadBegin");
                };
                let end = u64::from(offset) + bytes.len() as u64;
                if offset != received || end > u64::from(len) {
                    return error(
                        ErrorCode::BadOffset,
                        "chunk offset is not the bytes received so far, or runs past the length",
                    );
                }
                if let Err(e) = self.backend.write_chunk(offset, bytes) {
                    self.upload = Upload::Idle;
                    return Reply::Error(e);
                }
                let received = end as u32;
                self.upload = Upload::Receiving { len, crc, received };
                Reply::Ack { received }
            }
            Request::LoadEnd => {
                let Upload::Receiving { len, crc, received } = self.upload else {
                    return error(ErrorCode::NoUpload, "LoadEnd without LoadBegin");
                };
                self.upload = Upload::Idle;
                if received != len {
                    return error(
                        ErrorCode::CrcMismatch,
                        "upload ended before all bytes arrived",
                    );
                }
                match self.backend.finish_load(crc) {
                    Ok(info) => Reply::Loaded(info),
                    Err(e) => Reply::Error(e),
                }
            }
            Request::StreamBegin {
                protocol,
                reset,
                exp,
                window,
                threshold,
            } => {
                if protocol != PROTOCOL_VERSION {
                    let mut e = ErrorReply::new(ErrorCode::Version, "");
                    let _ = core::fmt::Write::write_fmt(
                        &mut e.reason,
                        format_args!(
                            "host speaks protocol {protocol}, this firmware speaks {PROTOCOL_VERSION}"
                        ),
                    );
                    return Reply::Error(e);
                }
                let Some(out) = self.out.stream() else {
                    return error(ErrorCode::BadFrame, "no stream reply storage");
                };
                match self
                    .backend
                    .stream_begin(reset, exp, (window, threshold), out)
                {
                    Ok(()) => Reply::Stream(Kept),
                    Err(e) => Reply::Error(e),
                }
            }
            Request::StreamPush { input } => {
                let Some(out) = self.out.stream() else {
                    return error(ErrorCode::BadFrame, "no stream reply storage");
                };
                let r = self
                    .backend
                    .stream_push(input, out, &mut self.spikes, &mut self.counter);
                match r {
                    Ok(()) => Reply::Stream(Kept),
                    Err(e) => Reply::Error(e),
                }
            }
            Request::Readout => {
                let mut out = crate::protocol::ReadoutReply::default();
                match self.backend.readout(&mut out) {
                    Ok(()) => Reply::Readout(out),
                    Err(e) => Reply::Error(e),
                }
            }
            Request::Infer { sample_seed, input } => {
                let Some(out) = self.out.result() else {
                    return error(ErrorCode::BadFrame, "no result storage");
                };
                let start = self.counter.now();
                let r = self
                    .backend
                    .infer(input, sample_seed, out, &mut self.spikes);
                let cost = self.counter.now().wrapping_sub(start);
                match r {
                    Ok(()) => {
                        out.cost = cost;
                        Reply::Result(Kept)
                    }
                    Err(e) => Reply::Error(e),
                }
            }
        }
    }

    fn info(&self) -> Info {
        let limits = self.backend.limits();
        let stack = self.device.stack.map_or((0, 0), |f| f());
        Info {
            firmware: crate::protocol::truncated(self.device.firmware),
            board: crate::protocol::truncated(self.device.board),
            protocol: PROTOCOL_VERSION,
            format_version: snn_models::FORMAT_VERSION,
            model: self.backend.model().cloned(),
            free_ram: self.device.free_ram,
            max_model_bytes: limits.max_model_bytes,
            max_neurons: limits.max_neurons,
            max_inputs: limits.max_inputs,
            cost_unit: self.counter.unit(),
            signatures_required: limits.signatures_required,
            stack_peak: stack.0,
            stack_size: stack.1,
        }
    }
}
