//! Training curves from metrics rows: loss, accuracy and (when present) per-layer firing rates
//! against epoch.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::colour;
use super::metrics::MetricsRow;
use super::output::{save, Figure, OrDraw};
use super::style::{draw_series_legend, int_label, int_ticks, line_key, Theme};
use super::{PlotError, PlotOptions};

const PLOT: &str = "training curves";

/// Draws loss (train/test) and accuracy (train/test) against epoch side by side, plus a panel of
/// mean firing rate per layer when any row has `rates`.
///
/// Missing or non-finite values are left out (a gap in the points, not an error); rows are
/// plotted in epoch order. Accuracy is shown in percent: values all `<= 1` are read as fractions,
/// otherwise as percentages.
pub fn curves(metrics: &[MetricsRow], out: &Path, opts: &PlotOptions) -> Result<(), PlotError> {
    let figure = Curves::new(metrics, opts)?;
    save(&figure, out, opts)
}

/// One line on a panel.
struct Series {
    label: String,
    colour: RGBColor,
    points: Vec<(f64, f64)>,
}

/// One panel of lines sharing the epoch axis.
struct Panel {
    caption: String,
    y_desc: &'static str,
    y_range: (f64, f64),
    /// Accuracy panels label ticks in percent.
    percent: bool,
    legend: SeriesLabelPosition,
    series: Vec<Series>,
}

/// Validated curves, ready to draw.
struct Curves<'a> {
    title: &'a str,
    theme: Theme,
    epochs: (f64, f64),
    ticks: usize,
    loss: Panel,
    accuracy: Panel,
    rates: Option<Panel>,
}

/// `(epoch, value)` points of the finite values `get` finds, in the rows' (sorted) order.
fn points(rows: &[&MetricsRow], get: impl Fn(&MetricsRow) -> Option<f64>) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| {
            get(r)
                .filter(|v| v.is_finite())
                .map(|v| (r.epoch as f64, v))
        })
        .collect()
}

/// Smallest and largest y over all series, or `None` without points.
fn y_extent(series: &[Series]) -> Option<(f64, f64)> {
    series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(None, |acc, y| match acc {
            None => Some((y, y)),
            Some((lo, hi)) => Some((f64::min(lo, y), f64::max(hi, y))),
        })
}

/// Keeps only series that have points.
fn non_empty(series: Vec<Series>) -> Vec<Series> {
    series
        .into_iter()
        .filter(|s| !s.points.is_empty())
        .collect()
}

impl<'a> Curves<'a> {
    fn new(metrics: &[MetricsRow], opts: &'a PlotOptions) -> Result<Self, PlotError> {
        if metrics.is_empty() {
            return Err(PlotError::data(PLOT, "no metrics rows given"));
        }
        let mut rows: Vec<&MetricsRow> = metrics.iter().collect();
        rows.sort_by_key(|r| r.epoch);
        let first = rows[0].epoch as f64;
        let last = rows[rows.len() - 1].epoch as f64;
        let epochs = if last > first {
            (first, last)
        } else {
            (first - 0.5, first + 0.5)
        };
        let ticks = int_ticks(
            rows[rows.len() - 1].epoch as usize - rows[0].epoch as usize + 1,
            11,
        );

        let loss = Self::loss_panel(&rows);
        let accuracy = Self::accuracy_panel(&rows);
        if loss.series.is_empty() && accuracy.series.is_empty() {
            return Err(PlotError::data(
                PLOT,
                format!(
                    "none of the {} rows has a finite train_loss, test_loss, train_acc or test_acc",
                    rows.len()
                ),
            ));
        }
        Ok(Self {
            title: opts.title_or("Training curves"),
            theme: Theme::new(opts),
            epochs,
            ticks,
            loss,
            accuracy,
            rates: Self::rate_panel(&rows),
        })
    }

    fn loss_panel(rows: &[&MetricsRow]) -> Panel {
        let series = non_empty(vec![
            Series {
                label: "train".into(),
                colour: colour::series(0),
                points: points(rows, |r| r.train_loss),
            },
            Series {
                label: "test".into(),
                colour: colour::series(1),
                points: points(rows, |r| r.test_loss),
            },
        ]);
        let (lo, hi) = y_extent(&series).unwrap_or((0.0, 1.0));
        let lo = lo.min(0.0);
        let hi = if hi > lo {
            hi + (hi - lo) * 0.08
        } else {
            lo + 1.0
        };
        let finals: Vec<String> = series
            .iter()
            .filter_map(|s| s.points.last().map(|p| format!("{} {:.4}", s.label, p.1)))
            .collect();
        let caption = if finals.is_empty() {
            "loss (no data)".to_string()
        } else {
            format!("loss (final {})", finals.join(", "))
        };
        Panel {
            caption,
            y_desc: "loss",
            y_range: (lo, hi),
            percent: false,
            legend: SeriesLabelPosition::UpperRight,
            series,
        }
    }

    fn accuracy_panel(rows: &[&MetricsRow]) -> Panel {
        let raw = non_empty(vec![
            Series {
                label: "train".into(),
                colour: colour::series(0),
                points: points(rows, |r| r.train_acc),
            },
            Series {
                label: "test".into(),
                colour: colour::series(1),
                points: points(rows, |r| r.test_acc),
            },
        ]);
        // Fractions become percentages; values above 1 are taken to be percentages already.
        let fraction = y_extent(&raw).is_none_or(|(_, hi)| hi <= 1.0);
        let series: Vec<Series> = raw
            .into_iter()
            .map(|s| Series {
                points: s
                    .points
                    .iter()
                    .map(|&(x, y)| (x, if fraction { y * 100.0 } else { y }))
                    .collect(),
                ..s
            })
            .collect();
        let best = series
            .iter()
            .find(|s| s.label == "test")
            .or(series.first())
            .and_then(|s| {
                s.points
                    .iter()
                    .copied()
                    .fold(None, |b: Option<(f64, f64)>, p| match b {
                        Some(b) if b.1 >= p.1 => Some(b),
                        _ => Some(p),
                    })
                    .map(|(e, v)| format!("accuracy (best {} {v:.1}% at epoch {e})", s.label))
            });
        Panel {
            caption: best.unwrap_or_else(|| "accuracy (no data)".to_string()),
            y_desc: "accuracy",
            y_range: (0.0, 100.0),
            percent: true,
            legend: SeriesLabelPosition::LowerRight,
            series,
        }
    }

    fn rate_panel(rows: &[&MetricsRow]) -> Option<Panel> {
        let layers = rows.iter().map(|r| r.rates.len()).max().unwrap_or(0);
        if layers == 0 {
            return None;
        }
        let series = non_empty(
            (0..layers)
                .map(|l| Series {
                    label: format!("layer {l}"),
                    colour: colour::series(l),
                    points: points(rows, |r| r.rates.get(l).copied()),
                })
                .collect(),
        );
        let hi = y_extent(&series).map_or(0.0, |(_, hi)| hi);
        Some(Panel {
            caption: "mean firing rate per layer".to_string(),
            y_desc: "spikes / neuron / step",
            y_range: (0.0, (hi * 1.15).max(0.01)),
            percent: false,
            legend: SeriesLabelPosition::UpperRight,
            series,
        })
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
    ) -> Result<(), PlotError> {
        let theme = &self.theme;
        let mut chart = theme
            .panel(area, &panel.caption, 76.0)
            .build_cartesian_2d(
                self.epochs.0..self.epochs.1,
                panel.y_range.0..panel.y_range.1,
            )
            .or_draw()?;
        let percent = |v: &f64| format!("{v:.0}%");
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(215, 215, 215))
            .x_labels(self.ticks)
            .x_label_formatter(&int_label)
            .label_style(theme.tick())
            .axis_desc_style(theme.label())
            .x_desc("epoch")
            .y_desc(panel.y_desc);
        // Otherwise plotters' own float formatting ("0.05", "2.5") is used.
        if panel.percent {
            mesh.y_label_formatter(&percent);
        }
        mesh.draw().or_draw()?;
        let width = theme.px(2.0);
        let radius = theme.px(3.5);
        for s in &panel.series {
            let colour = s.colour;
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    colour.stroke_width(width),
                ))
                .or_draw()?
                .label(s.label.as_str())
                .legend(line_key(colour, width));
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|&p| Circle::new(p, radius, colour.filled())),
                )
                .or_draw()?;
        }
        if !panel.series.is_empty() {
            draw_series_legend(&mut chart, theme, panel.legend.clone())?;
        }
        Ok(())
    }
}

impl Figure for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        root.fill(&WHITE).or_draw()?;
        let body = root.titled(self.title, self.theme.title()).or_draw()?;
        let (top, bottom) = match &self.rates {
            Some(_) => {
                let (_, h) = body.dim_in_pixel();
                let (top, bottom) = body.split_vertically(h * 58 / 100);
                (top, Some(bottom))
            }
            None => (body, None),
        };
        let (left, right) = {
            let (w, _) = top.dim_in_pixel();
            top.split_horizontally(w / 2)
        };
        self.draw_panel(&left, &self.loss)?;
        self.draw_panel(&right, &self.accuracy)?;
        if let (Some(area), Some(panel)) = (bottom, &self.rates) {
            self.draw_panel(&area, panel)?;
        }
        Ok(())
    }
}
