//! Progress for long CLI work: an `indicatif` bar when stderr is a terminal, otherwise a plain
//! line at every 10 % (so logs and CI output stay readable); nothing with `--quiet`.
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress display over `len` items.
#[derive(Debug)]
pub struct Work {
    bar: Option<ProgressBar>,
    what: String,
    len: u64,
    done: u64,
    plain: bool,
    next_line: u64,
}

impl Work {
    /// Starts showing progress of `what` over `len` items (`quiet`: show nothing).
    pub fn new(what: &str, len: usize, quiet: bool) -> Self {
        let len = len as u64;
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let bar = ProgressBar::new(len);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(what.to_owned());
            bar
        });
        Self {
            plain: !quiet && !terminal,
            bar,
            what: what.to_owned(),
            len,
            done: 0,
            next_line: len.div_ceil(10).max(1),
        }
    }

    /// `n` more items are done.
    pub fn inc(&mut self, n: usize) {
        self.done += n as u64;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        } else if self.plain && (self.done >= self.next_line || self.done == self.len) {
            eprintln!("{}: {}/{}", self.what, self.done.min(self.len), self.len);
            while self.next_line <= self.done {
                self.next_line += self.len.div_ceil(10).max(1);
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
