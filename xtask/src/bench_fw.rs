//! `cargo xtask bench-fw`: instructions per inference on the emulated Cortex-M4, and their split
//! into a cost per synaptic event and a cost per neuron update, for hidden sizes 64..512.
//!
//! Under `qemu -icount shift=0` the firmware's SysTick counter counts executed instructions
//! (resolution 40), so these numbers are exact and repeatable, independent of host load.
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

/// Runs the benchmark.
pub fn run_cmd(args: &[String]) -> Result<()> {
    let o = Opts::parse("bench-fw", args, &["samples"])?;
    let samples = o.num("samples", 50usize)?;
    ensure_qemu()?;
    let elf = build(Board::Mps2An386, None)?;
    let log = scratch()?.join("bench-fw.defmt");
    let (_qemu, mut client) = Qemu::spawn(&elf, &log)?;
    let rows = digits::last(samples)?;
    let mut points = Vec::new();
    let mut silent_points = Vec::new();
    println!(
        "bench-fw: emulated MPS2-AN386 (Cortex-M4F), qemu -icount shift=0, {} digits samples, \
         64 -> H -> 10, 25 steps, rate coding, dense 8-bit weights",
        rows.len()
    );
    println!("| hidden H | model bytes | instr/inference | synaptic events | neuron updates | instr/event (all-in) | silent inference |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for hidden in [64u16, 128, 256, 512] {
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
        "bench-fw: least-squares fit over {} inferences: instructions = {a:.2} x synaptic events \
         + {b:.2} x neuron updates + {c:.0}",
        points.len()
    );
    // Silent runs: cost = b * updates + c0 (a straight line through the four models).
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
        "bench-fw: silent inferences: {slope:.2} instructions per neuron update + {c0:.0} per \
         inference; spiking inferences add {:.2} instructions per synaptic event (input encoding \
         and spike bookkeeping included)",
        extra / ev.max(1.0)
    );
    println!("bench-fw: target <= 3 per synaptic event and <= 20 per neuron update");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
