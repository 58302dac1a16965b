//! One full training step (forward + loss + backward + Adam step; input encoding excluded) of
//! the fused network against the per-step autograd reference.
//!
//! ```text
//! cargo bench -p snn-sdk --bench train_step            # all
//! cargo bench -p snn-sdk --bench train_step -- digits  # one group
//! ```
//!
//! Throughput is reported in samples/s (criterion "elements").
//! - `digits`: 64 -> 128 -> 10 LIF, T = 25, batch 128, Bernoulli rate inputs from the bundled
//!   digits pixels (rate = pixel/16); targets: the digits labels.
//! - `shd`: SHD-shaped 700 -> 256 recurrent -> 20, T = 100, batch 64, 5 % Bernoulli inputs.
//! - `series`: JapaneseVowels' 12 -> 128 recurrent -> 9, batch 32, direct input of the first 32
//!   training utterances (`sdk/data/JapaneseVowels_TRAIN.ts.gz`, lengths 7-29). Throughput in
//!   valid steps/s (criterion "elements" = `sum_b T_b`): `unequal` is the padded batch of the
//!   utterances' own lengths (`Network::forward_lengths`), `equal` a batch of the same 32
//!   utterances all of one length with the same total of valid steps (each utterance's frames
//!   repeated or cut), `padded` the unequal batch run over all its padded steps with the counts
//!   masked afterwards (what the padding cost before samples stopped at their own length).
//!   The same three again as `series_cpu`, measured in CPU time of the whole process (all
//!   threads, `/proc/self/task/*/schedstat`, Linux): on a machine shared with other work the
//!   wall clock stretches with everyone's load, the CPU time of the work itself much less
//!   (throughput there is valid steps per CPU-second).
//!   The series steps use Adam with lr 0 (all of Adam's work, fixed weights, so the spike activity
//!   does not drift apart between batches), and each batch is timed interleaved with a partner.
//!
//! Loss: cross-entropy on the output spike counts; optimiser: Adam (`AdamW`, weight decay 0).

use std::io::Read;
use std::time::Duration;

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use snn_sdk::data::series::input::{SeriesEncoding, SeriesInput};
use snn_sdk::data::series::ts::{read, Missing};
use snn_sdk::net::layer::{LayerConfig, LayerKind, Reset};
use snn_sdk::net::network::{Network, NetworkConfig};
use snn_sdk::rng::SplitMix64;

/// The allocator of the `snn` binary (feature `mimalloc`, default), so the bench measures what
/// `snn train` runs; `--no-default-features` measures glibc's malloc.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Task {
    net: Network,
    opt: AdamW,
    x: Tensor,
    y: Tensor,
    /// Valid steps per sample (`None`: all), and whether the fused op may stop there.
    lengths: Option<(Vec<usize>, bool)>,
}

impl Task {
    fn new(cfg: &NetworkConfig, x: Tensor, y: Tensor) -> Self {
        Self::with_lr(cfg, x, y, 5e-3)
    }

    fn with_lr(cfg: &NetworkConfig, x: Tensor, y: Tensor, lr: f64) -> Self {
        let net = Network::new(cfg, 1, &Device::Cpu).unwrap();
        let opt = AdamW::new(
            net.vars(),
            ParamsAdamW {
                lr,
                weight_decay: 0.0,
                ..Default::default()
            },
        )
        .unwrap();
        Self {
            net,
            opt,
            x,
            y,
            lengths: None,
        }
    }

    fn step(&mut self, fused: bool) -> f32 {
        let outs = match (&self.lengths, fused) {
            (Some((l, true)), true) => self.net.forward_lengths(&self.x, l),
            (_, true) => self.net.forward(&self.x),
            (_, false) => self.net.forward_reference(&self.x),
        }
        .unwrap();
        let spikes = &outs.last().unwrap().spikes;
        let counts = match &self.lengths {
            Some((l, false)) => {
                // run over the padding, then mask it out of the counts
                let t = spikes.dim(1).unwrap();
                let m: Vec<f32> = l
                    .iter()
                    .flat_map(|&li| (0..t).map(move |k| f32::from(u8::from(k < li))))
                    .collect();
                let m = Tensor::from_vec(m, (l.len(), t, 1), &Device::Cpu).unwrap();
                spikes.broadcast_mul(&m).unwrap().sum(1).unwrap()
            }
            _ => spikes.sum(1).unwrap(),
        };
        let loss = candle_nn::loss::cross_entropy(&counts, &self.y).unwrap();
        self.opt.backward_step(&loss).unwrap();
        loss.to_scalar::<f32>().unwrap()
    }
}

/// `[B, T, in]` Bernoulli spikes with per-(sample, feature) probabilities `p[b][i]`.
fn bernoulli(p: &[Vec<f32>], t: usize, seed: u64) -> Tensor {
    let mut rng = SplitMix64::new(seed);
    let (b, n) = (p.len(), p[0].len());
    let mut v = Vec::with_capacity(b * t * n);
    for row in p {
        for _ in 0..t {
            v.extend(
                row.iter()
                    .map(|&q| if rng.next_f32() < q { 1.0f32 } else { 0.0 }),
            );
        }
    }
    Tensor::from_vec(v, (b, t, n), &Device::Cpu).unwrap()
}

fn digits_rows(n: usize) -> (Vec<Vec<f32>>, Vec<u32>) {
    let gz = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    let mut px = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines().take(n) {
        let f: Vec<f32> = line.split(',').map(|s| s.trim().parse().unwrap()).collect();
        px.push(f[..64].iter().map(|p| p / 16.0).collect());
        labels.push(f[64] as u32);
    }
    (px, labels)
}

fn digits_task() -> Task {
    let cfg = NetworkConfig {
        input_size: 64,
        layers: vec![
            LayerConfig::new(LayerKind::Leaky, 128),
            LayerConfig {
                reset: Reset::Subtract,
                ..LayerConfig::new(LayerKind::Leaky, 10)
            },
        ],
    };
    let (p, labels) = digits_rows(128);
    let x = bernoulli(&p, 25, 7);
    let y = Tensor::from_vec(labels, 128, &Device::Cpu).unwrap();
    Task::new(&cfg, x, y)
}

fn shd_task() -> Task {
    let cfg = NetworkConfig {
        input_size: 700,
        layers: vec![
            LayerConfig::new(LayerKind::Recurrent, 256),
            LayerConfig::new(LayerKind::Leaky, 20),
        ],
    };
    let p = vec![vec![0.05f32; 700]; 64];
    let x = bernoulli(&p, 100, 9);
    let y = Tensor::from_vec((0..64u32).map(|i| i % 20).collect(), 64, &Device::Cpu).unwrap();
    Task::new(&cfg, x, y)
}

/// JapaneseVowels' network and its first 32 training utterances, encoded as the device sees
/// them: `(config, per-utterance [T_i * 12] inputs, labels)`.
fn jv_data() -> (NetworkConfig, Vec<Vec<f32>>, Vec<u32>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/JapaneseVowels_TRAIN.ts.gz"
    );
    let set = read(std::path::Path::new(path), Missing::Refuse).unwrap();
    let input = SeriesInput::fit(SeriesEncoding::Direct, &set);
    let rows = set.series[..32]
        .iter()
        .map(|s| input.encode(s).unwrap())
        .collect();
    let labels = set.labels[..32].iter().map(|&l| l as u32).collect();
    let cfg = NetworkConfig {
        input_size: 12,
        layers: vec![
            LayerConfig::new(LayerKind::Recurrent, 128),
            LayerConfig::new(LayerKind::Leaky, 9),
        ],
    };
    (cfg, rows, labels)
}

/// `[B, T, 12]` with sample `b`'s rows `rows[b]`, zero-padded to `T`.
fn padded(rows: &[Vec<f32>], t: usize) -> Tensor {
    let mut x = vec![0f32; rows.len() * t * 12];
    for (b, r) in rows.iter().enumerate() {
        x[b * t * 12..b * t * 12 + r.len()].copy_from_slice(r);
    }
    Tensor::from_vec(x, (rows.len(), t, 12), &Device::Cpu).unwrap()
}

/// The `series` tasks: `(name, task, valid steps)`.
fn series_tasks() -> Vec<(&'static str, Task, usize)> {
    let (cfg, rows, labels) = jv_data();
    let lengths: Vec<usize> = rows.iter().map(|r| r.len() / 12).collect();
    let total: usize = lengths.iter().sum();
    let t_max = *lengths.iter().max().unwrap();
    let y = || Tensor::from_vec(labels.clone(), 32, &Device::Cpu).unwrap();
    // lr 0: Adam does all its work but the weights stay the initial ones, so the spike activity
    // (and with it the event-driven work) does not drift apart between the batches while
    // criterion runs thousands of steps on each
    let new = |x: Tensor| Task::with_lr(&cfg, x, y(), 0.0);
    let mut unequal = new(padded(&rows, t_max));
    unequal.lengths = Some((lengths.clone(), true));
    let mut pad = new(padded(&rows, t_max));
    pad.lengths = Some((lengths.clone(), false));
    // the same total of valid steps in one length: T = total / 32 for every sample (the
    // remainder, < 32 steps, is spread as one extra step over the first samples; all samples
    // still stop at their own length)
    let (t_eq, extra) = (total / 32, total % 32);
    let eq_len: Vec<usize> = (0..32).map(|b| t_eq + usize::from(b < extra)).collect();
    let eq_rows: Vec<Vec<f32>> = rows
        .iter()
        .zip(&eq_len)
        .map(|(r, &l)| r.chunks(12).cycle().take(l).flatten().copied().collect())
        .collect();
    let mut equal = new(padded(&eq_rows, t_eq + 1));
    equal.lengths = Some((eq_len, true));
    vec![
        ("unequal", unequal, total),
        ("equal", equal, total),
        ("padded", pad, total),
    ]
}

fn series(c: &mut Criterion) {
    static WALL: WallTime = WallTime;
    series_with(c, "series", &WALL);
}

fn series_cpu(c: &mut Criterion<CpuTime>) {
    static CPU: CpuTime = CpuTime;
    series_with(c, "series_cpu", &CPU);
}

/// Each batch is timed interleaved with a partner batch (`unequal` with `equal`, the others
/// with `unequal`): every timed step is followed by one untimed step of the partner, so a load
/// that drifts while criterion runs the three benchmarks one after another reaches both sides
/// of the comparison alike. `meter` is the group's measurement (criterion's own is not
/// reachable from `iter_custom`).
fn series_with<M: Measurement>(c: &mut Criterion<M>, name: &str, meter: &'static M) {
    snn_sdk::runtime::configure(None);
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    for i in 0..3usize {
        let mut tasks = series_tasks();
        // tasks: [unequal, equal, padded]; take the partner out first, then the timed one
        let (_, mut partner, _) = tasks.remove(usize::from(i == 0));
        let (id, mut task, steps) = tasks.remove(i.saturating_sub(1));
        g.throughput(Throughput::Elements(steps as u64));
        g.bench_function(BenchmarkId::new("train_step", id), |b| {
            b.iter_custom(|iters| {
                let mut total = meter.zero();
                for _ in 0..iters {
                    let t0 = meter.start();
                    task.step(true);
                    total = meter.add(&total, &meter.end(t0));
                    partner.step(true);
                }
                total
            })
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion, name: &str, batch: usize, make: fn() -> Task) {
    // the process settings of the `snn` binary (short candle pool spinning), before any tensor op
    snn_sdk::runtime::configure(None);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(batch as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    for fused in [true, false] {
        let mut task = make();
        let id = if fused { "fused" } else { "reference" };
        g.bench_function(BenchmarkId::new("train_step", id), |b| {
            b.iter(|| task.step(fused))
        });
    }
    g.finish();
}

fn digits(c: &mut Criterion) {
    bench(c, "digits", 128, digits_task);
}

fn shd(c: &mut Criterion) {
    bench(c, "shd", 64, shd_task);
}

/// CPU time of this process, all threads (the sum of the first field of every
/// `/proc/self/task/*/schedstat`: nanoseconds on a CPU), in nanoseconds; 0 where there is none.
fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// A criterion measurement of the CPU time of the whole process (see [`process_cpu_ns`]).
struct CpuTime;

/// Formats CPU nanoseconds like criterion's wall time, throughput per CPU-second.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if ns < 1e3 {
            (1.0, "ns cpu")
        } else if ns < 1e6 {
            (1e-3, "µs cpu")
        } else if ns < 1e9 {
            (1e-6, "ms cpu")
        } else {
            (1e-9, "s cpu")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(&self, typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match *t {
            Throughput::Elements(e) | Throughput::ElementsAndBytes { elements: e, .. } => e,
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => b,
            Throughput::Bits(b) => b,
        } as f64;
        let (div, unit) = if n * 1e9 / typical < 1e6 {
            (1e3, "K/cpu-s")
        } else {
            (1e6, "M/cpu-s")
        };
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v / div);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        process_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        process_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

criterion_group!(benches, digits, shd, series);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(CpuTime);
    targets = series_cpu
}
criterion_main!(benches, cpu);
