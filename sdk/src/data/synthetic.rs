//! Seeded synthetic data shaped like a real data set that is not available offline (e.g. the
//! Spiking Heidelberg Digits: 700 cochlear channels, 20 classes), so shape and benchmark configs
//! such as `models/zoo/shd_recurrent.toml` train end to end. NOT a substitute for the real data:
//! accuracy on it says nothing about SHD.
//!
//! Each class has a prototype of [`BANDS`] Gaussian bumps over the channel axis (like formant
//! bands of a spoken digit): centre `c_k` uniform over the channels, width `w_k` uniform in
//! `[F/100, F/25]` channels, height `h_k` uniform in `[0.5, 1]`. A sample of that class moves every
//! centre by a uniform jitter of at most `F/50` channels and scales every height by a uniform factor
//! in `[0.7, 1.3]`, then adds uniform background noise in `[0, 0.1]`:
//! `x_j = min(1, Σ_k h'_k exp(-(j - c'_k)^2 / (2 w_k^2)) + n_j)`, `F` = number of channels.
//! Values are in `[0, 1]` and scale to `u8` with `Range { 0, 1 }`. Everything derives from the
//! seed ([`SplitMix64`]).
use crate::data::csv::Table;
use crate::data::{DataError, Result};
use crate::data::{Dataset, Scaling, SplitMix64};

/// Gaussian bands per class prototype.
pub const BANDS: usize = 3;

/// Uniform in `[0, 1)` from the generator's top 53 bits.
fn unit(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// `per_class` samples of each of `classes` classes over `features` channels (rows interleaved
/// by class: row `r` has label `r % classes`).
pub fn bands(features: usize, classes: usize, per_class: usize, seed: u64) -> Result<Dataset> {
    if features == 0 || classes < 2 || per_class == 0 {
        return Err(DataError::Invalid(format!(
            "synthetic data need features >= 1, classes >= 2 and samples_per_class >= 1, got \
             {features}, {classes}, {per_class}"
        )));
    }
    let f = features as f64;
    let mut rng = SplitMix64::new(seed ^ 0x5_7e71_c0de);
    let protos: Vec<[(f64, f64, f64); BANDS]> = (0..classes)
        .map(|_| {
            let mut p = [(0.0, 0.0, 0.0); BANDS];
            for b in &mut p {
                let centre = unit(&mut rng) * f;
                let width = (f / 100.0 + unit(&mut rng) * (f / 25.0 - f / 100.0)).max(1.0);
                let height = 0.5 + 0.5 * unit(&mut rng);
                *b = (centre, width, height);
            }
            p
        })
        .collect();
    let rows = classes * per_class;
    let mut x = Vec::with_capacity(rows * features);
    let mut labels = Vec::with_capacity(rows);
    for r in 0..rows {
        let class = r % classes;
        let bands: Vec<(f64, f64, f64)> = protos[class]
            .iter()
            .map(|&(c, w, h)| {
                let jitter = (2.0 * unit(&mut rng) - 1.0) * f / 50.0;
                (c + jitter, w, h * (0.7 + 0.6 * unit(&mut rng)))
            })
            .collect();
        for j in 0..features {
            let jf = j as f64;
            let v: f64 = bands
                .iter()
                .map(|&(c, w, h)| h * (-(jf - c) * (jf - c) / (2.0 * w * w)).exp())
                .sum();
            x.push((v + 0.1 * unit(&mut rng)).min(1.0));
        }
        labels.push(class as u32);
    }
    Dataset::from_table(
        &format!("synthetic ({features} channels, {classes} classes, seed {seed})"),
        Table {
            num_features: features,
            features: x,
            labels,
            feature_names: None,
        },
        Scaling::Range { min: 0.0, max: 1.0 },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_labels_range_and_seed() {
        let a = bands(700, 20, 3, 1).unwrap();
        assert_eq!(a.num_features(), 700);
        assert_eq!(a.num_classes, 20);
        assert_eq!(a.len(), 60);
        assert!(a.table.features.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(a, bands(700, 20, 3, 1).unwrap());
        assert_ne!(
            a.table.features,
            bands(700, 20, 3, 2).unwrap().table.features
        );
        assert!(bands(700, 1, 3, 1).is_err());
    }

    #[test]
    fn classes_differ_more_than_samples_of_one_class() {
        let d = bands(200, 4, 10, 7).unwrap();
        let row = |r: usize| &d.table.features[r * 200..(r + 1) * 200];
        let dist =
            |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum() };
        // rows 0 and 4 are class 0; rows 0 and 1 are classes 0 and 1
        let (mut same, mut other) = (0.0, 0.0);
        for k in 0..9 {
            same += dist(row(4 * k), row(4 * (k + 1)));
            other += dist(row(4 * k), row(4 * k + 1));
        }
        assert!(same < other, "within-class {same} >= between-class {other}");
    }
}
