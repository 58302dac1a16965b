//! `snn init [PATH] [--force] [--name NAME] [--csv FILE [--header] [--delimiter C] | --data FILE]`:
//! writes a commented starter training config (atomically; refuses to overwrite without
//! `--force`). `--data` takes time series and event data ([`super::init_series`]).
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, CliResult};
use crate::data::csv::CsvOptions;
use crate::data::{DataError, Dataset};
use crate::train::TrainConfig;

/// Options of `snn init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Where to write the config.
    #[arg(default_value = "snn.toml")]
    pub path: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Run name (runs go to runs/<name>/) [default: the file name without extension].
    #[arg(long)]
    pub name: Option<String>,
    /// Start from this CSV file (features, then an integer label in the last column) instead of
    /// the bundled digits: input and output sizes are read from it.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// With --csv: the first line is a header.
    #[arg(long, requires = "csv")]
    pub header: bool,
    /// With --csv: the field separator.
    #[arg(long, default_value_t = ',', requires = "csv")]
    pub delimiter: char,
    /// Start from time series or event data: a UEA/UCR `.ts` file (NAME_TRAIN.ts: NAME_TEST.ts
    /// beside it is the test set), a CSV of sequences (`.csv`: sample, label and channel
    /// columns), an SHD/SSC `.h5` file, or an N-MNIST directory (or a `.bin` file in it).
    #[arg(long, conflicts_with = "csv")]
    pub data: Option<PathBuf>,
}

/// The data part of the starter config.
struct DataPart {
    table: String,
    input_size: usize,
    classes: usize,
}

fn digits_part() -> DataPart {
    DataPart {
        table: "\
[data]
source = \"digits\"       # the bundled UCI optical digits (1797 samples, 8x8 pixels, 10 classes)
test_fraction = 0.2      # held out per class (stratified, seeded)
# For your own data: source = \"csv\", path = \"data.csv\" (relative to this file),
#   header = false, delimiter = \",\", label_column = <last>, scaling = { kind = \"min_max\" }
"
        .to_owned(),
        input_size: 64,
        classes: 10,
    }
}

fn csv_part(csv: &Path, config: &Path, header: bool, delimiter: char) -> CliResult<DataPart> {
    let opts = CsvOptions {
        header,
        delimiter,
        label_column: None,
    };
    let data = Dataset::from_csv(csv, &opts).map_err(|e| match e {
        DataError::Csv(e) if !header && e.line == 1 && e.column > 0 => CliError::input(format!(
            "{e}; is the first line a header? then pass --header"
        )),
        e => e.into(),
    })?;
    let config_dir = config.parent().filter(|d| !d.as_os_str().is_empty());
    let shown = match config_dir {
        None => csv.to_path_buf(),
        Some(_) => std::fs::canonicalize(csv)
            .map_err(|e| CliError::input(format!("{}: {e}", csv.display())))?,
    };
    let path = toml::Value::String(shown.display().to_string());
    let delim = toml::Value::String(delimiter.to_string());
    Ok(DataPart {
        table: format!(
            "\
[data]
source = \"csv\"
path = {path}   # relative paths are relative to this file
header = {header}
delimiter = {delim}
# label_column = {last}     # 0-based; default: the last column
test_fraction = 0.2         # held out per class (stratified, seeded)
scaling = {{ kind = \"min_max\" }}  # per feature, fitted on the train split; or {{ kind = \"range\", min = .., max = .. }}
",
            last = data.num_features()
        ),
        input_size: data.num_features(),
        classes: data.num_classes,
    })
}

/// The starter config text.
pub fn template(name: &str, data: &str, input_size: usize, classes: usize) -> String {
    let hidden = 128;
    format!(
        "\
# Training config for `snn train --config <this file>` (written by `snn init`).
# Every key except [network] is optional (defaults noted where the value differs).
# Unknown keys are errors (with the nearest valid key suggested).

name = \"{name}\"    # runs are written to runs/<name>/ unless --out DIR
seed = 0             # initial weights, split, shuffling and training spikes derive from it

{data}
[encoding]
kind = \"rate\"        # \"rate\" (Bernoulli, seeded), \"latency\" (threshold = 1), \"delta\" (threshold = 1)
seed = 0             # seed of the device's xorshift32 spike generator (stored in the model)

[train]              # settings tuned on the digits (models/zoo/digits.toml: ~98.6 % test accuracy)
epochs = 40          # default 20
batch_size = 16      # default 128
time_steps = 25      # simulation steps per sample
neurons_per_class = 1  # output neurons per class (the last layer has classes x this)
optimizer = \"adam\"   # \"adam\" or \"adamw\"
lr = 2e-3            # default 5e-3
weight_decay = 0.0
# grad_clip = 1.0    # global L2 norm; off by default
schedule = {{ kind = \"cosine\" }}  # min_lr = 0, warmup_epochs = 0; or {{ kind = \"constant\" }} (default),
                                 #    {{ kind = \"step\", step_epochs = 10, gamma = 0.5 }}

[loss]
kind = \"mse_count\"   # \"ce_count\" (default), \"ce_rate\", \"mse_count\", \"ce_max_membrane\",
                     # \"balanced_population_mse\"
correct_rate = 0.8   # mse_count: target spikes = trunc(T * rate) for the correct class
incorrect_rate = 0.2 # ... and for every other class

# Firing-rate budget of a layer (spikes/neuron/step), enforced in training, stored in the model
# and measured on the device. One [[budget]] table per constrained layer; none by default.
# [[budget]]
# layer = 0
# max_rate = 0.05
# min_rate = 0.0
# method = \"lagrange\"   # or \"penalty\" (with weight = ...)
# multiplier_lr = 100.0

# The decision rules `snn simulate` reports next to the final count (snn_models::decision, the
# code the board decides with): the class with most output spikes over the last `window` steps,
# and the first class whose count reaches `threshold` spikes (its step is the latency).
# [decision]
# window = 10
# threshold = 5

[network]
input_size = {input_size}

[[network.layers]]   # hidden layer
size = {hidden}
beta = 0.9           # membrane decay per step (or tau = ..., dt = 1: beta = exp(-dt/tau))
threshold = 1.0
reset = \"subtract\"   # \"subtract\", \"zero\", \"none\"
surrogate = {{ kind = \"fast_sigmoid\", slope = 25.0 }}
# kind = \"recurrent\" adds recurrent weights; bias = true by default

[[network.layers]]   # output layer: one neuron per class (x neurons_per_class)
size = {classes}
beta = 0.9
threshold = 1.0
reset = \"subtract\"
surrogate = {{ kind = \"fast_sigmoid\", slope = 25.0 }}
"
    )
}

/// Runs `snn init`.
pub fn run(args: InitArgs) -> CliResult {
    let path = &args.path;
    if path.is_dir() {
        return Err(CliError::input(format!(
            "{} is a directory; give a file name such as {}/snn.toml",
            path.display(),
            path.display()
        )));
    }
    if path.exists() && !args.force {
        return Err(CliError::input(format!(
            "{} already exists; use --force to replace it",
            path.display()
        )));
    }
    let name = match &args.name {
        Some(n) => n.clone(),
        None => path
            .file_stem()
            .map(|s| {
                s.to_string_lossy()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "-_".contains(c) {
                            c
                        } else {
                            '-'
                        }
                    })
                    .take(64)
                    .collect::<String>()
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "run".to_owned()),
    };
    let (text, input_size, classes, hidden) = if let Some(data) = &args.data {
        let part = super::init_series::series_part(data)?;
        for line in &part.report {
            println!("{line}");
        }
        let text = super::init_series::template(&name, &part);
        (text, part.input_size, part.classes, "128 recurrent LIF")
    } else {
        let part = match &args.csv {
            Some(csv) => csv_part(csv, path, args.header, args.delimiter)?,
            None => digits_part(),
        };
        let text = template(&name, &part.table, part.input_size, part.classes);
        (text, part.input_size, part.classes, "128 LIF")
    };
    // Never write a config `snn train` would refuse.
    TrainConfig::from_toml_str(&text, &path.display().to_string())?;
    crate::train::atomic::write(path, text.as_bytes())
        .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", path.display())))?;
    println!(
        "wrote {} ({input_size} inputs -> {hidden} -> {classes} LIF); train it with: snn train --config {}",
        path.display(),
        path.display()
    );
    Ok(())
}
