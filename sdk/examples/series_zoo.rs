//! Trains the recorded time-series tasks (JapaneseVowels, BasicMotions) on their archive
//! train/test split with direct input, exports each model, runs the integer engine on the test
//! split and prints float and integer accuracy, spikes per inference, per-layer rates and
//! training speed per seed:
//!
//! `cargo run -p snn-sdk --example series_zoo -- [jv|bm] [SEEDS] [EPOCHS] [HIDDEN] [BATCH] [LR]
//! [HIDDEN_KEYS] [OUTPUT_KEYS]`
//!
//! `HIDDEN_KEYS` / `OUTPUT_KEYS` are extra `[[layers]]` keys of the hidden and output layer,
//! `;`-separated (e.g. `"learn_beta = true; beta_per_neuron = true"`). The example runs with the
//! `snn` binary's allocator (mimalloc) and process settings, so its speed is `snn train`'s.
//! With `VALIDATE=1` every 5th training series is held out and reported in place of the test
//! file (for tuning without looking at the test set).
use std::path::Path;

use candle_core::Device;
use snn_sdk::data::series::input::{SeriesEncoding, SeriesInput};
use snn_sdk::data::series::ts::{read, Missing};
use snn_sdk::deploy::series::{export, run_engine};
use snn_sdk::net::{Network, NetworkConfig};
use snn_sdk::train::series::{accuracy_float, train, SeriesLoss, SeriesTrainOptions};

/// The allocator of the `snn` binary (feature `mimalloc`, default).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    snn_sdk::runtime::configure(None);
    let args: Vec<String> = std::env::args().collect();
    let task = args.get(1).map_or("jv", String::as_str);
    let seeds: u64 = args.get(2).map_or(Ok(3), |s| s.parse())?;
    let epochs: usize = args.get(3).map_or(Ok(60), |s| s.parse())?;
    let hidden: usize = args.get(4).map_or(Ok(128), |s| s.parse())?;
    let batch_size: usize = args.get(5).map_or(Ok(32), |s| s.parse())?;
    let lr: f64 = args.get(6).map_or(Ok(0.005), |s| s.parse())?;
    let keys = |i: usize| args.get(i).map_or(String::new(), |s| s.replace(';', "\n"));
    let (hidden_keys, output_keys) = (keys(7), keys(8));
    let name = match task {
        "jv" => "JapaneseVowels",
        "bm" => "BasicMotions",
        other => anyhow::bail!("unknown task `{other}` (jv or bm)"),
    };
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let mut train_set = read(&data.join(format!("{name}_TRAIN.ts.gz")), Missing::Refuse)?;
    let mut test_set = read(&data.join(format!("{name}_TEST.ts.gz")), Missing::Refuse)?;
    if std::env::var_os("VALIDATE").is_some() {
        // tuning: every 5th training series is held out as the validation set, which takes
        // the test set's place; the test file is not used
        let all = train_set.clone();
        let keep = |held: bool| {
            let mut s = all.clone();
            let idx: Vec<usize> = (0..all.series.len())
                .filter(|i| (i % 5 == 4) == held)
                .collect();
            s.series = idx.iter().map(|&i| all.series[i].clone()).collect();
            s.labels = idx.iter().map(|&i| all.labels[i]).collect();
            s
        };
        (train_set, test_set) = (keep(false), keep(true));
        println!("VALIDATE: training on 4/5 of the training file, validating on the other 1/5");
    }
    let (_, longest) = test_set.length_range();
    let longest = longest.max(train_set.length_range().1);
    let input = SeriesInput::fit(SeriesEncoding::Direct, &train_set);
    let cfg: NetworkConfig = toml::from_str(&format!(
        "input_size = {}\n[[layers]]\nsize = {hidden}\nkind = \"recurrent\"\n{hidden_keys}\n\
         [[layers]]\nsize = {}\n{output_keys}\n",
        input.inputs(),
        train_set.classes.len()
    ))?;
    println!(
        "task {name}: {} train / {} test, {} channels, lengths up to {longest}, {} classes",
        train_set.series.len(),
        test_set.series.len(),
        train_set.channels,
        train_set.classes.len()
    );
    for seed in 0..seeds {
        let mut net = Network::new(&cfg, seed, &Device::Cpu)?;
        let opts = SeriesTrainOptions {
            epochs,
            batch_size,
            lr,
            seed,
            grad_clip: Some(5.0),
            weight_decay: env_f64("WEIGHT_DECAY"),
            input_noise: env_f64("INPUT_NOISE") as f32,
            loss: match env_f64("MSE_CORRECT") {
                c if c > 0.0 => SeriesLoss::MseRate {
                    correct: c,
                    incorrect: env_f64("MSE_INCORRECT"),
                },
                _ => SeriesLoss::CeCount,
            },
        };
        let cpu0 = cpu_seconds();
        let rep = train(&mut net, &input, &train_set, &opts)?;
        let cpu = cpu_seconds().zip(cpu0).map(|(a, b)| a - b);
        let float = accuracy_float(&net, &input, &test_set)?;
        let model = export(&net, &input, name, longest, train_set.classes.len())?;
        let bytes = model.to_bytes()?;
        let eng = run_engine(&bytes, &test_set)?;
        println!(
            "seed {seed}: float {:.2} % | integer {:.2} % | spikes/inference {:.1} | rates {:?} | \
             train {:.1} s, {:.0} samples/s, {:.0} steps/s, {} samples per CPU-second, \
             last loss {:.4}",
            100.0 * float,
            100.0 * eng.accuracy,
            eng.spikes_per_inference,
            eng.layer_rates
                .iter()
                .map(|r| (r * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            rep.seconds,
            rep.samples_per_sec,
            rep.steps_per_sec,
            cpu.map_or("?".into(), |c| format!(
                "{:.0}",
                (epochs * train_set.series.len()) as f64 / c.max(1e-9)
            )),
            rep.last_loss
        );
    }
    Ok(())
}

/// CPU seconds of this process so far (all threads; user + system, Linux `/proc/self/stat`
/// in clock ticks of 1/100 s), `None` elsewhere: on a shared machine the wall clock of a run
/// stretches with everyone else's load, its CPU time much less.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // the fields after the command name in parentheses; utime and stime are fields 14 and 15
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// A tuning knob from the environment (`WEIGHT_DECAY`, `INPUT_NOISE`, `MSE_CORRECT` and
/// `MSE_INCORRECT` for the rate loss), 0 when unset.
fn env_f64(name: &str) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
