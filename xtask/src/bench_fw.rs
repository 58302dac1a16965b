//! `cargo xtask bench-fw`: instructions per inference on every emulated core, their split into a
//! cost per synaptic event, a cost per neuron update and a fixed cost per inference (fitted over
//! seeded random models of several hidden sizes), the exported zoo model's cost, and the
//! firmware's flash and RAM, and streams: instructions per step (mean and maximum over every
//! test series of the zoo series models (JapaneseVowels, BasicMotions, BasicMotions with a
//! readout), encoding on the board included) and the real-time factor at the board's clock,
//! and the stream path's own cost fit per whole series (`a' x events + b' x updates + c'`, least squares over every streamed
//! series: what `snn simulate --target` predicts a series model from); `--json` ends with one
//! JSON line holding the per-core table.
//!
//! Under `qemu -icount shift=0` the firmware's counter counts executed instructions (SysTick:
//! resolution 40 to 62.5; `minstret` on RV32: exact), so these numbers are exact and repeatable,
//! independent of host load.
use crate::args::Opts;
use crate::digits;
use crate::firmware::{build, scratch, Board};
use crate::setup::ensure_qemu;
use anyhow::{bail, Context, Result};
use snn_hal::host::{digit_features, Qemu};
use snn_hal::protocol::Input;

/// One measured inference: instructions, synaptic events, neuron updates.
struct Point {
    cost: f64,
    events: f64,
    updates: f64,
}

/// Least squares `cost = a * events + b * updates + c`; returns `(a, b, c)`.
#[allow(clippy::needless_range_loop)] // index form mirrors the matrix algebra
fn fit(points: &[Point]) -> Option<(f64, f64, f64)> {
    // Normal equations X^T X beta = X^T y, X rows = [events, updates, 1].
    let mut m = [[0f64; 4]; 3];
    for p in points {
        let x = [p.events, p.updates, 1.0];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += x[i] * x[j];
            }
            m[i][3] += x[i] * p.cost;
        }
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..3 {
        let piv = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        m.swap(col, piv);
        if m[col][col].abs() < 1e-9 {
            return None;
        }
        for r in 0..3 {
            if r != col {
                let f = m[r][col] / m[col][col];
                for c in col..4 {
                    m[r][c] -= f * m[col][c];
                }
            }
        }
    }
    Some((m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]))
}

/// What one core measured: the fitted cost model, the zoo model's cost, the firmware's size.
struct CoreResult {
    board: Board,
    /// Fit: instructions per synaptic event.
    per_event: f64,
    /// Fit: instructions per neuron update.
    per_update: f64,
    /// Fit: fixed instructions per inference.
    fixed: f64,
    /// Mean instructions per inference of the exported zoo digits model.
    zoo: f64,
    /// Zoo digits accuracy on the board over the samples.
    zoo_accuracy: f64,
    /// Firmware flash (stored sections) and static RAM, bytes.
    flash: u64,
    ram: u64,
    /// Streams of the zoo series models that fit the board.
    streams: Vec<StreamCost>,
    /// Stream fit ([`stream_fit`]): per event, per update, per series; `None` without streams.
    stream_fit: Option<(f64, f64, f64)>,
}

/// Cost of streaming one zoo series model's test set.
struct StreamCost {
    /// Model name.
    model: String,
    /// Series and steps streamed.
    series: usize,
    steps: u64,
    /// Instructions per step: mean and maximum over the test set.
    mean: f64,
    max: u64,
    /// Instructions of all steps, synaptic events (host count) and neuron updates (neurons x
    /// steps) over the test set.
    cost: u64,
    events: u64,
    updates: u64,
    /// Each series as a cost-model point (its cost, events, neuron updates).
    points: Vec<Point>,
}

impl StreamCost {
    /// Instructions per inference: one whole series streamed, mean over the test set.
    fn per_series(&self) -> f64 {
        self.cost as f64 / self.series.max(1) as f64
    }
}

/// The stream cost model of one core, `instructions = a x events + b x updates + c` per whole
/// series, least squares over every streamed series of `streams` (the stream path is not the
/// Infer path: direct input is a multiply per channel and neuron, recurrent rows take the
/// general fan-out, and each step encodes raw samples, keeps running counts and decides).
fn stream_fit(streams: &[StreamCost]) -> Option<(f64, f64, f64)> {
    let points: Vec<Point> = streams
        .iter()
        .flat_map(|s| s.points.iter())
        .map(|p| Point {
            cost: p.cost,
            events: p.events,
            updates: p.updates,
        })
        .collect();
    fit(&points)
}

/// Sampling rate of BasicMotions (the UEA archive: 10 Hz, ten seconds per series).
const BASIC_MOTIONS_HZ: f64 = 10.0;

/// Core clock of an emulated board, Hz (the one its SysTick counts: `board/mps2.rs`,
/// `board/microbit.rs`); `None` for the RV32 `virt` machine, which has no core clock to speak
/// of (it counts `minstret`).
fn clock_hz(board: Board) -> Option<f64> {
    match board.name() {
        "mps2-an385" | "mps2-an386" | "mps2-an500" => Some(25e6),
        "mps2-an505" => Some(20e6),
        "microbit" => Some(16e6),
        _ => None,
    }
}

/// Real-time factor of a stream sampled at `hz` on a core at `clock` Hz taking `instr` per
/// step at one instruction per cycle: `(1 / hz) / (instr / clock)`.
fn real_time_factor(clock: f64, instr: f64, hz: f64) -> f64 {
    clock / (instr.max(1.0) * hz)
}

/// Hidden sizes measured: these of 64, 128, 256, 512 that the board takes; boards too small for
/// three of them (the micro:bit) measure 32, 64, 96, 128 instead.
fn hidden_sizes(max_neurons: u32, max_model_bytes: u32) -> Vec<u16> {
    let fits = |h: &u16| {
        u32::from(*h) + 10 <= max_neurons && (64 + 10) * u32::from(*h) + 512 <= max_model_bytes
    };
    let big: Vec<u16> = [64u16, 128, 256, 512].into_iter().filter(fits).collect();
    if big.len() >= 3 {
        big
    } else {
        [32u16, 64, 96, 128].into_iter().filter(fits).collect()
    }
}

/// Runs the benchmark on the emulated `board`, printing its per-hidden-size table.
fn bench_board(board: Board, samples: usize) -> Result<CoreResult> {
    let machine = board.emulated()?;
    ensure_qemu(machine.program)?;
    let elf = build(board, None)?;
    let (flash, ram) = crate::elf::flash_ram(&std::fs::read(&elf)?)?;
    let log = scratch()?.join(format!("bench-fw-{}.defmt", board.name()));
    let (_qemu, mut client) = Qemu::spawn_on(&machine, &elf, &log)?;
    let info = client.info().context("Info")?;
    let rows = digits::last(samples)?;
    let mut points = Vec::new();
    let mut silent_points = Vec::new();
    println!(
        "bench-fw: emulated {} ({}), qemu -icount shift=0, {} digits samples, 64 -> H -> 10, \
         25 steps, rate coding, dense 8-bit weights",
        board.name(),
        board.core(),
        rows.len()
    );
    println!("| hidden H | model bytes | instr/inference | synaptic events | neuron updates | instr/event (all-in) | silent inference |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for hidden in hidden_sizes(info.max_neurons, info.max_model_bytes) {
        let model = snn_hal::synthetic::digits_model(hidden, 1)
            .map_err(|e| anyhow::anyhow!("synthetic model: {e}"))?;
        let info = client.load(&model).context("upload")?;
        let updates = f64::from(info.neurons) * f64::from(info.time_steps);
        // A silent sample (no input events): every neuron still leaks each step, no synapse works.
        let silent = client.infer(Input::Events(&[]), 0)?;
        silent_points.push((updates, silent.cost as f64));
        let (mut cost, mut events) = (0f64, 0f64);
        for s in &rows {
            let f = digit_features(&s.pixels);
            let r = client.infer(Input::Features(&f), s.row)?;
            cost += r.cost as f64;
            events += r.synaptic_events as f64;
            points.push(Point {
                cost: r.cost as f64,
                events: r.synaptic_events as f64,
                updates,
            });
        }
        let n = rows.len().max(1) as f64;
        println!(
            "| {hidden} | {} | {:.0} | {:.0} | {:.0} | {:.2} | {} |",
            model.len(),
            cost / n,
            events / n,
            updates,
            cost / events.max(1.0),
            silent.cost
        );
    }
    let Some((a, b, c)) = fit(&points) else {
        bail!("could not fit the cost model (degenerate data)");
    };
    println!(
        "bench-fw: {}: least-squares fit over {} inferences: instructions = {a:.2} x synaptic \
         events + {b:.2} x neuron updates + {c:.0}",
        board.core(),
        points.len()
    );
    // Silent runs: cost = b * updates + c0 (a straight line through the models).
    let k = silent_points.len() as f64;
    let (sx, sy) = silent_points
        .iter()
        .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
    let sxx: f64 = silent_points.iter().map(|&(x, _)| x * x).sum();
    let sxy: f64 = silent_points.iter().map(|&(x, y)| x * y).sum();
    let slope = (k * sxy - sx * sy) / (k * sxx - sx * sx);
    let c0 = (sy - slope * sx) / k;
    // Spiking runs minus the silent cost of the same model, per synaptic event.
    let mut extra = 0.0;
    let mut ev = 0.0;
    for p in &points {
        extra += p.cost - (slope * p.updates + c0);
        ev += p.events;
    }
    println!(
        "bench-fw: {}: silent inferences: {slope:.2} instructions per neuron update + {c0:.0} \
         per inference; spiking inferences add {:.2} instructions per synaptic event (input \
         encoding and spike bookkeeping included)",
        board.core(),
        extra / ev.max(1.0)
    );
    // The exported zoo model, the one users start from.
    let zoo = std::fs::read(crate::hil::zoo_model())?;
    client.load(&zoo).context("upload the zoo digits model")?;
    let (mut cost, mut correct) = (0f64, 0usize);
    for s in &rows {
        let r = client.infer(Input::Features(&digit_features(&s.pixels)), s.row)?;
        cost += r.cost as f64;
        correct += usize::from(r.predicted == u16::from(s.label));
    }
    let n = rows.len().max(1) as f64;
    // Streams: every test series of each zoo series model that fits the board. The micro:bit
    // holds only one of them, so its streams all run on the bench build (same code, same
    // instructions), and the M0's stream fit sees the same models as every other core's.
    let streams = if board == Board::Microbit {
        drop((_qemu, client));
        microbit_256k_streams()?
    } else {
        let streams = measure_streams(board, &mut client, info.max_model_bytes)?;
        drop((_qemu, client));
        streams
    };
    let stream_fit = stream_fit(&streams);
    Ok(CoreResult {
        board,
        per_event: a,
        per_update: b,
        fixed: c,
        zoo: cost / n,
        zoo_accuracy: correct as f64 / n,
        flash,
        ram,
        streams,
        stream_fit,
    })
}

/// Streams every test series of each zoo series model that fits `max_model_bytes` through the
/// board behind `client` (one cost point per series).
fn measure_streams(
    board: Board,
    client: &mut snn_hal::host::Client,
    max_model_bytes: u32,
) -> Result<Vec<StreamCost>> {
    let mut streams = Vec::new();
    for path in crate::hil::zoo_series_models() {
        let model = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        if model.len() > max_model_bytes as usize {
            println!(
                "bench-fw: {}: {} ({} bytes) does not fit the board's {} bytes; no stream",
                board.core(),
                path.display(),
                model.len(),
                max_model_bytes
            );
            continue;
        }
        let neurons: u64 = snn_models::decode(&model)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            .layers
            .iter()
            .map(|l| u64::from(l.neurons))
            .sum();
        let rep = crate::hil::stream_series(client, &model, None, crate::hil::STREAM_RULES)?;
        crate::stream::judge(&rep)?;
        streams.push(StreamCost {
            model: rep.model.clone(),
            series: rep.samples,
            steps: rep.steps,
            mean: rep.per_step(),
            max: rep.step_max,
            cost: rep.cost,
            events: rep.synaptic_events,
            updates: neurons * rep.steps,
            points: rep
                .per_series
                .iter()
                .map(|&(cost, events, steps)| Point {
                    cost: cost as f64,
                    events: events as f64,
                    updates: (neurons * steps) as f64,
                })
                .collect(),
        });
    }
    Ok(streams)
}

/// Most zoo series models do not fit the micro:bit (12 KiB of model, 32 KiB of RAM; only the
/// BasicMotions readout does): their M0 streams are counted on the `sram-256k` bench build
/// instead, QEMU's micro:bit with 256 KiB of SRAM (the same firmware code, so the same
/// Cortex-M0 instructions; no such nRF51 exists).
fn microbit_256k_streams() -> Result<Vec<StreamCost>> {
    let board = Board::Microbit;
    let v = crate::firmware::Variant {
        sram_256k: true,
        ..crate::firmware::Variant::default()
    };
    let elf = crate::firmware::build_variant(board, None, &v)?;
    let log = scratch()?.join("bench-fw-microbit-256k.defmt");
    let (_qemu, mut client) = Qemu::spawn_on(&crate::firmware::MICROBIT_256K, &elf, &log)?;
    let info = client.info().context("Info (microbit, 256 KiB of SRAM)")?;
    println!(
        "bench-fw: {}: the zoo series models on the sram-256k bench build (QEMU micro:bit with \
         256 KiB of SRAM, {} bytes of model)",
        board.core(),
        info.max_model_bytes
    );
    measure_streams(board, &mut client, info.max_model_bytes)
}

/// Runs the benchmark: `cargo xtask bench-fw [--board B|all] [--samples N] [--json]`.
pub fn run_cmd(args: &[String]) -> Result<()> {
    // `--json` is a switch; every other option takes a value.
    let json = args.iter().any(|a| a == "--json");
    let args: Vec<String> = args.iter().filter(|a| *a != "--json").cloned().collect();
    let o = Opts::parse("bench-fw", &args, &["samples", "board"])?;
    let samples = o.num("samples", 50usize)?;
    let boards: Vec<Board> = match o.get("board").unwrap_or("all") {
        "all" => Board::EMULATED.to_vec(),
        name => vec![Board::parse(name)?],
    };
    let mut results = Vec::new();
    for board in boards {
        results.push(bench_board(board, samples)?);
    }
    println!("bench-fw: per core (fit over the synthetic models; zoo = models/zoo/digits.snn)");
    println!("| core | board | instr/event | instr/update | fixed instr/inference | zoo digits instr/inference | zoo accuracy | flash B | static RAM B |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &results {
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.0} | {:.0} | {:.1} % | {} | {} |",
            r.board.core(),
            r.board.name(),
            r.per_event,
            r.per_update,
            r.fixed,
            r.zoo,
            100.0 * r.zoo_accuracy,
            r.flash,
            r.ram
        );
    }
    println!(
        "bench-fw: target on cortex-m4, m7, m33: <= 2.0 per event, <= 12 per update, <= 10k fixed"
    );
    println!(
        "bench-fw: streams, every test series from rest, raw i16 samples encoded on the board; \
         instructions per step (encoding + network step, SysTick resolution 40-62.5); real-time \
         factor of BasicMotions (10 Hz) at the board's clock, one instruction per cycle"
    );
    println!("| core | board | model | series | steps | instr/step mean | instr/step max | instr/series (inference) | synaptic events/series | real-time factor (mean / worst step) |");
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---|");
    for r in &results {
        for s in &r.streams {
            let rtf = match clock_hz(r.board) {
                Some(clock) if s.model.starts_with("basic_motions") => format!(
                    "{:.0}x / {:.0}x at {:.0} MHz",
                    real_time_factor(clock, s.mean, BASIC_MOTIONS_HZ),
                    real_time_factor(clock, s.max as f64, BASIC_MOTIONS_HZ),
                    clock / 1e6
                ),
                _ => "-".to_string(),
            };
            println!(
                "| {} | {} | {} | {} | {} | {:.0} | {} | {:.0} | {:.0} | {rtf} |",
                r.board.core(),
                r.board.name(),
                s.model,
                s.series,
                s.steps,
                s.mean,
                s.max,
                s.per_series(),
                s.events as f64 / s.series.max(1) as f64
            );
        }
    }
    for r in &results {
        if let Some((a, b, c)) = r.stream_fit {
            println!(
                "bench-fw: {}: streams, least-squares fit over every streamed series: \
                 instructions per series = {a:.2} x synaptic events + {b:.2} x neuron updates + \
                 {c:.0}",
                r.board.core()
            );
        }
    }
    if json {
        let cores: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "core": r.board.core(),
                    "board": r.board.name(),
                    "instr_per_event": r.per_event,
                    "instr_per_update": r.per_update,
                    "instr_fixed": r.fixed,
                    "instr_per_inference": r.zoo,
                    "zoo_accuracy": r.zoo_accuracy,
                    "flash_bytes": r.flash,
                    "ram_bytes": r.ram,
                    "stream_fit": r.stream_fit.map(|(a, b, c)| serde_json::json!({
                        "instr_per_event": a,
                        "instr_per_update": b,
                        "instr_per_series": c,
                    })),
                    "streams": r.streams.iter().map(|s| serde_json::json!({
                        "model": s.model,
                        "series": s.series,
                        "steps": s.steps,
                        "instr_per_step_mean": s.mean,
                        "instr_per_step_max": s.max,
                        "instr_per_inference": s.per_series(),
                        "synaptic_events": s.events,
                        "neuron_updates": s.updates,
                        "clock_hz": clock_hz(r.board),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "samples": samples, "cores": cores })
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_time_factor_is_sample_period_over_step_time() {
        // 25,000 instructions at 25 MHz is 1 ms; a 10 Hz sample lasts 100 ms: 100x.
        assert!((real_time_factor(25e6, 25_000.0, 10.0) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn hidden_sizes_fit_the_board() {
        // The MPS2 / RV32 boards (8192 neurons, 256 KiB) take every size.
        assert_eq!(hidden_sizes(8192, 262_144), [64, 128, 256, 512]);
        // The micro:bit (256 neurons, 12 KiB) takes only 64 and 128 of those: smaller steps.
        assert_eq!(hidden_sizes(256, 12_288), [32, 64, 96, 128]);
        // A board of 96 neurons keeps what fits; the fit then needs three sizes to be exact.
        assert_eq!(hidden_sizes(96, 12_288), [32, 64]);
    }

    #[test]
    fn fit_recovers_a_known_cost_model() {
        let mut points = Vec::new();
        for (i, updates) in [1850.0, 3450.0, 6650.0, 13050.0].into_iter().enumerate() {
            for k in 0..5 {
                let events = 1000.0 * (i as f64 + 1.0) + 137.0 * k as f64;
                points.push(Point {
                    cost: 2.5 * events + 17.0 * updates + 900.0,
                    events,
                    updates,
                });
            }
        }
        let (a, b, c) = fit(&points).unwrap();
        assert!((a - 2.5).abs() < 1e-6 && (b - 17.0).abs() < 1e-6 && (c - 900.0).abs() < 1e-3);
        // Collinear data has no unique fit.
        let flat: Vec<Point> = (0..4)
            .map(|i| Point {
                cost: 1.0,
                events: f64::from(i),
                updates: 2.0 * f64::from(i),
            })
            .collect();
        assert!(fit(&flat).is_none());
    }
}
