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
