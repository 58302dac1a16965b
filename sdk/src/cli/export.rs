//! `snn export RUN -o MODEL.snn [--bits 8|4] [--clip-shifts N] [--calibration N] [--json]`:
//! quantises a trained run and writes the model and its card (the library's [`crate::export`]).
use std::path::PathBuf;

use clap::Args;
use snn_models::owned::OwnedHeader;

use super::run::{self, SplitChoice};
use super::simulate::engine_samples;
use super::{CliError, CliResult};
use crate::card::Provenance;
use crate::quant::{FloatLayer, QuantConfig};

/// Options of `snn export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Run directory written by `snn train` (or its checkpoint.safetensors).
    pub run: PathBuf,
    /// The model file to write; the card goes beside it as <name>.card.json.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Weight bit width: 8 or 4.
    #[arg(long, default_value_t = 8)]
    pub bits: u8,
    /// Extra (clipping) shifts calibration may try beyond the no-clipping one; 0 = never clip.
    #[arg(long, default_value_t = 2)]
    pub clip_shifts: u8,
    /// Training samples used to calibrate the shifts (0 = range only).
    #[arg(long, default_value_t = 256)]
    pub calibration: usize,
    /// Model name stored in the header (at most 64 bytes) [default: the run's name].
    #[arg(long)]
    pub name: Option<String>,
    /// Print a one-line JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

fn u16_of(v: usize, what: &str) -> CliResult<u16> {
    u16::try_from(v).map_err(|_| {
        CliError::input(format!(
            "{what} = {v} does not fit the model format (at most 65535)"
        ))
    })
}

/// Runs `snn export`.
pub fn run(args: ExportArgs) -> CliResult {
    let cfg = QuantConfig {
        weight_bits: args.bits,
        clip_shifts: args.clip_shifts,
        calibration_samples: args.calibration,
    };
    cfg.validate()
        .map_err(|e| CliError::input(format!("--bits/--clip-shifts: {e}")))?;
    let loaded = run::load(&args.run)?;
    let layers = loaded
        .net
        .layer_params()?
        .iter()
        .enumerate()
        .map(|(i, p)| FloatLayer::from_network(p, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::input(format!("{}: {e}", loaded.checkpoint.display())))?;
    let c = &loaded.cfg;
    let npc = c.train.neurons_per_class.max(1);
    let outputs = c.network.layers.last().map_or(0, |l| l.size);
    let header = OwnedHeader {
        name: args.name.clone().unwrap_or_else(|| c.name.clone()),
        input_size: u16_of(c.network.input_size, "network.input_size")?,
        time_steps: u16_of(c.train.time_steps, "train.time_steps")?,
        encoding: c.encoding.to_model(),
        num_classes: u16_of(outputs / npc, "the number of classes")?,
        neurons_per_class: u16_of(npc, "train.neurons_per_class")?,
    };
    let (_, train) = loaded.split_samples(SplitChoice::Train)?;
    let test = loaded.split_samples(SplitChoice::Test).ok();
    let calib = engine_samples(&train);
    let calib = &calib[..args.calibration.min(calib.len())];
    let test_xs = test.as_ref().map(|(_, s)| engine_samples(s));
    let provenance = Provenance {
        checkpoint: loaded.checkpoint.display().to_string(),
        weight_bits: args.bits,
        calibration_samples: calib.len(),
        qat: false,
    };
    let exported = crate::export::export(
        &layers,
        &header,
        calib,
        test.as_ref()
            .zip(test_xs.as_deref())
            .map(|((name, _), xs)| (xs, name.as_str())),
        &cfg,
        Some(provenance),
    )?;
    crate::export::write_exported(&args.out, &exported)?;
    let card = &exported.card;
    if args.json {
        let acc = card.accuracy.as_ref();
        let v = serde_json::json!({
            "model": args.out,
            "card": crate::card::ModelCard::path_for(&args.out),
            "bytes": exported.bytes.len(),
            "crc32": card.crc32,
            "flash_bytes": card.resources.flash_bytes,
            "ram_bytes": card.resources.ram_bytes,
            "float_accuracy": acc.map(|a| a.float),
            "integer_accuracy": acc.map(|a| a.integer),
            "fidelity": acc.map(|a| a.fidelity),
            "shifts": exported.quant.iter().map(|q| q.shift).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        println!(
            "wrote {} ({} bytes, crc32 {}) and {}; engine RAM {} bytes",
            args.out.display(),
            exported.bytes.len(),
            card.crc32,
            crate::card::ModelCard::path_for(&args.out).display(),
            card.resources.ram_bytes
        );
        if let Some(a) = &card.accuracy {
            println!(
                "{}: float {:.2} %, float with quantised parameters {:.2} %, integer {:.2} %, \
                 integer/float agreement {:.2} %",
                a.data,
                100.0 * a.float,
                100.0 * a.float_quantised,
                100.0 * a.integer,
                100.0 * a.fidelity
            );
        }
    }
    Ok(())
}
