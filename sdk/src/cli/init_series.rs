//! `snn init --data FILE`: a starter config for time series or event streams. Reads the file in
//! the format its name suggests (`.ts`/`.ts.gz` UEA/UCR, `.csv` a CSV of sequences, `.h5` SHD/SSC,
//! an N-MNIST directory of class folders or one `.bin` file inside it), reports channels,
//! classes and lengths, finds the archive's test file beside it (`NAME_TRAIN.ts` ->
//! `NAME_TEST.ts`, `shd_train.h5` -> `shd_test.h5`, `Train/` -> `Test/`), and writes a
//! `[series]` config that trains.
use std::path::{Path, PathBuf};

use super::{CliError, CliResult};
use crate::data::series::nmnist::EventSet;
use crate::data::series::source::{SeriesFormat, SeriesSource};

/// What `snn init --data` found: the config's data part and the summary lines to print.
pub struct SeriesPart {
    /// The `[series]` table.
    pub table: String,
    /// Network inputs.
    pub input_size: usize,
    /// Classes.
    pub classes: usize,
    /// One line per fact (channels, classes, lengths, which test data).
    pub report: Vec<String>,
}

/// `name` with its train marker swapped for the test one (`TRAIN`/`Train`/`train`), if it has one.
fn test_name(name: &str) -> Option<String> {
    [("TRAIN", "TEST"), ("Train", "Test"), ("train", "test")]
        .iter()
        .find(|(a, _)| name.contains(a))
        .map(|(a, b)| name.replacen(a, b, 1))
}

/// The test file or directory beside `train`, when there is one.
fn companion(train: &Path) -> Option<PathBuf> {
    let name = train.file_name()?.to_string_lossy().into_owned();
    let p = train.with_file_name(test_name(&name)?);
    (p != train && p.exists()).then_some(p)
}

fn absolute(p: &Path) -> CliResult<PathBuf> {
    std::fs::canonicalize(p).map_err(|e| CliError::input(format!("{}: {e}", p.display())))
}

fn toml_str(p: &Path) -> String {
    toml::Value::String(p.display().to_string()).to_string()
}

/// (train, test) of an N-MNIST path: a `.bin` file names its class folder's parent; a
/// directory with `Train/` and `Test/` inside is the data set's root.
fn nmnist_dirs(path: &Path) -> CliResult<(PathBuf, Option<PathBuf>)> {
    let dir = if path.is_file() {
        path.parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .ok_or_else(|| {
                CliError::input(format!(
                    "{}: an N-MNIST file must sit in a class folder of a split directory (Train/0/00002.bin)",
                    path.display()
                ))
            })?
    } else {
        path.to_path_buf()
    };
    for (a, b) in [("Train", "Test"), ("train", "test"), ("TRAIN", "TEST")] {
        if dir.join(a).is_dir() && dir.join(b).is_dir() {
            return Ok((dir.join(a), Some(dir.join(b))));
        }
    }
    let test = companion(&dir).filter(|p| p.is_dir());
    Ok((dir, test))
}

/// Longest event time (microseconds) of a set.
fn longest_us(set: &EventSet) -> u64 {
    set.streams
        .iter()
        .filter_map(|s| s.events.last().map(|e| e.time_us))
        .max()
        .unwrap_or(0)
}

/// Reads `data` and builds the `[series]` table.
pub fn series_part(data: &Path) -> CliResult<SeriesPart> {
    if !data.exists() {
        return Err(CliError::input(format!(
            "--data {}: no such file or directory",
            data.display()
        )));
    }
    let format = SeriesFormat::guess(data);
    let (train, test) = match format {
        SeriesFormat::Nmnist => nmnist_dirs(data)?,
        _ => (data.to_path_buf(), companion(data)),
    };
    let train = absolute(&train)?;
    let test = test.map(|t| absolute(&t)).transpose()?;
    let mut src = SeriesSource::new(format, train.clone());
    let mut report = Vec::new();
    let err = |e: crate::data::series::SeriesError| CliError::input(e.to_string());
    let (inputs, classes, extra) = if format.is_events() {
        let (set, raw_channels) = match format {
            SeriesFormat::Shd => {
                let ch = crate::data::series::shd::SHD_CHANNELS;
                (crate::data::series::shd::read(&train, ch).map_err(err)?, ch)
            }
            _ => {
                let [w, h] = src.sensor;
                (
                    crate::data::series::nmnist::read_dir(&train, w, h).map_err(err)?,
                    u32::from(w) * u32::from(h),
                )
            }
        };
        // Steps of 10 ms up to the longest stream, rounded up to whole steps.
        let longest = longest_us(&set);
        let steps = (longest / 10_000 + 1).min(u64::from(u16::MAX));
        src.max_duration_ms = steps as f64 * src.dt_ms;
        let events: usize = set.streams.iter().map(|s| s.events.len()).sum();
        report.push(format!(
            "{}: {} event streams over {raw_channels} channels{}, {:.0} events per stream, longest {:.1} ms",
            train.display(),
            set.streams.len(),
            if format == SeriesFormat::Nmnist { " (x2 polarities)" } else { "" },
            events as f64 / set.streams.len().max(1) as f64,
            longest as f64 / 1000.0
        ));
        let inputs = src.binning().inputs(raw_channels);
        report.push(format!(
            "binned at {} ms up to {} ms: up to {steps} steps, {inputs} inputs",
            src.dt_ms, src.max_duration_ms
        ));
        let extra = format!(
            "encoder = {{ kind = \"events\" }}  # binned events are the input spikes\n\
             dt_ms = {:?}                 # step length: an input is 1 when its channel had an event in the step\n\
             max_duration_ms = {:?}      # events after this are dropped (the longest stream of the file)\n\
             pool = 1                     # channels per input: pool = 5 divides the inputs by 5 (and the memory)\n",
            src.dt_ms, src.max_duration_ms
        );
        (inputs, set.classes.len(), extra)
    } else {
        let set = src.read(&train).map_err(err)?;
        let (lo, hi) = set.length_range();
        report.push(format!(
            "{}: {} series of {} channels, lengths {lo}..={hi} steps",
            train.display(),
            set.series.len(),
            set.channels
        ));
        let extra = "encoder = { kind = \"direct\" }  # or { kind = \"send_on_delta\" | \"sigma_delta\", threshold_std = 0.5 } (2 inputs per channel)\n".to_owned();
        let extra = if format == SeriesFormat::Seqcsv {
            format!("{extra}sample_column = \"sample\"\nlabel_column = \"label\"\n")
        } else {
            format!("{extra}missing = \"refuse\"             # \"?\"/NaN: \"refuse\", \"zero\" or \"previous\"\n")
        };
        (set.channels, set.classes.len(), extra)
    };
    report.push(format!("{classes} classes"));
    let test_line = match &test {
        Some(t) => {
            report.push(format!("test data: {}", t.display()));
            format!(
                "test = {}   # the archive's own test data, used only for testing\n",
                toml_str(t)
            )
        }
        None => {
            report.push(format!(
                "no test file beside it: {} % of each class is held out for testing",
                100.0 * src.test_fraction
            ));
            "test_fraction = 0.2          # no test file: this much of each class is held out for testing\n".to_owned()
        }
    };
    let table = format!(
        "[series]\n\
         format = \"{}\"\n\
         train = {}\n\
         {test_line}\
         validation = 0.0             # > 0: this fraction of the training data is scored after every epoch\n\
         {extra}",
        format.name(),
        toml_str(&train)
    );
    Ok(SeriesPart {
        table,
        input_size: inputs,
        classes,
        report,
    })
}

/// The starter config text of a series data set.
pub fn template(name: &str, part: &SeriesPart) -> String {
    format!(
        "\
# Training config for `snn train --config <this file>` (written by `snn init --data`).
# Each sample runs its own length (padding is masked out of training; the device runs exactly
# the sample's steps). Unknown keys are errors (with the nearest valid key suggested).

name = \"{name}\"    # runs are written to runs/<name>/ unless --out DIR
seed = 0

{table}
[train]              # train.time_steps is not used: every sample has its own length
epochs = 30
batch_size = 32
lr = 0.005           # cosine-decayed to 1 % over the run
grad_clip = 5.0

[network]
input_size = {inputs}

[[network.layers]]   # hidden layer
kind = \"recurrent\"
size = 128

[[network.layers]]   # output layer: one neuron per class
size = {classes}
",
        table = part.table,
        inputs = part.input_size,
        classes = part.classes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_name_swaps_the_train_marker() {
        assert_eq!(
            test_name("JapaneseVowels_TRAIN.ts").as_deref(),
            Some("JapaneseVowels_TEST.ts")
        );
        assert_eq!(test_name("shd_train.h5").as_deref(), Some("shd_test.h5"));
        assert_eq!(test_name("Train").as_deref(), Some("Test"));
        assert_eq!(test_name("data.csv"), None);
    }
}
