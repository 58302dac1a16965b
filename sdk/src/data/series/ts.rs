//! The UEA/UCR time-series archive `.ts` format (plain or gzip-compressed).
//!
//! Header lines before `@data` (case-insensitive tags): `@problemName NAME`,
//! `@timeStamps false`, `@missing true|false`, `@univariate true|false`, `@dimensions N`,
//! `@equalLength true|false`, `@seriesLength N`, `@classLabel true L1 L2 ...` (string or
//! integer labels; `false` is refused: this loader is for classification), then `@data`.
//! Each data line is one series: its channels separated by `:`, each channel's values by `,`,
//! the label last. `#` starts a comment line; blank lines are skipped. Missing values (`?`,
//! `NaN`) are refused unless [`Missing`] says how to fill them.
use std::path::Path;

use super::error::{read_maybe_gz, SeriesError};
use super::{Series, SeriesSet};

/// What to do with a missing value (`?` or `NaN`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Refuse the file, naming the line, channel and position (the default).
    #[default]
    Refuse,
    /// Replace with 0.
    Zero,
    /// Carry the channel's previous value forward (0 before the first known value).
    Previous,
}

/// Reads a `.ts` file (gzip when it starts with `1f 8b`).
pub fn read(path: &Path, missing: Missing) -> Result<SeriesSet, SeriesError> {
    let bytes = read_maybe_gz(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| SeriesError::file(path, format!("not UTF-8 text ({e})")))?;
    parse(path, text, missing)
}

/// Header fields seen so far.
#[derive(Default)]
struct Head {
    name: Option<String>,
    dimensions: Option<usize>,
    equal_length: Option<bool>,
    series_length: Option<usize>,
    classes: Option<Vec<String>>,
    missing_declared: Option<bool>,
}

fn flag(path: &Path, line: usize, tag: &str, v: Option<&str>) -> Result<bool, SeriesError> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        other => Err(SeriesError::line(
            path,
            line,
            tag,
            format!(
                "expected `true` or `false`, found `{}`",
                other.unwrap_or("")
            ),
        )),
    }
}

fn count(path: &Path, line: usize, tag: &str, v: Option<&str>) -> Result<usize, SeriesError> {
    v.and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            SeriesError::line(
                path,
                line,
                tag,
                format!("expected a positive integer, found `{}`", v.unwrap_or("")),
            )
        })
}

/// Parses `.ts` text; `path` only names the file in errors.
pub fn parse(path: &Path, text: &str, missing: Missing) -> Result<SeriesSet, SeriesError> {
    let mut head = Head::default();
    let mut in_data = false;
    let mut series = Vec::new();
    let mut labels = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !in_data {
            if !line.starts_with('@') {
                return Err(SeriesError::line(
                    path,
                    line_no,
                    "header",
                    "expected an `@tag` line or `@data` before the data",
                ));
            }
            let mut words = line.split_whitespace();
            let tag = words.next().unwrap_or("").to_ascii_lowercase();
            let value = words.next();
            match tag.as_str() {
                "@problemname" => head.name = value.map(str::to_string),
                "@timestamps" => {
                    if flag(path, line_no, "@timeStamps", value)? {
                        return Err(SeriesError::line(
                            path,
                            line_no,
                            "@timeStamps",
                            "time-stamped series `(t,v)` are not supported; resample to equal steps",
                        ));
                    }
                }
                "@missing" => head.missing_declared = Some(flag(path, line_no, "@missing", value)?),
                "@univariate" => {
                    if flag(path, line_no, "@univariate", value)? {
                        head.dimensions.get_or_insert(1);
                    }
                }
                "@dimensions" => {
                    head.dimensions = Some(count(path, line_no, "@dimensions", value)?)
                }
                "@equallength" => {
                    head.equal_length = Some(flag(path, line_no, "@equalLength", value)?)
                }
                "@serieslength" => {
                    head.series_length = Some(count(path, line_no, "@seriesLength", value)?)
                }
                "@classlabel" => {
                    if !flag(path, line_no, "@classLabel", value)? {
                        return Err(SeriesError::line(
                            path,
                            line_no,
                            "@classLabel",
                            "the file has no class labels; a classification data set needs `@classLabel true ...`",
                        ));
                    }
                    let names: Vec<String> = words.map(str::to_string).collect();
                    if names.is_empty() {
                        return Err(SeriesError::line(
                            path,
                            line_no,
                            "@classLabel",
                            "`true` must be followed by the class labels",
                        ));
                    }
                    head.classes = Some(names);
                }
                "@targetlabel" => {
                    return Err(SeriesError::line(
                        path,
                        line_no,
                        "@targetLabel",
                        "regression targets are not supported; use a classification file",
                    ))
                }
                "@data" => {
                    if head.classes.is_none() {
                        return Err(SeriesError::line(
                            path,
                            line_no,
                            "@data",
                            "no `@classLabel true ...` line before `@data`",
                        ));
                    }
                    in_data = true;
                }
                _ => {
                    return Err(SeriesError::line(
                        path,
                        line_no,
                        tag.as_str(),
                        "unknown header tag",
                    ))
                }
            }
            continue;
        }
        let classes = head.classes.as_ref().expect("checked at @data");
        let (s, label) = data_line(path, line_no, line, &head, classes, missing)?;
        series.push(s);
        labels.push(label);
    }
    if !in_data {
        return Err(SeriesError::file(path, "no `@data` line: not a `.ts` file"));
    }
    if series.is_empty() {
        return Err(SeriesError::file(path, "no series after `@data`"));
    }
    let channels = series[0].channels;
    let name = head.name.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().trim_end_matches(".ts").to_string())
            .unwrap_or_default()
    });
    Ok(SeriesSet {
        name,
        channels,
        classes: head.classes.unwrap_or_default(),
        series,
        labels,
    })
}

/// One data line: channels split by `:`, the label last.
fn data_line(
    path: &Path,
    line_no: usize,
    line: &str,
    head: &Head,
    classes: &[String],
    missing: Missing,
) -> Result<(Series, usize), SeriesError> {
    let mut parts: Vec<&str> = line.split(':').collect();
    let label = parts.pop().unwrap_or("").trim();
    let Some(k) = classes.iter().position(|c| c == label) else {
        return Err(SeriesError::line(
            path,
            line_no,
            "label",
            format!("`{label}` is not one of the @classLabel values {classes:?}"),
        ));
    };
    if let Some(d) = head.dimensions {
        if parts.len() != d {
            return Err(SeriesError::line(
                path,
                line_no,
                "dimensions",
                format!(
                    "{} channels, but @dimensions is {d} (channels are separated by `:`, the label last)",
                    parts.len()
                ),
            ));
        }
    }
    if parts.is_empty() {
        return Err(SeriesError::line(
            path,
            line_no,
            "data",
            "no channels before the label",
        ));
    }
    let mut chans: Vec<Vec<f32>> = Vec::with_capacity(parts.len());
    for (c, part) in parts.iter().enumerate() {
        let mut vals = Vec::new();
        let mut prev = 0f32;
        for (j, v) in part.split(',').enumerate() {
            let v = v.trim();
            let field = || format!("channel {}, value {}", c + 1, j + 1);
            let x = if v == "?" || v.eq_ignore_ascii_case("nan") {
                match missing {
                    Missing::Refuse => {
                        return Err(SeriesError::line(
                            path,
                            line_no,
                            field(),
                            format!(
                                "missing value `{v}`; set `missing = \"zero\"` or `\"previous\"` in the data config to fill it"
                            ),
                        ))
                    }
                    Missing::Zero => 0.0,
                    Missing::Previous => prev,
                }
            } else {
                let x: f32 = v.parse().map_err(|_| {
                    SeriesError::line(path, line_no, field(), format!("`{v}` is not a number"))
                })?;
                if !x.is_finite() {
                    return Err(SeriesError::line(
                        path,
                        line_no,
                        field(),
                        format!("`{v}` is not finite"),
                    ));
                }
                x
            };
            prev = x;
            vals.push(x);
        }
        if let Some(first) = chans.first() {
            if first.len() != vals.len() {
                return Err(SeriesError::line(
                    path,
                    line_no,
                    format!("channel {}", c + 1),
                    format!(
                        "{} values, but channel 1 has {}; every channel of a series needs the same length",
                        vals.len(),
                        first.len()
                    ),
                ));
            }
        }
        chans.push(vals);
    }
    let steps = chans[0].len();
    if head.equal_length == Some(true) {
        if let Some(n) = head.series_length {
            if steps != n {
                return Err(SeriesError::line(
                    path,
                    line_no,
                    "length",
                    format!("{steps} steps, but @seriesLength is {n}"),
                ));
            }
        }
    }
    let channels = chans.len();
    let mut values = vec![0f32; steps * channels];
    for (c, ch) in chans.iter().enumerate() {
        for (t, &x) in ch.iter().enumerate() {
            values[t * channels + c] = x;
        }
    }
    Ok((Series { channels, values }, k))
}

/// Writes `set` as `.ts` text (for tests and for users exporting their data).
pub fn to_text(set: &SeriesSet) -> String {
    use std::fmt::Write;
    let (lo, hi) = set.length_range();
    let mut out = String::new();
    let _ = writeln!(out, "# written by snn");
    let _ = writeln!(out, "@problemName {}", set.name);
    let _ = writeln!(out, "@timeStamps false\n@missing false");
    let _ = writeln!(out, "@univariate {}", set.channels == 1);
    let _ = writeln!(out, "@dimensions {}", set.channels);
    let _ = writeln!(out, "@equalLength {}", lo == hi);
    if lo == hi {
        let _ = writeln!(out, "@seriesLength {lo}");
    }
    let _ = writeln!(out, "@classLabel true {}", set.classes.join(" "));
    let _ = writeln!(out, "@data");
    for (s, &k) in set.series.iter().zip(&set.labels) {
        for c in 0..s.channels {
            let vals: Vec<String> = (0..s.len()).map(|t| s.step(t)[c].to_string()).collect();
            let _ = write!(out, "{}:", vals.join(","));
        }
        let _ = writeln!(out, "{}", set.classes[k]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const SMALL: &str = "# comment\n@problemName Tiny\n@timeStamps false\n@missing false\n\
        @univariate false\n@dimensions 2\n@equalLength false\n@classLabel true walk run\n@data\n\
        1,2,3:4,5,6:run\n\n# another comment\n0.5,-1:2e1,7:walk\n";

    #[test]
    fn parses_channels_lengths_and_string_labels() {
        let set = parse(Path::new("tiny.ts"), SMALL, Missing::Refuse).unwrap();
        assert_eq!(set.name, "Tiny");
        assert_eq!(set.channels, 2);
        assert_eq!(set.classes, ["walk", "run"]);
        assert_eq!(set.labels, [1, 0]);
        assert_eq!(set.series[0].values, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(set.series[1].values, [0.5, 20.0, -1.0, 7.0]);
        assert_eq!(set.length_range(), (2, 3));
    }

    #[test]
    fn writes_plain_and_gzip_files_and_reads_them_back() {
        let set = parse(Path::new("tiny.ts"), SMALL, Missing::Refuse).unwrap();
        let dir = std::env::temp_dir().join(format!("snn-ts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("Tiny_TRAIN.ts");
        std::fs::write(&plain, to_text(&set)).unwrap();
        assert_eq!(read(&plain, Missing::Refuse).unwrap(), set);
        let gz = dir.join("Tiny_TRAIN.ts.gz");
        let mut enc =
            flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
        enc.write_all(to_text(&set).as_bytes()).unwrap();
        enc.finish().unwrap();
        assert_eq!(read(&gz, Missing::Refuse).unwrap(), set);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_the_bundled_recorded_data_sets() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let jv = |split| {
            read(
                &data.join(format!("JapaneseVowels_{split}.ts.gz")),
                Missing::Refuse,
            )
        };
        let (train, test) = (jv("TRAIN").unwrap(), jv("TEST").unwrap());
        assert_eq!((train.series.len(), test.series.len()), (270, 370));
        assert_eq!((train.channels, train.classes.len()), (12, 9));
        assert_eq!(train.length_range(), (7, 26));
        assert_eq!(test.length_range(), (7, 29));
        let bm = |split| {
            read(
                &data.join(format!("BasicMotions_{split}.ts.gz")),
                Missing::Refuse,
            )
        };
        let (train, test) = (bm("TRAIN").unwrap(), bm("TEST").unwrap());
        assert_eq!((train.series.len(), test.series.len()), (40, 40));
        assert_eq!(
            train.classes,
            ["Standing", "Running", "Walking", "Badminton"]
        );
        assert_eq!((train.channels, train.length_range()), (6, (100, 100)));
    }

    #[test]
    fn integer_labels_and_equal_length_are_checked() {
        let text = "@problemName N\n@dimensions 1\n@equalLength true\n@seriesLength 3\n\
            @classLabel true 1 2 3\n@data\n1,2,3:2\n1,2:3\n";
        let err = parse(Path::new("n.ts"), text, Missing::Refuse).unwrap_err();
        assert_eq!(
            err.to_string(),
            "n.ts, line 8: length: 2 steps, but @seriesLength is 3"
        );
    }

    #[test]
    fn missing_values_are_refused_unless_filled() {
        let text = "@dimensions 1\n@classLabel true a\n@data\n1,?,NaN,4:a\n";
        let err = parse(Path::new("m.ts"), text, Missing::Refuse).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "m.ts, line 4: channel 1, value 2: missing value `?`; set `missing = \"zero\"`"
            ),
            "{err}"
        );
        let z = parse(Path::new("m.ts"), text, Missing::Zero).unwrap();
        assert_eq!(z.series[0].values, [1.0, 0.0, 0.0, 4.0]);
        let p = parse(Path::new("m.ts"), text, Missing::Previous).unwrap();
        assert_eq!(p.series[0].values, [1.0, 1.0, 1.0, 4.0]);
        assert_eq!(p.name, "m");
    }

    #[test]
    fn every_bad_input_names_file_line_and_field() {
        let cases = [
            (
                "@dimensions 2\n@classLabel true a\n@data\n1,2:a\n",
                "line 4: dimensions: 1 channels, but @dimensions is 2",
            ),
            (
                "@classLabel true a b\n@data\n1,2:c\n",
                "line 3: label: `c` is not one of the @classLabel values",
            ),
            (
                "@classLabel true a\n@data\n1,x:a\n",
                "line 3: channel 1, value 2: `x` is not a number",
            ),
            (
                "@classLabel true a\n@data\n1,2:3:a\n",
                "line 3: channel 2: 1 values, but channel 1 has 2",
            ),
            (
                "@classLabel false\n@data\n",
                "line 1: @classLabel: the file has no class labels",
            ),
            (
                "@timeStamps true\n",
                "line 1: @timeStamps: time-stamped series",
            ),
            (
                "@dimensions two\n",
                "line 1: @dimensions: expected a positive integer, found `two`",
            ),
            (
                "@missing maybe\n",
                "line 1: @missing: expected `true` or `false`, found `maybe`",
            ),
            ("@color red\n", "line 1: @color: unknown header tag"),
            (
                "@data\n",
                "line 1: @data: no `@classLabel true ...` line before `@data`",
            ),
            ("1,2:a\n", "line 1: header: expected an `@tag` line"),
            ("@classLabel true a\n", "no `@data` line"),
            ("@classLabel true a\n@data\n", "no series after `@data`"),
            (
                "@classLabel true a\n@data\n1,inf:a\n",
                "line 3: channel 1, value 2: `inf` is not finite",
            ),
        ];
        for (text, want) in cases {
            let err = parse(Path::new("bad.ts"), text, Missing::Refuse).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("bad.ts"), "{msg}");
            assert!(msg.contains(want), "{text:?}: {msg}");
        }
    }
}
