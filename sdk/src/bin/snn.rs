//! The `snn` command-line tool.
//!
//! `snn train --config FILE.toml [--out DIR] [--resume] [--epochs N] [--json]`
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use snn_sdk::checkpoint::{CHECKPOINT_FILE, CONFIG_FILE};
use snn_sdk::progress::ProgressMode;
use snn_sdk::{Network, TrainConfig, Trainer};

/// Train spiking neural networks and run them on microcontrollers.
#[derive(Parser, Debug)]
#[command(name = "snn", version, about)]
struct Cli {
    /// Worker threads for the tensor kernels (sets RAYON_NUM_THREADS; default: all cores).
    /// Results are reproducible for a given thread count; on a busy machine 1 is often fastest.
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a network from a TOML config; writes config.toml, checkpoint.safetensors and
    /// metrics.jsonl into the run directory.
    Train(TrainArgs),
    /// Quantise a trained checkpoint and write the model file plus its card (model.card.json).
    Export(ExportArgs),
    /// Run the integer engine on the host over a data set (accuracy, rates, events, predictions).
    Simulate(SimulateArgs),
    /// Print a model file's header and layer table (refuses a corrupt file).
    Inspect(InspectArgs),
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// The training config (see models/zoo/digits.toml). With --resume it may be left out: the
    /// run directory's config.toml is used.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Run directory (default: runs/<name>/ with the config's name).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Continue the run in the run directory from its checkpoint (weights, Adam state, epoch).
    #[arg(long)]
    resume: bool,
    /// Replace an existing run in the run directory.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    /// Override train.epochs (with --resume: the total to reach).
    #[arg(long)]
    epochs: Option<usize>,
    /// Print a one-line JSON summary as the last line of stdout.
    #[arg(long)]
    json: bool,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if n == 0 {
            eprintln!("error: --threads must be at least 1, got 0");
            return ExitCode::FAILURE;
        }
        // Before any kernel runs: candle and rayon read this when they size their thread pools.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    let result = match cli.command {
        Command::Train(args) => train(args),
        Command::Export(args) => export(args),
        Command::Simulate(args) => simulate(args),
        Command::Inspect(args) => inspect(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn train(args: TrainArgs) -> anyhow::Result<()> {
    let config_path = match (&args.config, &args.out) {
        (Some(c), _) => c.clone(),
        (None, Some(out)) if args.resume => out.join(CONFIG_FILE),
        _ => bail!("give --config FILE.toml (or --resume --out RUN_DIR to continue a run)"),
    };
    let mut cfg = TrainConfig::from_toml_file(&config_path)?;
    if let Some(n) = args.epochs {
        if n == 0 {
            bail!("--epochs must be at least 1, got 0");
        }
        cfg.train.epochs = n;
    }
    let run_dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("runs").join(&cfg.name));
    let ckpt = run_dir.join(CHECKPOINT_FILE);
    if args.resume && !ckpt.exists() {
        bail!(
            "--resume: {} does not exist (nothing to continue)",
            ckpt.display()
        );
    }
    if !args.resume && !args.overwrite && ckpt.exists() {
        bail!(
            "{} already holds a run; use --resume to continue it, --overwrite to replace it, or --out DIR",
            run_dir.display()
        );
    }
    if args.overwrite {
        for f in [CHECKPOINT_FILE, "metrics.jsonl"] {
            let p = run_dir.join(f);
            if p.exists() {
                std::fs::remove_file(&p)
                    .with_context(|| format!("cannot remove {}", p.display()))?;
            }
        }
    }
    let data = Trainer::load_data(&cfg)?;
    let device = candle_core::Device::Cpu;
    let net = Network::new(&cfg.network, cfg.seed, &device)?;
    let mode = if args.quiet {
        ProgressMode::Quiet
    } else {
        ProgressMode::Auto
    };
    let mut trainer = Trainer::new(cfg, net)?.progress(mode).run_dir(&run_dir);
    if args.resume {
        trainer = trainer.resume(&run_dir)?;
        if !args.quiet {
            eprintln!(
                "resuming {} after epoch {} (weights, Adam moments and step, epoch, wall time and metrics restored)",
                run_dir.display(),
                trainer.epochs_done()
            );
        }
    }
    let report = trainer.fit(&data)?;
    let summary = serde_json::json!({
        "test_acc": report.test_acc,
        "train_acc": report.train_acc,
        "train_samples_per_s": report.train_samples_per_s,
        "rates": report.rates,
        "wall_s": report.wall_s,
        "epochs": report.epochs.len(),
        "checkpoint": report.checkpoint,
        "run_dir": run_dir,
    });
    if args.json {
        println!("{summary}");
    } else {
        let acc = report
            .test_acc
            .map_or_else(|| "n/a".to_owned(), |a| format!("{:.2}%", a * 100.0));
        println!(
            "test accuracy {acc}, {:.0} train samples/s, {:.1} s; checkpoint {}",
            report.train_samples_per_s,
            report.wall_s,
            report
                .checkpoint
                .as_deref()
                .map_or_else(|| "none".into(), |p| p.display().to_string())
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// Checkpoint file or run directory written by `snn train`.
    #[arg(required_unless_present = "train")]
    checkpoint: Option<PathBuf>,
    /// Train this config first (into `runs/<name>/`, replacing a previous run), then export it:
    /// one command from config to model file.
    #[arg(long, value_name = "CONFIG", conflicts_with = "checkpoint")]
    train: Option<PathBuf>,
    /// Model file to write (default: model.snn in the checkpoint's directory); the card goes
    /// beside it as `<name>.card.json`.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Weight bits: 8 or 4.
    #[arg(long, default_value_t = 8)]
    bits: u8,
    /// Training samples used to calibrate the shifts (0: range only).
    #[arg(long, default_value_t = 256)]
    calibration: usize,
    /// Extra (clipping) shifts calibration may try beyond the no-clipping one.
    #[arg(long, default_value_t = 2)]
    clip_shifts: u8,
    /// Quantisation-aware fine-tuning epochs before export (0: none).
    #[arg(long, default_value_t = 0)]
    qat_epochs: usize,
    /// QAT learning rate.
    #[arg(long, default_value_t = 5e-4)]
    qat_lr: f64,
    /// Model name in the header (default: the run's name).
    #[arg(long)]
    name: Option<String>,
    /// Print the card's summary as one JSON line last.
    #[arg(long)]
    json: bool,
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    use snn_sdk::export::{export_run, load_run, write_exported, ExportOptions};
    use snn_sdk::qat::QatConfig;
    use snn_sdk::quant::QuantConfig;
    let checkpoint = match (&args.checkpoint, &args.train) {
        (Some(c), _) => c.clone(),
        (None, Some(config)) => {
            let cfg = TrainConfig::from_toml_file(config)?;
            let run_dir = Path::new("runs").join(&cfg.name);
            train(TrainArgs {
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
        (None, None) => bail!("give a CHECKPOINT (or --train CONFIG)"),
    };
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
    let out = export_run(&run, &opts)?;
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
            "card": snn_sdk::card::ModelCard::path_for(&path),
            "bytes": out.bytes.len(),
            "crc32": card.crc32,
            "ram_bytes": card.resources.ram_bytes,
            "float_accuracy": acc.map(|a| a.float),
            "float_after_qat_accuracy": acc.and_then(|a| a.float_after_qat),
            "accuracy": acc.map(|a| a.integer),
            "fidelity": acc.map(|a| a.fidelity),
            "shifts": out.quant.iter().map(|q| q.shift).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        println!(
            "wrote {} ({} bytes, crc32 {}) and {}",
            path.display(),
            out.bytes.len(),
            card.crc32,
            snn_sdk::card::ModelCard::path_for(&path).display()
        );
        if let Some(a) = acc {
            if let Some(f) = a.float_after_qat {
                println!("float after QAT {:.2} %", 100.0 * f);
            }
            println!(
                "{}: float {:.2} %, int{} {:.2} %, fidelity {:.2} % (engine vs float with quantised parameters)",
                a.data,
                100.0 * a.float,
                args.bits,
                100.0 * a.integer,
                100.0 * a.fidelity
            );
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
struct SimulateArgs {
    /// Model file (.snn).
    model: PathBuf,
    /// Data set: `digits` (bundled) or a CSV file (no header, label last, min-max scaled over
    /// the file). Every row is run, seeded by its row index. Ignored when the checkpoint is known.
    #[arg(long, default_value = "digits")]
    data: String,
    /// Training checkpoint of the model: runs its test split (as in training) and reports
    /// float_accuracy. Default: the checkpoint named in the model card, when it exists.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Refuse a model whose engine state needs more than BYTES of RAM.
    #[arg(long, value_name = "BYTES")]
    max_ram: Option<usize>,
    /// Per-sample JSON lines, then a one-line JSON summary last.
    #[arg(long)]
    json: bool,
}

fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    use snn_sdk::simulate::{all_rows, check_ram, run_engine, run_float};
    let bytes = snn_sdk::inspect::read_model(&args.model)?;
    let model = snn_models::decode(&bytes)?;
    if let Some(limit) = args.max_ram {
        check_ram(&model, limit).with_context(|| format!("refusing {}", args.model.display()))?;
    }
    let from_card = || -> Option<PathBuf> {
        let card = std::fs::read_to_string(snn_sdk::card::ModelCard::path_for(&args.model)).ok()?;
        let card: snn_sdk::card::ModelCard = serde_json::from_str(&card).ok()?;
        let p = PathBuf::from(card.provenance?.checkpoint);
        p.exists().then_some(p)
    };
    let checkpoint = args.checkpoint.clone().or_else(from_card);
    let run = checkpoint
        .as_deref()
        .map(snn_sdk::export::load_run)
        .transpose()?;
    let owned_rows;
    let (rows, source) = match &run {
        Some(r) => (
            &r.split.test,
            format!("test split of {}", r.checkpoint.display()),
        ),
        None => {
            let data = if args.data == "digits" {
                snn_sdk::Digits::load()?
            } else {
                snn_sdk::Dataset::from_csv(Path::new(&args.data), &Default::default())?
            };
            owned_rows = all_rows(&data);
            (
                &owned_rows,
                format!("all {} rows of {}", owned_rows.len(), args.data),
            )
        }
    };
    let input = usize::from(model.header.input_size);
    if rows.num_features != input {
        bail!(
            "the data have {} features per row but the model expects {input} inputs",
            rows.num_features
        );
    }
    let samples = snn_sdk::export::samples_of(rows);
    let report = run_engine(&model, &samples)?;
    let float_accuracy = match &run {
        Some(r) => {
            let pred = run_float(&r.float_layers()?, &model.header, &samples)?;
            Some(snn_sdk::simulate::agreement(&pred, &report.labels))
        }
        None => None,
    };
    for (x, p) in samples.iter().zip(&report.predictions) {
        if args.json {
            println!(
                "{}",
                serde_json::json!({"row": x.seed, "label": x.label, "predicted": p})
            );
        } else {
            println!(
                "row {:>5}  label {:>3}  predicted {:>3}",
                x.seed, x.label, p
            );
        }
    }
    if args.json {
        println!("{}", report.summary_json(float_accuracy));
    } else {
        println!("{} on {source}", args.model.display());
        print!("{}", report.render(float_accuracy));
    }
    Ok(())
}

#[derive(Args, Debug)]
struct InspectArgs {
    /// Model file (.snn).
    model: PathBuf,
    /// Print the model card (JSON) instead of the table.
    #[arg(long)]
    json: bool,
}

fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    let card = snn_sdk::inspect::card_of(&args.model)?;
    if args.json {
        println!("{}", serde_json::to_string(&card)?);
    } else {
        print!("{}", snn_sdk::inspect::render(&card));
    }
    Ok(())
}
