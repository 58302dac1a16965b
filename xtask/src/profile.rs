//! `cargo xtask profile`: where the instructions of one inference go, function by function,
//! exactly, on an emulated core.
//!
//! QEMU runs the firmware one instruction per translation block (`-singlestep`, or
//! `-accel tcg,one-insn-per-tb=on` from QEMU 8.1) with `-icount shift=0`, as every other
//! emulated run does. Its monitor turns the execution log (`-d exec,nochain`) on just before
//! the `Infer` request and off after the reply, so the log holds one line per executed
//! instruction of that request and the idle loop around it, each with its program counter. The
//! inference is the slice from the entry of the CPU backend's `infer` to its last instruction;
//! every program counter in it is attributed to the ELF symbol that contains it ([`Symbols`]).
//! The slice's length is checked against the board's own count (its cycle counter around the
//! same call), so a broken attribution cannot pass unnoticed ([`check`]).
use crate::args::Opts;
use crate::firmware::{build, scratch, Board};
use crate::setup::ensure_qemu;
use anyhow::{bail, ensure, Context, Result};
use object::{Object, ObjectSymbol, SymbolKind};
use snn_hal::host::{digit_features, Machine, Qemu};
use snn_hal::protocol::Input;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The function whose body is the inference the board times (`hal/src/server.rs` reads the
/// cycle counter around the backend's `infer`).
const INFER: &str = "<snn_hal::cpu::CpuBackend as snn_hal::backend::Backend>::infer";

/// How far the trace's count may be from the board's: the counter's resolution (62.5
/// instructions at most, on the micro:bit) plus the few instructions the server runs between
/// reading the counter and entering `infer`.
const TOLERANCE: u64 = 120;

/// One function of the firmware: start address, end address (exclusive), demangled name.
#[derive(Clone, Debug, PartialEq)]
struct Func {
    start: u64,
    end: u64,
    name: String,
}

/// The text symbols of an ELF, sorted by address, to look program counters up in.
struct Symbols(Vec<Func>);

impl Symbols {
    /// Reads the function symbols of `elf` (Thumb addresses with their low bit cleared); a
    /// symbol without a size reaches up to the next one.
    fn of(elf: &[u8]) -> Result<Self> {
        let file = object::File::parse(elf).context("parse the firmware ELF")?;
        let mut v: Vec<Func> = file
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
            .filter_map(|s| {
                let name = s.name().ok()?;
                let start = s.address() & !1;
                Some(Func {
                    start,
                    end: start + s.size(),
                    name: format!("{:#}", rustc_demangle::demangle(name)),
                })
            })
            .collect();
        v.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
        v.dedup_by_key(|f| f.start);
        for i in 0..v.len() {
            let next = v.get(i + 1).map(|f| f.start);
            let f = &mut v[i];
            if f.end <= f.start {
                f.end = next.unwrap_or(u64::MAX);
            }
        }
        ensure!(!v.is_empty(), "the firmware ELF has no function symbols");
        Ok(Self(v))
    }

    /// Index of the function containing `pc`, if any.
    fn find(&self, pc: u64) -> Option<usize> {
        let i = self.0.partition_point(|f| f.start <= pc).checked_sub(1)?;
        (pc < self.0[i].end).then_some(i)
    }

    /// The function named exactly `name`.
    fn named(&self, name: &str) -> Option<&Func> {
        self.0.iter().find(|f| f.name == name)
    }
}

/// The program counters of an execution log (`-d exec,nochain`, one instruction per block), in
/// order. A block QEMU rewound to re-run it as the last one before an I/O access (`icount`) was
/// logged but not executed: its line is dropped.
fn trace_pcs(log: impl BufRead) -> Result<Vec<u64>> {
    let mut pcs = Vec::new();
    for line in log.lines() {
        let line = line.context("read the execution log")?;
        if line.starts_with("cpu_io_recompile: rewound") {
            pcs.pop();
            continue;
        }
        let Some(rest) = line.strip_prefix("Trace ") else {
            continue;
        };
        // `Trace 0: 0xHOST [cs_base/pc/flags/cflags] symbol`
        let pc = rest
            .split_once('[')
            .and_then(|(_, b)| b.split('/').nth(1))
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .with_context(|| format!("unreadable execution log line `{line}`"))?;
        pcs.push(pc);
    }
    Ok(pcs)
}

/// The instructions of the first inference in `pcs`: from the first entry of `infer` to the
/// last instruction inside it before the next entry.
fn inference<'a>(pcs: &'a [u64], infer: &Func) -> Result<&'a [u64]> {
    let first = pcs
        .iter()
        .position(|&p| p == infer.start)
        .context("the execution log never enters the backend's `infer`")?;
    let next = pcs[first + 1..]
        .iter()
        .position(|&p| p == infer.start)
        .map_or(pcs.len(), |k| first + 1 + k);
    let last = pcs[first..next]
        .iter()
        .rposition(|&p| (infer.start..infer.end).contains(&p))
        .map(|k| first + k)
        .context("no instruction of `infer` in the log")?;
    Ok(&pcs[first..=last])
}

/// Instructions executed in one function, and how often it was entered at its first address.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    name: String,
    instructions: u64,
    entries: u64,
}

/// Instructions per function of `pcs`, the most first; addresses outside every symbol count as
/// `(unknown)`.
fn attribute(pcs: &[u64], syms: &Symbols) -> Vec<Row> {
    let mut by: HashMap<Option<usize>, (u64, u64)> = HashMap::new();
    for &pc in pcs {
        let i = syms.find(pc);
        let e = by.entry(i).or_default();
        e.0 += 1;
        e.1 += u64::from(i.is_some_and(|i| syms.0[i].start == pc));
    }
    let mut rows: Vec<Row> = by
        .into_iter()
        .map(|(i, (n, e))| Row {
            name: i.map_or("(unknown)".into(), |i| syms.0[i].name.clone()),
            instructions: n,
            entries: e,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.instructions
            .cmp(&a.instructions)
            .then(a.name.cmp(&b.name))
    });
    rows
}

/// The QEMU option that makes every translation block one instruction: `-singlestep` up to
/// QEMU 8.0, `-accel tcg,one-insn-per-tb=on` from 8.1 (where `-singlestep` went away).
fn one_insn_per_tb(program: &str) -> Result<Vec<&'static str>> {
    let out = std::process::Command::new(program)
        .arg("--version")
        .output()
        .with_context(|| format!("run `{program} --version`"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .with_context(|| format!("no version in `{program} --version`: {text}"))?;
    let mut it = version
        .split(['.', ' ', '('])
        .map(|v| v.parse::<u32>().unwrap_or(0));
    let (major, minor) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    Ok(if (major, minor) >= (8, 1) {
        vec!["-accel", "tcg,one-insn-per-tb=on"]
    } else {
        vec!["-singlestep"]
    })
}

/// QEMU's human monitor on a unix socket: one command at a time, each answered by the prompt.
struct Monitor(UnixStream);

impl Monitor {
    /// Connects to the monitor socket QEMU opened (it may take a moment to appear).
    fn connect(path: &Path) -> Result<Self> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match UnixStream::connect(path) {
                Ok(s) => {
                    s.set_read_timeout(Some(Duration::from_secs(30)))?;
                    let mut m = Self(s);
                    m.prompt()?;
                    return Ok(m);
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(e).with_context(|| format!("connect to {}", path.display()))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn prompt(&mut self) -> Result<()> {
        let mut seen = Vec::new();
        let mut buf = [0u8; 512];
        while !seen.ends_with(b"(qemu) ") {
            let n = self.0.read(&mut buf).context("read QEMU's monitor")?;
            ensure!(n > 0, "QEMU's monitor closed");
            seen.extend_from_slice(&buf[..n]);
        }
        Ok(())
    }

    /// Runs one monitor command and waits for the next prompt.
    fn run(&mut self, cmd: &str) -> Result<()> {
        writeln!(self.0, "{cmd}").with_context(|| format!("send `{cmd}` to QEMU's monitor"))?;
        self.prompt()
    }
}

/// One profiled inference.
struct Profile {
    /// Instructions per function, the most first.
    rows: Vec<Row>,
    /// Executions per program counter in the inference, by address.
    pcs: std::collections::BTreeMap<u64, u64>,
    /// Instructions in the trace's inference slice.
    traced: u64,
    /// The board's own count of the same inference (its cycle counter under `-icount`).
    board: u64,
}

/// Profiles the inference of digits row `row` with `model` on the emulated `board`.
fn profile(board: Board, model: &[u8], row: u32) -> Result<Profile> {
    let machine = board.emulated()?;
    ensure_qemu(machine.program)?;
    let elf = build(board, None)?;
    let syms = Symbols::of(&std::fs::read(&elf)?)?;
    let infer = syms
        .named(INFER)
        .with_context(|| format!("no symbol `{INFER}` in {}", elf.display()))?
        .clone();
    let dir = scratch()?;
    let trace = dir.join(format!("profile-{}.trace", board.name()));
    let monitor = dir.join(format!(
        "profile-{}-{}.mon",
        board.name(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&trace);
    let _ = std::fs::remove_file(&monitor);
    let mut args: Vec<String> = machine.args.iter().map(|a| a.to_string()).collect();
    args.extend(
        one_insn_per_tb(machine.program)?
            .into_iter()
            .map(String::from),
    );
    args.extend([
        "-D".into(),
        trace.display().to_string(),
        "-monitor".into(),
        format!("unix:{},server=on,wait=off", monitor.display()),
    ]);
    // `Machine` holds static arguments: this one-off machine lives until the process ends.
    let args: &'static [&'static str] = Box::leak(
        args.into_iter()
            .map(|a| &*Box::leak(a.into_boxed_str()))
            .collect::<Vec<&'static str>>()
            .into_boxed_slice(),
    );
    let traced_machine = Machine {
        program: machine.program,
        args,
    };
    let log = dir.join(format!("profile-{}.defmt", board.name()));
    let (qemu, mut client) = Qemu::spawn_on(&traced_machine, &elf, &log)
        .with_context(|| format!("start {} for {}", machine.program, board.name()))?;
    let mut mon = Monitor::connect(&monitor)?;
    let info = client.load(model).context("upload the model")?;
    let sample = crate::digits::load()?
        .into_iter()
        .find(|s| s.row == row)
        .with_context(|| format!("--row {row}: the digits data has no such row"))?;
    let features = digit_features(&sample.pixels);
    if usize::from(info.input_size) != features.len() {
        bail!(
            "the model takes {} inputs; `profile` feeds it a digits row of {}",
            info.input_size,
            features.len()
        );
    }
    mon.run("log exec,nochain")?;
    let reply = client.infer(Input::Features(&features), row);
    mon.run("log none")?;
    let reply = reply.context("Infer")?;
    drop((client, qemu));
    let _ = std::fs::remove_file(&monitor);
    let file = std::fs::File::open(&trace).with_context(|| format!("open {}", trace.display()))?;
    let pcs = trace_pcs(BufReader::new(file))?;
    let _ = std::fs::remove_file(&trace);
    let slice = inference(&pcs, &infer)?;
    let mut by_pc = std::collections::BTreeMap::new();
    for &pc in slice {
        *by_pc.entry(pc).or_insert(0u64) += 1;
    }
    Ok(Profile {
        rows: attribute(slice, &syms),
        pcs: by_pc,
        traced: slice.len() as u64,
        board: reply.cost,
    })
}

/// Fails unless the trace's count of the inference matches the board's within [`TOLERANCE`].
fn consistent(p: &Profile, board: Board) -> Result<()> {
    ensure!(
        p.traced.abs_diff(p.board) <= TOLERANCE,
        "profile on {}: the trace counts {} instructions in `infer`, the board {} (more than \
         {TOLERANCE} apart): the trace or its slicing is wrong",
        board.name(),
        p.traced,
        p.board
    );
    Ok(())
}

/// Prints the profile: the `top` functions with their share and instructions per entry.
fn print(p: &Profile, board: Board, top: usize) {
    println!(
        "xtask profile: {} ({}): {} instructions in `infer` by the trace, {} by the board's \
         counter",
        board.name(),
        board.core(),
        p.traced,
        p.board
    );
    println!("| instructions | share | entries | per entry | function |");
    println!("|---:|---:|---:|---:|---|");
    for r in p.rows.iter().take(top) {
        let per = if r.entries > 0 {
            format!("{:.0}", r.instructions as f64 / r.entries as f64)
        } else {
            String::new()
        };
        println!(
            "| {} | {:.1} % | {} | {per} | `{}` |",
            r.instructions,
            100.0 * r.instructions as f64 / p.traced.max(1) as f64,
            r.entries,
            r.name
        );
    }
    let rest: u64 = p.rows.iter().skip(top).map(|r| r.instructions).sum();
    if rest > 0 {
        println!(
            "| {rest} | {:.1} % | | | {} more functions |",
            100.0 * rest as f64 / p.traced.max(1) as f64,
            p.rows.len() - top
        );
    }
}

/// Writes `address count` per executed program counter (hex address), by address: the input
/// to annotate a disassembly with.
fn write_pcs(p: &Profile, path: &Path) -> Result<()> {
    let text: String = p
        .pcs
        .iter()
        .map(|(pc, n)| format!("{pc:08x} {n}\n"))
        .collect();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))
}

/// `cargo xtask profile [--board B] [--model FILE] [--row R] [--top N] [--pcs FILE]`.
pub fn run_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("profile", args, &["board", "model", "row", "top", "pcs"])?;
    let board = Board::parse(o.get("board").unwrap_or("mps2-an386"))?;
    let path: PathBuf = o
        .get("model")
        .map_or_else(crate::hil::zoo_model, PathBuf::from);
    let model = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
    let row = o.num("row", 1796u32)?;
    let top = o.num("top", 20usize)?;
    let p = profile(board, &model, row)?;
    print(&p, board, top);
    if let Some(path) = o.get("pcs") {
        write_pcs(&p, Path::new(path))?;
        println!("xtask profile: executions per program counter written to {path}");
    }
    consistent(&p, board)
}

/// The check `cargo xtask test` runs: profiles the zoo digits model on `board` and fails
/// unless the trace agrees with the board's count and finds the engine's step in it.
pub fn check(board: Board) -> Result<()> {
    let model = std::fs::read(crate::hil::zoo_model())?;
    let p = profile(board, &model, 1796)?;
    print(&p, board, 8);
    consistent(&p, board)?;
    ensure!(
        p.rows
            .iter()
            .any(|r| r.name.starts_with("snn_models::engine::")),
        "profile on {}: no instruction of the engine (`snn_models::engine::…`) in `infer`",
        board.name()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syms() -> Symbols {
        Symbols(vec![
            Func {
                start: 0x100,
                end: 0x110,
                name: "infer".into(),
            },
            Func {
                start: 0x200,
                end: 0x240,
                name: "step".into(),
            },
        ])
    }

    #[test]
    fn reads_pcs_and_drops_rewound_blocks() {
        let log = "\
Trace 0: 0x7f00 [00800408/00000100/00000110/ff020201] infer
Trace 0: 0x7f01 [00800408/00000200/00000110/ff020201] step
cpu_io_recompile: rewound execution of TB to 00000200
Trace 0: 0x7f02 [00800408/00000200/00000110/ff038201] step
unrelated line
";
        assert_eq!(trace_pcs(log.as_bytes()).unwrap(), vec![0x100, 0x200]);
        let bad = "Trace 0: 0x7f00 [zz/qq] x\n";
        assert!(trace_pcs(bad.as_bytes()).is_err());
    }

    #[test]
    fn slices_the_first_inference_and_attributes_it() {
        let s = syms();
        let infer = s.0[0].clone();
        // idle, infer entry, a call into step (twice entered), back, return; idle; next infer.
        let pcs = [
            0x50, 0x100, 0x102, 0x200, 0x202, 0x200, 0x104, 0x10e, 0x50, 0x100, 0x102,
        ];
        let slice = inference(&pcs, &infer).unwrap();
        assert_eq!(slice, &pcs[1..8]);
        let rows = attribute(slice, &s);
        assert_eq!(
            rows,
            vec![
                Row {
                    name: "infer".into(),
                    instructions: 4,
                    entries: 1
                },
                Row {
                    name: "step".into(),
                    instructions: 3,
                    entries: 2
                },
            ]
        );
        assert!(inference(&[0x50, 0x52], &infer).is_err());
        assert_eq!(s.find(0x150), None);
        assert_eq!(s.find(0x23f), Some(1));
    }

    #[test]
    fn a_trace_far_from_the_board_count_fails() {
        let p = Profile {
            rows: Vec::new(),
            pcs: Default::default(),
            traced: 1000,
            board: 1000 + TOLERANCE + 1,
        };
        assert!(consistent(&p, Board::Mps2An386).is_err());
        let p = Profile {
            board: 1000 + TOLERANCE,
            ..p
        };
        assert!(consistent(&p, Board::Mps2An386).is_ok());
    }
}
