//! A CSV of sequences for a user's own data: a header row, then one row per time step; a
//! sample-id column groups consecutive rows into one series, a label column names its class,
//! and every other column is a channel. Rows of one sample must be consecutive and share the
//! label. Class names are sorted (numerically when every label is an integer).
use std::path::Path;

use super::error::{read_maybe_gz, SeriesError};
use super::{Series, SeriesSet};

/// Which columns hold the sample id and the label (by header name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    /// Header name of the sample-id column.
    pub sample: String,
    /// Header name of the label column.
    pub label: String,
}

/// Reads a sequence CSV (gzip when it starts with `1f 8b`).
pub fn read(path: &Path, cols: &Columns) -> Result<SeriesSet, SeriesError> {
    let bytes = read_maybe_gz(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| SeriesError::file(path, format!("not UTF-8 text ({e})")))?;
    parse(path, text, cols)
}

/// Parses sequence-CSV text; `path` only names the file in errors.
pub fn parse(path: &Path, text: &str, cols: &Columns) -> Result<SeriesSet, SeriesError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(SeriesError::file(path, "empty file: expected a header row"));
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |want: &str, what: &str| {
        names.iter().position(|n| *n == want).ok_or_else(|| {
            SeriesError::line(
                path,
                1,
                what,
                format!("no column named `{want}` in the header {names:?}"),
            )
        })
    };
    let id_col = find(&cols.sample, "sample column")?;
    let label_col = find(&cols.label, "label column")?;
    let chan_cols: Vec<usize> = (0..names.len())
        .filter(|&i| i != id_col && i != label_col)
        .collect();
    if chan_cols.is_empty() {
        return Err(SeriesError::line(
            path,
            1,
            "header",
            "no channel columns besides the sample id and the label",
        ));
    }
    let channels = chan_cols.len();
    // (id, label, values) per sample, in file order.
    let mut samples: Vec<(String, String, Vec<f32>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in lines {
        let line_no = i + 1;
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != names.len() {
            return Err(SeriesError::line(
                path,
                line_no,
                "row",
                format!(
                    "{} fields, but the header has {}",
                    fields.len(),
                    names.len()
                ),
            ));
        }
        let id = fields[id_col];
        let label = fields[label_col];
        let new = samples.last().is_none_or(|(last, _, _)| last != id);
        if new {
            if !seen.insert(id.to_string()) {
                return Err(SeriesError::line(
                    path,
                    line_no,
                    cols.sample.as_str(),
                    format!("sample `{id}` appears again after other samples; keep each sample's rows together"),
                ));
            }
            samples.push((id.to_string(), label.to_string(), Vec::new()));
        }
        let last = samples.last_mut().expect("pushed above");
        if last.1 != label {
            return Err(SeriesError::line(
                path,
                line_no,
                cols.label.as_str(),
                format!(
                    "label `{label}` differs from `{}` earlier in sample `{id}`",
                    last.1
                ),
            ));
        }
        for &c in &chan_cols {
            let v = fields[c];
            let x: f32 = v
                .parse()
                .ok()
                .filter(|x: &f32| x.is_finite())
                .ok_or_else(|| {
                    SeriesError::line(
                        path,
                        line_no,
                        names[c],
                        format!("`{v}` is not a finite number"),
                    )
                })?;
            last.2.push(x);
        }
    }
    if samples.is_empty() {
        return Err(SeriesError::file(path, "no rows after the header"));
    }
    let mut classes: Vec<String> = samples.iter().map(|s| s.1.clone()).collect();
    classes.sort();
    classes.dedup();
    if classes.iter().all(|c| c.parse::<i64>().is_ok()) {
        classes.sort_by_key(|c| c.parse::<i64>().unwrap_or(0));
    }
    let labels = samples
        .iter()
        .map(|s| classes.iter().position(|c| *c == s.1).unwrap_or(0))
        .collect();
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().trim_end_matches(".csv").to_string())
        .unwrap_or_default();
    Ok(SeriesSet {
        name,
        channels,
        classes,
        series: samples
            .into_iter()
            .map(|s| Series {
                channels,
                values: s.2,
            })
            .collect(),
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Columns {
        Columns {
            sample: "id".into(),
            label: "y".into(),
        }
    }

    #[test]
    fn groups_rows_into_series_and_sorts_integer_labels() {
        let dir = std::env::temp_dir().join(format!("snn-seqcsv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mine.csv");
        std::fs::write(&path, "id,ax,y,ay\ns1,1,10,2\ns1,3,10,4\ns2,5,2,6\n").unwrap();
        let set = read(&path, &cols()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(set.name, "mine");
        assert_eq!(set.channels, 2);
        assert_eq!(set.classes, ["2", "10"]);
        assert_eq!(set.labels, [1, 0]);
        assert_eq!(set.series[0].values, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(set.series[1].len(), 1);
    }

    #[test]
    fn bad_rows_name_the_line_and_column() {
        let cases = [
            ("a,y\n", "line 1: sample column: no column named `id`"),
            (
                "id,x,y\ns,1\n",
                "line 2: row: 2 fields, but the header has 3",
            ),
            (
                "id,x,y\ns,1,a\ns,2,b\n",
                "line 3: y: label `b` differs from `a` earlier in sample `s`",
            ),
            (
                "id,x,y\ns,1,a\nt,1,a\ns,1,a\n",
                "line 4: id: sample `s` appears again",
            ),
            (
                "id,x,y\ns,one,a\n",
                "line 2: x: `one` is not a finite number",
            ),
            ("id,y\n", "line 1: header: no channel columns"),
            ("id,x,y\n", "no rows after the header"),
        ];
        for (text, want) in cases {
            let msg = parse(Path::new("u.csv"), text, &cols())
                .unwrap_err()
                .to_string();
            assert!(msg.starts_with("u.csv"), "{msg}");
            assert!(msg.contains(want), "{text:?}: {msg}");
        }
    }
}
