//! An imported NIR graph as a run directory: `config.toml` (the imported network; every other
//! table at its default, so the data set is the bundled digits until the user edits `[data]`)
//! and `checkpoint.safetensors` at epoch 0 with zero optimiser moments, so every command that
//! takes a trained run takes it, and `snn train --resume` fine-tunes it.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::net::network::Network;
use crate::nir::map::Imported;
use crate::nir::NirError;
use crate::train::checkpoint::{self, CheckpointMeta, CONFIG_FILE};
use crate::train::optim::Adam;
use crate::train::TrainConfig;

/// `logit(p) = ln(p / (1 − p))`, the parametrisation of a learnt decay.
fn logit(p: f32) -> f32 {
    (p / (1.0 - p)).ln()
}

/// Builds the network of an imported graph with its parameters set.
pub fn network(imported: &Imported, seed: u64) -> Result<Network, NirError> {
    let dev = Device::Cpu;
    let net = Network::new(&imported.network, seed, &dev)?;
    let vars = checkpoint::sorted_vars(&net);
    let set = |name: String, data: &[f32]| -> Result<(), NirError> {
        let Some((_, var)) = vars.iter().find(|(n, _)| *n == name) else {
            return Err(NirError::Graph(format!(
                "the network has no variable `{name}`"
            )));
        };
        let t = Tensor::from_slice(data, var.as_tensor().dims(), &dev)?;
        var.set(&t)?;
        Ok(())
    };
    for (i, (l, cfg)) in imported
        .layers
        .iter()
        .zip(&imported.network.layers)
        .enumerate()
    {
        set(format!("layers.{i}.w_ff"), &l.w_ff)?;
        if let Some(b) = &l.bias {
            set(format!("layers.{i}.bias"), b)?;
        }
        if let Some(w) = &l.w_rec {
            set(format!("layers.{i}.w_rec"), w)?;
        }
        if cfg.learn_beta {
            let v: Vec<f32> = l.beta.iter().map(|&b| logit(b)).collect();
            set(format!("layers.{i}.beta_logit"), &v)?;
        }
        if let (true, Some(a)) = (cfg.learn_alpha, &l.alpha) {
            let v: Vec<f32> = a.iter().map(|&b| logit(b)).collect();
            set(format!("layers.{i}.alpha_logit"), &v)?;
        }
    }
    Ok(net)
}

/// The training config of an imported run: `name`, the imported network, every other table at
/// its default (the bundled digits data set, 25 steps; `ce_max_membrane` for a readout).
pub fn config(name: &str, imported: &Imported) -> Result<TrainConfig, NirError> {
    let mut cfg = TrainConfig::from_toml_str(
        &format!("name = {name:?}\n[network]\ninput_size = 1\n[[network.layers]]\nsize = 1\n"),
        "<import>",
    )
    .map_err(crate::train::Error::from)?;
    cfg.network = imported.network.clone();
    if cfg.network.has_readout() {
        // A non-spiking readout (NIR `LI` / `I`) is decided and trained on its maximum membrane.
        cfg.loss = crate::train::config::LossConfig::CeMaxMembrane;
    }
    Ok(cfg)
}

/// Writes the run directory `dir` (config + epoch-0 checkpoint, both atomically) and returns
/// the checkpoint's path.
pub fn write_run(dir: &Path, cfg: &TrainConfig, net: &Network) -> Result<PathBuf, NirError> {
    std::fs::create_dir_all(dir).map_err(|e| crate::train::Error::io(dir, e))?;
    let toml = cfg.to_toml_string();
    crate::train::atomic::write(&dir.join(CONFIG_FILE), toml.as_bytes())?;
    let opt = Adam::new(checkpoint::sorted_vars(net), cfg.train.adam())?;
    let meta = CheckpointMeta {
        epoch: 0,
        step: 0,
        optimizer_steps: 0,
        wall_s: 0.0,
        config_toml: toml,
        budget_state: None,
    };
    Ok(checkpoint::save(dir, net, &opt, &meta)?)
}
