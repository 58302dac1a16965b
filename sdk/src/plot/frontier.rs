//! Accuracy against cost: one line of labelled points per family (e.g. spiking configurations and
//! dense int8 baselines), instructions per inference on a log axis.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::colour;
use super::output::{save, Figure, OrDraw};
use super::style::{draw_series_legend, line_key, Theme};
use super::{PlotError, PlotOptions};

const PLOT: &str = "frontier";

/// One family of points: `(instructions per inference, accuracy in percent, label)`.
#[derive(Clone, Debug, PartialEq)]
pub struct FrontierSeries {
    /// Legend name.
    pub name: String,
    /// Points, drawn in order joined by a line (sort them by cost for a frontier).
    pub points: Vec<(f64, f64, String)>,
}

/// Draws every family on log-x (instructions) / linear-y (accuracy %) axes, each point labelled.
pub fn frontier(
    series: &[FrontierSeries],
    out: &Path,
    opts: &PlotOptions,
) -> Result<(), PlotError> {
    let figure = Frontier::new(series, opts)?;
    save(&figure, out, opts)
}

/// Validated points and their ranges.
struct Frontier<'a> {
    title: &'a str,
    theme: Theme,
    series: &'a [FrontierSeries],
    x: (f64, f64),
    y: (f64, f64),
}

impl<'a> Frontier<'a> {
    fn new(series: &'a [FrontierSeries], opts: &'a PlotOptions) -> Result<Self, PlotError> {
        let all: Vec<&(f64, f64, String)> = series.iter().flat_map(|s| &s.points).collect();
        if all.is_empty() {
            return Err(PlotError::data(PLOT, "no points given"));
        }
        if let Some(p) = all
            .iter()
            .find(|p| !(p.0.is_finite() && p.0 > 0.0 && p.1.is_finite()))
        {
            return Err(PlotError::data(
                PLOT,
                format!(
                    "point `{}` needs a positive cost and a finite accuracy (got {}, {})",
                    p.2, p.0, p.1
                ),
            ));
        }
        let fold = |f: fn(&(f64, f64, String)) -> f64| {
            all.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                    (lo.min(f(p)), hi.max(f(p)))
                })
        };
        let (x0, x1) = fold(|p| p.0);
        let (y0, y1) = fold(|p| p.1);
        let pad = ((y1 - y0) * 0.1).max(0.5);
        Ok(Self {
            title: opts.title_or("Accuracy against instructions per inference"),
            theme: Theme::new(opts),
            series,
            // Room on the right for the last point's label.
            x: (x0 / 1.6, x1 * 3.0),
            y: (y0 - pad, (y1 + pad).min(100.5)),
        })
    }
}

impl Figure for Frontier<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let theme = &self.theme;
        root.fill(&WHITE).or_draw()?;
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, theme.title())
            .margin(theme.px(16.0))
            .margin_right(theme.px(28.0))
            .x_label_area_size(theme.px(52.0))
            .y_label_area_size(theme.px(80.0))
            .build_cartesian_2d((self.x.0..self.x.1).log_scale(), self.y.0..self.y.1)
            .or_draw()?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(215, 215, 215))
            .x_label_formatter(&|v| format!("{:.0}k", v / 1000.0))
            .y_label_formatter(&|v| format!("{v:.1} %"))
            .label_style(theme.tick())
            .axis_desc_style(theme.label())
            .x_desc("instructions per inference (log)")
            .y_desc("test accuracy")
            .draw()
            .or_draw()?;
        let width = theme.px(2.0);
        for (i, s) in self.series.iter().enumerate() {
            let colour = colour::series(i);
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().map(|p| (p.0, p.1)),
                    colour.stroke_width(width),
                ))
                .or_draw()?
                .label(s.name.as_str())
                .legend(line_key(colour, width));
            chart
                .draw_series(s.points.iter().enumerate().map(|(k, p)| {
                    // Neighbours alternate above and below their point, so close ones stay legible.
                    let dy = if k % 2 == 0 {
                        -(theme.px(14.0) as i32)
                    } else {
                        theme.px(6.0) as i32
                    };
                    EmptyElement::at((p.0, p.1))
                        + Circle::new((0, 0), theme.px(4.0), colour.filled())
                        + Text::new(p.2.clone(), (theme.px(6.0) as i32, dy), theme.legend())
                }))
                .or_draw()?;
        }
        draw_series_legend(&mut chart, theme, SeriesLabelPosition::LowerRight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg_and_refuses_bad_points() {
        let dir = std::env::temp_dir().join(format!("snn-frontier-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("f.svg");
        let s = vec![
            FrontierSeries {
                name: "spiking".into(),
                points: vec![(3e5, 98.6, "T=25".into()), (1e5, 95.0, "T=5".into())],
            },
            FrontierSeries {
                name: "dense int8".into(),
                points: vec![(2e4, 97.2, "H=128".into())],
            },
        ];
        frontier(&s, &out, &PlotOptions::default()).unwrap();
        let svg = std::fs::read_to_string(&out).unwrap();
        assert!(svg.contains("<svg") && svg.contains("T=25") && svg.contains("dense int8"));
        let bad = vec![FrontierSeries {
            name: "x".into(),
            points: vec![(0.0, 90.0, "zero".into())],
        }];
        let e = frontier(&bad, &out, &PlotOptions::default()).unwrap_err();
        assert!(e.to_string().contains("zero"), "{e}");
        assert!(frontier(&[], &out, &PlotOptions::default()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
