//! Training progress on stderr: an `indicatif` bar on a terminal, plain lines otherwise.
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::train::metrics::EpochMetrics;

/// How to show progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// One plain line per epoch.
    Plain,
    /// Nothing.
    Quiet,
}

/// The progress display of one training run.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
}

impl Progress {
    /// A display for `epochs` epochs of `steps_per_epoch` steps, starting after `done_epochs`.
    pub fn new(
        mode: ProgressMode,
        epochs: usize,
        steps_per_epoch: usize,
        done_epochs: usize,
    ) -> Self {
        let terminal = std::io::stderr().is_terminal();
        match mode {
            ProgressMode::Auto if terminal => {
                let total = (epochs * steps_per_epoch) as u64;
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} epoch {prefix} [{bar:30}] {pos}/{len} steps {elapsed} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_position((done_epochs * steps_per_epoch) as u64);
                Self {
                    bar: Some(bar),
                    plain: false,
                }
            }
            ProgressMode::Auto | ProgressMode::Plain => Self {
                bar: None,
                plain: true,
            },
            ProgressMode::Quiet => Self {
                bar: None,
                plain: false,
            },
        }
    }

    /// One optimiser step of `epoch` finished with batch loss `loss`.
    pub fn step(&self, epoch: usize, loss: f64) {
        if let Some(bar) = &self.bar {
            bar.set_prefix(epoch.to_string());
            bar.set_message(format!("loss {loss:.4}"));
            bar.inc(1);
        }
    }

    /// An epoch finished.
    pub fn epoch(&self, m: &EpochMetrics) {
        let line = format_epoch(m);
        if let Some(bar) = &self.bar {
            bar.println(line);
        } else if self.plain {
            eprintln!("{line}");
        }
    }

    /// Training ended (or stopped).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The one-line summary of an epoch.
pub fn format_epoch(m: &EpochMetrics) -> String {
    let rates: Vec<String> = m.rates.iter().map(|r| format!("{r:.3}")).collect();
    let test = match (m.test_loss, m.test_acc) {
        (Some(l), Some(a)) => format!(" test loss {l:.4} acc {:.2}%", a * 100.0),
        _ => String::new(),
    };
    format!(
        "epoch {:>3}  train loss {:.4} acc {:.2}%{test}  rates [{}]  lr {:.2e}  {:.0} samples/s  {:.1}s",
        m.epoch,
        m.train_loss,
        m.train_acc * 100.0,
        rates.join(", "),
        m.lr,
        m.samples_per_s,
        m.wall_s
    )
}
