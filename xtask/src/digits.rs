//! The bundled digits data (`sdk/data/digits.csv.gz`): 64 pixels 0..=16 then the label, per row.
use crate::setup::root;
use anyhow::{bail, Context, Result};
use std::io::Read;

/// One row of the data.
pub struct Sample {
    /// Row index in the file (the sample seed).
    pub row: u32,
    /// 64 pixels, 0..=16.
    pub pixels: Vec<u8>,
    /// Digit 0..=9.
    pub label: u8,
}

/// Every row of the file.
pub fn load() -> Result<Vec<Sample>> {
    let path = root().join("sdk/data/digits.csv.gz");
    let file = std::fs::File::open(&path).with_context(|| format!("open {}", path.display()))?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .with_context(|| format!("decompress {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let vals: Vec<u8> = line
            .split(',')
            .map(|v| v.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("{}: row {i} is not numbers", path.display()))?;
        if vals.len() != 65 || vals[..64].iter().any(|&p| p > 16) || vals[64] > 9 {
            bail!(
                "{}: row {i} is not 64 pixels 0..=16 and a label 0..=9",
                path.display()
            );
        }
        out.push(Sample {
            row: i as u32,
            pixels: vals[..64].to_vec(),
            label: vals[64],
        });
    }
    Ok(out)
}

/// The last `n` rows (all of them when there are fewer).
pub fn last(n: usize) -> Result<Vec<Sample>> {
    let mut all = load()?;
    let skip = all.len().saturating_sub(n);
    Ok(all.split_off(skip))
}

#[cfg(test)]
mod tests {
    #[test]
    fn loads_every_row_and_takes_the_last() {
        let all = super::load().unwrap();
        assert_eq!(all.len(), 1797);
        let last = super::last(300).unwrap();
        assert_eq!(last.len(), 300);
        assert_eq!(last[0].row, 1497);
        assert_eq!(last[299].row, 1796);
    }
}
