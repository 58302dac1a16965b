//! `snn train --config FILE.toml [--out DIR] [--resume | --overwrite] [--epochs N] [--json]`.
//! (The training logic is the library's [`crate::train::Trainer`]; this only reads options.)
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, CliResult};
use crate::net::Network;
use crate::train::checkpoint::{CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE};
use crate::train::progress::ProgressMode;
use crate::train::{TrainConfig, Trainer};

/// Options of `snn train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The training config (see models/zoo/digits.toml, or write one with `snn init`). With
    /// --resume it may be left out: the run directory's config.toml is used.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Run directory [default: runs/<name>/ with the config's name].
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Continue the run in the run directory from its checkpoint (weights, Adam state, epoch).
    #[arg(long)]
    pub resume: bool,
    /// Replace an existing run in the run directory.
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Override train.epochs (with --resume: the total to reach) [default: the config's].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Print a one-line JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `snn train`.
pub fn run(args: TrainArgs) -> CliResult {
    let config_path = match (&args.config, &args.out) {
        (Some(c), _) => c.clone(),
        (None, Some(out)) if args.resume => out.join(CONFIG_FILE),
        _ => {
            return Err(CliError::input(
                "give --config FILE.toml (or --resume --out RUN_DIR to continue a run)",
            ))
        }
    };
    let mut cfg = TrainConfig::from_toml_file(&config_path)?;
    if let Some(n) = args.epochs {
        if n == 0 {
            return Err(CliError::input("--epochs must be at least 1, got 0"));
        }
        cfg.train.epochs = n;
    }
    let run_dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("runs").join(&cfg.name));
    let ckpt = run_dir.join(CHECKPOINT_FILE);
    if args.resume && !ckpt.exists() {
        return Err(CliError::input(format!(
            "--resume: {} does not exist (nothing to continue)",
            ckpt.display()
        )));
    }
    if !args.resume && !args.overwrite && ckpt.exists() {
        return Err(CliError::input(format!(
            "{} already holds a run; use --resume to continue it, --overwrite to replace it, or --out DIR",
            run_dir.display()
        )));
    }
    if args.overwrite {
        for f in [CHECKPOINT_FILE, METRICS_FILE] {
            let p = run_dir.join(f);
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| {
                    CliError::runtime(format!("cannot remove {}: {e}", p.display()))
                })?;
            }
        }
    }
    if cfg.series.is_some() {
        return super::series::train(cfg, &run_dir, args.resume, args.json);
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
