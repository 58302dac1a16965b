//! The `[series]` table of a training config: which time-series archive or event data set to
//! train on (format, the archive's own training and test files, or a test holdout of the
//! training file), the validation holdout (from the training file only), the channel encoder,
//! missing-value filling, event binning, and the loading of every part. Relative paths resolve
//! against the config's directory.
use std::path::{Path, PathBuf};

use super::input::SeriesEncoding;
use super::seqcsv::Columns;
use super::synthetic::SyntheticEvents;
use super::ts::Missing;
use super::{binned_set, holdout, Binning, SeriesError, SeriesSet};

/// File format of the series files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesFormat {
    /// UEA/UCR `.ts` (plain or gzip), [`super::ts`].
    #[default]
    Ts,
    /// A CSV of sequences (one row per step, sample-id and label columns), [`super::seqcsv`].
    Seqcsv,
    /// SHD/SSC HDF5 (`spikes/times`, `spikes/units`, `labels`), [`super::shd`]; binned.
    Shd,
    /// A directory of N-MNIST binary event files, one sub-directory per class,
    /// [`super::nmnist`]; binned, polarity as two inputs per pixel.
    Nmnist,
    /// Seeded synthetic event streams ([`super::synthetic`], the `[series.synthetic]` table);
    /// no files.
    SyntheticEvents,
}

impl SeriesFormat {
    /// True for the event formats (binned streams, encoder `events`).
    pub fn is_events(self) -> bool {
        matches!(self, Self::Shd | Self::Nmnist | Self::SyntheticEvents)
    }

    /// The format a path looks like: `.h5`/`.hdf5` SHD, a directory or `.bin` N-MNIST, `.csv`
    /// (also `.csv.gz`) a CSV of sequences, anything else `.ts`.
    pub fn guess(path: &Path) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".h5") || name.ends_with(".hdf5") {
            Self::Shd
        } else if path.is_dir() || name.ends_with(".bin") {
            Self::Nmnist
        } else if name.ends_with(".csv") {
            Self::Seqcsv
        } else {
            Self::Ts
        }
    }

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ts => "ts",
            Self::Seqcsv => "seqcsv",
            Self::Shd => "shd",
            Self::Nmnist => "nmnist",
            Self::SyntheticEvents => "synthetic_events",
        }
    }
}

/// The `[series]` table.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSource {
    /// `ts` (default), `seqcsv`, `shd`, `nmnist` (a directory) or `synthetic_events`.
    #[serde(default)]
    pub format: SeriesFormat,
    /// The archive's training file (channel constants are fitted on its training part only).
    #[serde(default, skip_serializing_if = "path_is_empty")]
    pub train: PathBuf,
    /// The archive's test file (never used for fitting or training); when left out,
    /// `test_fraction` of the training file is held out as the test set.
    #[serde(default, skip_serializing_if = "path_is_empty")]
    pub test: PathBuf,
    /// Without `test`: the fraction of each class of the training file held out for testing.
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Fraction of each class of the training file (after any test holdout) held out for
    /// validation, reported after every epoch; 0 (default) = none. Never taken from `test`.
    #[serde(default)]
    pub validation: f64,
    /// Seed of the test and validation holdouts.
    #[serde(default)]
    pub split_seed: u64,
    /// Channel encoder: `{ kind = "direct" }` (default), `{ kind = "send_on_delta",
    /// threshold_std = 0.5 }` or `{ kind = "sigma_delta", threshold_std = 0.5 }`.
    #[serde(default)]
    pub encoder: SeriesEncoding,
    /// `.ts` missing values (`?`, `NaN`): `refuse` (default), `zero` or `previous`.
    #[serde(default)]
    pub missing: Missing,
    /// seqcsv: header name of the sample-id column (default `sample`).
    #[serde(default = "default_sample")]
    pub sample_column: String,
    /// seqcsv: header name of the label column (default `label`).
    #[serde(default = "default_label")]
    pub label_column: String,
    /// Event formats: step length in milliseconds (default 10).
    #[serde(default = "default_dt_ms")]
    pub dt_ms: f64,
    /// Event formats: events at or after this time are dropped; at most
    /// `ceil(max_duration_ms / dt_ms)` steps (default 1000).
    #[serde(default = "default_max_duration_ms")]
    pub max_duration_ms: f64,
    /// Event formats: `pool` neighbouring channels feed one input (default 1 = none).
    #[serde(default = "default_pool")]
    pub pool: u32,
    /// shd: cochlea channels in the file (default 700).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    /// nmnist: sensor width and height in pixels (default `[34, 34]`).
    #[serde(default = "default_sensor")]
    pub sensor: [u8; 2],
    /// synthetic_events: the shape of the streams (default SHD's, see [`SyntheticEvents`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<SyntheticEvents>,
}

// `&PathBuf`: serde's `skip_serializing_if` passes the field's own type.
#[allow(clippy::ptr_arg)]
fn path_is_empty(p: &PathBuf) -> bool {
    p.as_os_str().is_empty()
}
fn default_test_fraction() -> f64 {
    0.2
}
fn default_dt_ms() -> f64 {
    10.0
}
fn default_max_duration_ms() -> f64 {
    1000.0
}
fn default_pool() -> u32 {
    1
}
fn default_sensor() -> [u8; 2] {
    [34, 34]
}

/// The parts of a series data set: training part, validation holdout, test set.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesParts {
    /// What training (and the channel fit) uses: the training file minus the holdouts.
    pub train: SeriesSet,
    /// The validation holdout of the training file (`validation` > 0).
    pub validation: Option<SeriesSet>,
    /// The test file, or the test holdout of the training file.
    pub test: SeriesSet,
}

fn default_sample() -> String {
    "sample".to_owned()
}
fn default_label() -> String {
    "label".to_owned()
}

impl SeriesSource {
    /// A table of `format` reading `train` (no test file: a 20 % holdout), every other key at
    /// its default, the encoder `events` for the event formats and `direct` otherwise.
    pub fn new(format: SeriesFormat, train: PathBuf) -> Self {
        Self {
            format,
            train,
            test: PathBuf::new(),
            test_fraction: default_test_fraction(),
            validation: 0.0,
            split_seed: 0,
            encoder: if format.is_events() {
                SeriesEncoding::Events
            } else {
                SeriesEncoding::Direct
            },
            missing: Missing::default(),
            sample_column: default_sample(),
            label_column: default_label(),
            dt_ms: default_dt_ms(),
            max_duration_ms: default_max_duration_ms(),
            pool: default_pool(),
            channels: None,
            sensor: default_sensor(),
            synthetic: None,
        }
    }

    /// Checks the values that do not need the files; the message names `series.<field>`.
    pub fn validate(&self) -> Result<(), String> {
        if self.format == SeriesFormat::SyntheticEvents {
            if !path_is_empty(&self.train) || !path_is_empty(&self.test) {
                return Err("series.train and series.test do not apply to format = \"synthetic_events\" (it reads no files)".to_owned());
            }
            if let Some(s) = &self.synthetic {
                s.validate()?;
            }
        } else {
            if path_is_empty(&self.train) {
                return Err(format!(
                    "series.train must name the training {} for format = \"{}\"",
                    if self.format == SeriesFormat::Nmnist {
                        "directory"
                    } else {
                        "file"
                    },
                    self.format.name()
                ));
            }
            if self.synthetic.is_some() {
                return Err(
                    "series.synthetic only applies to format = \"synthetic_events\"".to_owned(),
                );
            }
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(format!(
                "series.test_fraction must be in (0, 1), got {}",
                self.test_fraction
            ));
        }
        if !(0.0..1.0).contains(&self.validation) {
            return Err(format!(
                "series.validation must be in [0, 1), got {}",
                self.validation
            ));
        }
        if self.format.is_events() != (self.encoder == SeriesEncoding::Events) {
            return Err(if self.format.is_events() {
                format!(
                    "series.encoder must be {{ kind = \"events\" }} for format = \"{}\" (binned event streams are the input spikes)",
                    self.format.name()
                )
            } else {
                format!(
                    "series.encoder = {{ kind = \"events\" }} needs an event format (shd, nmnist, synthetic_events), not \"{}\"",
                    self.format.name()
                )
            });
        }
        if self.format.is_events() {
            if !(self.dt_ms.is_finite() && self.dt_ms >= 0.001) {
                return Err(format!(
                    "series.dt_ms must be at least 0.001 (1 us), got {}",
                    self.dt_ms
                ));
            }
            if !(self.max_duration_ms.is_finite() && self.max_duration_ms >= self.dt_ms) {
                return Err(format!(
                    "series.max_duration_ms must be at least dt_ms = {}, got {}",
                    self.dt_ms, self.max_duration_ms
                ));
            }
            if self.max_duration_ms / self.dt_ms > f64::from(u16::MAX) {
                return Err(format!(
                    "series.max_duration_ms / dt_ms = {:.0} steps is more than a model holds (65535)",
                    self.max_duration_ms / self.dt_ms
                ));
            }
            if self.pool == 0 {
                return Err("series.pool must be at least 1, got 0".to_owned());
            }
            if self.channels == Some(0) {
                return Err("series.channels must be at least 1, got 0".to_owned());
            }
            if self.sensor.contains(&0) {
                return Err(format!(
                    "series.sensor must be [width, height] >= 1, got {:?}",
                    self.sensor
                ));
            }
        }
        if let SeriesEncoding::SendOnDelta { threshold_std }
        | SeriesEncoding::SigmaDelta { threshold_std } = self.encoder
        {
            if !(threshold_std.is_finite() && threshold_std > 0.0) {
                return Err(format!(
                    "series.encoder.threshold_std must be > 0, got {threshold_std}"
                ));
            }
        }
        if self.format == SeriesFormat::Seqcsv && self.missing != Missing::Refuse {
            return Err("series.missing only applies to format = \"ts\"".to_owned());
        }
        if self.sample_column == self.label_column {
            return Err(format!(
                "series.sample_column and series.label_column are both {:?}",
                self.label_column
            ));
        }
        Ok(())
    }

    /// `path` resolved against `base` (the config's directory) when relative.
    pub fn resolve(path: &Path, base: Option<&Path>) -> PathBuf {
        match base {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// Makes `train` and `test` absolute (against `base`), so a copy of the config in a run
    /// directory still finds them.
    pub fn absolutize(&mut self, base: Option<&Path>) {
        for p in [&mut self.train, &mut self.test] {
            if path_is_empty(p) {
                continue;
            }
            let r = Self::resolve(p, base);
            *p = std::path::absolute(&r).unwrap_or(r);
        }
    }

    /// The binning of the event formats.
    pub fn binning(&self) -> Binning {
        Binning {
            dt_us: (self.dt_ms * 1000.0).round().max(1.0) as u64,
            max_duration_us: (self.max_duration_ms * 1000.0).round() as u64,
            pool: self.pool.max(1),
            polarity_channels: self.format == SeriesFormat::Nmnist,
        }
    }

    /// Reads one file (a directory for `nmnist`) in this table's format; event data comes
    /// back binned ([`binned_set`]).
    pub fn read(&self, path: &Path) -> Result<SeriesSet, SeriesError> {
        let name = || {
            path.file_stem()
                .map_or_else(|| "series".to_owned(), |s| s.to_string_lossy().into_owned())
        };
        match self.format {
            SeriesFormat::Shd => {
                let set =
                    super::shd::read(path, self.channels.unwrap_or(super::shd::SHD_CHANNELS))?;
                Ok(binned_set(&name(), &set, &self.binning()))
            }
            SeriesFormat::Nmnist => {
                if !path.is_dir() {
                    return Err(SeriesError::file(
                        path,
                        "format = \"nmnist\" reads a directory with one sub-directory of .bin files per class (e.g. Train/), not a file",
                    ));
                }
                let [w, h] = self.sensor;
                let set = super::nmnist::read_dir(path, w, h)?;
                Ok(binned_set(&name(), &set, &self.binning()))
            }
            SeriesFormat::SyntheticEvents => Err(SeriesError::file(
                path,
                "format = \"synthetic_events\" reads no files; use the run's own data",
            )),
            SeriesFormat::Ts => super::ts::read(path, self.missing),
            SeriesFormat::Seqcsv => super::seqcsv::read(
                path,
                &Columns {
                    sample: self.sample_column.clone(),
                    label: self.label_column.clone(),
                },
            ),
        }
    }

    /// Reads the training and test data (the training part without any validation holdout).
    pub fn load(&self, base: Option<&Path>) -> Result<(SeriesSet, SeriesSet), SeriesError> {
        let p = self.load_parts(base)?;
        Ok((p.train, p.test))
    }

    /// Reads (or generates) the training and test data, holds out the test set when no test
    /// file is named and the validation set when `validation` > 0 (both from the training file,
    /// stratified, seeded by `split_seed`), and checks that training and test agree (channels,
    /// class names).
    pub fn load_parts(&self, base: Option<&Path>) -> Result<SeriesParts, SeriesError> {
        let train_path = Self::resolve(&self.train, base);
        let test_path = Self::resolve(&self.test, base);
        let (train, test) = if self.format == SeriesFormat::SyntheticEvents {
            let shape = self.synthetic.clone().unwrap_or_default();
            let (a, b) = shape.generate();
            let bin = self.binning();
            (
                binned_set("synthetic", &a, &bin),
                binned_set("synthetic test", &b, &bin),
            )
        } else if path_is_empty(&self.test) {
            let all = self.read(&train_path)?;
            let (train, test) = holdout(&all, self.test_fraction, self.split_seed);
            (train, test)
        } else {
            (self.read(&train_path)?, self.read(&test_path)?)
        };
        let (train, validation) = if self.validation > 0.0 {
            let (t, v) = holdout(&train, self.validation, self.split_seed.wrapping_add(1));
            (t, Some(v))
        } else {
            (train, None)
        };
        if train.channels != test.channels {
            return Err(SeriesError::File {
                path: test_path,
                reason: format!(
                    "has {} channels but the training file {} has {}",
                    test.channels,
                    train_path.display(),
                    train.channels
                ),
            });
        }
        if train.classes != test.classes {
            return Err(SeriesError::File {
                path: test_path,
                reason: format!(
                    "class labels {:?} differ from the training file's {:?}",
                    test.classes, train.classes
                ),
            });
        }
        Ok(SeriesParts {
            train,
            validation,
            test,
        })
    }
}
