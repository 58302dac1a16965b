//! The bundled recorded time series (`sdk/data/*_TEST.ts.gz`, UEA `.ts` format) as raw `i16`
//! samples for streaming to a board: xtask does not link the SDK, so this is the small reader
//! the hil and bench commands need (the SDK's `data::series::ts` is the full one).
use crate::setup::root;
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One test series.
#[derive(Debug)]
pub struct Series {
    /// Values, step-major: frame `t` of `channels` values at `t * channels`.
    pub values: Vec<f32>,
    /// Class index (position of the label in `@classLabel`).
    pub label: u16,
}

/// A test file: its series and channel count.
#[derive(Debug)]
pub struct SeriesFile {
    /// The file read.
    pub path: PathBuf,
    /// Channels per step.
    pub channels: usize,
    /// Every series, in file order.
    pub series: Vec<Series>,
}

/// The test file of the zoo model named `model` (its header name), if it is one.
pub fn zoo_test_file(model: &str) -> Option<PathBuf> {
    let file = match model {
        "japanese_vowels" => "JapaneseVowels_TEST.ts.gz",
        "basic_motions" | "basic_motions_readout" => "BasicMotions_TEST.ts.gz",
        _ => return None,
    };
    Some(root().join("sdk/data").join(file))
}

/// Reads a `.ts` file (gzip or plain): `@dimensions`, `@classLabel true ...`, then one series
/// per line (channels separated by `:`, values by `,`, the label last). Missing values are
/// refused; every error names the file and line.
pub fn read(path: &Path) -> Result<SeriesFile> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let mut text = String::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .with_context(|| format!("decompress {}", path.display()))?;
    } else {
        text =
            String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8", path.display()))?;
    }
    let (mut channels, mut labels, mut series) = (0usize, Vec::<String>::new(), Vec::new());
    let mut data = false;
    for (i, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), i + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !data {
            let mut w = line.split_whitespace();
            match w.next().map(str::to_ascii_lowercase).as_deref() {
                Some("@dimensions") => {
                    channels = w
                        .next()
                        .and_then(|v| v.parse().ok())
                        .with_context(|| format!("{}: bad @dimensions", at()))?
                }
                Some("@classlabel") => {
                    w.next();
                    labels = w.map(str::to_string).collect();
                }
                Some("@data") => data = true,
                _ => {}
            }
            continue;
        }
        let fields: Vec<&str> = line.split(':').collect();
        if channels == 0 || fields.len() != channels + 1 {
            bail!(
                "{}: {} fields, expected {channels} channels and a label",
                at(),
                fields.len()
            );
        }
        let label = labels
            .iter()
            .position(|l| l == fields[channels].trim())
            .with_context(|| format!("{}: label `{}` is not declared", at(), fields[channels]))?;
        let cols: Vec<Vec<f32>> = fields[..channels]
            .iter()
            .map(|c| {
                c.split(',')
                    .map(|v| v.trim().parse::<f32>().ok().filter(|x| x.is_finite()))
                    .collect::<Option<Vec<f32>>>()
            })
            .collect::<Option<_>>()
            .with_context(|| format!("{}: a value is missing or not a number", at()))?;
        let len = cols[0].len();
        if cols.iter().any(|c| c.len() != len) || len == 0 {
            bail!("{}: channels of different lengths", at());
        }
        let values = (0..len)
            .flat_map(|t| cols.iter().map(move |c| c[t]))
            .collect();
        series.push(Series {
            values,
            label: label as u16,
        });
    }
    if series.is_empty() {
        bail!("{}: no series after @data", path.display());
    }
    Ok(SeriesFile {
        path: path.to_path_buf(),
        channels,
        series,
    })
}

/// The raw-sample exponent for values up to `max_abs`: `exp = -k` with the largest `k` such
/// that `max_abs * 2^k <= 32767`, so every value becomes an `i16` `raw = round(x * 2^k)` with
/// the finest power-of-two resolution that does not clip.
pub fn raw_exponent(max_abs: f32) -> i8 {
    let (lo, hi) = snn_models::encode::RAW_EXP_RANGE;
    let mut k = -i32::from(lo);
    while k > -i32::from(hi) && f64::from(max_abs) * 2f64.powi(k) > 32767.0 {
        k -= 1;
    }
    (-k) as i8
}

/// `values` as raw samples in units of `2^exp`: `raw = round(x / 2^exp)`, clamped to `i16`.
pub fn to_raw(values: &[f32], exp: i8) -> Vec<i16> {
    let k = 2f64.powi(-i32::from(exp));
    values
        .iter()
        .map(|&x| (f64::from(x) * k).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exponent_is_the_finest_that_does_not_clip() {
        assert_eq!(raw_exponent(1.0), -14); // 2^14 = 16384 <= 32767 < 2^15
        assert_eq!(raw_exponent(30.0), -10); // 30 * 1024 = 30720
        assert_eq!(raw_exponent(40.0), -9);
        assert_eq!(to_raw(&[1.0, -0.5, 30.0], -10), [1024, -512, 30720]);
    }

    #[test]
    fn reads_a_ts_file_step_major() {
        let dir = std::env::temp_dir().join(format!("xtask-ts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.ts");
        std::fs::write(
            &p,
            "# c\n@dimensions 2\n@classLabel true a b\n@data\n1,2,3:4,5,6:b\n7:8:a\n",
        )
        .unwrap();
        let f = read(&p).unwrap();
        assert_eq!(f.channels, 2);
        assert_eq!(f.series[0].values, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!((f.series[0].label, f.series[1].label), (1, 0));
        std::fs::write(&p, "@dimensions 2\n@classLabel true a\n@data\n1,?:2,3:a\n").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("t.ts:4"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
