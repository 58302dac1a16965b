//! `snn import MODEL.nir [--dt SECONDS] [--semantics nir|rockpool] [-o RUN_DIR] [--name NAME] [--overwrite] [--json]`: a NIR
//! graph as a run (config + epoch-0 checkpoint) for `eval | export | simulate | plot`,
//! `train --resume` and `cargo xtask flash | hil` (the library's [`crate::nir`]).
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, CliResult};
use crate::nir::graph::Meta;
use crate::nir::{map, read, run, DEFAULT_DT};
use crate::train::checkpoint::CHECKPOINT_FILE;

/// Options of `snn import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The `.nir` file (HDF5) written by snnTorch, Norse, the `nir` package, `snn export --nir`, ...
    pub model: PathBuf,
    /// Euler step in the unit of the file's time constants (NIR files carry none)
    /// [default: the file's `snn_dt` metadata, else 1e-4, snnTorch's].
    #[arg(long)]
    pub dt: Option<f64>,
    /// How to read the neuron nodes: `nir` (NIR's forward Euler, every tool but Rockpool) or
    /// `rockpool` (Rockpool 3.1's files: exponential decays, subtract reset).
    #[arg(long, value_enum, default_value_t = map::Semantics::Nir)]
    pub semantics: map::Semantics,
    /// Run directory to create [default: runs/<file stem>].
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Run name in the config [default: the file stem].
    #[arg(long)]
    pub name: Option<String>,
    /// Replace a run already in the directory.
    #[arg(long)]
    pub overwrite: bool,
    /// Print a one-line JSON summary last.
    #[arg(long)]
    pub json: bool,
}

/// Runs `snn import`.
pub fn run(args: ImportArgs) -> CliResult {
    if !args.model.exists() {
        return Err(CliError::input(format!(
            "{} does not exist",
            args.model.display()
        )));
    }
    let graph = read::read(&args.model)?;
    let dt = match (args.dt, graph.metadata.get("snn_dt")) {
        (Some(dt), _) => dt,
        (None, Some(Meta::Numbers(p))) if p.len() == 1 => p.data[0],
        _ => DEFAULT_DT,
    };
    let imported = map::import_as(&graph, dt, args.semantics)?;
    let stem = args.model.file_stem().map_or_else(
        || "imported".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    let name = args.name.clone().unwrap_or_else(|| stem.clone());
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("runs").join(&stem));
    if dir.join(CHECKPOINT_FILE).exists() && !args.overwrite {
        return Err(CliError::input(format!(
            "{} already holds a run; use --overwrite to replace it, or -o DIR",
            dir.display()
        )));
    }
    let cfg = run::config(&name, &imported)?;
    let net = run::network(&imported, cfg.seed)?;
    let ckpt = run::write_run(&dir, &cfg, &net)?;
    let layers: Vec<String> = imported
        .network
        .layers
        .iter()
        .zip(&imported.names)
        .map(|(l, n)| format!("{n}: {:?} {}", l.kind, l.size).to_lowercase())
        .collect();
    if args.json {
        let v = serde_json::json!({
            "run_dir": dir,
            "checkpoint": ckpt,
            "dt": dt,
            "input_size": imported.network.input_size,
            "layers": layers,
        });
        println!("{v}");
    } else {
        println!(
            "imported {} with dt = {dt}: {} inputs, layers [{}]; wrote {}",
            args.model.display(),
            imported.network.input_size,
            layers.join(", "),
            dir.display()
        );
    }
    Ok(())
}
