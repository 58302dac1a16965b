//! `snn plot <what> …`: images of a run, drawn by the library's [`crate::plot`]; PNG or SVG by the
//! output file's extension.
//!
//! - `curves RUN|metrics.jsonl -o F`: loss and accuracy per epoch (train and test);
//! - `raster RUN [--sample I] -o F`: the input spikes and every layer's spikes for one sample;
//!   `raster --data FILE [--sample I] -o F` (time series or event data in any format `snn init
//!   --data` reads, optionally with RUN): the input events of one sample, binned as training
//!   sees them;
//! - `traces RUN [--sample I] [--layer L] [--neurons 0,1,2] -o F`: membrane potentials;
//! - `rates RUN -o F`: per-layer histograms of per-neuron rates against the budget line, one
//!   outline per epoch from the metrics log's `layer_rates` histograms, else the checkpoint's
//!   exact per-neuron rates on the test split;
//! - `connectivity RUN [--layer L] [--recurrent] -o F`: the weight matrix, E/I coloured when the
//!   layer has Dale's-law masks;
//! - `all RUN --dir D [--format png|svg]`: every plot above into `D`.
use std::path::{Path, PathBuf};

use candle_core::Device;
use clap::{Args, Subcommand, ValueEnum};

use super::run::{self, LoadedRun, SplitChoice};
use super::{CliError, CliResult};
use crate::data::encode::{eval_seed, SpikeEncoder};
use crate::net::network::LayerOutput;
use crate::plot::{self, PlotOptions};
use crate::train::checkpoint::METRICS_FILE;

/// `snn plot` and its kinds of plot.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Which plot.
    #[command(subcommand)]
    pub what: PlotKind,
}

/// Size and title options shared by every plot.
#[derive(Args, Debug, Clone)]
pub struct Look {
    /// Image width in pixels (SVG: user units), 256..=8192.
    #[arg(long, default_value_t = 1024)]
    pub width: u32,
    /// Image height in pixels, 256..=8192.
    #[arg(long, default_value_t = 768)]
    pub height: u32,
    /// Title instead of the plot's own.
    #[arg(long)]
    pub title: Option<String>,
}

impl Look {
    fn options(&self) -> PlotOptions {
        PlotOptions {
            width: self.width,
            height: self.height,
            title: self.title.clone(),
        }
    }
}

/// Which sample of the run's data to show.
#[derive(Args, Debug, Clone)]
pub struct Pick {
    /// Index of the sample within --split (0-based).
    #[arg(long, default_value_t = 0)]
    pub sample: usize,
    /// Which part of the run's data set the sample comes from.
    #[arg(long, value_enum, default_value_t = SplitChoice::Test)]
    pub split: SplitChoice,
}

/// The kinds of plot.
#[derive(Subcommand, Debug)]
pub enum PlotKind {
    /// Loss and accuracy curves (train/test) per epoch.
    Curves {
        /// Run directory, or a metrics.jsonl file.
        source: PathBuf,
        /// Output image (.png or .svg).
        #[arg(long, short)]
        out: PathBuf,
        /// Size and title.
        #[command(flatten)]
        look: Look,
    },
    /// Spike raster of the input and of every layer for one sample (or, with --data and no
    /// run, the input events of one sample of a data file).
    Raster {
        /// Run directory (or its checkpoint.safetensors).
        #[arg(required_unless_present = "data")]
        run: Option<PathBuf>,
        /// A time-series or event file (.ts, sequence .csv, SHD .h5, N-MNIST directory): the
        /// sample comes from it (read in the run's [series] format, or the format its name
        /// suggests without a run); --split is ignored.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Output image (.png or .svg).
        #[arg(long, short)]
        out: PathBuf,
        /// The sample.
        #[command(flatten)]
        pick: Pick,
        /// Size and title.
        #[command(flatten)]
        look: Look,
    },
    /// Membrane traces of chosen neurons for one sample, with the threshold.
    Traces {
        /// Run directory (or its checkpoint.safetensors).
        run: PathBuf,
        /// Output image (.png or .svg).
        #[arg(long, short)]
        out: PathBuf,
        /// Layer (0-based) [default: the output layer].
        #[arg(long)]
        layer: Option<usize>,
        /// Neurons of that layer, comma-separated [default: the first 4].
        #[arg(long, value_delimiter = ',')]
        neurons: Vec<usize>,
        /// The sample.
        #[command(flatten)]
        pick: Pick,
        /// Size and title.
        #[command(flatten)]
        look: Look,
    },
    /// Per-layer histograms of per-neuron firing rates against each layer's budget.
    Rates {
        /// Run directory (or its checkpoint.safetensors).
        run: PathBuf,
        /// Output image (.png or .svg).
        #[arg(long, short)]
        out: PathBuf,
        /// Size and title.
        #[command(flatten)]
        look: Look,
    },
    /// Connectivity (weight) matrix of one layer, E/I coloured under Dale's law.
    Connectivity {
        /// Run directory (or its checkpoint.safetensors).
        run: PathBuf,
        /// Output image (.png or .svg).
        #[arg(long, short)]
        out: PathBuf,
        /// Layer (0-based).
        #[arg(long, default_value_t = 0)]
        layer: usize,
        /// Show the recurrent matrix instead of the feed-forward one.
        #[arg(long)]
        recurrent: bool,
        /// Size and title.
        #[command(flatten)]
        look: Look,
    },
    /// Every plot (curves, raster, traces, rates, connectivity of each layer) into a directory.
    All {
        /// Run directory (or its checkpoint.safetensors).
        run: PathBuf,
        /// Directory for the images (created if needed).
        #[arg(long)]
        dir: PathBuf,
        /// Image format.
        #[arg(long, value_enum, default_value_t = Format::Png)]
        format: Format,
        /// The sample for raster and traces.
        #[command(flatten)]
        pick: Pick,
        /// Size.
        #[command(flatten)]
        look: Look,
    },
}

/// Image format for `plot all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Bitmap.
    Png,
    /// Vector.
    Svg,
}

/// Runs `snn plot`.
pub fn run(args: PlotArgs) -> CliResult {
    let written = match args.what {
        PlotKind::Curves { source, out, look } => {
            let metrics = if source.is_dir() {
                source.join(METRICS_FILE)
            } else {
                source
            };
            curves(&metrics, &out, &look.options())?;
            vec![out]
        }
        PlotKind::Raster {
            run,
            data,
            out,
            pick,
            look,
        } => {
            match (run, data) {
                (Some(run), None) => raster(&run::load(&run)?, &pick, &out, &look.options())?,
                (run, Some(data)) => {
                    let r = run.as_deref().map(run::load).transpose()?;
                    data_raster(r.as_ref(), &data, &pick, &out, &look.options())?;
                }
                (None, None) => return Err(CliError::input("give a RUN directory or --data FILE")),
            }
            vec![out]
        }
        PlotKind::Traces {
            run,
            out,
            layer,
            neurons,
            pick,
            look,
        } => {
            let r = run::load(&run)?;
            traces(&r, &pick, layer, &neurons, &out, &look.options())?;
            vec![out]
        }
        PlotKind::Rates { run, out, look } => {
            let r = run::load(&run)?;
            rates(&r, &out, &look.options())?;
            vec![out]
        }
        PlotKind::Connectivity {
            run,
            out,
            layer,
            recurrent,
            look,
        } => {
            let r = run::load(&run)?;
            connectivity(&r, layer, recurrent, &out, &look.options())?;
            vec![out]
        }
        PlotKind::All {
            run,
            dir,
            format,
            pick,
            look,
        } => all(&run, &dir, format, &pick, &look.options())?,
    };
    for w in written {
        println!("wrote {}", w.display());
    }
    Ok(())
}

fn all(
    run: &Path,
    dir: &Path,
    format: Format,
    pick: &Pick,
    opts: &PlotOptions,
) -> CliResult<Vec<PathBuf>> {
    let r = run::load(run)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::runtime(format!("cannot create {}: {e}", dir.display())))?;
    let ext = match format {
        Format::Png => "png",
        Format::Svg => "svg",
    };
    let file = |name: &str| dir.join(format!("{name}.{ext}"));
    let mut out = Vec::new();
    let metrics = r.metrics_path();
    if metrics.exists() {
        curves(&metrics, &file("curves"), opts)?;
        out.push(file("curves"));
    }
    raster(&r, pick, &file("raster"), opts)?;
    out.push(file("raster"));
    traces(&r, pick, None, &[], &file("traces"), opts)?;
    out.push(file("traces"));
    rates(&r, &file("rates"), opts)?;
    out.push(file("rates"));
    let params = r.net.layer_params()?;
    for (l, p) in params.iter().enumerate() {
        let f = file(&format!("connectivity_{l}"));
        connectivity(&r, l, false, &f, opts)?;
        out.push(f);
        if p.w_rec.is_some() {
            let f = file(&format!("connectivity_{l}_recurrent"));
            connectivity(&r, l, true, &f, opts)?;
            out.push(f);
        }
    }
    Ok(out)
}

fn curves(metrics: &Path, out: &Path, opts: &PlotOptions) -> CliResult {
    if !metrics.exists() {
        return Err(CliError::input(format!(
            "{} does not exist (give a run directory written by `snn train` or a metrics.jsonl file)",
            metrics.display()
        )));
    }
    let rows = plot::read_metrics_jsonl(metrics)?;
    if rows.is_empty() {
        return Err(CliError::input(format!(
            "{} has no epochs to plot",
            metrics.display()
        )));
    }
    plot::curves(&rows, out, opts)?;
    Ok(())
}

/// The input marks of an encoded series `[T, n]`: a spike for events and the delta encoders,
/// a value above the channel's training mean (`q > 0`) for direct input.
fn series_marks(x: &[f32], n: usize) -> Vec<Vec<bool>> {
    x.chunks(n.max(1))
        .map(|row| row.iter().map(|&v| v > 0.0).collect())
        .collect()
}

/// Sample `pick.sample` of a series set, or an error naming the range.
fn pick_series<'a>(
    set: &'a crate::data::series::SeriesSet,
    what: &str,
    pick: &Pick,
) -> CliResult<&'a crate::data::series::Series> {
    set.series.get(pick.sample).ok_or_else(|| {
        CliError::input(format!(
            "--sample {} is out of range: {what} has {} samples (0..={})",
            pick.sample,
            set.series.len(),
            set.series.len().saturating_sub(1)
        ))
    })
}

/// One sample of a `[series]` run (or of `data` read in its format) through the network.
fn forward_series(
    r: &LoadedRun,
    data: Option<&Path>,
    pick: &Pick,
) -> CliResult<(String, Vec<Vec<bool>>, Vec<LayerOutput>)> {
    let (train, test, input) = super::series::load(&r.cfg)?;
    let external;
    let (what, set) = match data {
        Some(p) => {
            let src = r
                .cfg
                .series
                .as_ref()
                .ok_or_else(|| CliError::input("the run has no [series] table"))?;
            external = src.read(p).map_err(|e| CliError::input(e.to_string()))?;
            (p.display().to_string(), &external)
        }
        None => match pick.split {
            SplitChoice::Train => ("the training data".to_owned(), &train),
            _ => ("the test data".to_owned(), &test),
        },
    };
    let s = pick_series(set, &what, pick)?;
    let x = input.encode(s)?;
    let n = input.inputs();
    let t = candle_core::Tensor::from_vec(x.clone(), (1, s.len(), n), &Device::Cpu)?;
    let outs = r.net.forward(&t)?;
    let label = format!(
        "sample {} of {what} (label {}, {} steps)",
        pick.sample,
        set.classes[set.labels[pick.sample]],
        s.len()
    );
    Ok((label, series_marks(&x, n), outs))
}

/// `plot raster --data`: the input of one sample of a data file, through the run's network
/// when a run is given.
fn data_raster(
    r: Option<&LoadedRun>,
    data: &Path,
    pick: &Pick,
    out: &Path,
    opts: &PlotOptions,
) -> CliResult {
    if let Some(r) = r {
        if r.cfg.series.is_none() {
            return Err(CliError::input(format!(
                "--data {} needs a [series] run (or no run); {} trains on static features",
                data.display(),
                r.dir.display()
            )));
        }
        let (label, input, outs) = forward_series(r, Some(data), pick)?;
        return draw_raster(r, label, input, &outs, out, opts);
    }
    let src = super::series::data_source(data, &[]);
    let set = src.read(data).map_err(|e| CliError::input(e.to_string()))?;
    let what = data.display().to_string();
    let s = pick_series(&set, &what, pick)?;
    let input = crate::data::series::input::SeriesInput::fit(src.encoder, &set);
    let x = input.encode(s)?;
    let marks = series_marks(&x, input.inputs());
    let kind = if src.format.is_events() {
        format!("events binned at {} ms", src.dt_ms)
    } else {
        "value above the channel mean".to_owned()
    };
    let layers = vec![(format!("input ({} inputs, {kind})", input.inputs()), marks)];
    let label = format!(
        "sample {} of {what} (label {}, {} steps)",
        pick.sample,
        set.classes[set.labels[pick.sample]],
        s.len()
    );
    let opts = with_title(opts, format!("Input events, {label}"));
    plot::spike_raster(&layers, out, &opts)?;
    Ok(())
}

/// One sample through the network: its input spikes `[T][in]` and every layer's output.
fn forward_one(
    r: &LoadedRun,
    pick: &Pick,
) -> CliResult<(String, Vec<Vec<bool>>, Vec<LayerOutput>)> {
    if r.cfg.series.is_some() {
        return forward_series(r, None, pick);
    }
    let (what, samples) = r.split_samples(pick.split)?;
    if pick.sample >= samples.len() {
        return Err(CliError::input(format!(
            "--sample {} is out of range: {what} has {} samples (0..={})",
            pick.sample,
            samples.len(),
            samples.len().saturating_sub(1)
        )));
    }
    let enc = SpikeEncoder::new(r.cfg.encoding, samples.num_features, r.cfg.train.time_steps)?;
    let x = enc.encode_batch(&samples, &[pick.sample], eval_seed, &Device::Cpu)?;
    let outs = r.net.forward(&x)?;
    let input = to_bools(&x.squeeze(0)?.to_vec2::<f32>()?);
    let label = format!(
        "sample {} of the {:?} split (row {}, label {})",
        pick.sample, pick.split, samples.rows[pick.sample], samples.labels[pick.sample]
    )
    .to_lowercase();
    Ok((label, input, outs))
}

fn to_bools(m: &[Vec<f32>]) -> Vec<Vec<bool>> {
    m.iter()
        .map(|row| row.iter().map(|&v| v > 0.5).collect())
        .collect()
}

fn with_title(opts: &PlotOptions, default: String) -> PlotOptions {
    let mut o = opts.clone();
    if o.title.is_none() {
        o.title = Some(default);
    }
    o
}

fn raster(r: &LoadedRun, pick: &Pick, out: &Path, opts: &PlotOptions) -> CliResult {
    let (label, input, outs) = forward_one(r, pick)?;
    draw_raster(r, label, input, &outs, out, opts)
}

fn draw_raster(
    r: &LoadedRun,
    label: String,
    input: Vec<Vec<bool>>,
    outs: &[LayerOutput],
    out: &Path,
    opts: &PlotOptions,
) -> CliResult {
    let mut layers = vec![(format!("input ({})", r.cfg.network.input_size), input)];
    for (l, o) in outs.iter().enumerate() {
        let name = if l + 1 == outs.len() {
            format!("layer {l} (output)")
        } else {
            format!("layer {l}")
        };
        layers.push((name, to_bools(&o.spikes.squeeze(0)?.to_vec2::<f32>()?)));
    }
    let opts = with_title(opts, format!("Spike raster, {label}"));
    plot::spike_raster(&layers, out, &opts)?;
    Ok(())
}

fn traces(
    r: &LoadedRun,
    pick: &Pick,
    layer: Option<usize>,
    neurons: &[usize],
    out: &Path,
    opts: &PlotOptions,
) -> CliResult {
    let n_layers = r.cfg.network.layers.len();
    let layer = layer.unwrap_or(n_layers - 1);
    if layer >= n_layers {
        return Err(CliError::input(format!(
            "--layer {layer} is out of range: the network has layers 0..={}",
            n_layers - 1
        )));
    }
    let size = r.cfg.network.layers[layer].size;
    let neurons: Vec<usize> = if neurons.is_empty() {
        (0..size.min(4)).collect()
    } else {
        neurons.to_vec()
    };
    if let Some(&bad) = neurons.iter().find(|&&n| n >= size) {
        return Err(CliError::input(format!(
            "--neurons: neuron {bad} is out of range: layer {layer} has neurons 0..={}",
            size - 1
        )));
    }
    let (label, _, outs) = forward_one(r, pick)?;
    let mem = outs[layer].mem.squeeze(0)?.to_vec2::<f32>()?;
    let traces: Vec<(String, Vec<f32>)> = neurons
        .iter()
        .map(|&n| {
            (
                format!("neuron {n}"),
                mem.iter().map(|row| row[n]).collect(),
            )
        })
        .collect();
    let threshold = r.cfg.network.layers[layer].threshold as f32;
    let opts = with_title(opts, format!("Membrane potential, layer {layer}, {label}"));
    plot::membrane_traces(&traces, Some(threshold), out, &opts)?;
    Ok(())
}

/// Per-neuron mean rates (spikes per valid step, averaged over samples) of every layer of a
/// `[series]` run on its test data.
fn series_neuron_rates(r: &LoadedRun) -> CliResult<Vec<Vec<f32>>> {
    let (_, test, input) = super::series::load(&r.cfg)?;
    let mut sums: Vec<Vec<f64>> = r
        .cfg
        .network
        .layers
        .iter()
        .map(|l| vec![0.0; l.size])
        .collect();
    let all: Vec<&crate::data::series::Series> = test.series.iter().collect();
    for batch in all.chunks(64) {
        let (x, mask) = input.batch(batch, &Device::Cpu)?;
        let len = mask.sum(1)?; // [B, 1]
        for (l, o) in r.net.forward(&x)?.iter().enumerate() {
            let per = o
                .spikes
                .broadcast_mul(&mask)?
                .sum(1)?
                .broadcast_div(&len)?
                .sum(0)?;
            for (s, v) in sums[l].iter_mut().zip(per.to_vec1::<f32>()?) {
                *s += f64::from(v);
            }
        }
    }
    let n = test.series.len().max(1) as f64;
    Ok(sums
        .into_iter()
        .map(|v| v.into_iter().map(|s| (s / n) as f32).collect())
        .collect())
}

/// Per-neuron mean rates of every layer on the test split (train split without one).
fn neuron_rates(r: &LoadedRun) -> CliResult<Vec<Vec<f32>>> {
    if r.cfg.series.is_some() {
        return series_neuron_rates(r);
    }
    let (_, samples) = r
        .split_samples(SplitChoice::Test)
        .or_else(|_| r.split_samples(SplitChoice::Train))?;
    let enc = SpikeEncoder::new(r.cfg.encoding, samples.num_features, r.cfg.train.time_steps)?;
    let idx: Vec<usize> = (0..samples.len()).collect();
    let mut sums: Vec<Vec<f64>> = r
        .cfg
        .network
        .layers
        .iter()
        .map(|l| vec![0.0; l.size])
        .collect();
    for batch in idx.chunks(256) {
        let x = enc.encode_batch(&samples, batch, eval_seed, &Device::Cpu)?;
        for (l, o) in r.net.forward(&x)?.iter().enumerate() {
            // mean over time, summed over the batch: [N]
            let per = o.spikes.mean(1)?.sum(0)?.to_vec1::<f32>()?;
            for (s, v) in sums[l].iter_mut().zip(per) {
                *s += f64::from(v);
            }
        }
    }
    let n = samples.len().max(1) as f64;
    Ok(sums
        .into_iter()
        .map(|l| l.into_iter().map(|s| (s / n) as f32).collect())
        .collect())
}

/// One layer's rates in one epoch: `(name, per-neuron rates, budget max)`.
type Layers = Vec<(String, Vec<f32>, Option<f32>)>;

/// Per-epoch per-neuron rates rebuilt from the histograms in `metrics.jsonl` (`layer_rates`):
/// each bin's neurons are placed at the bin's centre (overflow bin: at its lower edge). Empty when
/// the log has none.
fn logged_rates(metrics: &Path) -> CliResult<Vec<(u32, Layers)>> {
    let Ok(text) = std::fs::read_to_string(metrics) else {
        return Ok(Vec::new());
    };
    let mut epochs = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            CliError::input(format!("{}:{}: not JSON: {e}", metrics.display(), i + 1))
        })?;
        let Some(layers) = v["layer_rates"].as_array() else {
            continue;
        };
        let mut out: Layers = Vec::new();
        for l in layers {
            let edges: Vec<f64> = l["histogram"]["edges"]
                .as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
                .unwrap_or_default();
            let counts: Vec<u64> = l["histogram"]["counts"]
                .as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
                .unwrap_or_default();
            let mut rates = Vec::new();
            for (k, &c) in counts.iter().enumerate() {
                let at = match (edges.get(k), edges.get(k + 1)) {
                    (Some(a), Some(b)) => 0.5 * (a + b),
                    (Some(a), None) => *a,
                    _ => continue,
                };
                rates.extend(std::iter::repeat_n(at as f32, c as usize));
            }
            let name = format!("layer {}", l["layer"].as_u64().unwrap_or(out.len() as u64));
            out.push((name, rates, l["max_rate"].as_f64().map(|m| m as f32)));
        }
        if !out.is_empty() {
            epochs.push((v["epoch"].as_u64().unwrap_or(0) as u32, out));
        }
    }
    Ok(epochs)
}

fn rates(r: &LoadedRun, out: &Path, opts: &PlotOptions) -> CliResult {
    let mut epochs = logged_rates(&r.metrics_path())?;
    if epochs.is_empty() {
        // No per-epoch histograms logged: the checkpoint's exact per-neuron rates.
        let budget = |l: usize| {
            r.cfg
                .budget
                .iter()
                .find(|b| b.layer == l)
                .map(|b| b.max_rate as f32)
        };
        let layers: Layers = neuron_rates(r)?
            .into_iter()
            .enumerate()
            .map(|(l, v)| (format!("layer {l}"), v, budget(l)))
            .collect();
        epochs.push((r.epoch as u32, layers));
    }
    plot::rate_histograms(&epochs, out, opts)?;
    Ok(())
}

fn connectivity(
    r: &LoadedRun,
    layer: usize,
    recurrent: bool,
    out: &Path,
    opts: &PlotOptions,
) -> CliResult {
    let params = r.net.layer_params()?;
    let Some(p) = params.get(layer) else {
        return Err(CliError::input(format!(
            "--layer {layer} is out of range: the network has layers 0..={}",
            params.len() - 1
        )));
    };
    let (w, pre, sign) = if recurrent {
        let Some(w) = &p.w_rec else {
            return Err(CliError::input(format!(
                "layer {layer} has no recurrent weights (kind = \"recurrent\" adds them)"
            )));
        };
        (w, p.neurons, p.rec_sign.as_ref())
    } else {
        (&p.w_ff, p.inputs, p.ff_sign.as_ref())
    };
    let rows: Vec<Vec<f32>> = w.chunks(pre).map(<[f32]>::to_vec).collect();
    // Colour E/I only when every presynaptic neuron has a sign.
    let ei: Option<Vec<bool>> = sign
        .filter(|s| s.iter().all(|&x| x != 0))
        .map(|s| s.iter().map(|&x| x > 0).collect());
    let kind = if recurrent {
        "recurrent"
    } else {
        "feed-forward"
    };
    let opts = with_title(
        opts,
        format!("Layer {layer} {kind} weights ({} x {pre})", rows.len()),
    );
    plot::connectivity(&rows, ei.as_deref(), out, &opts)?;
    Ok(())
}
