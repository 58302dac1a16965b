//! The `snn` command-line tool: a thin dispatcher; each subcommand lives in `snn_sdk::cli::*`.
//! Exit codes: 0 success, 1 runtime failure, 2 usage/config/data error (see `snn --help`).
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use snn_sdk::cli::{
    self, dense, eval, export, import, init, inspect, keygen, plot, simulate, train,
};

/// mimalloc keeps the large per-step training buffers instead of returning them to the OS
/// after every step as glibc's malloc does (feature `mimalloc`, default; see sdk/Cargo.toml).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Train spiking neural networks and run them on microcontrollers.
#[derive(Parser, Debug)]
#[command(name = "snn", version, about, after_help = cli::EXIT_CODES_HELP)]
struct Cli {
    /// Worker threads for the tensor kernels (sets RAYON_NUM_THREADS; default: all cores).
    /// candle's worker pool spins 5,000 iterations between ops unless CANDLE_BARRIER_POOL_SPIN_LIMIT
    /// says otherwise (see snn_sdk::runtime).
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
    Train(train::TrainArgs),
    /// Evaluate a trained run (float network) on its test split or another data file.
    Eval(eval::EvalArgs),
    /// Quantise a trained run and write the model file and its card (JSON) beside it.
    Export(export::ExportArgs),
    /// Import a NIR graph (snnTorch, Norse, the `nir` package, ...) as a run.
    Import(import::ImportArgs),
    /// Run an exported model on the host with the device's integer engine over a data set.
    Simulate(simulate::SimulateArgs),
    /// Show a model file's header and layer table (refuses a corrupt file).
    Inspect(inspect::InspectArgs),
    /// Plot a run: spike raster, membrane traces, rate histograms, curves, connectivity.
    Plot(plot::PlotArgs),
    /// Write a commented starter config.
    Init(init::InitArgs),
    /// Train the non-spiking int8 baseline of a config (ReLU MLP of the same shape, same data)
    /// and write its dense model file.
    Dense(dense::DenseArgs),
    /// Make an Ed25519 key pair for signing models (`export --sign`, `xtask build-fw --pubkey`).
    Keygen(keygen::KeygenArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.threads == Some(0) {
        eprintln!("error: --threads must be at least 1, got 0");
        return ExitCode::from(2);
    }
    // Before any kernel runs: candle and rayon read these when they size their thread pools.
    snn_sdk::runtime::configure(cli.threads);
    let result = match cli.command {
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Export(a) => export::run(a),
        Command::Import(a) => import::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Init(a) => init::run(a),
        Command::Keygen(a) => keygen::run(a),
        Command::Dense(a) => dense::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
