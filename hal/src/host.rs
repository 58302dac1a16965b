//! Host side of the link (feature `std`): a client that speaks the protocol over any byte
//! stream, and a launcher for the emulated boards under QEMU.
use crate::protocol::{
    stream_steps, ErrorReply, InferResult, Info, Input, ModelInfo, ReadoutReply, Reply, Request,
    StreamInput, StreamReply, CHUNK, MAX_REQUEST, PROTOCOL_VERSION, READOUT_PROTOCOL, STEP_END,
};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The byte stream failed.
    #[error("link I/O: {0}")]
    Io(#[from] std::io::Error),
    /// No complete reply within the timeout.
    #[error("no reply from the device within {0:?}")]
    Timeout(Duration),
    /// The device closed the link.
    #[error("the device closed the link")]
    Closed,
    /// A reply frame did not decode.
    #[error("reply frame does not decode ({0} bytes)")]
    BadReply(usize),
    /// A request does not fit a frame.
    #[error("request does not fit a {MAX_REQUEST}-byte frame")]
    TooLarge,
    /// The device answered with an error.
    #[error("device error {:?}: {}", .0.code, .0.reason)]
    Device(ErrorReply),
    /// The device answered with a reply of the wrong kind.
    #[error("unexpected reply: {0:?}")]
    Unexpected(Box<Reply>),
    /// The device speaks another protocol version than this host.
    #[error("the device speaks protocol {device}, this host speaks {host}: update the {}", if .device < .host { "firmware" } else { "host tools" })]
    Version {
        /// The host's [`PROTOCOL_VERSION`].
        host: u16,
        /// The device's, from its `Info`.
        device: u16,
    },
    /// A stream's input does not fit the protocol (what, and why).
    #[error("stream input: {0}")]
    StreamInput(String),
    /// Every try of a request failed on the link.
    #[error("no valid reply after {tries} tries of {what}; last failure: {last}")]
    GaveUp {
        /// Tries made.
        tries: u32,
        /// The request kind.
        what: &'static str,
        /// The last try's failure.
        last: Box<ClientError>,
    },
}

/// What the link cost so far (counts since the client was made).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Requests that got their reply.
    pub requests: u64,
    /// Tries beyond the first, over all requests.
    pub retries: u64,
    /// Reply frames that failed their CRC or did not decode.
    pub corrupt_replies: u64,
    /// Link errors from the device (it received a damaged frame).
    pub device_link_errors: u64,
    /// Tries that timed out.
    pub timeouts: u64,
    /// Valid replies for an older request (a late or duplicated reply), ignored.
    pub stale_replies: u64,
    /// Request bytes written, retries included.
    pub bytes_out: u64,
}

/// One reply frame as received: either a checked reply with its sequence number, or damage.
// One lives at a time, on the host; boxing the reply would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Received {
    /// A frame that passed its CRC and decoded.
    Reply {
        /// Sequence number (that of the request it answers).
        seq: u16,
        /// The reply.
        reply: Reply,
    },
    /// A frame that failed its CRC, was not COBS, or did not decode.
    Damaged(usize),
}

/// Input bytes of one [`Request::StreamPush`] the host sends: [`MAX_REQUEST`] less room for the
/// request's tag and lengths.
pub const RAW_ROOM: usize = MAX_REQUEST - 16;

/// Speaks the protocol: one request frame out, one reply frame back, retried on link damage.
pub struct Client {
    rx: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    tx: Box<dyn Write + Send>,
    seq: u16,
    stats: LinkStats,
    /// The device's protocol version, once read (a stream begin checks it).
    device_protocol: Option<u16>,
    /// How long to wait for each reply (per try).
    pub timeout: Duration,
    /// Tries per request before giving up with [`ClientError::GaveUp`] (at least 1).
    pub tries: u32,
    /// Model bytes per upload chunk (at most [`CHUNK`]; smaller chunks survive a noisy link
    /// better).
    pub chunk: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.timeout)
            .field("tries", &self.tries)
            .field("stats", &self.stats)
            .finish()
    }
}

/// The request's name, for errors.
fn kind(req: &Request<'_>) -> &'static str {
    match req {
        Request::Info => "Info",
        Request::LoadBegin { .. } => "LoadBegin",
        Request::LoadChunk { .. } => "LoadChunk",
        Request::LoadEnd => "LoadEnd",
        Request::Infer { .. } => "Infer",
        Request::Reset => "Reset",
        Request::StreamBegin { .. } => "StreamBegin",
        Request::StreamPush { .. } => "StreamPush",
        Request::Readout => "Readout",
    }
}

impl Client {
    /// A client reading replies from `reader` (on a background thread, so reads can time out)
    /// and writing requests to `writer`.
    pub fn new(reader: impl Read + Send + 'static, writer: impl Write + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = reader;
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        // Start the sequence somewhere unpredictable, so a new client's first request is not
        // mistaken by the device for a repeat of an earlier client's last one.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ std::process::id());
        Self {
            rx,
            pending: Vec::new(),
            tx: Box::new(writer),
            seq: (seed ^ (seed >> 16)) as u16,
            stats: LinkStats::default(),
            device_protocol: None,
            timeout: Duration::from_secs(30),
            tries: 5,
            chunk: CHUNK,
        }
    }

    /// What the link cost so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Sends raw bytes (for robustness tests: garbage, truncated frames).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.tx.write_all(bytes)?;
        self.tx.flush()?;
        self.stats.bytes_out += bytes.len() as u64;
        Ok(())
    }

    /// The frame of `req` with sequence number `seq`.
    pub fn frame(seq: u16, req: &Request<'_>) -> Result<Vec<u8>, ClientError> {
        let mut raw = vec![0u8; MAX_REQUEST + crate::wire::OVERHEAD];
        let mut out = vec![0u8; crate::protocol::MAX_FRAME];
        let n =
            crate::wire::encode(seq, req, &mut raw, &mut out).map_err(|_| ClientError::TooLarge)?;
        out.truncate(n);
        Ok(out)
    }

    /// Sends one request frame with the next sequence number (no retry); returns that number.
    pub fn send(&mut self, req: &Request<'_>) -> Result<u16, ClientError> {
        self.seq = self.seq.wrapping_add(1);
        let frame = Self::frame(self.seq, req)?;
        self.send_raw(&frame)?;
        Ok(self.seq)
    }

    /// Waits for the next reply frame, whatever its sequence number.
    pub fn recv_frame(&mut self) -> Result<Received, ClientError> {
        self.recv_until(Instant::now() + self.timeout)
    }

    fn recv_until(&mut self, deadline: Instant) -> Result<Received, ClientError> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == 0) {
                let mut frame: Vec<u8> = self.pending.drain(..=end).collect();
                frame.pop();
                if frame.is_empty() {
                    continue;
                }
                let n = frame.len();
                let Ok(c) = crate::wire::decode(&mut frame) else {
                    return Ok(Received::Damaged(n));
                };
                return Ok(match postcard::from_bytes::<Reply>(c.msg) {
                    Ok(reply) => Received::Reply { seq: c.seq, reply },
                    Err(_) => Received::Damaged(n),
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(bytes) => self.pending.extend_from_slice(&bytes),
                Err(RecvTimeoutError::Timeout) => return Err(ClientError::Timeout(self.timeout)),
                Err(RecvTimeoutError::Disconnected) => return Err(ClientError::Closed),
            }
        }
    }

    /// Waits for the next reply, whatever its sequence number (robustness tests).
    pub fn recv(&mut self) -> Result<Reply, ClientError> {
        match self.recv_frame()? {
            Received::Reply { reply, .. } => Ok(reply),
            Received::Damaged(n) => Err(ClientError::BadReply(n)),
        }
    }

    /// Sends a request and waits for the reply carrying its sequence number (device errors are
    /// returned as `Ok(Reply::Error)`). A damaged reply, a link error from the device (it got a
    /// damaged frame, whatever sequence number it could read) or a timeout sends the same frame
    /// again (after a lone `0x00` that ends
    /// any partial frame on the device), up to [`Client::tries`] times; the device answers a
    /// repeat from its cache, so nothing runs twice. Replies to older requests are skipped.
    pub fn call(&mut self, req: &Request<'_>) -> Result<Reply, ClientError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let frame = Self::frame(seq, req)?;
        let tries = self.tries.max(1);
        let mut last = ClientError::Timeout(self.timeout);
        for attempt in 0..tries {
            if attempt > 0 {
                self.stats.retries += 1;
                self.send_raw(&[0])?;
            }
            self.send_raw(&frame)?;
            let deadline = Instant::now() + self.timeout;
            loop {
                match self.recv_until(deadline) {
                    Ok(Received::Reply { seq: s, reply }) if s == seq => match reply {
                        Reply::Error(e) if e.code.is_link() => {
                            self.stats.device_link_errors += 1;
                            last = ClientError::Device(e);
                            break;
                        }
                        reply => {
                            self.stats.requests += 1;
                            return Ok(reply);
                        }
                    },
                    // The device got a damaged frame it cannot attribute (its sequence number
                    // may be damaged too): most likely ours, so send it again at once.
                    Ok(Received::Reply {
                        reply: Reply::Error(e),
                        ..
                    }) if e.code.is_link() => {
                        self.stats.device_link_errors += 1;
                        last = ClientError::Device(e);
                        break;
                    }
                    Ok(Received::Reply { .. }) => self.stats.stale_replies += 1,
                    Ok(Received::Damaged(n)) => {
                        self.stats.corrupt_replies += 1;
                        last = ClientError::BadReply(n);
                        break;
                    }
                    Err(e @ ClientError::Timeout(_)) => {
                        self.stats.timeouts += 1;
                        last = e;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Err(ClientError::GaveUp {
            tries,
            what: kind(req),
            last: Box::new(last),
        })
    }

    fn expect<T>(
        reply: Reply,
        pick: impl FnOnce(Reply) -> Result<T, Box<Reply>>,
    ) -> Result<T, ClientError> {
        match reply {
            Reply::Error(e) => Err(ClientError::Device(e)),
            other => pick(other).map_err(ClientError::Unexpected),
        }
    }

    /// Device and model description.
    pub fn info(&mut self) -> Result<Info, ClientError> {
        let r = self.call(&Request::Info)?;
        Self::expect(r, |r| match r {
            Reply::Info(i) => Ok(i),
            o => Err(Box::new(o)),
        })
    }

    /// Uploads a model file in [`Client::chunk`]-byte pieces; returns what the device loaded.
    pub fn load(&mut self, model: &[u8]) -> Result<ModelInfo, ClientError> {
        let len = u32::try_from(model.len()).map_err(|_| ClientError::TooLarge)?;
        let crc = snn_models::crc::crc32(model);
        let ack = |r| match r {
            Reply::Ack { .. } => Ok(()),
            o => Err(Box::new(o)),
        };
        let r = self.call(&Request::LoadBegin { len, crc })?;
        Self::expect(r, ack)?;
        let chunk = self.chunk.clamp(1, CHUNK);
        for (i, bytes) in model.chunks(chunk).enumerate() {
            let offset = (i * chunk) as u32;
            let r = self.call(&Request::LoadChunk { offset, bytes })?;
            Self::expect(r, ack)?;
        }
        let r = self.call(&Request::LoadEnd)?;
        Self::expect(r, |r| match r {
            Reply::Loaded(m) => Ok(m),
            o => Err(Box::new(o)),
        })
    }

    /// Resets the board (it answers first; give it a moment to boot before the next request).
    pub fn reset(&mut self) -> Result<(), ClientError> {
        let r = self.call(&Request::Reset)?;
        Self::expect(r, |r| match r {
            Reply::Ack { .. } => Ok(()),
            o => Err(Box::new(o)),
        })
    }

    /// Begins a stream (`reset`: from rest; else keep the last stream's state) whose raw samples
    /// are in units of `2^exp`. Checks the device's protocol version first: a device that
    /// cannot stream gets [`ClientError::Version`] naming both versions (the version is read
    /// once per client).
    /// `(window, threshold)` are the decision rules' parameters of a stream from rest (0: none).
    pub fn stream_begin(
        &mut self,
        reset: bool,
        exp: i8,
        (window, threshold): (u16, u32),
    ) -> Result<StreamReply, ClientError> {
        let device = match self.device_protocol {
            Some(v) => v,
            None => self.info()?.protocol,
        };
        self.device_protocol = Some(device);
        if device != PROTOCOL_VERSION {
            return Err(ClientError::Version {
                host: PROTOCOL_VERSION,
                device,
            });
        }
        let r = self.call(&Request::StreamBegin {
            protocol: PROTOCOL_VERSION,
            reset,
            exp,
            window,
            threshold,
        })?;
        Self::expect(r, |r| match r {
            Reply::Stream(s) => Ok(s),
            o => Err(Box::new(o)),
        })
    }

    /// Pushes the next steps of the open stream (at most [`stream_steps`] of them).
    pub fn stream_push(&mut self, input: StreamInput<'_>) -> Result<StreamReply, ClientError> {
        let r = self.call(&Request::StreamPush { input })?;
        Self::expect(r, |r| match r {
            Reply::Stream(s) => Ok(s),
            o => Err(Box::new(o)),
        })
    }

    /// Streams raw samples (`channels` per step, step-major) through the open stream in pushes
    /// that fit a frame both ways (`outputs`: the model's output neurons); returns each push's
    /// reply in order.
    pub fn stream_raw(
        &mut self,
        raw: &[i16],
        channels: usize,
        outputs: usize,
    ) -> Result<Vec<StreamReply>, ClientError> {
        if channels == 0 || !raw.len().is_multiple_of(channels) {
            return Err(ClientError::StreamInput(format!(
                "{} samples are not whole steps of {channels} channels",
                raw.len()
            )));
        }
        let per = stream_steps(outputs).min(RAW_ROOM / (2 * channels)).max(1);
        let mut bytes = Vec::with_capacity(2 * channels * per);
        raw.chunks(channels * per)
            .map(|chunk| {
                bytes.clear();
                bytes.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
                self.stream_push(StreamInput::Values(&bytes))
            })
            .collect()
    }

    /// Streams input spikes (`steps[t]`: the input indices of step `t`) through the open stream
    /// in pushes that fit a frame both ways; returns each push's reply in order. A single step
    /// must fit one request ([`RAW_ROOM`] / 2 - 1 events).
    pub fn stream_events(
        &mut self,
        steps: &[Vec<u16>],
        outputs: usize,
    ) -> Result<Vec<StreamReply>, ClientError> {
        let most = stream_steps(outputs).max(1);
        let mut replies = Vec::new();
        let mut bytes: Vec<u8> = Vec::with_capacity(RAW_ROOM);
        let mut n = 0usize;
        for (t, step) in steps.iter().enumerate() {
            let need = 2 * (step.len() + 1);
            if need > RAW_ROOM {
                return Err(ClientError::StreamInput(format!(
                    "step {t} has {} events, one push holds at most {}",
                    step.len(),
                    RAW_ROOM / 2 - 1
                )));
            }
            if n == most || bytes.len() + need > RAW_ROOM {
                replies.push(self.stream_push(StreamInput::Events(&bytes))?);
                bytes.clear();
                n = 0;
            }
            bytes.extend(step.iter().flat_map(|i| i.to_le_bytes()));
            bytes.extend(STEP_END.to_le_bytes());
            n += 1;
        }
        if n > 0 {
            replies.push(self.stream_push(StreamInput::Events(&bytes))?);
        }
        Ok(replies)
    }

    /// The readout values of the device's last [`Client::infer`] of a model ending in a
    /// non-spiking readout. Checks the device's protocol version first: a device older than
    /// [`READOUT_PROTOCOL`] cannot decode the request and gets [`ClientError::Version`] naming
    /// both versions.
    pub fn readout(&mut self) -> Result<ReadoutReply, ClientError> {
        let device = match self.device_protocol {
            Some(v) => v,
            None => self.info()?.protocol,
        };
        self.device_protocol = Some(device);
        if device < READOUT_PROTOCOL {
            return Err(ClientError::Version {
                host: PROTOCOL_VERSION,
                device,
            });
        }
        let r = self.call(&Request::Readout)?;
        Self::expect(r, |r| match r {
            Reply::Readout(x) => Ok(x),
            o => Err(Box::new(o)),
        })
    }

    /// Runs one sample on the device.
    pub fn infer(
        &mut self,
        input: Input<'_>,
        sample_seed: u32,
    ) -> Result<InferResult, ClientError> {
        let r = self.call(&Request::Infer { sample_seed, input })?;
        Self::expect(r, |r| match r {
            Reply::Result(x) => Ok(x),
            o => Err(Box::new(o)),
        })
    }
}

/// A QEMU machine the firmware runs on: the emulator and the arguments that pick the board and
/// its core (everything else, UART, semihosting, `-icount`, is common to all machines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// The emulator binary, e.g. `qemu-system-arm`.
    pub program: &'static str,
    /// Board and core, e.g. `["-M", "mps2-an386", "-cpu", "cortex-m4"]`.
    pub args: &'static [&'static str],
}

impl Machine {
    /// The Arm MPS2-AN386 with its Cortex-M4F, the default emulated board.
    pub const MPS2_AN386: Machine = Machine {
        program: "qemu-system-arm",
        args: &["-M", "mps2-an386", "-cpu", "cortex-m4"],
    };
}

/// An emulated board (the MPS2-AN386 Cortex-M4F unless spawned on another [`Machine`]): QEMU
/// running a firmware ELF, the link on the first UART through a unix socket, semihosting output
/// (the firmware's defmt stream) in a log file, and `-icount shift=0` so one instruction is one
/// virtual nanosecond (deterministic costs).
#[derive(Debug)]
pub struct Qemu {
    child: Child,
    socket: PathBuf,
    /// Where semihosting output (the firmware's defmt frames) goes.
    pub log: PathBuf,
}

impl Qemu {
    /// The QEMU command line for `elf` on the MPS2-AN386 with UART0 on a unix socket server at
    /// `socket`.
    pub fn command(elf: &Path, socket: &Path) -> Command {
        Self::command_on(&Machine::MPS2_AN386, elf, socket)
    }

    /// The QEMU command line for `elf` on `machine` with its first UART on a unix socket server
    /// at `socket`.
    pub fn command_on(machine: &Machine, elf: &Path, socket: &Path) -> Command {
        let mut c = Command::new(machine.program);
        c.args(machine.args)
            .args(["-display", "none", "-monitor", "none"])
            .arg("-serial")
            .arg(format!("unix:{},server=on,wait=off", socket.display()))
            .args(["-icount", "shift=0"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .arg("-kernel")
            .arg(elf);
        c
    }

    /// Starts QEMU's MPS2-AN386 on `elf` (semihosting output to `log`) and connects a client
    /// to its UART.
    pub fn spawn(elf: &Path, log: &Path) -> std::io::Result<(Self, Client)> {
        Self::spawn_on(&Machine::MPS2_AN386, elf, log)
    }

    /// Starts `machine` on `elf` (semihosting output to `log`) and connects a client to its
    /// first UART.
    pub fn spawn_on(machine: &Machine, elf: &Path, log: &Path) -> std::io::Result<(Self, Client)> {
        let (me, stream) = Self::start(machine, elf, log)?;
        let reader = stream.try_clone()?;
        Ok((me, Client::new(reader, stream)))
    }

    /// Like [`Qemu::spawn_on`], with a fault-injecting proxy ([`crate::noise::Noisy`]) on both
    /// directions of the UART (seeds `noise.seed` out, `noise.seed + 1` back); the faults
    /// injected are counted into the returned stats.
    pub fn spawn_noisy(
        machine: &Machine,
        elf: &Path,
        log: &Path,
        noise: crate::noise::Noise,
    ) -> std::io::Result<(Self, Client, Arc<Mutex<crate::noise::NoiseStats>>)> {
        use crate::noise::Noisy;
        let (me, stream) = Self::start(machine, elf, log)?;
        let reader = stream.try_clone()?;
        let stats = Arc::new(Mutex::new(crate::noise::NoiseStats::default()));
        let up = Noisy::new(stream, noise, stats.clone());
        let down = Noisy::new(
            reader,
            noise.reseeded(noise.seed.wrapping_add(1)),
            stats.clone(),
        );
        Ok((me, Client::new(down, up), stats))
    }

    fn start(machine: &Machine, elf: &Path, log: &Path) -> std::io::Result<(Self, UnixStream)> {
        // Unix socket paths are limited to about 100 bytes: keep it short, in the temp dir.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let socket = std::env::temp_dir().join(format!("snn-qemu-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let child = Self::command_on(machine, elf, &socket)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(log)?)
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut me = Self {
            child,
            socket,
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match UnixStream::connect(&me.socket) {
                Ok(s) => break s,
                Err(e) => {
                    if let Some(status) = me.exited() {
                        return Err(std::io::Error::other(format!(
                            "{} exited before opening its UART ({status})",
                            machine.program
                        )));
                    }
                    if Instant::now() > deadline {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        Ok((me, stream))
    }

    /// The unix socket of the board's UART.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Whether QEMU is still running (`Some(status)` once it exited).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Input features of the digits data as the device and SDK see them: `q = p * 255 / 16`.
pub fn digit_features(pixels: &[u8]) -> Vec<u8> {
    pixels
        .iter()
        .map(|&p| (u32::from(p) * 255 / 16) as u8)
        .collect()
}
