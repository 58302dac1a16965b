//! Membrane potential traces over time, with the firing threshold as a dashed line.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::colour;
use super::output::{save, Figure, OrDraw};
use super::style::{draw_series_legend, int_label, int_ticks, line_key, Theme};
use super::{PlotError, PlotOptions};

const PLOT: &str = "membrane traces";

/// Draws membrane potential traces `traces[i] = (label, v[t])` on one set of axes, one colour
/// each with a legend, and `threshold` (if given) as a dashed horizontal line.
///
/// Values are in whatever units the caller uses (float model units or integer engine units
/// converted to f32); all must be finite.
pub fn membrane_traces<S: AsRef<str>>(
    traces: &[(S, Vec<f32>)],
    threshold: Option<f32>,
    out: &Path,
    opts: &PlotOptions,
) -> Result<(), PlotError> {
    let figure = Traces::new(traces, threshold, opts)?;
    save(&figure, out, opts)
}

/// Validated traces and their axis ranges.
struct Traces<'a> {
    title: &'a str,
    theme: Theme,
    traces: Vec<(&'a str, &'a [f32])>,
    threshold: Option<f32>,
    steps: usize,
    y_range: (f64, f64),
}

impl<'a> Traces<'a> {
    fn new<S: AsRef<str>>(
        traces: &'a [(S, Vec<f32>)],
        threshold: Option<f32>,
        opts: &'a PlotOptions,
    ) -> Result<Self, PlotError> {
        if traces.is_empty() {
            return Err(PlotError::data(PLOT, "no traces given"));
        }
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        let mut checked = Vec::with_capacity(traces.len());
        for (label, values) in traces {
            let label = label.as_ref();
            if values.is_empty() {
                return Err(PlotError::data(PLOT, format!("trace `{label}` is empty")));
            }
            if let Some(t) = values.iter().position(|v| !v.is_finite()) {
                return Err(PlotError::data(
                    PLOT,
                    format!(
                        "trace `{label}` has a non-finite value ({}) at step {t}",
                        values[t]
                    ),
                ));
            }
            for &v in values {
                lo = lo.min(v as f64);
                hi = hi.max(v as f64);
            }
            checked.push((label, values.as_slice()));
        }
        if let Some(thr) = threshold {
            if !thr.is_finite() {
                return Err(PlotError::data(
                    PLOT,
                    format!("threshold {thr} is not finite"),
                ));
            }
            lo = lo.min(thr as f64);
            hi = hi.max(thr as f64);
        }
        let pad = if hi > lo {
            (hi - lo) * 0.08
        } else {
            lo.abs().max(1.0) * 0.1
        };
        let steps = checked.iter().map(|(_, v)| v.len()).max().unwrap_or(1);
        Ok(Self {
            title: opts.title_or("Membrane potential"),
            theme: Theme::new(opts),
            traces: checked,
            threshold,
            steps,
            y_range: (lo - pad, hi + pad),
        })
    }
}

impl Figure for Traces<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let theme = &self.theme;
        root.fill(&WHITE).or_draw()?;
        // One step gets a unit-wide axis centred on it.
        let (x0, x1) = match self.steps {
            1 => (-0.5, 0.5),
            n => (0.0, (n - 1) as f64),
        };
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, theme.title())
            .margin(theme.px(16.0))
            .margin_right(theme.px(28.0))
            .x_label_area_size(theme.px(52.0))
            .y_label_area_size(theme.px(80.0))
            .build_cartesian_2d(x0..x1, self.y_range.0..self.y_range.1)
            .or_draw()?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(215, 215, 215))
            .x_labels(int_ticks(self.steps, 12))
            .x_label_formatter(&int_label)
            .label_style(theme.tick())
            .axis_desc_style(theme.label())
            .x_desc("time step")
            .y_desc("membrane potential")
            .draw()
            .or_draw()?;

        let width = theme.px(2.0);
        for (i, (label, values)) in self.traces.iter().enumerate() {
            let colour = colour::series(i);
            let points = values
                .iter()
                .enumerate()
                .map(|(t, &v)| (t as f64, v as f64));
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(width)))
                .or_draw()?
                .label(*label)
                .legend(line_key(colour, width));
            // A one-sample trace has no line segment; mark the sample.
            if let [v] = values {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (0.0, *v as f64),
                        theme.px(4.0),
                        colour.filled(),
                    )))
                    .or_draw()?;
            }
        }
        if let Some(thr32) = self.threshold {
            let thr = f64::from(thr32);
            let style = BLACK.stroke_width(width);
            chart
                .draw_series(DashedLineSeries::new(
                    [(x0, thr), (x1, thr)],
                    theme.px(10.0),
                    theme.px(6.0),
                    style,
                ))
                .or_draw()?
                .label(format!("threshold {thr32}"))
                .legend(move |(x, y)| {
                    plotters::element::DashedPathElement::new(
                        vec![(x, y), (x + 20, y)],
                        5,
                        3,
                        style,
                    )
                });
        }
        draw_series_legend(&mut chart, theme, SeriesLabelPosition::UpperRight)
    }
}
