//! The training configuration (TOML): serde structs with defaults, `deny_unknown_fields` with the
//! nearest valid key suggested, and validation whose errors name the field and the value.
//!
//! The documented example is `models/zoo/digits.toml`.
use std::fmt;
use std::path::{Path, PathBuf};

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::data::csv::CsvOptions;
use crate::data::encode::EncodingConfig;
use crate::data::series::source::SeriesSource;
use crate::data::Scaling;
use crate::net::network::NetworkConfig;
use crate::train::optim::{AdamConfig, OptimizerKind};
use crate::train::schedule::Schedule;

/// An invalid configuration: the file, where in it (1-based line and column, when known), and a
/// sentence saying what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file (or `<string>`).
    pub file: String,
    /// 1-based line and column of the offending text, when known.
    pub at: Option<(usize, usize)>,
    /// What is wrong, naming the field and value.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((l, c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Where the data come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// The bundled digits set (or a copy of it at `path`).
    #[default]
    Digits,
    /// A CSV file at `path` (features plus one integer label column).
    Csv,
    /// Seeded synthetic band data shaped by `network.input_size` and the output layer's classes
    /// ([`crate::data::synthetic`]), for shape/benchmark configs whose real data is not available
    /// offline (e.g. `models/zoo/shd_recurrent.toml`); says nothing about real accuracy.
    Synthetic,
}

/// The `[data]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// `digits` (default), `csv` or `synthetic`.
    pub source: DataSource,
    /// File to read: required for `csv`; for `digits` a copy of the set instead of the embedded one.
    /// A relative path is relative to the config file's directory.
    pub path: Option<PathBuf>,
    /// CSV: the first line is a header (default false).
    pub header: bool,
    /// CSV: field separator (default `,`).
    pub delimiter: char,
    /// CSV: 0-based label column (default: the last).
    pub label_column: Option<usize>,
    /// Fraction of each class held out for testing (default 0.2).
    pub test_fraction: f64,
    /// Seed of the train/test split (default: the top-level `seed`).
    pub split_seed: Option<u64>,
    /// Feature scaling to 0..=255 (default: digits `range 0..16`, CSV `min_max` on the train split).
    pub scaling: Option<Scaling>,
    /// Synthetic: samples generated per class (default 40).
    pub samples_per_class: Option<usize>,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            source: DataSource::Digits,
            path: None,
            header: false,
            delimiter: ',',
            label_column: None,
            test_fraction: 0.2,
            split_seed: None,
            scaling: None,
            samples_per_class: None,
        }
    }
}

impl DataConfig {
    /// The CSV reading options of this table.
    pub fn csv_options(&self) -> CsvOptions {
        CsvOptions {
            header: self.header,
            delimiter: self.delimiter,
            label_column: self.label_column,
        }
    }
}

/// The `[loss]` table (`kind = ...`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LossConfig {
    /// Cross-entropy on output spike counts (snnTorch `ce_count_loss`).
    #[default]
    CeCount,
    /// Cross-entropy of the spikes at every step, averaged over time (snnTorch `ce_rate_loss`).
    CeRate,
    /// Mean squared error between output spike counts and target counts `rate * T` (snnTorch
    /// `mse_count_loss`): `correct_rate` for the target class, `incorrect_rate` for the others.
    MseCount {
        /// Target firing rate of the correct class (default 0.8).
        #[serde(default = "default_correct_rate")]
        correct_rate: f64,
        /// Target firing rate of the other classes (default 0.2).
        #[serde(default = "default_incorrect_rate")]
        incorrect_rate: f64,
    },
    /// Cross-entropy on the maximum over time of the output membrane potentials.
    CeMaxMembrane,
    /// Balanced population MSE ([`crate::loss::hardware::balanced_population_mse`]): every
    /// output neuron's spike count against `rate * T` (`correct_rate` for the neurons of the
    /// target class's population of `train.neurons_per_class`, `incorrect_rate` otherwise).
    BalancedPopulationMse {
        /// Target firing rate of the correct class's neurons (default 0.8).
        #[serde(default = "default_correct_rate")]
        correct_rate: f64,
        /// Target firing rate of the other neurons (default 0.2).
        #[serde(default = "default_incorrect_rate")]
        incorrect_rate: f64,
    },
}

impl LossConfig {
    /// This loss on the output layer's recording `[batch, time, neurons]` for class targets `y`,
    /// with `neurons_per_class` output neurons per class: the classification losses see each
    /// class's population pooled ([`pool_classes`]); balanced population MSE gives every neuron
    /// its own target. The training loop and quantisation-aware fine-tuning both call this.
    pub fn classification_loss(
        &self,
        spikes: &Tensor,
        mem: &Tensor,
        y: &Tensor,
        neurons_per_class: usize,
    ) -> crate::train::Result<Tensor> {
        use crate::loss::snntorch as l;
        let per = neurons_per_class;
        Ok(match *self {
            LossConfig::CeCount => l::ce_count(&pool_classes(spikes, per)?, y)?,
            LossConfig::CeRate => l::ce_rate(&pool_classes(spikes, per)?, y)?,
            LossConfig::MseCount {
                correct_rate,
                incorrect_rate,
            } => l::mse_count(&pool_classes(spikes, per)?, y, correct_rate, incorrect_rate)?,
            LossConfig::CeMaxMembrane => l::ce_max_membrane(&pool_classes(mem, per)?, y)?,
            LossConfig::BalancedPopulationMse {
                correct_rate,
                incorrect_rate,
            } => {
                let classes = spikes.dim(2)? / per.max(1);
                crate::loss::hardware::balanced_population_mse(
                    spikes,
                    y,
                    classes,
                    per,
                    correct_rate,
                    incorrect_rate,
                )?
            }
        })
    }
}

/// The mean over each class's block of `per` neurons, `[B, T, N]` -> `[B, T, N / per]`
/// (unchanged for `per <= 1`).
pub fn pool_classes(x: &Tensor, per: usize) -> candle_core::Result<Tensor> {
    if per <= 1 {
        return Ok(x.clone());
    }
    let (b, t, n) = x.dims3()?;
    x.reshape((b, t, n / per, per))?.mean(3)
}

fn default_correct_rate() -> f64 {
    0.8
}
fn default_incorrect_rate() -> f64 {
    0.2
}

/// The `[decision]` table: parameters of the streaming decision rules of `snn_models::decision`
/// that `snn simulate` reports next to the final count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionConfig {
    /// Sliding-window rule: the class with most output spikes over the last `window` steps
    /// (1..=65535; default 10).
    pub window: usize,
    /// First-to-threshold rule: the first class whose output spike count reaches `threshold`
    /// (>= 1; default 5).
    pub threshold: u32,
}

impl Default for DecisionConfig {
    fn default() -> Self {
        Self {
            window: 10,
            threshold: 5,
        }
    }
}

impl DecisionConfig {
    /// Checks the ranges; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.window == 0 || self.window > usize::from(u16::MAX) {
            return Err(format!(
                "decision.window must be in 1..=65535 steps, got {}",
                self.window
            ));
        }
        if self.threshold == 0 {
            return Err("decision.threshold must be >= 1 spike, got 0".to_owned());
        }
        Ok(())
    }
}

/// The `[train]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainParams {
    /// Passes over the training split (default 20).
    pub epochs: usize,
    /// Samples per optimiser step (default 128).
    pub batch_size: usize,
    /// Simulation steps per sample (default 25).
    pub time_steps: usize,
    /// Output neurons per class; the last layer needs `classes * neurons_per_class` (default 1).
    pub neurons_per_class: usize,
    /// `adam` (default) or `adamw`.
    pub optimizer: OptimizerKind,
    /// Base learning rate (default 5e-3).
    pub lr: f64,
    /// Adam first-moment decay (default 0.9).
    pub beta1: f64,
    /// Adam second-moment decay (default 0.999).
    pub beta2: f64,
    /// Adam epsilon (default 1e-8).
    pub eps: f64,
    /// Weight decay (default 0; L2 for adam, decoupled for adamw).
    pub weight_decay: f64,
    /// Clip gradients to this global L2 norm (default: off).
    pub grad_clip: Option<f64>,
    /// Learning-rate schedule (default constant).
    pub schedule: Schedule,
    /// Shuffle the training split every epoch (default true).
    pub shuffle: bool,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 128,
            time_steps: 25,
            neurons_per_class: 1,
            optimizer: OptimizerKind::Adam,
            lr: 5e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            grad_clip: None,
            schedule: Schedule::Constant,
            shuffle: true,
        }
    }
}

impl TrainParams {
    /// The optimiser hyper-parameters of this table.
    pub fn adam(&self) -> AdamConfig {
        AdamConfig {
            kind: self.optimizer,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            grad_clip: self.grad_clip,
        }
    }
}

/// A whole training configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Run name: runs are written to `runs/<name>/` (default "run").
    #[serde(default = "default_name")]
    pub name: String,
    /// Seed of everything random: initial weights, split (unless `data.split_seed`), shuffling.
    #[serde(default)]
    pub seed: u64,
    /// Data set, split and scaling.
    #[serde(default)]
    pub data: DataConfig,
    /// Spike encoding of the inputs.
    #[serde(default)]
    pub encoding: EncodingConfig,
    /// The network architecture.
    pub network: NetworkConfig,
    /// Training loop parameters.
    #[serde(default)]
    pub train: TrainParams,
    /// Loss function.
    #[serde(default)]
    pub loss: LossConfig,
    /// Extra loss terms added to `[loss]` (`[[extra_loss]]` with `type`, `params`, `lambda`,
    /// `layer`; see [`crate::loss::composite`]); none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_loss: Vec<crate::loss::composite::LossTerm>,
    /// Firing-rate budgets per layer (`[[budget]]`, see [`crate::budget`]); none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub budget: Vec<crate::budget::LayerBudget>,
    /// A time-series data set (`[series]`, see [`SeriesSource`]); when present it replaces
    /// `[data]`/`[encoding]` and `train.time_steps` (each sample runs its own length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesSource>,
    /// The decision rules `snn simulate` reports (`[decision]`: `window`, `threshold`).
    #[serde(default)]
    pub decision: DecisionConfig,
    /// Directory of the config file (relative data paths resolve against it); not serialised.
    #[serde(skip)]
    pub base_dir: Option<PathBuf>,
}

fn default_name() -> String {
    "run".to_owned()
}

impl TrainConfig {
    /// Reads, parses and validates a TOML file.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            at: None,
            message: format!("cannot read the config: {e}"),
        })?;
        let mut cfg = Self::from_toml_str(&text, &file)?;
        cfg.base_dir = path.parent().map(Path::to_path_buf);
        Ok(cfg)
    }

    /// Parses and validates TOML text; `file` names it in errors.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Self, ConfigError> {
        let cfg: Self = parse_toml(text, file)?;
        cfg.validate().map_err(|message| ConfigError {
            file: file.to_owned(),
            at: None,
            message,
        })?;
        Ok(cfg)
    }

    /// The config as TOML (what a checkpoint stores).
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot serialise: {e}\n"))
    }

    /// The data file path resolved against the config's directory.
    pub fn data_path(&self) -> Option<PathBuf> {
        self.data.path.as_ref().map(|p| match &self.base_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.clone(),
        })
    }

    /// Checks every value; the message names the field (`table.key`) and the bad value.
    pub fn validate(&self) -> Result<(), String> {
        let t = &self.train;
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || self.name.starts_with('.')
        {
            return Err(format!(
                "name must be 1..=64 characters of A-Z a-z 0-9 - _ . (not starting with '.'), got {:?}",
                self.name
            ));
        }
        let d = &self.data;
        if !(d.test_fraction >= 0.0 && d.test_fraction < 1.0) {
            return Err(format!(
                "data.test_fraction must be in [0, 1), got {}",
                d.test_fraction
            ));
        }
        if d.samples_per_class.is_some() && d.source != DataSource::Synthetic {
            return Err("data.samples_per_class only applies to source = \"synthetic\"".to_owned());
        }
        if d.samples_per_class == Some(0) {
            return Err("data.samples_per_class must be >= 1, got 0".to_owned());
        }
        if d.source == DataSource::Csv && d.path.is_none() {
            return Err("data.path is required when data.source = \"csv\"".to_owned());
        }
        if let Some(Scaling::Range { min, max }) = d.scaling {
            if !(min.is_finite() && max.is_finite() && max > min) {
                return Err(format!(
                    "data.scaling needs finite min < max, got min = {min}, max = {max}"
                ));
            }
        }
        let positive = |v: usize, name: &str| {
            if v == 0 {
                Err(format!("train.{name} must be >= 1, got 0"))
            } else {
                Ok(())
            }
        };
        positive(t.epochs, "epochs")?;
        positive(t.batch_size, "batch_size")?;
        positive(t.neurons_per_class, "neurons_per_class")?;
        if t.time_steps == 0 || t.time_steps > usize::from(u16::MAX) {
            return Err(format!(
                "train.time_steps must be in 1..=65535, got {}",
                t.time_steps
            ));
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return Err(format!("train.lr must be a positive number, got {}", t.lr));
        }
        for (v, name) in [(t.beta1, "beta1"), (t.beta2, "beta2")] {
            if !(0.0..1.0).contains(&v) {
                return Err(format!("train.{name} must be in [0, 1), got {v}"));
            }
        }
        if !(t.eps.is_finite() && t.eps > 0.0) {
            return Err(format!("train.eps must be > 0, got {}", t.eps));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return Err(format!(
                "train.weight_decay must be >= 0, got {}",
                t.weight_decay
            ));
        }
        if let Some(c) = t.grad_clip {
            if !(c.is_finite() && c > 0.0) {
                return Err(format!("train.grad_clip must be > 0, got {c}"));
            }
        }
        t.schedule.validate()?;
        self.decision.validate()?;
        if let Some(s) = &self.series {
            s.validate()?;
        }
        self.network
            .validate()
            .map_err(|e| format!("network.{e}"))?;
        if self.network.has_readout() {
            // A readout never spikes: only the loss on its membrane can train it, and its
            // class value is one neuron's maximum membrane.
            if self.loss != LossConfig::CeMaxMembrane {
                return Err(
                    "loss.kind: a network ending in a `readout` layer (no spikes) is trained with \
                     `ce_max_membrane` (the loss on its maximum membrane); spike-count losses \
                     would see only zeros"
                        .into(),
                );
            }
            if t.neurons_per_class != 1 {
                return Err(format!(
                    "train.neurons_per_class: a `readout` layer has one neuron per class, got {}",
                    t.neurons_per_class
                ));
            }
        }
        crate::budget::validate_budgets(&self.budget, self.network.layers.len())
            .map_err(|e| e.to_string())?;
        if !self.extra_loss.is_empty() {
            crate::loss::composite::CompositeLoss::new(&self.extra_loss)
                .map_err(|e| format!("extra_loss: {e}"))?;
            let layers = self.network.layers.len();
            for (i, t) in self.extra_loss.iter().enumerate() {
                for l in [t.layer, t.other_layer].into_iter().flatten() {
                    if l >= layers {
                        return Err(format!(
                            "extra_loss[{i}]: layer {l} does not exist (the network has {layers} layers)"
                        ));
                    }
                }
            }
        }
        if let LossConfig::MseCount {
            correct_rate,
            incorrect_rate,
        }
        | LossConfig::BalancedPopulationMse {
            correct_rate,
            incorrect_rate,
        } = self.loss
        {
            for (v, name) in [
                (correct_rate, "correct_rate"),
                (incorrect_rate, "incorrect_rate"),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(format!("loss.{name} must be in [0, 1], got {v}"));
                }
            }
        }
        Ok(())
    }
}

/// Parses TOML into `T`, turning serde errors into a [`ConfigError`] with the line and column and,
/// for an unknown key or variant, the nearest valid one (`did you mean ...?`).
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| line_col(text, s.start));
        let table = e.span().and_then(|s| enclosing_table(text, s.start));
        let mut message = e.message().trim().to_owned();
        if let Some(better) = suggest(&message) {
            message = better;
        }
        if let Some(table) = table {
            message = format!("in [{table}]: {message}");
        }
        ConfigError {
            file: file.to_owned(),
            at,
            message,
        }
    })
}

/// 1-based (line, column) of byte offset `pos`.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let before = &text[..pos.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}

/// The `[table]` (or `[[array]]`) header in force at byte offset `pos`, if any, by name only:
/// a trailing `# comment` on the header line is not part of it.
fn enclosing_table(text: &str, pos: usize) -> Option<String> {
    text[..pos.min(text.len())]
        .lines()
        .rev()
        .find_map(table_header)
}

/// The table name of a header line (`[a.b]  # note` -> `a.b`, `[[budget]]` -> `budget`), or
/// `None` when the line is not a header (e.g. a row `[1, 2],` of a multi-line array). Quoted
/// keys may hold `]` or `#`.
fn table_header(line: &str) -> Option<String> {
    let line = line.trim();
    let close = if line.starts_with("[[") { "]]" } else { "]" };
    let body = line.strip_prefix(if close == "]]" { "[[" } else { "[" })?;
    let mut quote = None;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, ']') if body[i..].starts_with(close) => {
                let rest = body[i + close.len()..].trim_start();
                let name = body[..i].trim();
                return (!name.is_empty() && (rest.is_empty() || rest.starts_with('#')))
                    .then(|| name.to_owned());
            }
            _ => {}
        }
    }
    None
}

/// Rewrites serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant") into
/// "unknown field `x`; did you mean `a`? (valid: a, b)". The nearest valid name is one that
/// contains the given one (or is contained in it), else the one with the smallest edit distance.
fn suggest(message: &str) -> Option<String> {
    let kind = ["unknown field", "unknown variant"]
        .into_iter()
        .find(|k| message.starts_with(k))?;
    let ticks: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let (&given, valid) = ticks.split_first()?;
    // Nearest first by "one name contains the other", then by edit distance.
    let best = valid.iter().min_by_key(|v| {
        let related = v.contains(given) || given.contains(**v);
        (!related, edit_distance(given, v))
    })?;
    Some(format!(
        "{kind} `{given}`; did you mean `{best}`? (valid: {})",
        valid.join(", ")
    ))
}

/// Levenshtein distance (insert, delete, substitute all cost 1).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_named_without_its_comment() {
        assert_eq!(
            table_header("[train]   # tuned (see ...)"),
            Some("train".into())
        );
        assert_eq!(
            table_header("  [[budget]] # one per layer"),
            Some("budget".into())
        );
        assert_eq!(table_header("[a.\"x]#\"]"), Some("a.\"x]#\"".into()));
        assert_eq!(table_header("[1, 2],"), None);
        assert_eq!(table_header("lr = 0.1"), None);
        let text = "[train]   # comment [x]\nlr = 0.1\n";
        assert_eq!(enclosing_table(text, text.len()), Some("train".into()));
    }
}
