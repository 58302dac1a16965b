//! Rate budgets inside the real training loop: config, enforcement, per-epoch logs, export.

use candle_core::Device;
use snn_sdk::budget::{export_budgets, BudgetMethod};
use snn_sdk::net::network::Network;
use snn_sdk::train::Trainer;
use snn_sdk::{Digits, TrainConfig};

fn config(budget: &str) -> String {
    format!(
        r#"
name = "budget_test"
seed = 1
[train]
epochs = 3
batch_size = 64
time_steps = 10
neurons_per_class = 2
[loss]
kind = "balanced_population_mse"
correct_rate = 0.8
incorrect_rate = 0.05
{budget}
[network]
input_size = 64
[[network.layers]]
size = 48
beta = 0.9
threshold = 1.0
[[network.layers]]
size = 20
beta = 0.9
threshold = 1.0
"#
    )
}

fn train(budget: &str) -> snn_sdk::train::Report {
    let cfg = TrainConfig::from_toml_str(&config(budget), "test.toml").unwrap();
    let net = Network::new(&cfg.network, cfg.seed, &Device::Cpu).unwrap();
    Trainer::new(cfg, net)
        .unwrap()
        .fit(&Digits::load().unwrap())
        .unwrap()
}

#[test]
fn lagrange_budget_lowers_the_hidden_rate_and_is_logged() {
    let free = train("");
    let capped = train("[[budget]]\nlayer = 0\nmax_rate = 0.03\nmultiplier_lr = 20.0\n");
    let (r_free, r_cap) = (free.rates[0], capped.rates[0]);
    assert!(
        r_cap < 0.6 * r_free,
        "budget had no effect: free {r_free}, capped {r_cap}"
    );
    let last = capped.epochs.last().unwrap();
    let hidden = &last.layer_rates[0];
    assert_eq!(hidden.max_rate, Some(0.03));
    assert!(
        hidden.multiplier.unwrap() > 0.0,
        "the multiplier never rose: {hidden:?}"
    );
    assert_eq!(hidden.histogram.counts.iter().sum::<u32>(), 48);
    assert!((hidden.mean_rate - r_cap).abs() < 1e-9);
    // Unbudgeted layers are still reported, without budget fields.
    let out = &last.layer_rates[1];
    assert!(out.max_rate.is_none() && out.multiplier.is_none());
    assert!(free.epochs.last().unwrap().layer_rates[0]
        .multiplier
        .is_none());
}

#[test]
fn budget_config_is_validated_and_exported() {
    let e =
        TrainConfig::from_toml_str(&config("[[budget]]\nlayer = 2\nmax_rate = 0.1\n"), "t.toml")
            .unwrap_err()
            .to_string();
    assert!(e.contains("layer 2") && e.contains("2 layers"), "{e}");
    let e = TrainConfig::from_toml_str(&config("[[budget]]\nlayer = 0\nmax_rat = 0.1\n"), "t.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_rat"), "{e}");
    let cfg = TrainConfig::from_toml_str(
        &config("[[budget]]\nlayer = 0\nmax_rate = 0.05\nmethod = \"penalty\"\nweight = 10.0\n"),
        "t.toml",
    )
    .unwrap();
    assert_eq!(cfg.budget[0].method, BudgetMethod::Penalty);
    let b = export_budgets(&cfg.budget, cfg.network.layers.len()).unwrap();
    assert_eq!(b[0].max_rate, 1639);
    assert_eq!(b[1], snn_models::RateBudget::UNBOUNDED);
    // The budget survives the checkpoint's config round trip.
    let again = TrainConfig::from_toml_str(&cfg.to_toml_string(), "again.toml").unwrap();
    assert_eq!(again.budget, cfg.budget);
}

#[test]
fn resume_restores_the_multipliers() {
    let budget = "[[budget]]\nlayer = 0\nmax_rate = 0.03\nmin_rate = 0.001\nmultiplier_lr = 20.0\n";
    let run = |epochs: usize, dir: &std::path::Path, resume: bool| {
        let mut cfg = TrainConfig::from_toml_str(&config(budget), "t.toml").unwrap();
        cfg.train.epochs = epochs;
        let net = Network::new(&cfg.network, cfg.seed, &Device::Cpu).unwrap();
        let t = Trainer::new(cfg, net).unwrap();
        let mut t = if resume {
            t.resume(dir).unwrap()
        } else {
            t.run_dir(dir)
        };
        t.fit(&Digits::load().unwrap()).unwrap()
    };
    let base = std::env::temp_dir().join(format!("snn-budget-resume-{}", std::process::id()));
    let (straight, split) = (base.join("straight"), base.join("split"));
    std::fs::create_dir_all(&straight).unwrap();
    std::fs::create_dir_all(&split).unwrap();
    let full = run(4, &straight, false);
    run(2, &split, false);
    let resumed = run(4, &split, true);
    let (a, b) = (
        &full.epochs[3].layer_rates[0],
        &resumed.epochs[3].layer_rates[0],
    );
    assert!(a.multiplier.unwrap() > 0.0 || a.multiplier_min.unwrap() > 0.0);
    assert_eq!(a, b, "resuming lost the budget state");
    assert_eq!(full.rates, resumed.rates);
    std::fs::remove_dir_all(&base).ok();
}
