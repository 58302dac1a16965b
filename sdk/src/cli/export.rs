//! `snn export CHECKPOINT [-o MODEL.snn] [--bits 8|4] [--calibration N] [--clip-shifts N]
//! [--qat-epochs N] [--sign KEY] [--json]` (or `--train CONFIG` to train first): quantises a trained run and
//! writes the model and its card (the library's [`crate::deploy::export::export_run`]).
use std::path::{Path, PathBuf};

use clap::Args;

use super::train::TrainArgs;
use super::{CliError, CliResult};
use crate::deploy::export::{export_run, load_run, write_exported, ExportOptions};
use crate::deploy::qat::QatConfig;
use crate::deploy::quant::QuantConfig;
use crate::train::TrainConfig;

/// Options of `snn export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Checkpoint file or run directory written by `snn train`.
    #[arg(required_unless_present = "train")]
    pub checkpoint: Option<PathBuf>,
    /// Train this config first (into `runs/<name>/`, replacing a previous run), then export it:
    /// one command from config to model file.
    #[arg(long, value_name = "CONFIG", conflicts_with = "checkpoint")]
    pub train: Option<PathBuf>,
    /// Model file to write [default: model.snn in the checkpoint's directory]; the card goes
    /// beside it as `<name>.card.json`.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Weight bits: 8 or 4.
    #[arg(long, default_value_t = 8)]
    pub bits: u8,
    /// Training samples used to calibrate the shifts (0: range only).
    #[arg(long, default_value_t = 256)]
    pub calibration: usize,
    /// Extra (clipping) shifts calibration may try beyond the no-clipping one.
    #[arg(long, default_value_t = 2)]
    pub clip_shifts: u8,
    /// Quantisation-aware fine-tuning epochs before export (0: none).
    #[arg(long, default_value_t = 0)]
    pub qat_epochs: usize,
    /// QAT learning rate.
    #[arg(long, default_value_t = 5e-4)]
    pub qat_lr: f64,
    /// Model name in the header [default: the run's name].
    #[arg(long)]
    pub name: Option<String>,
    /// Print the card's summary as one JSON line last.
    #[arg(long)]
    pub json: bool,
    /// Sign the model file with this secret key (`snn keygen`): appends an Ed25519 signature
    /// over the whole file, for firmware built with `--pubkey` (FORMAT.md §1).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Write the float network as a NIR graph (HDF5) to this file instead of quantising it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["sign", "qat_epochs", "out"])]
    pub nir: Option<PathBuf>,
    /// Euler step the NIR time constants are written for (`tau = dt/(1 - beta)`, with --nir).
    #[arg(long, default_value_t = crate::nir::DEFAULT_DT, requires = "nir")]
    pub dt: f64,
}

/// Runs `snn export`.
pub fn run(args: ExportArgs) -> CliResult {
    let checkpoint = match (&args.checkpoint, &args.train) {
        (Some(c), _) => c.clone(),
        (None, Some(config)) => {
            let cfg = TrainConfig::from_toml_file(config)?;
            let run_dir = Path::new("runs").join(&cfg.name);
            super::train::run(TrainArgs {
                config: Some(config.clone()),
                out: Some(run_dir.clone()),
                resume: false,
                overwrite: true,
                epochs: None,
                json: false,
                quiet: true,
            })?;
            run_dir
        }
        (None, None) => return Err(CliError::input("give a CHECKPOINT (or --train CONFIG)")),
    };
    if !checkpoint.exists() {
        return Err(CliError::input(format!(
            "{} does not exist (give a run directory written by `snn train` or its checkpoint)",
            checkpoint.display()
        )));
    }
    let loaded = super::run::load(&checkpoint)?;
    if let Some(path) = &args.nir {
        let layers = loaded.net.layer_params()?;
        let graph = crate::nir::map::export(&layers, loaded.cfg.network.input_size, args.dt)?;
        crate::nir::write::write(path, &graph)?;
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "nir": path, "dt": args.dt, "layers": layers.len() })
            );
        } else {
            println!(
                "wrote {} (NIR, {} layers, dt = {})",
                path.display(),
                layers.len(),
                args.dt
            );
        }
        return Ok(());
    }
    if loaded.cfg.series.is_some() {
        return super::series::export(&loaded, args.out.clone(), args.name.as_deref(), args.json);
    }
    let run = load_run(&checkpoint)?;
    let opts = ExportOptions {
        quant: QuantConfig {
            weight_bits: args.bits,
            clip_shifts: if args.calibration == 0 {
                0
            } else {
                args.clip_shifts
            },
            calibration_samples: args.calibration,
        },
        qat: (args.qat_epochs > 0).then(|| QatConfig {
            epochs: args.qat_epochs,
            lr: args.qat_lr,
            seed: run.cfg.seed,
            batch_size: run.cfg.train.batch_size,
            ..QatConfig::default()
        }),
        name: args.name.clone(),
        budgets: Vec::new(),
    };
    let mut out = export_run(&run, &opts)?;
    if let Some(key) = &args.sign {
        out.bytes = crate::deploy::signing::sign_model(&out.bytes, key)?;
    }
    let path = args.out.clone().unwrap_or_else(|| {
        run.checkpoint
            .parent()
            .unwrap_or(Path::new("."))
            .join("model.snn")
    });
    write_exported(&path, &out)?;
    let card = &out.card;
    let acc = card.accuracy.as_ref();
    if args.json {
        let v = serde_json::json!({
            "model": path,
            "card": crate::deploy::card::ModelCard::path_for(&path),
            "bytes": out.bytes.len(),
            "crc32": card.crc32,
            "signed": args.sign.is_some(),
            "ram_bytes": card.resources.ram_bytes,
            "float_accuracy": acc.map(|a| a.float),
            "accuracy": acc.map(|a| a.integer),
            "fidelity": acc.map(|a| a.fidelity),
            "float_after_qat_accuracy": acc.and_then(|a| a.float_after_qat),
            "shifts": out.quant.iter().map(|q| q.shift).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        println!(
            "wrote {} ({} bytes, crc32 {}{}) and {}",
            path.display(),
            out.bytes.len(),
            card.crc32,
            if args.sign.is_some() {
                " of the model; signed"
            } else {
                ""
            },
            crate::deploy::card::ModelCard::path_for(&path).display()
        );
        if let Some(a) = acc {
            println!(
                "{}: float {:.2} %, int{} {:.2} %, fidelity {:.2} % (engine vs float with quantised parameters)",
                a.data,
                100.0 * a.float,
                args.bits,
                100.0 * a.integer,
                100.0 * a.fidelity
            );
            if let Some(f) = a.float_after_qat {
                println!("float after QAT {:.2} %", 100.0 * f);
            }
        }
    }
    Ok(())
}
