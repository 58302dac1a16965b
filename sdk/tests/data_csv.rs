//! CSV loading, malformed files (file:line:column errors), scaling and the embedded digits.
use std::path::PathBuf;

use snn_sdk::data::csv::CsvOptions;
use snn_sdk::data::DataError;
use snn_sdk::data::{Dataset, Digits, Scaling};

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("snn-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn csv_err(name: &str, text: &str, opts: &CsvOptions) -> String {
    let p = temp_file(name, text);
    match Dataset::from_csv(&p, opts) {
        Err(DataError::Csv(e)) => {
            assert!(e.file.ends_with(name), "{e}");
            e.to_string()
        }
        other => panic!("expected a CSV error, got {other:?}"),
    }
}

#[test]
fn bad_cell_reports_file_line_column_and_text() {
    let msg = csv_err(
        "cell.csv",
        "1,2,0\n3,4,1\n5,abc,1\n",
        &CsvOptions::default(),
    );
    assert!(
        msg.ends_with("cell.csv:3: column 2: expected a number (found \"abc\")"),
        "{msg}"
    );
}

#[test]
fn short_row_reports_line_and_counts() {
    let msg = csv_err("short.csv", "1,2,0\n3,1\n", &CsvOptions::default());
    assert!(
        msg.contains("short.csv:2: expected 3 columns, found 2"),
        "{msg}"
    );
}

#[test]
fn bad_label_and_empty_field() {
    let msg = csv_err("label.csv", "1,2,0\n3,4,1.5\n", &CsvOptions::default());
    assert!(
        msg.contains("label.csv:2: column 3: the label must be a class index"),
        "{msg}"
    );
    assert!(msg.contains("(found \"1.5\")"), "{msg}");
    let msg = csv_err("empty.csv", "1,2,0\n,4,1\n", &CsvOptions::default());
    assert!(msg.contains("empty.csv:2: column 1: empty field"), "{msg}");
}

#[test]
fn header_line_numbers_count_the_header_and_label_column_is_checked() {
    let opts = CsvOptions {
        header: true,
        delimiter: ';',
        label_column: Some(0),
    };
    let msg = csv_err("hdr.csv", "y;a;b\n0;1;2\n1;nan?;2\n", &opts);
    assert!(msg.contains("hdr.csv:3: column 2"), "{msg}");
    let opts = CsvOptions {
        label_column: Some(7),
        ..CsvOptions::default()
    };
    let msg = csv_err("col.csv", "1,2,0\n", &opts);
    assert!(msg.contains("label_column 7 is out of range"), "{msg}");
}

#[test]
fn missing_file_names_the_path() {
    let p = std::env::temp_dir().join("snn-definitely-missing.csv");
    let e = Dataset::from_csv(&p, &CsvOptions::default()).unwrap_err();
    assert!(e.to_string().contains("snn-definitely-missing.csv"), "{e}");
}

#[test]
fn min_max_scaling_is_fitted_on_the_train_split_only() {
    // Class 0 rows have feature 0 in 0..=10, class 1 rows in 0..=10; one outlier of 1000.
    let mut text = String::new();
    for i in 0..10 {
        text.push_str(&format!("{},0\n{},1\n", i, 10 - i));
    }
    text.push_str("1000,1\n");
    let d = Dataset::from_csv(&temp_file("mm.csv", &text), &CsvOptions::default()).unwrap();
    assert_eq!(d.default_scaling, Scaling::MinMax);
    let s = d.split(0.2, 1, Scaling::MinMax).unwrap();
    let train_max = s.scaler.max[0];
    let in_train = s.train.rows.contains(&20);
    assert_eq!(train_max, if in_train { 1000.0 } else { 10.0 });
    assert!(s.train.features.contains(&255));
    // A test value above the train range saturates instead of wrapping.
    if !in_train {
        let i = s.test.rows.iter().position(|&r| r == 20).unwrap();
        assert_eq!(s.test.features_of(i), &[255]);
    }
}

#[test]
fn digits_from_a_path_equal_the_embedded_copy() {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv.gz");
    let a = Digits::load().unwrap();
    let b = Digits::load_path(&p).unwrap();
    assert_eq!(a.table, b.table);
    let s = a.split(0.2, 0, Digits::scaling()).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (1438, 359));
    assert!(s.train.features.iter().all(|&q| q == 0 || q >= 15));
}

#[test]
fn shuffled_batches_are_seeded_and_cover_every_sample() {
    let s = Digits::load()
        .unwrap()
        .split(0.2, 0, Digits::scaling())
        .unwrap();
    let a = s.train.batches(100, true, 3, 0);
    assert_eq!(a, s.train.batches(100, true, 3, 0));
    assert_ne!(a, s.train.batches(100, true, 3, 1));
    let mut all: Vec<usize> = a.concat();
    all.sort_unstable();
    assert_eq!(all, (0..s.train.len()).collect::<Vec<_>>());
    assert_eq!(a.last().unwrap().len(), s.train.len() % 100);
}
