//! A small CSV reader for numeric feature tables with one integer label column.
//!
//! Every malformed value is reported as `file:line: column C: ... (found "text")`, with 1-based
//! line and column numbers, so the offending cell can be found in an editor.
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How to read a CSV file (the `[data]` table of the training config carries these fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsvOptions {
    /// The first non-empty line is a header and is skipped (default `false`).
    pub header: bool,
    /// Field separator (default `,`).
    pub delimiter: char,
    /// 0-based index of the label column; `None` (the default) means the last column.
    pub label_column: Option<usize>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            header: false,
            delimiter: ',',
            label_column: None,
        }
    }
}

/// A parsed table: row-major `f64` features and one class index per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Features per row.
    pub num_features: usize,
    /// `rows * num_features` values, row-major.
    pub features: Vec<f64>,
    /// Class index of each row.
    pub labels: Vec<u32>,
    /// Column names from the header line, if there was one (features only, in order).
    pub feature_names: Option<Vec<String>>,
}

impl Table {
    /// Number of data rows.
    pub fn rows(&self) -> usize {
        self.labels.len()
    }
}

/// A malformed CSV file: where (file, 1-based line and column), what text, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CsvError {
    /// The file (or a name for embedded data).
    pub file: String,
    /// 1-based line number (0 when the error is about the whole file).
    pub line: usize,
    /// 1-based column (field) number (0 when the error is about the whole line).
    pub column: usize,
    /// The offending text.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if self.column > 0 {
            write!(f, ": column {}", self.column)?;
        }
        write!(f, ": {}", self.reason)?;
        if !self.text.is_empty() {
            let shown: String = self.text.chars().take(60).collect();
            write!(f, " (found \"{shown}\")")?;
        }
        Ok(())
    }
}

/// Reads and parses a CSV file from disk (`.gz` files are decompressed).
pub fn read_path(path: &Path, opts: &CsvOptions) -> crate::data::Result<Table> {
    let bytes = std::fs::read(path).map_err(|e| crate::data::DataError::io(path, e))?;
    let name = path.display().to_string();
    let text = decode_text(&bytes, &name)?;
    Ok(parse(&text, &name, opts)?)
}

/// Turns file bytes into text, gunzipping when they start with the gzip magic.
pub fn decode_text(bytes: &[u8], name: &str) -> Result<String, CsvError> {
    let whole = |reason: String| CsvError {
        file: name.to_owned(),
        line: 0,
        column: 0,
        text: String::new(),
        reason,
    };
    let raw = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out)
            .map_err(|e| whole(format!("cannot decompress gzip data: {e}")))?;
        out
    } else {
        bytes.to_vec()
    };
    String::from_utf8(raw).map_err(|e| whole(format!("not UTF-8 text: {e}")))
}

/// Parses CSV `text`; `file` names the source in errors.
pub fn parse(text: &str, file: &str, opts: &CsvOptions) -> Result<Table, CsvError> {
    let err = |line: usize, column: usize, text: &str, reason: String| CsvError {
        file: file.to_owned(),
        line,
        column,
        text: text.to_owned(),
        reason,
    };
    let mut columns: Option<usize> = None;
    let mut label_col = 0;
    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut feature_names = None;
    let mut header_pending = opts.header;
    for (i, raw_line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw_line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line
            .split(opts.delimiter)
            .map(|f| f.trim().trim_matches('"').trim())
            .collect();
        match columns {
            None => {
                if fields.len() < 2 {
                    return Err(err(
                        line_no,
                        0,
                        line,
                        format!(
                            "need at least 2 columns (features and a label) separated by {:?}, found 1",
                            opts.delimiter
                        ),
                    ));
                }
                label_col = opts.label_column.unwrap_or(fields.len() - 1);
                if label_col >= fields.len() {
                    return Err(err(
                        line_no,
                        0,
                        "",
                        format!(
                            "label_column {label_col} is out of range: the file has {} columns (0-based indices 0..={})",
                            fields.len(),
                            fields.len() - 1
                        ),
                    ));
                }
                columns = Some(fields.len());
            }
            Some(n) if fields.len() != n => {
                return Err(err(
                    line_no,
                    0,
                    line,
                    format!("expected {n} columns, found {}", fields.len()),
                ));
            }
            Some(_) => {}
        }
        if header_pending {
            header_pending = false;
            feature_names = Some(
                fields
                    .iter()
                    .enumerate()
                    .filter(|&(c, _)| c != label_col)
                    .map(|(_, f)| (*f).to_owned())
                    .collect(),
            );
            continue;
        }
        for (c, field) in fields.iter().enumerate() {
            if c == label_col {
                let label = field.parse::<u32>().map_err(|_| {
                    err(
                        line_no,
                        c + 1,
                        field,
                        "the label must be a class index (an integer 0, 1, 2, ...)".to_owned(),
                    )
                })?;
                labels.push(label);
            } else {
                let v = field.parse::<f64>().map_err(|_| {
                    let what = if field.is_empty() {
                        "empty field, expected a number"
                    } else {
                        "expected a number"
                    };
                    err(line_no, c + 1, field, what.to_owned())
                })?;
                if !v.is_finite() {
                    return Err(err(
                        line_no,
                        c + 1,
                        field,
                        "the value is not finite".to_owned(),
                    ));
                }
                features.push(v);
            }
        }
    }
    let Some(n) = columns else {
        return Err(err(0, 0, "", "the file has no data rows".to_owned()));
    };
    if labels.is_empty() {
        return Err(err(0, 0, "", "the file has no data rows".to_owned()));
    }
    Ok(Table {
        num_features: n - 1,
        features,
        labels,
        feature_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_label_last_and_first() {
        let t = parse("1,2,0\n3,4,1\n", "t.csv", &CsvOptions::default()).unwrap();
        assert_eq!(t.num_features, 2);
        assert_eq!(t.features, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(t.labels, vec![0, 1]);
        let opts = CsvOptions {
            header: true,
            delimiter: ';',
            label_column: Some(0),
        };
        let t = parse("y;a;b\n2;1.5;-1\n\n0;0;0\n", "t.csv", &opts).unwrap();
        assert_eq!(t.labels, vec![2, 0]);
        assert_eq!(t.features, vec![1.5, -1.0, 0.0, 0.0]);
        assert_eq!(t.feature_names, Some(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn bad_cell_names_line_column_and_text() {
        let e = parse("1,2,0\n3,x4,1\n", "f.csv", &CsvOptions::default()).unwrap_err();
        assert_eq!((e.line, e.column, e.text.as_str()), (2, 2, "x4"));
        assert_eq!(
            e.to_string(),
            "f.csv:2: column 2: expected a number (found \"x4\")"
        );
    }
}
