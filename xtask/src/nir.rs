//! `cargo xtask nir`: the NIR fixtures of other tools on the emulated board (issue #15).
//!
//! For each fixture (`tests/nir/fixtures`, made by snnTorch, Norse, sinabs, Rockpool and the
//! `nir` package; a CubaLIF becomes a current-based layer, format version 3):
//! `snn import` with the fixture's dt and semantics, `snn export` (range-only shifts), upload to
//! the emulated Cortex-M4, run the fixture's own input spike trains as `Events`, and require
//! (1) every output count equal to the host engine's on the same events, and (2) the counts
//! within the quantisation tolerance of the tool's own simulator (L1 over the samples at most
//! 20 % of the tool's spikes, the rule of `sdk/tests/nir_fixtures.rs`). A fixture ending in a
//! non-spiking readout (`norse_li`, NIR `LI`; `nir_i_readout`, `I`; `nir_cubali_readout`,
//! `CubaLI`) asks for the readout values after each inference (`Request::Readout`, protocol 4)
//! and requires them equal to the host engine's (`Engine::readout`) and the decision equal to
//! the one the tool's membranes give, but for near-ties (two classes' maxima within 20 % of the
//! sample's range, twice the quantisation tolerance).
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use snn_hal::host::Qemu;
use snn_hal::protocol::Input;
use snn_models::{decode, EngineBuffers};

use crate::firmware::{build, scratch, Board};
use crate::setup::{cargo, ensure_qemu, root, run as sh};

/// The fixtures run on the board: every one in `tests/nir/fixtures` (`norse_li`,
/// `nir_i_readout` and `nir_cubali_readout` end in a non-spiking readout: their values come back
/// with `Request::Readout`, protocol 4).
pub const FIXTURES: &[&str] = &[
    "snntorch_leaky",
    "snntorch_rleaky",
    "snntorch_synaptic",
    "norse_lifbox",
    "nir_scalars_gzip",
    "nir_subgraph_if",
    "nir_recurrent_cuba",
    "nir_cuba_cycle",
    "sinabs_iaf",
    "rockpool_lif",
    "norse_li",
    "nir_i_readout",
    "nir_cubali_readout",
];

struct Sample {
    /// `(t, index)` input events, in time order.
    events: Vec<(u16, u16)>,
    /// The tool's output spike count per output neuron (empty for a readout fixture).
    counts: Vec<u32>,
    /// A readout fixture: the tool's per-class maximum of the readout membrane, and the
    /// largest |membrane| of the sample (the range the near-tie rule is relative to).
    readout: Option<(Vec<f32>, f32)>,
}

/// The fixture's file, dt, `snn import --semantics` (`nir` unless its JSON names one) and samples.
fn load_fixture(name: &str) -> Result<(PathBuf, f64, String, Vec<Sample>)> {
    let dir = root().join("tests/nir/fixtures");
    let json = dir.join(format!("{name}.json"));
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&json).with_context(|| format!("read {}", json.display()))?,
    )
    .with_context(|| format!("parse {}", json.display()))?;
    let dt = v["dt"].as_f64().context("fixture without dt")?;
    let semantics = v["semantics"].as_str().unwrap_or("nir").to_owned();
    let mut samples = Vec::new();
    for s in v["samples"].as_array().context("fixture without samples")? {
        let input: Vec<Vec<u8>> = serde_json::from_value(s["input"].clone())?;
        let readout = match s.get("readout") {
            Some(r) => {
                let mem: Vec<Vec<f32>> = serde_json::from_value(r.clone())?;
                let n = mem.first().map_or(0, Vec::len);
                let range = mem.iter().flatten().fold(0f32, |a, &b| a.max(b.abs()));
                Some((
                    (0..n)
                        .map(|i| mem.iter().map(|r| r[i]).fold(f32::NEG_INFINITY, f32::max))
                        .collect(),
                    range,
                ))
            }
            None => None,
        };
        let spikes: Vec<Vec<u8>> = match readout {
            Some(_) => Vec::new(),
            None => serde_json::from_value(s["spikes"].clone())?,
        };
        let events = input
            .iter()
            .enumerate()
            .flat_map(|(t, row)| {
                row.iter()
                    .enumerate()
                    .filter(|(_, x)| **x != 0)
                    .map(move |(i, _)| (t as u16, i as u16))
            })
            .collect();
        let n = spikes.first().map_or(0, Vec::len);
        let counts = (0..n)
            .map(|i| spikes.iter().map(|r| u32::from(r[i])).sum())
            .collect();
        samples.push(Sample {
            events,
            counts,
            readout,
        });
    }
    Ok((dir.join(format!("{name}.nir")), dt, semantics, samples))
}

/// The host engine's output counts and (a readout model) readout values for the events (the
/// same stepping as the device's `Events`).
fn host_counts(model: &[u8], events: &[(u16, u16)]) -> Result<(Vec<u32>, Vec<i32>)> {
    let m = decode(model).map_err(|e| anyhow::anyhow!("model: {e}"))?;
    let mut state = EngineBuffers::for_model(&m);
    let mut e = state
        .engine(&m)
        .map_err(|e| anyhow::anyhow!("engine: {e}"))?;
    let steps: Vec<Vec<u16>> = (0..m.header.time_steps)
        .map(|t| {
            events
                .iter()
                .filter(|(et, _)| *et == t)
                .map(|(_, i)| *i)
                .collect()
        })
        .collect();
    e.run_spike_steps(steps.iter().map(Vec::as_slice))
        .map_err(|e| anyhow::anyhow!("engine: {e}"))?;
    Ok((
        e.output_counts().iter().map(|&c| u32::from(c)).collect(),
        e.readout().to_vec(),
    ))
}

fn snn(snn: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(snn)
        .args(args)
        .output()
        .with_context(|| format!("run {}", snn.display()))?;
    if !out.status.success() {
        bail!(
            "snn {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Imports and exports every fixture, then runs them all on one boot of the emulated M4.
pub fn run_all() -> Result<()> {
    sh(cargo()
        .current_dir(root())
        .args(["build", "-p", "snn-sdk", "--bin", "snn"]))?;
    let bin = root().join("target/debug/snn");
    let dir = scratch()?.join("nir");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let mut models = Vec::new();
    for name in FIXTURES {
        let (file, dt, semantics, samples) = load_fixture(name)?;
        let run = dir.join(name);
        let model = dir.join(format!("{name}.snn"));
        let (run_s, model_s, file_s) = (
            run.to_string_lossy(),
            model.to_string_lossy(),
            file.to_string_lossy(),
        );
        snn(
            &bin,
            &[
                "import",
                &file_s,
                "--dt",
                &dt.to_string(),
                "--semantics",
                &semantics,
                "-o",
                &run_s,
                "--overwrite",
            ],
        )?;
        snn(
            &bin,
            &["export", &run_s, "--calibration", "0", "-o", &model_s],
        )?;
        let bytes = std::fs::read(&model).with_context(|| format!("read {}", model.display()))?;
        models.push((name, bytes, samples));
    }
    let board = Board::Mps2An386;
    let machine = board.emulated()?;
    ensure_qemu(machine.program)?;
    let elf = build(board, None)?;
    let log = dir.join("nir.defmt");
    let (qemu, mut client) = Qemu::spawn_on(&machine, &elf, &log)?;
    let result = (|| -> Result<()> {
        for (name, bytes, samples) in &models {
            client
                .load(bytes)
                .with_context(|| format!("upload {name}"))?;
            let (mut l1, mut total, mut readouts, mut ties) = (0u32, 0u32, 0usize, 0usize);
            for (k, s) in samples.iter().enumerate() {
                let ev: Vec<u8> = s
                    .events
                    .iter()
                    .flat_map(|(t, i)| t.to_le_bytes().into_iter().chain(i.to_le_bytes()))
                    .collect();
                let dev = client
                    .infer(Input::Events(&ev), 0)
                    .with_context(|| format!("{name} sample {k}"))?;
                let predicted = dev.predicted;
                let dev: Vec<u32> = dev.counts.iter().map(|&c| u32::from(c)).collect();
                let (host, host_readout) = host_counts(bytes, &s.events)?;
                ensure!(
                    dev == host,
                    "{name} sample {k}: board counts {dev:?}, host engine {host:?}"
                );
                if let Some((tool, range)) = &s.readout {
                    let r = client
                        .readout()
                        .with_context(|| format!("{name} sample {k}: readout"))?;
                    ensure!(
                        r.values[..] == host_readout[..],
                        "{name} sample {k}: board readout {:?}, host engine {host_readout:?}",
                        r.values
                    );
                    let best =
                        (0..tool.len()).fold(0, |b, i| if tool[i] > tool[b] { i } else { b });
                    // The rule of sdk/tests/nir_fixtures.rs: the tool's class, or a near-tie
                    // (maxima within twice the 10 % quantisation tolerance of the range).
                    let mine = usize::from(r.predicted);
                    let gap = tool.get(mine).map_or(f32::INFINITY, |m| {
                        (tool[best] - m) / range.max(f32::MIN_POSITIVE)
                    });
                    ensure!(
                        predicted == r.predicted && (mine == best || gap <= 0.2),
                        "{name} sample {k}: board decides {} ({predicted} by Infer), the tool's maxima {tool:?} decide {best} (gap {gap:.3} of the range)",
                        r.predicted
                    );
                    ties += usize::from(mine != best);
                    readouts += 1;
                }
                l1 += dev
                    .iter()
                    .zip(&s.counts)
                    .map(|(a, b)| a.abs_diff(*b))
                    .sum::<u32>();
                total += s.counts.iter().sum::<u32>();
            }
            if readouts > 0 {
                println!(
                    "xtask nir: {name}: board readout values == host engine on {readouts} samples; every decision the tool's but {ties} near-ties"
                );
                continue;
            }
            println!(
                "xtask nir: {name}: board == host engine on {} samples; L1 {l1} from the tool's {total} output spikes",
                samples.len()
            );
            ensure!(
                f64::from(l1) <= 0.2 * f64::from(total),
                "{name}: board counts are {l1} spikes from the tool's {total} (tolerance 20 %)"
            );
        }
        Ok(())
    })();
    drop(qemu);
    if result.is_err() {
        println!("xtask: firmware log:");
        crate::defmt_log::print(&elf, &log);
    }
    result
}
