//! Checkpoints: one safetensors file per run holding the network weights, the optimiser state and
//! the training position, written atomically; plus the config as TOML.
//!
//! `checkpoint.safetensors` keys: the network's variable names (`layers.0.w_ff`, ...) as in
//! [`crate::net::network::Network::varmap`], so `varmap.load(path)` reads the weights directly;
//! `optim.m.<name>` and `optim.v.<name>` (Adam moments). Metadata (`snn.*` strings): epochs
//! completed, global step, optimiser steps, wall seconds so far, and the config TOML. Because it
//! is one file replaced by rename, a crash leaves either the previous or the new checkpoint.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::net::network::Network;
use crate::train::optim::Adam;
use crate::train::{Error, Result};

/// File name of the checkpoint inside a run directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// File name of the config copy inside a run directory.
pub const CONFIG_FILE: &str = "config.toml";
/// File name of the metrics log inside a run directory.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// Where training stood when a checkpoint was written.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointMeta {
    /// Epochs completed.
    pub epoch: usize,
    /// Global batch step (batches trained so far).
    pub step: usize,
    /// Optimiser steps taken.
    pub optimizer_steps: u64,
    /// Wall-clock seconds of training so far.
    pub wall_s: f64,
    /// The training config as TOML.
    pub config_toml: String,
    /// Learned rate-budget multipliers as JSON ([`crate::budget::BudgetState`]), if any.
    pub budget_state: Option<String>,
}

/// A checkpoint read back from disk.
#[derive(Debug)]
pub struct Checkpoint {
    /// The file it was read from.
    pub path: PathBuf,
    /// Training position.
    pub meta: CheckpointMeta,
    /// All tensors (weights and optimiser moments) by key.
    pub tensors: HashMap<String, Tensor>,
}

/// Writes `run_dir/checkpoint.safetensors` atomically; returns its path.
pub fn save(run_dir: &Path, net: &Network, opt: &Adam, meta: &CheckpointMeta) -> Result<PathBuf> {
    let path = run_dir.join(CHECKPOINT_FILE);
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    for (name, var) in sorted_vars(net) {
        tensors.push((name, var.as_tensor().clone()));
    }
    let masks = net
        .masks()
        .to_tensors()
        .map_err(|e| crate::net::NetworkError::invalid("masks", e.to_string()))?;
    tensors.extend(masks);
    let (state, _) = opt.state();
    for (k, t) in state {
        tensors.push((format!("optim.{k}"), t));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let info: HashMap<String, String> = [
        ("snn.format", "1".to_owned()),
        ("snn.epoch", meta.epoch.to_string()),
        ("snn.step", meta.step.to_string()),
        ("snn.optimizer_steps", meta.optimizer_steps.to_string()),
        ("snn.wall_s", meta.wall_s.to_string()),
        ("snn.config", meta.config_toml.clone()),
    ]
    .into_iter()
    .chain(meta.budget_state.clone().map(|b| ("snn.budget", b)))
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let bytes =
        safetensors::tensor::serialize(tensors, Some(info)).map_err(|e| Error::Checkpoint {
            path: path.clone(),
            reason: format!("cannot serialise: {e}"),
        })?;
    crate::train::atomic::write(&path, &bytes)?;
    Ok(path)
}

/// The network's variables sorted by name.
pub fn sorted_vars(net: &Network) -> Vec<(String, candle_core::Var)> {
    let data = net
        .varmap()
        .data()
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    let mut v: Vec<(String, candle_core::Var)> = data.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Reads a checkpoint file (or `run_dir/checkpoint.safetensors` when given a directory).
pub fn load(path: &Path, device: &Device) -> Result<Checkpoint> {
    let path = if path.is_dir() {
        path.join(CHECKPOINT_FILE)
    } else {
        path.to_path_buf()
    };
    let bad = |reason: String| Error::Checkpoint {
        path: path.clone(),
        reason,
    };
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let (_, md) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let info = md.metadata().clone().unwrap_or_default();
    let get = |k: &str| {
        info.get(k).cloned().ok_or_else(|| {
            bad(format!(
                "metadata `{k}` is missing (not an snn training checkpoint)"
            ))
        })
    };
    let num = |k: &str| -> Result<u64> {
        get(k)?
            .parse::<u64>()
            .map_err(|_| bad(format!("metadata `{k}` is not a number")))
    };
    let meta = CheckpointMeta {
        epoch: num("snn.epoch")? as usize,
        step: num("snn.step")? as usize,
        optimizer_steps: num("snn.optimizer_steps")?,
        wall_s: get("snn.wall_s")?
            .parse()
            .map_err(|_| bad("metadata `snn.wall_s` is not a number".to_owned()))?,
        config_toml: get("snn.config")?,
        budget_state: info.get("snn.budget").cloned(),
    };
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| bad(format!("cannot read tensors: {e}")))?;
    Ok(Checkpoint {
        path,
        meta,
        tensors,
    })
}

impl Checkpoint {
    /// Copies the weights into `net` (every variable must be present with its shape).
    pub fn restore_network(&self, net: &Network) -> Result<()> {
        for (name, var) in sorted_vars(net) {
            let t = self.tensors.get(&name).ok_or_else(|| Error::Checkpoint {
                path: self.path.clone(),
                reason: format!("has no tensor `{name}`; was it written for another network?"),
            })?;
            if t.dims() != var.as_tensor().dims() {
                return Err(Error::Checkpoint {
                    path: self.path.clone(),
                    reason: format!(
                        "tensor `{name}` has shape {:?}, the network needs {:?}",
                        t.dims(),
                        var.as_tensor().dims()
                    ),
                });
            }
            var.set(&t.to_dtype(var.as_tensor().dtype())?)?;
        }
        Ok(())
    }

    /// Restores the optimiser moments and step count.
    pub fn restore_optimizer(&self, opt: &mut Adam) -> Result<()> {
        let state: HashMap<String, Tensor> = self
            .tensors
            .iter()
            .filter_map(|(k, t)| k.strip_prefix("optim.").map(|k| (k.to_owned(), t.clone())))
            .collect();
        opt.load_state(&state, self.meta.optimizer_steps)
            .map_err(|e| match e {
                Error::Checkpoint { reason, .. } => Error::Checkpoint {
                    path: self.path.clone(),
                    reason,
                },
                other => other,
            })
    }
}
