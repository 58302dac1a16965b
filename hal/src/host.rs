//! Host side of the link (feature `std`): a client that speaks the protocol over any byte
//! stream, and a launcher for the emulated boards under QEMU.
use crate::protocol::{
    ErrorReply, InferResult, Info, Input, ModelInfo, Reply, Request, CHUNK, MAX_REQUEST,
};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
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
}

/// Speaks the protocol: one request frame out, one reply frame back.
pub struct Client {
    rx: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    tx: Box<dyn Write + Send>,
    /// How long to wait for each reply.
    pub timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.timeout)
            .finish()
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
        Self {
            rx,
            pending: Vec::new(),
            tx: Box::new(writer),
            timeout: Duration::from_secs(30),
        }
    }

    /// Sends raw bytes (for robustness tests: garbage, truncated frames).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.tx.write_all(bytes)?;
        self.tx.flush()?;
        Ok(())
    }

    /// Sends one request frame.
    pub fn send(&mut self, req: &Request<'_>) -> Result<(), ClientError> {
        let mut buf = vec![0u8; crate::protocol::MAX_FRAME];
        let frame = postcard::to_slice_cobs(req, &mut buf).map_err(|_| ClientError::TooLarge)?;
        let frame = frame.to_vec();
        self.send_raw(&frame)
    }

    /// Waits for the next reply frame.
    pub fn recv(&mut self) -> Result<Reply, ClientError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == 0) {
                let mut frame: Vec<u8> = self.pending.drain(..=end).collect();
                if frame.len() == 1 {
                    continue;
                }
                let n = frame.len();
                return postcard::from_bytes_cobs::<Reply>(&mut frame)
                    .map_err(|_| ClientError::BadReply(n));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(bytes) => self.pending.extend_from_slice(&bytes),
                Err(RecvTimeoutError::Timeout) => return Err(ClientError::Timeout(self.timeout)),
                Err(RecvTimeoutError::Disconnected) => return Err(ClientError::Closed),
            }
        }
    }

    /// Sends a request and waits for its reply (device errors are returned as `Ok(Reply::Error)`).
    pub fn call(&mut self, req: &Request<'_>) -> Result<Reply, ClientError> {
        self.send(req)?;
        self.recv()
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

    /// Uploads a model file in [`CHUNK`]-byte pieces; returns what the device loaded.
    pub fn load(&mut self, model: &[u8]) -> Result<ModelInfo, ClientError> {
        let len = u32::try_from(model.len()).map_err(|_| ClientError::TooLarge)?;
        let crc = snn_models::crc::crc32(model);
        let ack = |r| match r {
            Reply::Ack { .. } => Ok(()),
            o => Err(Box::new(o)),
        };
        let r = self.call(&Request::LoadBegin { len, crc })?;
        Self::expect(r, ack)?;
        for (i, bytes) in model.chunks(CHUNK).enumerate() {
            let offset = (i * CHUNK) as u32;
            let r = self.call(&Request::LoadChunk { offset, bytes })?;
            Self::expect(r, ack)?;
        }
        let r = self.call(&Request::LoadEnd)?;
        Self::expect(r, |r| match r {
            Reply::Loaded(m) => Ok(m),
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
            match std::os::unix::net::UnixStream::connect(&me.socket) {
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
        let reader = stream.try_clone()?;
        Ok((me, Client::new(reader, stream)))
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
