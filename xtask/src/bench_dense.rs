//! `cargo xtask bench-dense`: the dense int8 baseline on every emulated core. Builds the
//! `dense-bench` firmware (the dense model and the last N digits rows compiled in; no new link
//! messages), boots it under QEMU `-icount shift=0`, reads its defmt log, and checks every
//! sample's logits and class against the host reference (`snn_models::dense::infer`, the
//! portable kernel): bit-exact or an error. Reports instructions per inference (the counter read
//! around the one `infer` call), accuracy on the samples, flash and RAM.
use crate::args::Opts;
use crate::digits;
use crate::firmware::{build_variant, scratch, Board, Variant};
use crate::setup::ensure_qemu;
use anyhow::{bail, ensure, Context, Result};
use snn_hal::host::{digit_features, Qemu};
use snn_models::dense::{decode_dense, infer, DenseBuffers};
use std::path::{Path, PathBuf};

/// The dense baseline of the zoo digits model (`snn dense`, models/zoo/README.md).
pub fn zoo_dense() -> PathBuf {
    crate::setup::root().join("models/zoo/digits.dense")
}

/// One core's run.
pub struct DenseReport {
    /// The board.
    pub board: Board,
    /// Samples run (all compared).
    pub samples: usize,
    /// Correctly classified samples.
    pub correct: usize,
    /// Mean instructions per inference.
    pub instructions: f64,
    /// Firmware flash and static RAM, bytes (the bench build: model and samples included).
    pub flash: u64,
    /// Static RAM, bytes.
    pub ram: u64,
}

/// One `dense <index> <predicted> <cost> [logits]` log line.
fn parse_line(line: &str) -> Option<(usize, u16, u64, Vec<i32>)> {
    let rest = &line[line.find("dense ")? + 6..];
    let (head, logits) = rest.split_once('[')?;
    let mut f = head.split_whitespace();
    let i = f.next()?.parse().ok()?;
    let p = f.next()?.parse().ok()?;
    let c = f.next()?.parse().ok()?;
    let logits = logits
        .trim_end()
        .strip_suffix(']')?
        .split(',')
        .map(|v| v.trim().parse().ok())
        .collect::<Option<Vec<i32>>>()?;
    Some((i, p, c, logits))
}

/// Host reference: logits and class of every sample.
fn host(model_bytes: &[u8], features: &[Vec<u8>]) -> Result<Vec<(Vec<i32>, u16)>> {
    let model = decode_dense(model_bytes).map_err(|e| anyhow::anyhow!("dense model: {e}"))?;
    let w = model.max_width();
    let (mut a, mut b) = (vec![0i8; w], vec![0i8; w]);
    let mut packed = vec![0u32; DenseBuffers::packed_len(w)];
    let mut logits = vec![0i32; model.outputs()];
    features
        .iter()
        .map(|f| {
            let mut bufs = DenseBuffers {
                a: &mut a,
                b: &mut b,
                packed: &mut packed,
            };
            let p = infer(&model, f, &mut bufs, &mut logits)
                .map_err(|e| anyhow::anyhow!("host dense inference: {e}"))?;
            Ok((logits.clone(), p))
        })
        .collect()
}

/// Runs `model` over the last `samples` digits rows on the emulated `board`; fails on any
/// sample whose logits or class differ from the host's.
pub fn on_qemu(board: Board, model: &Path, samples: usize) -> Result<DenseReport> {
    let machine = board.emulated()?;
    ensure_qemu(machine.program)?;
    let bytes = std::fs::read(model).with_context(|| format!("read {}", model.display()))?;
    let rows = digits::last(samples)?;
    let features: Vec<Vec<u8>> = rows.iter().map(|r| digit_features(&r.pixels)).collect();
    let expected = host(&bytes, &features)?;
    let dir = scratch()?;
    let samples_file = dir.join(format!("dense-samples-{}.bin", features.len()));
    let tmp = samples_file.with_extension("bin.tmp");
    std::fs::write(&tmp, features.concat())?;
    std::fs::rename(&tmp, &samples_file)?;
    let v = Variant {
        dense: Some((model.to_path_buf(), samples_file)),
        ..Variant::default()
    };
    let elf = build_variant(board, None, &v)?;
    let (flash, ram) = crate::elf::flash_ram(&std::fs::read(&elf)?)?;
    let log = dir.join(format!("bench-dense-{}.defmt", board.name()));
    {
        // The bench runs at boot, before the firmware serves the link: once Info is answered,
        // every result is in the log.
        let (_qemu, mut client) = Qemu::spawn_on(&machine, &elf, &log)?;
        client.info().context("Info after the dense bench")?;
    }
    let lines = crate::defmt_log::decode(&elf, &log)?;
    let mut seen = 0;
    let (mut cost, mut correct) = (0u64, 0usize);
    for line in &lines {
        if line.contains("failed") || line.contains("refused") {
            bail!("{}: {line}", board.name());
        }
        let Some((i, p, c, logits)) = parse_line(line) else {
            continue;
        };
        let (want, want_p) = expected
            .get(i)
            .with_context(|| format!("{}: sample index {i} out of range", board.name()))?;
        ensure!(
            *want == logits && *want_p == p,
            "{}: sample {i} (row {}): board logits {logits:?} class {p}, host {want:?} class \
             {want_p}",
            board.name(),
            rows[i].row
        );
        cost += c;
        correct += usize::from(p == u16::from(rows[i].label));
        seen += 1;
    }
    ensure!(
        seen == expected.len(),
        "{}: {seen} of {} dense results in the log ({})",
        board.name(),
        expected.len(),
        log.display()
    );
    Ok(DenseReport {
        board,
        samples: seen,
        correct,
        instructions: cost as f64 / seen.max(1) as f64,
        flash,
        ram,
    })
}

/// `cargo xtask bench-dense [--board B|all] [--model FILE] [--samples N] [--json]`.
pub fn run_cmd(args: &[String]) -> Result<()> {
    let json = args.iter().any(|a| a == "--json");
    let args: Vec<String> = args.iter().filter(|a| *a != "--json").cloned().collect();
    let o = Opts::parse("bench-dense", &args, &["board", "model", "samples"])?;
    let samples = o.num("samples", 300usize)?;
    let model = o.get("model").map(PathBuf::from).unwrap_or_else(zoo_dense);
    let boards: Vec<Board> = match o.get("board").unwrap_or("all") {
        "all" => Board::EMULATED.to_vec(),
        name => vec![Board::parse(name)?],
    };
    let bytes = std::fs::read(&model).with_context(|| format!("read {}", model.display()))?;
    let m = decode_dense(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let mut reports = Vec::new();
    for board in boards {
        reports.push(on_qemu(board, &model, samples)?);
    }
    println!(
        "bench-dense: {} ({} bytes, {} MACs), last {samples} digits rows, qemu -icount shift=0, \
         every sample's logits equal to the host's",
        model.display(),
        bytes.len(),
        m.macs()
    );
    println!("| core | board | kernel | instr/inference | instr/MAC | accuracy | flash B | static RAM B |");
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    for r in &reports {
        let dsp = matches!(
            r.board.target(),
            "thumbv7em-none-eabihf" | "thumbv8m.main-none-eabihf"
        );
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.1} % | {} | {} |",
            r.board.core(),
            r.board.name(),
            if dsp { "SMLAD" } else { "portable" },
            r.instructions,
            r.instructions / m.macs() as f64,
            100.0 * r.correct as f64 / r.samples.max(1) as f64,
            r.flash,
            r.ram
        );
    }
    if json {
        let cores: Vec<serde_json::Value> = reports
            .iter()
            .map(|r| {
                serde_json::json!({
                    "core": r.board.core(),
                    "board": r.board.name(),
                    "instr_per_inference": r.instructions,
                    "accuracy": r.correct as f64 / r.samples.max(1) as f64,
                    "flash_bytes": r.flash,
                    "ram_bytes": r.ram,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"model": model.display().to_string(), "macs": m.macs(),
                "samples": samples, "cores": cores})
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_line;

    #[test]
    fn parses_a_result_line_and_skips_others() {
        let l = "INFO  dense 12 7 4321 [-5, 0, 123456]";
        assert_eq!(parse_line(l), Some((12, 7, 4321, vec![-5, 0, 123456])));
        assert_eq!(parse_line("INFO dense model: 2 layers"), None);
        assert_eq!(parse_line("INFO dense done 300"), None);
    }
}
