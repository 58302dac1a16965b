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
//!
//! Loss: cross-entropy on the output spike counts; optimiser: Adam (`AdamW`, weight decay 0).

use std::io::Read;
use std::time::Duration;

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
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
}

impl Task {
    fn new(cfg: &NetworkConfig, x: Tensor, y: Tensor) -> Self {
        let net = Network::new(cfg, 1, &Device::Cpu).unwrap();
        let opt = AdamW::new(
            net.vars(),
            ParamsAdamW {
                lr: 5e-3,
                weight_decay: 0.0,
                ..Default::default()
            },
        )
        .unwrap();
        Self { net, opt, x, y }
    }

    fn step(&mut self, fused: bool) -> f32 {
        let outs = if fused {
            self.net.forward(&self.x)
        } else {
            self.net.forward_reference(&self.x)
        }
        .unwrap();
        let counts = outs.last().unwrap().spikes.sum(1).unwrap();
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

criterion_group!(benches, digits, shd);
criterion_main!(benches);
