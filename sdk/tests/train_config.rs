//! Config errors: unknown keys with the nearest valid one, wrong types, bad values, all naming
//! the file, line and field.
use snn_sdk::train::config::ConfigError;
use snn_sdk::TrainConfig;

const NET: &str = "[network]\ninput_size = 64\n[[network.layers]]\nsize = 10\n";

fn err(text: &str) -> ConfigError {
    TrainConfig::from_toml_str(text, "cfg.toml").unwrap_err()
}

#[test]
fn the_zoo_config_parses_and_validates() {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/zoo/digits.toml");
    let cfg = TrainConfig::from_toml_file(p).unwrap();
    assert_eq!(cfg.network.input_size, 64);
    assert_eq!(cfg.train.time_steps, 25);
    // Round trip through the TOML a checkpoint stores.
    let back = TrainConfig::from_toml_str(&cfg.to_toml_string(), "x").unwrap();
    assert_eq!(back.network, cfg.network);
    assert_eq!(back.train, cfg.train);
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let e = err(&format!("[train]\nepochs = 3\nlearning_rat = 0.1\n{NET}"));
    assert_eq!(e.at, Some((3, 1)));
    let msg = e.to_string();
    assert!(
        msg.starts_with("cfg.toml:3:1: in [train]: unknown field `learning_rat`"),
        "{msg}"
    );
    assert!(
        msg.contains("did you mean `lr`?") || msg.contains("did you mean"),
        "{msg}"
    );
    let e = err(&format!("[train]\nepoch = 3\n{NET}"));
    assert!(e.message.contains("did you mean `epochs`?"), "{e}");
    let e = err(&format!("[train]\nbatchsize = 3\n{NET}"));
    assert!(e.message.contains("did you mean `batch_size`?"), "{e}");
}

#[test]
fn the_table_is_named_without_the_header_comment() {
    let e = err(&format!(
        "[train]              # settings tuned on the digits (see README)\nepoch = 3\n{NET}"
    ));
    let msg = e.to_string();
    assert!(
        msg.starts_with("cfg.toml:2:1: in [train]: unknown field `epoch`"),
        "{msg}"
    );
}

#[test]
fn unknown_variant_suggests_the_nearest() {
    let e = err(&format!("[loss]\nkind = \"ce_cont\"\n{NET}"));
    assert!(
        e.message
            .contains("unknown variant `ce_cont`; did you mean `ce_count`?"),
        "{e}"
    );
    let e = err(&format!("[train]\noptimizer = \"adamm\"\n{NET}"));
    assert!(e.message.contains("did you mean `adam`?"), "{e}");
}

#[test]
fn wrong_type_names_the_place() {
    let e = err(&format!("[train]\nepochs = \"many\"\n{NET}"));
    assert_eq!(e.at.map(|a| a.0), Some(2));
    assert!(e.message.contains("invalid type"), "{e}");
    assert!(e.message.contains("[train]"), "{e}");
}

#[test]
fn bad_values_name_the_field_and_value() {
    let e = err(&format!("[train]\nlr = -1.0\n{NET}"));
    assert_eq!(
        e.to_string(),
        "cfg.toml: train.lr must be a positive number, got -1"
    );
    let e = err(&format!("[data]\ntest_fraction = 1.5\n{NET}"));
    assert!(
        e.message
            .contains("data.test_fraction must be in [0, 1), got 1.5"),
        "{e}"
    );
    let e = err(&format!(
        "[train]\nschedule = {{ kind = \"step\", step_epochs = 0, gamma = 0.5 }}\n{NET}"
    ));
    assert!(e.message.contains("train.schedule.step_epochs"), "{e}");
    let e = err("[network]\ninput_size = 64\n[[network.layers]]\nsize = 10\nthreshold = -1.0\n");
    assert!(e.message.starts_with("network.layers[0].threshold"), "{e}");
    let e =
        err("[data]\nsource = \"csv\"\n[network]\ninput_size = 4\n[[network.layers]]\nsize = 2\n");
    assert!(e.message.contains("data.path is required"), "{e}");
}

#[test]
fn missing_network_is_reported() {
    let e = err("name = \"x\"\n");
    assert!(e.message.contains("missing field `network`"), "{e}");
}

#[test]
fn the_decision_table_has_defaults_and_checked_ranges() {
    let cfg = TrainConfig::from_toml_str(NET, "cfg.toml").unwrap();
    assert_eq!((cfg.decision.window, cfg.decision.threshold), (10, 5));
    let cfg = TrainConfig::from_toml_str(
        &format!("[decision]\nwindow = 30\nthreshold = 12\n{NET}"),
        "cfg.toml",
    )
    .unwrap();
    assert_eq!((cfg.decision.window, cfg.decision.threshold), (30, 12));
    let back = TrainConfig::from_toml_str(&cfg.to_toml_string(), "x").unwrap();
    assert_eq!(back.decision, cfg.decision);
    let e = err(&format!("[decision]\nwindow = 0\n{NET}"));
    assert!(
        e.message.contains("decision.window must be in 1..=65535"),
        "{e}"
    );
    let e = err(&format!("[decision]\nthreshold = 0\n{NET}"));
    assert!(e.message.contains("decision.threshold must be >= 1"), "{e}");
    let e = err(&format!("[decision]\nwindw = 3\n{NET}"));
    assert!(e.to_string().contains("did you mean `window`?"), "{e}");
}
