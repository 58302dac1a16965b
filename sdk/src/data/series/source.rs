//! The `[series]` table of a training config: which time-series archive to train on (format,
//! the archive's own training and test files), the channel encoder and missing-value filling,
//! and the loading of both files. Relative paths resolve against the config's directory.
use std::path::{Path, PathBuf};

use super::input::SeriesEncoding;
use super::seqcsv::Columns;
use super::ts::Missing;
use super::{SeriesError, SeriesSet};

/// File format of the series files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesFormat {
    /// UEA/UCR `.ts` (plain or gzip), [`super::ts`].
    #[default]
    Ts,
    /// A CSV of sequences (one row per step, sample-id and label columns), [`super::seqcsv`].
    Seqcsv,
}

/// The `[series]` table.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSource {
    /// `ts` (default) or `seqcsv`.
    #[serde(default)]
    pub format: SeriesFormat,
    /// The archive's training file (channel constants are fitted on it only).
    pub train: PathBuf,
    /// The archive's test file (never used for fitting or training).
    pub test: PathBuf,
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
}

fn default_sample() -> String {
    "sample".to_owned()
}
fn default_label() -> String {
    "label".to_owned()
}

impl SeriesSource {
    /// Checks the values that do not need the files; the message names `series.<field>`.
    pub fn validate(&self) -> Result<(), String> {
        for (p, field) in [(&self.train, "train"), (&self.test, "test")] {
            if p.as_os_str().is_empty() {
                return Err(format!("series.{field} must name a file, got \"\""));
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
            let r = Self::resolve(p, base);
            *p = std::path::absolute(&r).unwrap_or(r);
        }
    }

    /// Reads one file in this table's format.
    pub fn read(&self, path: &Path) -> Result<SeriesSet, SeriesError> {
        match self.format {
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

    /// Reads the training and test files and checks they agree (channels, class names).
    pub fn load(&self, base: Option<&Path>) -> Result<(SeriesSet, SeriesSet), SeriesError> {
        let train_path = Self::resolve(&self.train, base);
        let test_path = Self::resolve(&self.test, base);
        let train = self.read(&train_path)?;
        let test = self.read(&test_path)?;
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
        Ok((train, test))
    }
}
