//! A finished training run read back for `eval`, `export` and `plot`: its config, its network with
//! the checkpoint's weights, and its data split.
use std::path::{Path, PathBuf};

use candle_core::Device;

use super::{CliError, CliResult};
use crate::data::{Dataset, Samples, Split};
use crate::net::Network;
use crate::train::checkpoint::{self, CHECKPOINT_FILE, METRICS_FILE};
use crate::train::config::{DataSource, TrainConfig};
use crate::train::Trainer;

/// A trained run: where it is, its config and the network holding the checkpoint's weights.
#[derive(Debug)]
pub struct LoadedRun {
    /// The run directory (the checkpoint's directory).
    pub dir: PathBuf,
    /// The checkpoint file.
    pub checkpoint: PathBuf,
    /// The config the checkpoint was trained with (from its metadata).
    pub cfg: TrainConfig,
    /// Epochs the checkpoint had completed.
    pub epoch: usize,
    /// The network with the checkpoint's weights.
    pub net: Network,
}

/// Reads a run directory (or a `checkpoint.safetensors` file) written by `snn train`.
pub fn load(path: &Path) -> CliResult<LoadedRun> {
    if !path.exists() {
        return Err(CliError::input(format!(
            "{} does not exist (give a run directory written by `snn train`, or its {CHECKPOINT_FILE})",
            path.display()
        )));
    }
    let file = if path.is_dir() {
        path.join(CHECKPOINT_FILE)
    } else {
        path.to_path_buf()
    };
    if !file.exists() {
        return Err(CliError::input(format!(
            "{} has no {CHECKPOINT_FILE}: is it a run directory written by `snn train`?",
            path.display()
        )));
    }
    let ck = checkpoint::load(&file, &Device::Cpu)?;
    let dir = file
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let name = format!("{} (metadata snn.config)", file.display());
    let mut cfg = TrainConfig::from_toml_str(&ck.meta.config_toml, &name)?;
    cfg.base_dir = Some(dir.clone());
    resolve_data_path(&mut cfg);
    let net = Network::new(&cfg.network, cfg.seed, &Device::Cpu)?;
    ck.restore_network(&net)?;
    Ok(LoadedRun {
        dir,
        checkpoint: file,
        cfg,
        epoch: ck.meta.epoch,
        net,
    })
}

/// A relative `data.path` in a run's config is relative to the ORIGINAL config's directory,
/// which the run does not record: try the run directory first, then the working directory.
fn resolve_data_path(cfg: &mut TrainConfig) {
    let Some(p) = cfg.data.path.clone() else {
        return;
    };
    if p.is_absolute() || cfg.data_path().is_some_and(|q| q.exists()) {
        return;
    }
    if p.exists() {
        cfg.base_dir = None;
    }
}

impl LoadedRun {
    /// The run's data set as its config names it.
    pub fn dataset(&self) -> CliResult<Dataset> {
        Ok(Trainer::load_data(&self.cfg)?)
    }

    /// The run's train/test split (same seed and scaling as in training).
    pub fn split(&self, data: &Dataset) -> CliResult<Split> {
        let d = &self.cfg.data;
        Ok(data.split(
            d.test_fraction,
            d.split_seed.unwrap_or(self.cfg.seed),
            d.scaling.unwrap_or(data.default_scaling),
        )?)
    }

    /// The metrics log of the run directory.
    pub fn metrics_path(&self) -> PathBuf {
        self.dir.join(METRICS_FILE)
    }

    /// Checks that `data` fits the network (features in, classes out), naming both sides.
    pub fn check_data(&self, data: &Dataset) -> CliResult<()> {
        let n = &self.cfg.network;
        if n.input_size != data.num_features() {
            return Err(CliError::input(format!(
                "{} has {} features per sample but the network (network.input_size) takes {}",
                data.name,
                data.num_features(),
                n.input_size
            )));
        }
        let out = n.layers.last().map_or(0, |l| l.size);
        let classes = out / self.cfg.train.neurons_per_class.max(1);
        if data.num_classes > classes {
            return Err(CliError::input(format!(
                "{} has labels up to {} but the network has {classes} classes",
                data.name,
                data.num_classes - 1
            )));
        }
        Ok(())
    }

    /// Every row of another data file, read with the run's `[data]` options and scaled with the
    /// scaling fitted on the run's training split (so new data are scaled as in training).
    pub fn external_samples(&self, path: &Path) -> CliResult<(String, Samples)> {
        if !path.exists() {
            return Err(CliError::input(format!(
                "--data {}: no such file",
                path.display()
            )));
        }
        let data = match self.cfg.data.source {
            DataSource::Digits => crate::data::Digits::load_path(path)?,
            DataSource::Csv | DataSource::Synthetic => {
                Dataset::from_csv(path, &self.cfg.data.csv_options())?
            }
        };
        self.check_data(&data)?;
        let train = self.dataset()?;
        let scaler = self.split(&train)?.scaler;
        let f = data.num_features();
        let rows = data.len();
        let features = (0..rows)
            .flat_map(|r| {
                let x = &data.table.features[r * f..(r + 1) * f];
                let scaler = &scaler;
                x.iter().enumerate().map(move |(i, &v)| scaler.scale(i, v))
            })
            .collect();
        let samples = Samples {
            num_features: f,
            num_classes: data.num_classes,
            features,
            labels: data.table.labels.clone(),
            rows: (0..rows as u32).collect(),
        };
        Ok((format!("{} (all {rows} rows)", path.display()), samples))
    }

    /// The samples `which` names: `test`, `train` or `all` (train then test, in file order of
    /// each), from the run's own data set.
    pub fn split_samples(&self, which: SplitChoice) -> CliResult<(String, Samples)> {
        let data = self.dataset()?;
        self.check_data(&data)?;
        let split = self.split(&data)?;
        let name = data.name.clone();
        Ok(match which {
            SplitChoice::Test => {
                if split.test.is_empty() {
                    return Err(CliError::input(format!(
                        "the run has no test split (data.test_fraction = {}); use --split train or all",
                        self.cfg.data.test_fraction
                    )));
                }
                (
                    format!("{name} test split ({} samples)", split.test.len()),
                    split.test,
                )
            }
            SplitChoice::Train => (
                format!("{name} train split ({} samples)", split.train.len()),
                split.train,
            ),
            SplitChoice::All => {
                let mut all = split.train;
                all.features.extend_from_slice(&split.test.features);
                all.labels.extend_from_slice(&split.test.labels);
                all.rows.extend_from_slice(&split.test.rows);
                (format!("{name} all ({} samples)", all.len()), all)
            }
        })
    }
}

/// Which part of the run's data set to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitChoice {
    /// The held-out test split (as in training).
    #[default]
    Test,
    /// The training split.
    Train,
    /// Every row.
    All,
}
