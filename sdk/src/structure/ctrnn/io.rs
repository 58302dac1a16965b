//! Saving, loading and printing a CTRNN.
//!
//! `save(dir)` writes `dir/ctrnn.toml` (`seed` + the config) and `dir/ctrnn.safetensors`
//! (`w_in`, `w_hid`, `w_out`, `b_in`/`b_hid`/`b_out` when present, `init_state` when learned, and
//! the current masks as `mask.<layer>.<kind>`, since growth changes them). Each file is written to
//! a temporary file in the same directory and renamed over the target, so a crash never leaves a
//! half-written model. `load(dir)` rebuilds from the TOML, then overwrites parameters and masks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{Ctrnn, CtrnnConfig, CtrnnError, Result, LAYER_NAMES};
use crate::structure::mask::{flat, NeuronSign};

/// Config file name inside a saved model directory.
pub const CONFIG_FILE: &str = "ctrnn.toml";
/// Tensor file name inside a saved model directory.
pub const TENSOR_FILE: &str = "ctrnn.safetensors";

const WEIGHT_NAMES: [&str; 3] = ["w_in", "w_hid", "w_out"];
const BIAS_NAMES: [&str; 3] = ["b_in", "b_hid", "b_out"];

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    seed: u64,
    config: CtrnnConfig,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CtrnnError + '_ {
    move |source| CtrnnError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, then rename).
fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp: PathBuf = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = write(&tmp).and_then(|_| std::fs::rename(&tmp, path).map_err(io_err(path)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl Ctrnn {
    /// Saves config and tensors into `dir` (created if missing), each file atomically.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        tensors.extend(self.masks.to_tensors()?);
        for (k, p) in self.masks.params().iter().enumerate() {
            tensors.insert(WEIGHT_NAMES[k].into(), p.var().as_tensor().clone());
            if let Some(b) = &self.biases[k] {
                tensors.insert(BIAS_NAMES[k].into(), b.as_tensor().clone());
            }
        }
        if let Some(h) = &self.learned_state {
            tensors.insert("init_state".into(), h.as_tensor().clone());
        }
        write_atomic(&dir.join(TENSOR_FILE), |tmp| {
            Ok(candle_core::safetensors::save(&tensors, tmp)?)
        })?;
        let text = toml::to_string(&Saved {
            seed: self.seed,
            config: self.cfg.clone(),
        })
        .map_err(|e| CtrnnError::Config(format!("cannot write config as TOML: {e}")))?;
        let cfg_path = dir.join(CONFIG_FILE);
        write_atomic(&cfg_path, |tmp| {
            std::fs::write(tmp, text).map_err(io_err(&cfg_path))
        })
    }

    /// Loads a model saved with [`save`](Self::save) onto `device` (in training mode).
    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let cfg_path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&cfg_path).map_err(io_err(&cfg_path))?;
        let saved: Saved = toml::from_str(&text).map_err(|e| CtrnnError::Load {
            path: cfg_path.clone(),
            msg: e.to_string(),
        })?;
        let mut net = Ctrnn::new(&saved.config, saved.seed, device)?;
        let t_path = dir.join(TENSOR_FILE);
        if !t_path.exists() {
            return Err(CtrnnError::Load {
                path: t_path,
                msg: "missing".into(),
            });
        }
        let tensors =
            candle_core::safetensors::load(&t_path, device).map_err(|e| CtrnnError::Load {
                path: t_path.clone(),
                msg: e.to_string(),
            })?;
        let load_err = |msg: String| CtrnnError::Load {
            path: t_path.clone(),
            msg,
        };
        let set = |var: &candle_core::Var, name: &str| -> Result<()> {
            let t = tensors
                .get(name)
                .ok_or_else(|| load_err(format!("tensor {name} is missing")))?;
            if t.dims() != var.as_tensor().dims() {
                return Err(load_err(format!(
                    "tensor {name} has shape {:?}, the config says {:?}",
                    t.dims(),
                    var.as_tensor().dims()
                )));
            }
            var.set(&t.to_dtype(var.as_tensor().dtype())?)?;
            Ok(())
        };
        for k in 0..3 {
            set(net.weight_var(k), WEIGHT_NAMES[k])?;
            if let Some(b) = net.bias_var(k) {
                set(b, BIAS_NAMES[k])?;
            }
        }
        net.masks.load_tensors(&tensors)?;
        if let Some(h) = &net.learned_state {
            set(h, "init_state")?;
        }
        Ok(net)
    }

    /// A table of the layers: shape, init, mask density, E/I counts of presynaptic neurons,
    /// plasticity, growth and weight statistics (nn4n `print_layers`).
    pub fn layer_table(&self) -> Result<String> {
        let cfg = &self.cfg;
        let mut s = format!(
            "CTRNN dims={:?} activation={:?} tau={} dt={} alpha={} preact_noise={} postact_noise={} init_state={:?} mode={}\n",
            cfg.dims,
            cfg.activation,
            cfg.tau,
            cfg.dt,
            cfg.alpha(),
            cfg.preact_noise,
            cfg.postact_noise,
            cfg.init_state,
            if self.training { "train" } else { "eval" }
        );
        s.push_str(&format!(
            "{:<7} {:<11} {:<9} {:>7} {:>9} {:>11} {:>7} {:>9} {:>9} {:>9} {:>9} {:>6}\n",
            "layer",
            "shape",
            "init",
            "density",
            "E/I",
            "plasticity",
            "growth",
            "w_mean",
            "w_std",
            "w_min",
            "w_max",
            "bias"
        ));
        let weights = cfg.weights.resolve("weights", 3).unwrap_or_default();
        for (k, p) in self.masks.params().iter().enumerate() {
            let m = p.masks();
            let [r, c] = m.shape();
            let w = flat(p.var().as_tensor())?;
            let n = w.len().max(1) as f64;
            let mean = w.iter().map(|&x| x as f64).sum::<f64>() / n;
            let std = (w.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
            let min = w.iter().copied().fold(f32::INFINITY, f32::min);
            let max = w.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let init = match weights.get(k) {
                Some(super::WeightInit::Named(kind)) => format!("{kind:?}").to_lowercase(),
                Some(super::WeightInit::Explicit(_)) => "explicit".into(),
                None => "?".into(),
            };
            let ei = match m.ei() {
                None => "-".to_string(),
                Some(_) => {
                    let signs = m.neuron_signs();
                    let (e, i) = m.ei_counts();
                    let mixed = signs.iter().filter(|&&x| x == NeuronSign::Mixed).count();
                    if mixed > 0 {
                        format!("{e}/{i}+{mixed}mix")
                    } else {
                        format!("{e}/{i}")
                    }
                }
            };
            let plast = match m.plasticity() {
                None => "-".to_string(),
                Some(p) => {
                    let lo = p.iter().copied().fold(f32::INFINITY, f32::min);
                    let hi = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    format!("{lo:.2}..{hi:.2}")
                }
            };
            let growth = match m.growth() {
                None => "-".to_string(),
                Some(g) => format!("{:.4}", g.iter().sum::<f32>() / g.len().max(1) as f32),
            };
            s.push_str(&format!(
                "{:<7} {:<11} {:<9} {:>7.3} {:>9} {:>11} {:>7} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>6}\n",
                LAYER_NAMES[k],
                format!("[{r}, {c}]"),
                init,
                m.density(),
                ei,
                plast,
                growth,
                mean,
                std,
                min,
                max,
                if self.biases[k].is_some() { "yes" } else { "no" }
            ));
        }
        Ok(s)
    }

    /// Prints [`layer_table`](Self::layer_table) to stdout.
    pub fn print_layers(&self) -> Result<()> {
        print!("{}", self.layer_table()?);
        Ok(())
    }
}
