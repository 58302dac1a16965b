//! Data sets: the bundled digits set, CSV tables, the stratified seeded split, `u8` feature
//! scaling and shuffled batches.
//!
//! Features reach the network as `u8` values 0..=255, the input of the shared spike encoder
//! (`snn_models::encode`), so training and the device see the same numbers.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::csv::{self, CsvOptions, Table};
use crate::data::{DataError, Result};

/// The UCI optical digits test set (1797 rows, 8x8 pixels 0..16, labels 0..9; CC BY 4.0),
/// embedded so the `snn` binary works anywhere.
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// How raw feature values become `u8` 0..=255.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scaling {
    /// A fixed range for every feature: `q = floor((x - min) * 255 / (max - min))`, clamped to
    /// 0..=255. For the digits (`min = 0, max = 16`) this is exactly `q = p * 255 / 16`
    /// (integer division), the mapping the device uses.
    Range {
        /// Value mapped to 0.
        min: f64,
        /// Value mapped to 255.
        max: f64,
    },
    /// Per-feature min-max over the TRAIN split only (the test split never leaks into the
    /// scaling): `q = floor((x - min_f) * 255 / (max_f - min_f))` clamped to 0..=255; a feature
    /// that is constant in the train split maps to 0.
    MinMax,
}

/// A labelled data set as loaded: raw features, class labels, the source row of each sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Name used in logs (file name or "digits").
    pub name: String,
    /// The table (features row-major, labels).
    pub table: Table,
    /// Number of classes (`max label + 1`).
    pub num_classes: usize,
    /// The scaling this data set suggests (digits: `Range { 0, 16 }`; CSV: `MinMax`).
    pub default_scaling: Scaling,
}

/// The bundled digits data set.
#[derive(Clone, Copy, Debug)]
pub struct Digits;

impl Digits {
    /// Loads the embedded copy of the digits data set.
    pub fn load() -> Result<Dataset> {
        let opts = CsvOptions::default();
        let text = csv::decode_text(DIGITS_CSV_GZ, "digits.csv.gz")?;
        let table = csv::parse(&text, "digits.csv.gz", &opts)?;
        Self::check(Dataset::from_table("digits", table, Self::scaling())?)
    }

    /// Loads the digits data set from a file (same format; `.gz` or plain CSV).
    pub fn load_path(path: &Path) -> Result<Dataset> {
        let table = csv::read_path(path, &CsvOptions::default())?;
        Self::check(Dataset::from_table("digits", table, Self::scaling())?)
    }

    /// The digits pixel scaling, `q = p * 255 / 16`.
    pub fn scaling() -> Scaling {
        Scaling::Range {
            min: 0.0,
            max: 16.0,
        }
    }

    fn check(d: Dataset) -> Result<Dataset> {
        if d.table.num_features != 64 {
            return Err(DataError::Invalid(format!(
                "digits data must have 64 pixel columns, found {}",
                d.table.num_features
            )));
        }
        Ok(d)
    }
}

impl Dataset {
    /// Wraps a parsed table; classes are `0..=max label`.
    pub fn from_table(name: &str, table: Table, default_scaling: Scaling) -> Result<Self> {
        let num_classes = table.labels.iter().max().map_or(0, |&m| m as usize + 1);
        if num_classes < 2 {
            return Err(DataError::Invalid(format!(
                "{name}: need at least 2 classes, found {num_classes}"
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            table,
            num_classes,
            default_scaling,
        })
    }

    /// Loads a CSV file (per-feature min-max scaling by default).
    pub fn from_csv(path: &Path, opts: &CsvOptions) -> Result<Self> {
        let table = csv::read_path(path, opts)?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self::from_table(&name, table, Scaling::MinMax)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.table.rows()
    }

    /// `true` when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of features per sample.
    pub fn num_features(&self) -> usize {
        self.table.num_features
    }

    /// Splits into train and test, stratified per class and seeded: in each class, `round(n_c *
    /// test_fraction)` samples chosen by a seeded shuffle go to test. Both splits keep file order.
    /// Features are then scaled to `u8` with `scaling` (fitted on the train split).
    pub fn split(&self, test_fraction: f64, seed: u64, scaling: Scaling) -> Result<Split> {
        if !(0.0..1.0).contains(&test_fraction) {
            return Err(DataError::Invalid(format!(
                "test_fraction must be in [0, 1), got {test_fraction}"
            )));
        }
        let mut by_class = vec![Vec::new(); self.num_classes];
        for (row, &label) in self.table.labels.iter().enumerate() {
            by_class[label as usize].push(row);
        }
        let mut rng = SplitMix64::new(seed ^ 0x5eed_5e1f_0000_0000);
        let mut is_test = vec![false; self.len()];
        for (class, rows) in by_class.iter_mut().enumerate() {
            if rows.is_empty() {
                return Err(DataError::Invalid(format!(
                    "{}: class {class} has no samples (labels must be 0..{})",
                    self.name, self.num_classes
                )));
            }
            rng.shuffle(rows);
            let n_test = (rows.len() as f64 * test_fraction).round() as usize;
            for &r in &rows[..n_test] {
                is_test[r] = true;
            }
        }
        let train_rows: Vec<usize> = (0..self.len()).filter(|&r| !is_test[r]).collect();
        let test_rows: Vec<usize> = (0..self.len()).filter(|&r| is_test[r]).collect();
        if train_rows.is_empty() {
            return Err(DataError::Invalid(format!(
                "{}: the train split is empty",
                self.name
            )));
        }
        let scaler = Scaler::fit(scaling, &self.table, &train_rows);
        Ok(Split {
            train: self.samples(&train_rows, &scaler),
            test: self.samples(&test_rows, &scaler),
            scaler,
        })
    }

    fn samples(&self, rows: &[usize], scaler: &Scaler) -> Samples {
        let f = self.num_features();
        let mut features = Vec::with_capacity(rows.len() * f);
        for &r in rows {
            let x = &self.table.features[r * f..(r + 1) * f];
            features.extend(x.iter().enumerate().map(|(i, &v)| scaler.scale(i, v)));
        }
        Samples {
            num_features: f,
            num_classes: self.num_classes,
            features,
            labels: rows.iter().map(|&r| self.table.labels[r]).collect(),
            rows: rows.iter().map(|&r| r as u32).collect(),
        }
    }
}

/// Fitted feature scaling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Per-feature value mapped to 0.
    pub min: Vec<f64>,
    /// Per-feature value mapped to 255.
    pub max: Vec<f64>,
}

impl Scaler {
    /// Fits `scaling` on the given rows of `table`.
    pub fn fit(scaling: Scaling, table: &Table, rows: &[usize]) -> Self {
        let f = table.num_features;
        match scaling {
            Scaling::Range { min, max } => Self {
                min: vec![min; f],
                max: vec![max; f],
            },
            Scaling::MinMax => {
                let mut lo = vec![f64::INFINITY; f];
                let mut hi = vec![f64::NEG_INFINITY; f];
                for &r in rows {
                    for (i, &v) in table.features[r * f..(r + 1) * f].iter().enumerate() {
                        lo[i] = lo[i].min(v);
                        hi[i] = hi[i].max(v);
                    }
                }
                Self { min: lo, max: hi }
            }
        }
    }

    /// `q = floor((x - min) * 255 / (max - min))`, clamped to 0..=255 (0 for a constant feature).
    pub fn scale(&self, feature: usize, x: f64) -> u8 {
        let (lo, hi) = (self.min[feature], self.max[feature]);
        if hi <= lo {
            return 0;
        }
        ((x - lo) * 255.0 / (hi - lo)).floor().clamp(0.0, 255.0) as u8
    }
}

/// Train and test samples with `u8` features.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Training samples.
    pub train: Samples,
    /// Held-out samples.
    pub test: Samples,
    /// The scaling fitted on the train split (needed to scale new inputs the same way).
    pub scaler: Scaler,
}

/// Scaled samples: `u8` features, labels and each sample's row in the source file.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    /// Features per sample.
    pub num_features: usize,
    /// Number of classes of the data set.
    pub num_classes: usize,
    /// `len * num_features` values, row-major.
    pub features: Vec<u8>,
    /// Class of each sample.
    pub labels: Vec<u32>,
    /// 0-based row of each sample in the data file (the evaluation spike seed).
    pub rows: Vec<u32>,
}

impl Samples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// `true` when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features of sample `i`.
    pub fn features_of(&self, i: usize) -> &[u8] {
        &self.features[i * self.num_features..(i + 1) * self.num_features]
    }

    /// Sample indices in batches of `batch_size` (the last one may be smaller); shuffled by a
    /// generator seeded from `(seed, epoch)` when `shuffle`, else in order.
    pub fn batches(
        &self,
        batch_size: usize,
        shuffle: bool,
        seed: u64,
        epoch: u64,
    ) -> Vec<Vec<usize>> {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        if shuffle {
            let mut rng = SplitMix64::new(seed ^ epoch.wrapping_mul(0xA076_1D64_78BD_642F));
            rng.shuffle(&mut idx);
        }
        idx.chunks(batch_size.max(1))
            .map(<[usize]>::to_vec)
            .collect()
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): the SDK's small seeded generator for splits, shuffles
/// and initialisation-independent choices. Not cryptographic.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        crate::rng::splitmix64(&mut self.0)
    }

    /// Uniform integer in `0..n` (`n > 0`; Lemire's multiply-shift, bias below 2^-32 for small n).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_scaling_is_the_integer_formula() {
        let s = Scaler::fit(Digits::scaling(), &Digits::load().unwrap().table, &[]);
        for p in 0..=16u32 {
            assert_eq!(
                u32::from(s.scale(0, f64::from(p))),
                p * 255 / 16,
                "pixel {p}"
            );
        }
    }

    #[test]
    fn split_is_stratified_and_seeded() {
        let d = Digits::load().unwrap();
        assert_eq!((d.len(), d.num_classes), (1797, 10));
        let a = d.split(0.2, 7, Digits::scaling()).unwrap();
        let b = d.split(0.2, 7, Digits::scaling()).unwrap();
        let c = d.split(0.2, 8, Digits::scaling()).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.test.rows, c.test.rows);
        assert_eq!(a.train.len() + a.test.len(), 1797);
        for class in 0..10 {
            let n = d.table.labels.iter().filter(|&&l| l == class).count();
            let t = a.test.labels.iter().filter(|&&l| l == class).count();
            assert_eq!(t, (n as f64 * 0.2).round() as usize);
        }
    }
}
