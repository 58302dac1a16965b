//! Every plot is rendered as PNG and SVG; the files are checked to be real images of the requested
//! size with content (decoded PNG pixels, SVG root size and labels). The images are left in
//! `target/tmp/plots/` for people to look at.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use snn_sdk::plot::{
    connectivity, curves, membrane_traces, rate_histograms, read_metrics_jsonl, spike_raster,
    LayerRates, MetricsRow, PlotError, PlotOptions,
};

/// Directory for the test images (kept after the run).
fn out_dir(sub: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plots")
        .join(sub);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Decoded RGB pixels of a PNG.
struct Pixels {
    width: u32,
    rgb: Vec<u8>,
}

impl Pixels {
    fn iter(&self) -> impl Iterator<Item = (u8, u8, u8)> + '_ {
        self.rgb.chunks_exact(3).map(|p| (p[0], p[1], p[2]))
    }

    /// Number of pixels for which `f` holds.
    fn count(&self, f: impl Fn((u8, u8, u8)) -> bool) -> usize {
        self.iter().filter(|&p| f(p)).count()
    }
}

/// Checks `path` is a PNG of `width`x`height` with a white background and real content, and
/// returns its pixels.
fn check_png(path: &Path, width: u32, height: u32) -> Pixels {
    let bytes = fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{}: not a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (width, height), "{}: header size", path.display());

    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut rgb).unwrap();
    assert_eq!((info.width, info.height), (width, height));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    rgb.truncate(info.buffer_size());
    let pixels = Pixels { width, rgb };

    let total = (width * height) as usize;
    let white = pixels.count(|p| p == (255, 255, 255));
    assert!(
        white > total / 4 && white < total * 99 / 100,
        "{}: {white} of {total} pixels white",
        path.display()
    );
    let colours: HashSet<_> = pixels.iter().collect();
    assert!(
        colours.len() > 20,
        "{}: only {} colours (text is anti-aliased, so there should be many)",
        path.display(),
        colours.len()
    );
    pixels
}

/// Checks `path` is an SVG document of `width`x`height` containing each of `texts`.
fn check_svg(path: &Path, width: u32, height: u32, texts: &[&str]) -> String {
    let svg = fs::read_to_string(path).unwrap();
    let start = svg.find("<svg").expect("no <svg> element");
    let root = &svg[start..start + svg[start..].find('>').unwrap()];
    assert!(root.contains(&format!("width=\"{width}\"")), "root: {root}");
    assert!(
        root.contains(&format!("height=\"{height}\"")),
        "root: {root}"
    );
    assert!(
        svg.trim_end().ends_with("</svg>"),
        "{}: truncated",
        path.display()
    );
    for text in texts {
        assert!(
            svg.contains(text),
            "{}: missing text {text:?}",
            path.display()
        );
    }
    svg
}

/// No temporary files are left behind in `dir`.
fn assert_no_temp_files(dir: &Path) {
    for entry in fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp-"), "temporary file left: {name}");
    }
}

/// Small deterministic xorshift32 generator for test data.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    /// Uniform in `[0, 1)`.
    fn uniform(&mut self) -> f32 {
        (self.next() >> 8) as f32 / (1u32 << 24) as f32
    }
}

/// Spikes `[T][N]` and membrane traces `[N][T]` of a small two-layer float LIF network
/// (beta 0.9, threshold 1, subtract reset) driven by Poisson inputs.
struct Simulation {
    layers: Vec<(String, Vec<Vec<bool>>)>,
    traces: Vec<Vec<f32>>,
}

fn simulate(steps: usize) -> Simulation {
    let mut rng = Rng(0x2545_f491);
    let (n_in, n_hid, n_out) = (64, 40, 10);
    let weights = |rng: &mut Rng, pre: usize, post: usize, scale: f32| -> Vec<Vec<f32>> {
        (0..post)
            .map(|_| (0..pre).map(|_| (rng.uniform() - 0.45) * scale).collect())
            .collect()
    };
    let w1 = weights(&mut rng, n_in, n_hid, 0.4);
    let w2 = weights(&mut rng, n_hid, n_out, 0.8);
    let input_rate: Vec<f32> = (0..n_in)
        .map(|i| 0.05 + 0.25 * (i % 8) as f32 / 8.0)
        .collect();
    let (mut v1, mut v2) = (vec![0.0f32; n_hid], vec![0.0f32; n_out]);
    let mut raster = [Vec::new(), Vec::new(), Vec::new()];
    let mut traces = vec![Vec::with_capacity(steps); n_hid];
    let lif = |v: &mut [f32], w: &[Vec<f32>], pre: &[bool]| -> Vec<bool> {
        v.iter_mut()
            .zip(w)
            .map(|(v, row)| {
                let syn: f32 = row
                    .iter()
                    .zip(pre)
                    .filter(|(_, &s)| s)
                    .map(|(w, _)| w)
                    .sum();
                *v = 0.9 * *v + syn;
                let spike = *v >= 1.0;
                if spike {
                    *v -= 1.0;
                }
                spike
            })
            .collect()
    };
    for _ in 0..steps {
        let x: Vec<bool> = input_rate.iter().map(|&r| rng.uniform() < r).collect();
        let s1 = lif(&mut v1, &w1, &x);
        // Record the membrane before reset would hide the crossing: add the threshold back.
        for (n, trace) in traces.iter_mut().enumerate() {
            trace.push(v1[n] + if s1[n] { 1.0 } else { 0.0 });
        }
        let s2 = lif(&mut v2, &w2, &s1);
        raster[0].push(x);
        raster[1].push(s1);
        raster[2].push(s2);
    }
    let [input, hidden, output] = raster;
    Simulation {
        layers: vec![
            ("input".to_string(), input),
            ("hidden".to_string(), hidden),
            ("output".to_string(), output),
        ],
        traces,
    }
}

#[test]
fn spike_raster_png_and_svg() {
    let dir = out_dir("raster");
    let sim = simulate(80);
    let opts = PlotOptions::default();
    spike_raster(&sim.layers, &dir.join("raster.png"), &opts).unwrap();
    let px = check_png(&dir.join("raster.png"), 1024, 768);
    assert_eq!(px.width, 1024);
    spike_raster(&sim.layers, &dir.join("raster.svg"), &opts).unwrap();
    check_svg(
        &dir.join("raster.svg"),
        1024,
        768,
        &[
            "Spike raster",
            "time step",
            "neuron",
            "input:",
            "hidden:",
            "output:",
        ],
    );

    // One small layer at a custom size and title: integer ticks, big marks.
    let small = vec![(
        "tiny",
        (0..6)
            .map(|t| (0..4).map(|n| (t + n) % 3 == 0).collect())
            .collect::<Vec<Vec<bool>>>(),
    )];
    let opts = PlotOptions {
        width: 640,
        height: 400,
        title: Some("Six steps".into()),
    };
    spike_raster(&small, &dir.join("tiny.png"), &opts).unwrap();
    check_png(&dir.join("tiny.png"), 640, 400);
    spike_raster(&small, &dir.join("tiny.svg"), &opts).unwrap();
    check_svg(&dir.join("tiny.svg"), 640, 400, &["Six steps", "tiny:"]);
    assert_no_temp_files(&dir);
}

#[test]
fn membrane_traces_png_and_svg() {
    let dir = out_dir("traces");
    let sim = simulate(120);
    let traces: Vec<(String, Vec<f32>)> = [3usize, 11, 25]
        .iter()
        .map(|&n| (format!("hidden neuron {n}"), sim.traces[n].clone()))
        .collect();
    let opts = PlotOptions::default();
    membrane_traces(&traces, Some(1.0), &dir.join("traces.png"), &opts).unwrap();
    let px = check_png(&dir.join("traces.png"), 1024, 768);
    // The first three series colours are drawn.
    for colour in [(31, 119, 180), (255, 127, 14), (44, 160, 44)] {
        assert!(
            px.count(|p| p == colour) > 200,
            "series colour {colour:?} missing"
        );
    }
    membrane_traces(&traces, Some(1.0), &dir.join("traces.svg"), &opts).unwrap();
    check_svg(
        &dir.join("traces.svg"),
        1024,
        768,
        &[
            "membrane potential",
            "time step",
            "hidden neuron 11",
            "threshold 1",
        ],
    );
    // Without a threshold the legend has no threshold entry.
    membrane_traces(&traces[..1], None, &dir.join("one.svg"), &opts).unwrap();
    let svg = check_svg(&dir.join("one.svg"), 1024, 768, &["hidden neuron 3"]);
    assert!(!svg.contains("threshold"));
}

/// Per-neuron rates for `n` neurons spread around `mean`, deterministic.
fn rates(rng: &mut Rng, n: usize, mean: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (mean * (0.2 + 1.6 * rng.uniform())).clamp(0.0, 1.0))
        .collect()
}

#[test]
fn rate_histograms_png_and_svg() {
    let dir = out_dir("rates");
    let mut rng = Rng(7);
    // Rates fall towards the budget over training, as the budget penalty takes effect.
    let epochs: Vec<(u32, Vec<LayerRates<&str>>)> = (0..12u32)
        .map(|e| {
            let f = 1.0 / (1.0 + 0.4 * e as f32);
            (
                e,
                vec![
                    ("hidden", rates(&mut rng, 128, 0.05 + 0.25 * f), Some(0.2)),
                    ("output", rates(&mut rng, 20, 0.02 + 0.1 * f), Some(0.1)),
                ],
            )
        })
        .collect();
    let opts = PlotOptions::default();
    rate_histograms(&epochs, &dir.join("rates.png"), &opts).unwrap();
    let px = check_png(&dir.join("rates.png"), 1024, 768);
    assert!(px.count(|p| p == (200, 0, 0)) > 100, "budget lines missing");
    rate_histograms(&epochs, &dir.join("rates.svg"), &opts).unwrap();
    check_svg(
        &dir.join("rates.svg"),
        1024,
        768,
        &[
            "5 of 12 epochs shown",
            "epoch 0",
            "epoch 11",
            "over budget 0.2",
            "over budget 0.1",
            "budget max",
            "firing rate",
        ],
    );

    // Four layers, one epoch, one without a budget: 2x2 grid.
    let one: Vec<(u32, Vec<LayerRates<String>>)> = vec![(
        3,
        (0..4)
            .map(|l| {
                let budget = (l != 2).then_some(0.15);
                (
                    format!("layer {l}"),
                    rates(&mut rng, 64, 0.03 * (l + 1) as f32),
                    budget,
                )
            })
            .collect(),
    )];
    rate_histograms(&one, &dir.join("four.png"), &opts).unwrap();
    check_png(&dir.join("four.png"), 1024, 768);
    rate_histograms(&one, &dir.join("four.svg"), &opts).unwrap();
    check_svg(&dir.join("four.svg"), 1024, 768, &["layer 3", "64 neurons"]);
}

/// A metrics.jsonl as the training loop writes it, with fields the plot does not know.
fn write_metrics(path: &Path, epochs: u32, with_rates: bool) {
    let mut text = String::new();
    for e in 0..epochs {
        let x = e as f64;
        let train_loss = 2.3 * (-0.35 * x).exp() + 0.12;
        let test_loss = 2.3 * (-0.3 * x).exp() + 0.2 + 0.004 * x;
        let mut row = serde_json::json!({
            "epoch": e,
            "train_loss": train_loss,
            "train_acc": 1.0 - 0.9 * (-0.4 * x).exp(),
            "test_loss": test_loss,
            "test_acc": 0.93 - 0.83 * (-0.35 * x).exp(),
            "lr": 1e-3,
            "wall_s": 3.1 * (x + 1.0),
            "samples_per_s": 4200.0,
            "rate_hist": {"hidden": [1, 2, 3]},
        });
        if with_rates {
            row["rates"] = serde_json::json!([0.08 + 0.1 * (-0.3 * x).exp(), 0.04]);
        }
        text.push_str(&row.to_string());
        text.push('\n');
    }
    fs::write(path, text).unwrap();
}

#[test]
fn training_curves_png_and_svg() {
    let dir = out_dir("curves");
    let metrics = dir.join("metrics.jsonl");
    write_metrics(&metrics, 20, true);
    let rows = read_metrics_jsonl(&metrics).unwrap();
    assert_eq!(rows.len(), 20);
    let opts = PlotOptions::default();
    curves(&rows, &dir.join("curves.png"), &opts).unwrap();
    check_png(&dir.join("curves.png"), 1024, 768);
    curves(&rows, &dir.join("curves.svg"), &opts).unwrap();
    check_svg(
        &dir.join("curves.svg"),
        1024,
        768,
        &[
            "Training curves",
            "epoch",
            "loss",
            "accuracy",
            "train",
            "test",
            "layer 1",
        ],
    );

    // No rates, no test set, accuracy already in percent, a single epoch.
    let rows = vec![MetricsRow {
        epoch: 0,
        train_loss: Some(1.5),
        train_acc: Some(42.0),
        ..MetricsRow::default()
    }];
    curves(&rows, &dir.join("single.png"), &opts).unwrap();
    check_png(&dir.join("single.png"), 1024, 768);
    curves(&rows, &dir.join("single.svg"), &opts).unwrap();
    let svg = check_svg(&dir.join("single.svg"), 1024, 768, &["best train 42.0%"]);
    assert!(!svg.contains("firing rate"));
}

/// Dale's-law weights `[post][pre]`: excitatory columns positive, inhibitory negative.
fn dale_weights(rng: &mut Rng, post: usize, ei: &[bool]) -> Vec<Vec<f32>> {
    (0..post)
        .map(|_| {
            ei.iter()
                .map(|&e| {
                    let w = rng.uniform() * rng.uniform();
                    if e {
                        0.5 * w
                    } else {
                        -1.5 * w
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn connectivity_png_and_svg() {
    let dir = out_dir("connectivity");
    let mut rng = Rng(99);
    let ei: Vec<bool> = (0..48).map(|j| j % 5 != 4).collect();
    let w = dale_weights(&mut rng, 32, &ei);
    let opts = PlotOptions::default();
    connectivity(&w, Some(&ei), &dir.join("ei.png"), &opts).unwrap();
    let px = check_png(&dir.join("ei.png"), 1024, 768);
    // The E/I strip uses the pure marker colours.
    assert!(px.count(|p| p == (214, 39, 40)) > 500, "E marks missing");
    assert!(px.count(|p| p == (31, 119, 180)) > 200, "I marks missing");
    connectivity(&w, Some(&ei), &dir.join("ei.svg"), &opts).unwrap();
    check_svg(
        &dir.join("ei.svg"),
        1024,
        768,
        &[
            "presynaptic neuron",
            "postsynaptic neuron",
            "weight",
            "excitatory (E)",
            "inhibitory (I)",
            "39 E / 9 I",
        ],
    );

    // A large matrix without E/I is drawn as block means and stays a reasonable SVG.
    let big: Vec<Vec<f32>> = (0..300)
        .map(|i| {
            (0..500)
                .map(|j| ((i as f32 * 0.05).sin() + (j as f32 * 0.03).cos()) * 0.2)
                .collect()
        })
        .collect();
    connectivity(&big, None, &dir.join("big.png"), &opts).unwrap();
    check_png(&dir.join("big.png"), 1024, 768);
    connectivity(&big, None, &dir.join("big.svg"), &opts).unwrap();
    let svg = check_svg(
        &dir.join("big.svg"),
        1024,
        768,
        &["block means, 200×200 cells"],
    );
    assert!(svg.len() < 8_000_000, "SVG is {} bytes", svg.len());
}

#[test]
fn bad_output_paths_and_sizes_write_nothing() {
    let dir = out_dir("errors");
    let layers = vec![("l", vec![vec![true, false]; 3])];
    let jpg = dir.join("raster.jpg");
    let err = spike_raster(&layers, &jpg, &PlotOptions::default()).unwrap_err();
    assert!(matches!(err, PlotError::UnsupportedFormat { .. }), "{err}");
    assert!(err.to_string().contains("raster.jpg"), "{err}");
    assert!(!jpg.exists());

    let err = spike_raster(
        &layers,
        &dir.join("small.png"),
        &PlotOptions::with_size(100, 768),
    )
    .unwrap_err();
    assert!(
        matches!(err, PlotError::InvalidSize { width: 100, .. }),
        "{err}"
    );
    assert!(!dir.join("small.png").exists());

    let missing = dir.join("no/such/dir/raster.png");
    let err = spike_raster(&layers, &missing, &PlotOptions::default()).unwrap_err();
    assert!(matches!(err, PlotError::Write { .. }), "{err}");
    assert_no_temp_files(&dir);
}

#[test]
fn existing_file_is_replaced_whole() {
    let dir = out_dir("replace");
    let path = dir.join("raster.svg");
    fs::write(&path, "old contents").unwrap();
    let layers = vec![("l", vec![vec![true, false]; 3])];
    spike_raster(&layers, &path, &PlotOptions::default()).unwrap();
    check_svg(&path, 1024, 768, &["l:"]);
    assert_no_temp_files(&dir);
}

#[test]
fn bad_data_is_named() {
    let dir = out_dir("errors");
    let opts = PlotOptions::default();
    let out = dir.join("bad.png");
    let msg = |e: PlotError| e.to_string();

    let ragged = vec![("hidden", vec![vec![true; 4], vec![false; 4], vec![true; 3]])];
    let m = msg(spike_raster(&ragged, &out, &opts).unwrap_err());
    assert!(m.contains("`hidden`") && m.contains("time step 2"), "{m}");
    let none: Vec<(&str, Vec<Vec<bool>>)> = vec![];
    assert!(msg(spike_raster(&none, &out, &opts).unwrap_err()).contains("no layers"));

    let m = msg(membrane_traces(&[("v", vec![0.0, f32::NAN])], None, &out, &opts).unwrap_err());
    assert!(m.contains("`v`") && m.contains("step 1"), "{m}");

    let m = msg(
        rate_histograms(&[(4u32, vec![("h", vec![0.1, 3.0], None)])], &out, &opts).unwrap_err(),
    );
    assert!(
        m.contains("epoch 4") && m.contains("neuron 1") && m.contains("0..=1"),
        "{m}"
    );

    let m = msg(connectivity(&[vec![1.0, 2.0]], Some(&[true]), &out, &opts).unwrap_err());
    assert!(
        m.contains("E/I mask has 1") && m.contains("2 presynaptic"),
        "{m}"
    );
    let m = msg(connectivity(&[vec![1.0, 2.0], vec![1.0]], None, &out, &opts).unwrap_err());
    assert!(m.contains("row 1 has 1"), "{m}");

    let rows = vec![MetricsRow {
        epoch: 0,
        ..MetricsRow::default()
    }];
    let m = msg(curves(&rows, &out, &opts).unwrap_err());
    assert!(m.contains("train_loss"), "{m}");
    assert!(!out.exists());
}

#[test]
fn metrics_errors_name_the_line() {
    let dir = out_dir("metrics");
    let path = dir.join("broken.jsonl");
    fs::write(
        &path,
        "{\"epoch\":0,\"train_loss\":1.0}\n{\"epoch\":1,\"train_loss\":\"x\"}\n",
    )
    .unwrap();
    let err = read_metrics_jsonl(&path).unwrap_err();
    assert!(
        matches!(err, PlotError::MetricsLine { line: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("broken.jsonl` line 2"), "{err}");

    let err = read_metrics_jsonl(&dir.join("absent.jsonl")).unwrap_err();
    assert!(matches!(err, PlotError::Read { .. }), "{err}");
}

#[test]
fn degenerate_inputs_still_draw() {
    let dir = out_dir("degenerate");
    let opts = PlotOptions::default();
    // One neuron, one step, no spikes.
    spike_raster(
        &[("one", vec![vec![false]])],
        &dir.join("raster.png"),
        &opts,
    )
    .unwrap();
    check_png_header(&dir.join("raster.png"));
    // A flat trace, no threshold.
    membrane_traces(
        &[("flat", vec![0.0; 50])],
        None,
        &dir.join("flat.png"),
        &opts,
    )
    .unwrap();
    check_png(&dir.join("flat.png"), 1024, 768);
    // A single-sample trace at the threshold.
    membrane_traces(
        &[("dot", vec![1.0])],
        Some(1.0),
        &dir.join("dot.png"),
        &opts,
    )
    .unwrap();
    check_png(&dir.join("dot.png"), 1024, 768);
    // Silent layer without a budget.
    rate_histograms(
        &[(0u32, vec![("silent", vec![0.0; 30], None)])],
        &dir.join("silent.png"),
        &opts,
    )
    .unwrap();
    check_png(&dir.join("silent.png"), 1024, 768);
    // All-zero 1x1 matrix.
    connectivity(&[vec![0.0]], Some(&[false]), &dir.join("zero.png"), &opts).unwrap();
    check_png(&dir.join("zero.png"), 1024, 768);
    // Eight layers stacked at the smallest size.
    let small = PlotOptions::with_size(480, 360);
    let layers: Vec<(String, Vec<Vec<bool>>)> = (0..8)
        .map(|l| {
            let spikes = (0..20)
                .map(|t| (0..10).map(|n| (t * 7 + n * 3 + l) % 11 == 0).collect())
                .collect();
            (format!("L{l}"), spikes)
        })
        .collect();
    spike_raster(&layers, &dir.join("eight.png"), &PlotOptions::default()).unwrap();
    check_png(&dir.join("eight.png"), 1024, 768);
    spike_raster(&layers, &dir.join("eight_small.png"), &small).unwrap();
    check_png(&dir.join("eight_small.png"), 480, 360);
}

/// The file is a PNG 1024 pixels wide (no content check: an empty raster is mostly white).
fn check_png_header(path: &Path) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 1024);
}
