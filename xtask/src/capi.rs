//! `cargo xtask capi-header` and the C API checks of `cargo xtask test`: the generated header is
//! up to date, a host C program (gcc) and a C firmware under QEMU (arm-none-eabi-gcc) both give
//! every output count the host Rust engine gives, for digits samples and for time series
//! streamed step by step (raw `i16` samples, decision rules, readout values).
use crate::setup::{cargo, root, run};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The checked-in header.
pub fn header_path() -> PathBuf {
    root().join("models/capi/include/snn.h")
}

/// The header cbindgen generates from `models/capi/src` now.
pub fn generate_header() -> Result<String> {
    let crate_dir = root().join("models/capi");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .map_err(|e| anyhow::anyhow!("models/capi/cbindgen.toml: {e}"))?;
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .context("cbindgen could not generate the header from models/capi/src")?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    Ok(String::from_utf8(out)?)
}

/// `cargo xtask capi-header`: writes the header (atomically).
pub fn write_header() -> Result<()> {
    let text = generate_header()?;
    let path = header_path();
    let tmp = path.with_extension("h.tmp");
    std::fs::write(&tmp, &text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("rename to {}", path.display()))?;
    println!("xtask: wrote {}", path.display());
    Ok(())
}

/// Fails when the checked-in header is not what cbindgen generates.
pub fn check_header() -> Result<()> {
    let want = generate_header()?;
    let path = header_path();
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        bail!(
            "{} is out of date with models/capi/src: run `cargo xtask capi-header` and commit it",
            path.display()
        );
    }
    Ok(())
}

/// Builds `libsnn_capi.a` for `target` (release); returns its path.
pub fn build_lib(target: &str) -> Result<PathBuf> {
    crate::setup::ensure_target(target)?;
    run(cargo().args(["build", "-p", "snn-capi", "--release", "--target", target]))?;
    let lib = root()
        .join("target")
        .join(target)
        .join("release/libsnn_capi.a");
    if !lib.exists() {
        bail!("cargo built snn-capi but {} is missing", lib.display());
    }
    Ok(lib)
}

/// A scratch directory for the C builds.
fn scratch() -> Result<PathBuf> {
    let dir = crate::firmware::scratch()?.join("capi");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))
}

/// Default digits rows of `cargo xtask capi` (the last ones of the bundled data).
pub const SAMPLES: usize = 200;

/// `cargo xtask capi [--samples N]`.
pub fn run_cmd(args: &[String]) -> Result<()> {
    let o = crate::args::Opts::parse("capi", args, &["samples"])?;
    run_all(o.num("samples", SAMPLES)?)
}

/// Every C API check: header, host C program, static libraries for the cores, C firmware
/// under QEMU (built for Cortex-M4F and for Cortex-M0, both run on the emulated M4 board).
pub fn run_all(samples: usize) -> Result<()> {
    println!(
        "xtask capi: {} is up to date with cbindgen",
        header_path().display()
    );
    check_header()?;
    let zoo = std::fs::read(crate::hil::zoo_model())?;
    let rich = std::fs::read(crate::hil::synthetic_rich_model()?)?;
    println!("xtask capi: host C program (gcc), zoo digits and the rich synthetic model, {samples} samples each");
    let host = build_host_program()?;
    for (name, model) in [("zoo digits", &zoo), ("synthetic rich", &rich)] {
        let n = host_program(&host, name, model, samples)?;
        println!("xtask capi: host C == Rust engine, {name}: {n} samples x features/events/streamed steps");
    }
    let streams = series_streams()?;
    for s in &streams {
        let n = host_series(&host, s)?;
        println!(
            "xtask capi: host C == Rust engine, {} streamed through snn_step_raw: {n} series \
             (every step's output spikes and decisions)",
            s.name
        );
    }
    for core in Core::ALL {
        println!(
            "xtask capi: C firmware for {} (arm-none-eabi-gcc) under QEMU, zoo digits, {samples} samples",
            core.cpu
        );
        let elf = build_firmware(core, &zoo, samples)?;
        let n = firmware_run(&elf, &zoo, samples)?;
        println!(
            "xtask capi: board C ({}) == Rust engine: {n} samples",
            core.cpu
        );
        for s in streams.iter().filter(|s| s.on_board) {
            let elf = build_series_firmware(core, s)?;
            let n = series_firmware_run(&elf, s)?;
            println!(
                "xtask capi: board C ({}) == Rust engine, {} streamed: {n} series",
                core.cpu, s.name
            );
        }
    }
    Ok(())
}

/// Decision rules of the series checks: the hil streams' defaults (`--window 10
/// --threshold 4`).
const RULES: (u32, u32) = (10, 4);

/// One zoo series model and its test series as raw samples, with what the C programs must
/// print for it.
struct SeriesStream {
    /// Zoo file name.
    name: &'static str,
    /// The model file.
    model: Vec<u8>,
    /// `SERIES.bin` of `tests/host.c` and the firmware (see there).
    blob: Vec<u8>,
    /// The Rust engine's `R` line of every series.
    want: Vec<String>,
    /// Also streamed by the C firmware under QEMU.
    on_board: bool,
}

/// The zoo series models: every BasicMotions test series (both models, on the board too) and
/// every 10th JapaneseVowels one (host only).
fn series_streams() -> Result<Vec<SeriesStream>> {
    let zoo = root().join("models/zoo");
    let mut out = Vec::new();
    for (name, step, on_board) in [
        ("basic_motions.snn", 1, true),
        ("basic_motions_readout.snn", 1, true),
        ("japanese_vowels.snn", 10, false),
    ] {
        let path = zoo.join(name);
        let model = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        let m = snn_models::decode(&model).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let test = crate::series::zoo_test_file(m.header.name)
            .with_context(|| format!("{name}: no bundled test series"))?;
        let file = crate::series::read(&test)?;
        let series: Vec<&crate::series::Series> = file.series.iter().step_by(step).collect();
        let max_abs = series
            .iter()
            .flat_map(|s| s.values.iter())
            .fold(0f32, |a, &x| a.max(x.abs()));
        let exp = crate::series::raw_exponent(max_abs);
        let c = file.channels;
        let mut blob = Vec::new();
        for v in [
            series.len() as u32,
            c as u32,
            exp as i32 as u32,
            RULES.0,
            RULES.1,
        ] {
            blob.extend(v.to_le_bytes());
        }
        let mut want = Vec::new();
        for s in &series {
            let raw = crate::series::to_raw(&s.values, exp);
            blob.extend(((raw.len() / c) as u32).to_le_bytes());
            blob.extend(raw.iter().flat_map(|r| r.to_le_bytes()));
            want.push(series_line(&m, &raw, c, exp).with_context(|| name.to_string())?);
        }
        drop(m);
        out.push(SeriesStream {
            name,
            model,
            blob,
            want,
            on_board,
        });
    }
    Ok(out)
}

/// FNV-1a over 32-bit words, as `mix` in the C programs.
fn mix(h: u32, x: u32) -> u32 {
    (h ^ x).wrapping_mul(16_777_619)
}

/// The `R` line the C programs print for one series streamed from rest (step limit off, as
/// the board's stream): counts, synaptic events, class, the window's final decision, first to
/// threshold's class and step, the fingerprint of every step (output spikes, window code,
/// threshold step or readout values) and the readout values (`tests/host.c` `stream_series`).
fn series_line(m: &snn_models::Model<'_>, raw: &[i16], c: usize, exp: i8) -> Result<String> {
    use snn_models::decision::{FirstToThreshold, Populations, Window};
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("{e}");
    let mut state = snn_models::EngineBuffers::for_model(m);
    let mut e = state.engine(m).map_err(|e| err(&e))?;
    e.set_step_limit(false);
    let last = m.layers.len() - 1;
    let rules = !m.has_readout();
    let pops = Populations::of(m).map_err(|e| err(&e))?;
    let k = usize::from(pops.classes());
    let w = RULES.0 as usize;
    let (mut ring, mut sums, mut counts) = (vec![0u16; w * k], vec![0u32; k], vec![0u32; k]);
    let mut win = Window::new(pops, w, &mut ring, &mut sums).map_err(|e| err(&e))?;
    let mut first = FirstToThreshold::new(pops, RULES.1, &mut counts).map_err(|e| err(&e))?;
    let mut h = 2_166_136_261u32;
    for frame in raw.chunks_exact(c) {
        e.step_raw(frame, exp).map_err(|e| err(&e))?;
        let spikes = e.layer_spikes(last);
        for &j in spikes {
            h = mix(h, u32::from(j));
        }
        h = mix(h, 0xFFFF);
        if rules {
            let d = win.push(spikes).map_err(|e| err(&e))?;
            let f = first.push(spikes).map_err(|e| err(&e))?;
            h = mix(h, d.map_or(0, |c| u32::from(c) + 1));
            h = mix(h, f.map_or(0, |r| r.step));
        } else {
            for &v in e.readout() {
                h = mix(h, v as u32);
            }
        }
    }
    let join = |v: Vec<String>| v.join(" ");
    let counts = join(e.output_counts().iter().map(|c| c.to_string()).collect());
    let head = format!(
        "R {counts} ; {} ; {} ;",
        e.stats().synaptic_events,
        e.predicted_class()
    );
    Ok(if rules {
        let wd = win.decision().map_or(0, |c| u32::from(c) + 1);
        let (fc, fs) = first.reached().map_or((0, 0), |r| (r.class, r.step));
        format!("{head} {wd} ; {fc} {fs} ; {h} ; -")
    } else {
        let r = join(e.readout().iter().map(|v| v.to_string()).collect());
        format!("{head} - ; - ; {h} ; {r}")
    })
}

/// Runs the host C program's series mode on `s`; every `R` line must equal the Rust engine's.
fn host_series(exe: &Path, s: &SeriesStream) -> Result<usize> {
    let dir = scratch()?;
    let model_path = dir.join("host-series-model.snn");
    let series_path = dir.join("host-series.bin");
    write_atomic(&model_path, &s.model)?;
    write_atomic(&series_path, &s.blob)?;
    let out = std::process::Command::new(exe)
        .arg("--series")
        .arg(&model_path)
        .arg(&series_path)
        .output()
        .with_context(|| format!("run {}", exe.display()))?;
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!(
            "host C program failed streaming {} ({})",
            s.name,
            out.status
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    compare_lines(s.name, &lines, &s.want)
}

/// Checks that `lines` are `want`, line by line.
fn compare_lines(name: &str, lines: &[&str], want: &[String]) -> Result<usize> {
    let bad: Vec<String> = (0..lines.len().max(want.len()))
        .filter_map(|i| {
            let (l, w) = (lines.get(i).map(|l| l.trim()), want.get(i));
            (l != w.map(String::as_str)).then(|| {
                format!(
                    "series {i}: C `{}`, Rust `{}`",
                    l.unwrap_or("<missing>"),
                    w.map_or("<none>", |w| w)
                )
            })
        })
        .collect();
    if !bad.is_empty() {
        bail!(
            "{name}: the C API stream differs from the Rust engine in {} series:\n{}",
            bad.len(),
            bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(want.len())
}

/// What the C program prints for one run: the counts, per-layer totals, synaptic events, class
/// and budget verdicts, as `counts ; totals ; events ; class ; budgets`.
fn expected_line(model: &[u8], features: &[u8], seed: u32) -> Result<String> {
    let h = crate::hil::host_infer(model, features, seed)?;
    let join = |v: Vec<String>| v.join(" ");
    Ok(format!(
        "{} ; {} ; {} ; {} ; {}",
        join(h.counts.iter().map(|c| c.to_string()).collect()),
        join(h.layers.iter().map(|c| c.to_string()).collect()),
        h.events,
        h.predicted,
        join(
            h.budget_ok
                .iter()
                .map(|&b| u8::from(b).to_string())
                .collect()
        ),
    ))
}

/// The input spikes `features` encode to under the model's encoding, as `(t, index)` events.
fn events_of(model: &[u8], features: &[u8], seed: u32) -> Result<Vec<(u16, u16)>> {
    let m = snn_models::decode(model).map_err(|e| anyhow::anyhow!("model: {e}"))?;
    let mut enc = snn_models::encode::Encoder::new(&m.header, features, seed)
        .map_err(|e| anyhow::anyhow!("encoder: {e}"))?;
    let mut buf = vec![0u16; usize::from(m.header.input_size)];
    let mut out = Vec::new();
    for t in 0..m.header.time_steps {
        let k = enc
            .next_step(&mut buf)
            .map_err(|e| anyhow::anyhow!("encoder: {e}"))?;
        out.extend(buf[..k].iter().map(|&i| (t, i)));
    }
    Ok(out)
}

/// The samples the C programs read: digits rows as `(seed, features)`.
fn rows(samples: usize) -> Result<Vec<(u32, Vec<u8>)>> {
    Ok(crate::digits::last(samples)?
        .into_iter()
        .map(|s| (s.row, snn_hal::host::digit_features(&s.pixels)))
        .collect())
}

fn build_host_program() -> Result<PathBuf> {
    let lib = build_lib(&host_triple()?)?;
    let dir = scratch()?;
    let exe = dir.join("host-c");
    let capi = root().join("models/capi");
    let mut gcc = std::process::Command::new("gcc");
    gcc.args(["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(capi.join("include"))
        .arg(capi.join("tests/host.c"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe);
    run(&mut gcc).context("compile models/capi/tests/host.c with gcc")?;
    Ok(exe)
}

fn host_triple() -> Result<String> {
    let out = std::process::Command::new("rustc").arg("-vV").output()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .context("`rustc -vV` names no host triple")
}

/// Runs the host C program on `model` and `samples` rows; every line must equal the host engine.
fn host_program(exe: &Path, name: &str, model: &[u8], samples: usize) -> Result<usize> {
    let dir = scratch()?;
    let model_path = dir.join("host-model.snn");
    write_atomic(&model_path, model)?;
    let rows = rows(samples)?;
    let input = rows.first().map_or(0, |r| r.1.len());
    let mut file = Vec::new();
    file.extend((rows.len() as u32).to_le_bytes());
    file.extend((input as u32).to_le_bytes());
    let mut want = Vec::new();
    for (seed, f) in &rows {
        file.extend(seed.to_le_bytes());
        file.extend(f);
        let ev = events_of(model, f, *seed)?;
        file.extend((ev.len() as u32).to_le_bytes());
        for (t, i) in ev {
            file.extend(t.to_le_bytes());
            file.extend(i.to_le_bytes());
        }
        want.push(expected_line(model, f, *seed)?);
    }
    let samples_path = dir.join("host-samples.bin");
    write_atomic(&samples_path, &file)?;
    let out = std::process::Command::new(exe)
        .arg(&model_path)
        .arg(&samples_path)
        .output()
        .with_context(|| format!("run {}", exe.display()))?;
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("host C program failed on the {name} model ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    compare(name, &lines, &want, &["F", "E", "S"])
}

/// Checks that `lines` hold, for every sample in order, one line per way equal to `want`.
fn compare(name: &str, lines: &[&str], want: &[String], ways: &[&str]) -> Result<usize> {
    let mut bad = Vec::new();
    let mut it = lines.iter();
    for (s, w) in want.iter().enumerate() {
        for way in ways {
            let line = it.next().copied().unwrap_or("<missing>");
            let expect = format!("{way} {w}");
            if line.trim() != expect {
                bad.push(format!("sample {s}: C `{line}`, Rust `{expect}`"));
            }
        }
    }
    if let Some(extra) = it.next() {
        bad.push(format!("unexpected extra output `{extra}`"));
    }
    if !bad.is_empty() {
        bail!(
            "{name}: the C API differs from the Rust engine in {} places:\n{}",
            bad.len(),
            bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(want.len())
}

/// A core the C example firmware is built for.
#[derive(Clone, Copy)]
pub struct Core {
    /// gcc's `-mcpu`.
    pub cpu: &'static str,
    /// The Rust target of the static library.
    pub target: &'static str,
    /// gcc's float ABI flags for that target.
    pub float: &'static [&'static str],
}

impl Core {
    /// Cortex-M4F (the AN386's own core) and Cortex-M0 (ARMv6-M code runs unchanged on the M4).
    pub const ALL: [Core; 2] = [
        Core {
            cpu: "cortex-m4",
            target: "thumbv7em-none-eabihf",
            float: &["-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
        },
        Core {
            cpu: "cortex-m0",
            target: "thumbv6m-none-eabi",
            float: &["-mfloat-abi=soft"],
        },
    ];
}

/// Builds the C example firmware for `core` with `model` and the last `samples` digits rows in
/// flash; returns the ELF.
pub fn build_firmware(core: Core, model: &[u8], samples: usize) -> Result<PathBuf> {
    crate::setup::ensure_arm_gcc()?;
    let dir = scratch()?.join(format!("fw-{}", core.cpu));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let rows = rows(samples)?;
    let mut file = Vec::new();
    file.extend((rows.len() as u32).to_le_bytes());
    file.extend((rows.first().map_or(0, |r| r.1.len()) as u32).to_le_bytes());
    for (seed, f) in &rows {
        file.extend(seed.to_le_bytes());
        file.extend(f);
    }
    gcc_firmware(core, &dir, model, &file, &[])
}

/// Builds the C example firmware in series mode (`-DSERIES`) for `core`, with `s`'s model and
/// raw series in flash; returns the ELF.
fn build_series_firmware(core: Core, s: &SeriesStream) -> Result<PathBuf> {
    crate::setup::ensure_arm_gcc()?;
    let stem = s.name.trim_end_matches(".snn");
    let dir = scratch()?.join(format!("fw-{}-{stem}", core.cpu));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    gcc_firmware(core, &dir, &s.model, &s.blob, &["-DSERIES"])
}

/// Compiles the example firmware in `dir` with `model` and `samples` (the flash blobs) and
/// `extra` gcc flags.
fn gcc_firmware(
    core: Core,
    dir: &Path,
    model: &[u8],
    samples: &[u8],
    extra: &[&str],
) -> Result<PathBuf> {
    let lib = build_lib(core.target)?;
    let model_path = dir.join("model.snn");
    write_atomic(&model_path, model)?;
    let samples_path = dir.join("samples.bin");
    write_atomic(&samples_path, samples)?;
    let src = root().join("models/capi/examples/c-firmware");
    let elf = dir.join("c-firmware.elf");
    let mut gcc = std::process::Command::new("arm-none-eabi-gcc");
    gcc.arg(format!("-mcpu={}", core.cpu))
        .arg("-mthumb")
        .args(core.float)
        .args(["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror"])
        .args(["-ffreestanding", "-ffunction-sections", "-fdata-sections"])
        .args(["-nostdlib", "-Wl,--gc-sections", "-Wl,-z,noexecstack"])
        .args(extra)
        .arg(format!("-DMODEL_PATH=\"{}\"", model_path.display()))
        .arg(format!("-DSAMPLES_PATH=\"{}\"", samples_path.display()))
        .arg("-I")
        .arg(root().join("models/capi/include"))
        .arg("-T")
        .arg(src.join("link.ld"))
        .arg(src.join("board.c"))
        .arg(src.join("main.c"))
        .arg(src.join("blobs.S"))
        .arg(&lib)
        .arg("-lgcc")
        .arg("-o")
        .arg(&elf);
    run(&mut gcc).context("compile the C example firmware with arm-none-eabi-gcc")?;
    Ok(elf)
}

/// Boots `elf` on the emulated MPS2-AN386; every sample line must equal the host engine.
pub fn firmware_run(elf: &Path, model: &[u8], samples: usize) -> Result<usize> {
    let text = qemu_run(elf)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let want: Vec<String> = rows(samples)?
        .iter()
        .map(|(seed, f)| expected_line(model, f, *seed))
        .collect::<Result<_>>()?;
    let n = compare("C firmware", &lines, &want, &["F"])?;
    // The classes the board printed (4th field), against the labels: for information, the
    // equality with the host above is the test.
    let labels = crate::digits::last(samples)?;
    let correct = lines
        .iter()
        .zip(&labels)
        .filter(|(l, s)| l.split(';').nth(3).map(str::trim) == Some(&s.label.to_string()))
        .count();
    println!("xtask capi: board classified {correct} of {n} digits correctly");
    Ok(n)
}

/// Boots the series firmware `elf`; every `R` line must equal the Rust engine's.
fn series_firmware_run(elf: &Path, s: &SeriesStream) -> Result<usize> {
    let text = qemu_run(elf)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    compare_lines(&format!("C firmware, {}", s.name), &lines, &s.want)
}

/// Boots `elf` on the emulated MPS2-AN386 and returns its UART output (the `#` lines are
/// printed); fails when it does not exit with 0 within 300 s.
fn qemu_run(elf: &Path) -> Result<String> {
    crate::setup::ensure_qemu("qemu-system-arm")?;
    let mut child = std::process::Command::new("qemu-system-arm")
        .args(["-M", "mps2-an386", "-cpu", "cortex-m4", "-display", "none"])
        .args(["-monitor", "none", "-serial", "stdio"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(elf)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("start qemu-system-arm")?;
    let mut stdout = child.stdout.take().context("qemu stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the C firmware did not finish within 300 s under QEMU");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let text = reader.join().unwrap_or_default();
    for l in text.lines().filter(|l| l.starts_with('#')) {
        println!("xtask capi: board says {}", l.trim_start_matches("# "));
    }
    if !status.success() {
        bail!("the C firmware failed under QEMU ({status}):\n{text}");
    }
    Ok(text)
}
