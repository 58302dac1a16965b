//! Per-layer firing-rate histograms over training epochs, drawn against each layer's rate budget.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::colour;
use super::output::{save, Figure, OrDraw};
use super::style::{int_label, Theme};
use super::{PlotError, PlotOptions};

const PLOT: &str = "rate histograms";
/// At most this many epochs are overlaid per panel (evenly spaced, first and last included).
const MAX_EPOCHS_SHOWN: usize = 5;
/// Histogram bins across each panel's rate axis.
const BINS: usize = 25;

/// One layer's rates in one epoch, as passed in: `(layer name, per-neuron rates, budget max)`.
pub type LayerRates<S> = (S, Vec<f32>, Option<f32>);

/// Draws one panel per layer: histograms of per-neuron firing rate (spikes per neuron per step,
/// `0..=1`), one outline per epoch coloured from dark purple (early) to green (late), the latest
/// shaded, and the layer's budget maximum as a red dashed vertical line. One legend row under
/// the title names the epoch colours and the budget line.
///
/// `epochs[k] = (epoch, layers)`; layers are matched across epochs by name and drawn in order of
/// first appearance. With more than five epochs, five evenly spaced ones (first and last included)
/// are shown. Each caption gives the latest epoch's mean rate and how many neurons exceed the
/// budget.
pub fn rate_histograms<S: AsRef<str>>(
    epochs: &[(u32, Vec<LayerRates<S>>)],
    out: &Path,
    opts: &PlotOptions,
) -> Result<(), PlotError> {
    let figure = RateHistograms::new(epochs, opts)?;
    save(&figure, out, opts)
}

/// One epoch's histogram of one layer.
struct EpochHist {
    /// Line colour, shared by this epoch across panels and the legend.
    colour: RGBColor,
    /// Neuron count per bin.
    counts: [usize; BINS],
}

/// One layer's panel.
struct LayerPanel {
    /// Right end of the rate axis; bins are `x_max / BINS` wide.
    x_max: f64,
    y_max: f64,
    hists: Vec<EpochHist>,
    /// Distinct budget maxima among the shown epochs.
    budgets: Vec<f32>,
    caption: String,
}

/// Validated histograms, ready to draw.
struct RateHistograms {
    title: String,
    theme: Theme,
    panels: Vec<LayerPanel>,
    /// Shown epochs with their colours, for the shared legend.
    legend: Vec<(u32, RGBColor)>,
    /// Whether any panel has a budget line (adds a legend entry).
    any_budget: bool,
}

/// Colour of shown epoch `k` of `n`: dark (early) to green (late), teal when alone.
fn epoch_colour(k: usize, n: usize) -> RGBColor {
    colour::sequential(if n > 1 {
        0.85 * k as f64 / (n - 1) as f64
    } else {
        0.5
    })
}

/// Indices of at most `MAX_EPOCHS_SHOWN` of `n` items, evenly spaced, first and last included.
fn shown_indices(n: usize) -> Vec<usize> {
    if n <= MAX_EPOCHS_SHOWN {
        return (0..n).collect();
    }
    let last = (MAX_EPOCHS_SHOWN - 1) as f64;
    let mut idx: Vec<usize> = (0..MAX_EPOCHS_SHOWN)
        .map(|k| (k as f64 * (n - 1) as f64 / last).round() as usize)
        .collect();
    idx.dedup();
    idx
}

/// Neuron counts per bin over `0..x_max`: bin `floor(r / x_max · BINS + 1e-6)`, so a rate that
/// is an edge up to f32 rounding (0.04f32 is just below 0.04) counts in the bin it starts; a rate
/// at or past `x_max` goes in the last bin.
fn bin_counts(rates: &[f32], x_max: f64) -> [usize; BINS] {
    let mut counts = [0usize; BINS];
    for &r in rates {
        let b = ((r as f64 / x_max) * BINS as f64 + 1e-6).floor() as usize;
        counts[b.min(BINS - 1)] += 1;
    }
    counts
}

impl RateHistograms {
    fn new<S: AsRef<str>>(
        epochs: &[(u32, Vec<LayerRates<S>>)],
        opts: &PlotOptions,
    ) -> Result<Self, PlotError> {
        if epochs.is_empty() {
            return Err(PlotError::data(PLOT, "no epochs given"));
        }
        for (epoch, layers) in epochs {
            if layers.is_empty() {
                return Err(PlotError::data(
                    PLOT,
                    format!("epoch {epoch} has no layers"),
                ));
            }
            for (name, rates, budget) in layers {
                let name = name.as_ref();
                let at = || format!("epoch {epoch}, layer `{name}`");
                if rates.is_empty() {
                    return Err(PlotError::data(PLOT, format!("{}: no rates", at())));
                }
                if let Some(i) = rates
                    .iter()
                    .position(|r| !r.is_finite() || !(0.0..=1.0).contains(r))
                {
                    return Err(PlotError::data(
                        PLOT,
                        format!(
                            "{}: neuron {i} has rate {}, expected spikes per neuron per step in 0..=1",
                            at(),
                            rates[i]
                        ),
                    ));
                }
                if let Some(b) = budget.filter(|b| !(b.is_finite() && *b > 0.0 && *b <= 1.0)) {
                    return Err(PlotError::data(
                        PLOT,
                        format!("{}: budget max {b} is not in (0, 1]", at()),
                    ));
                }
            }
        }
        let mut order: Vec<usize> = (0..epochs.len()).collect();
        order.sort_by_key(|&i| epochs[i].0);
        let shown: Vec<usize> = shown_indices(order.len())
            .into_iter()
            .map(|k| order[k])
            .collect();

        let shown_epochs: Vec<u32> = shown.iter().map(|&i| epochs[i].0).collect();
        let mut names: Vec<&str> = Vec::new();
        for (_, layers) in epochs {
            for (name, _, _) in layers {
                if !names.contains(&name.as_ref()) {
                    names.push(name.as_ref());
                }
            }
        }
        let panels = names
            .iter()
            .map(|&name| {
                let entries: Vec<(u32, &[f32], Option<f32>)> = shown
                    .iter()
                    .filter_map(|&i| {
                        let (epoch, layers) = &epochs[i];
                        layers
                            .iter()
                            .find(|(n, _, _)| n.as_ref() == name)
                            .map(|(_, rates, budget)| (*epoch, rates.as_slice(), *budget))
                    })
                    .collect();
                Self::panel(name, &entries, &shown_epochs)
            })
            .collect::<Vec<_>>();

        let default_title = if epochs.len() > shown.len() {
            format!(
                "Firing-rate histograms ({} of {} epochs shown)",
                shown.len(),
                epochs.len()
            )
        } else {
            "Firing-rate histograms".to_string()
        };
        let legend = shown_epochs
            .iter()
            .enumerate()
            .map(|(k, &e)| (e, epoch_colour(k, shown_epochs.len())))
            .collect();
        Ok(Self {
            title: opts.title_or(&default_title).to_string(),
            theme: Theme::new(opts),
            any_budget: panels.iter().any(|p: &LayerPanel| !p.budgets.is_empty()),
            panels,
            legend,
        })
    }

    /// Builds one layer's panel from its shown epochs `(epoch, rates, budget)` in epoch order;
    /// `shown` lists all shown epochs (for colours).
    fn panel(name: &str, entries: &[(u32, &[f32], Option<f32>)], shown: &[u32]) -> LayerPanel {
        let mut budgets: Vec<f32> = Vec::new();
        for b in entries.iter().filter_map(|e| e.2) {
            if !budgets.contains(&b) {
                budgets.push(b);
            }
        }
        let top = entries
            .iter()
            .flat_map(|e| e.1.iter().copied())
            .chain(budgets.iter().copied())
            .fold(0.0f32, f32::max) as f64;
        let x_max = (top * 1.15).clamp(0.01, 1.0);
        let hists: Vec<EpochHist> = entries
            .iter()
            .map(|&(epoch, rates, _)| EpochHist {
                colour: epoch_colour(
                    shown.iter().position(|&e| e == epoch).unwrap_or(0),
                    shown.len(),
                ),
                counts: bin_counts(rates, x_max),
            })
            .collect();
        let y_max = hists
            .iter()
            .flat_map(|h| h.counts.iter().copied())
            .max()
            .unwrap_or(1)
            .max(1) as f64
            * 1.15;
        let caption = match entries.last() {
            Some(&(epoch, rates, budget)) => {
                let mean = rates.iter().map(|&r| r as f64).sum::<f64>() / rates.len() as f64;
                let over = match budget {
                    Some(b) => format!(
                        ", {}/{} over budget {b}",
                        rates.iter().filter(|&&r| r > b).count(),
                        rates.len()
                    ),
                    None => format!(", {} neurons", rates.len()),
                };
                format!("{name} — epoch {epoch}: mean {mean:.3}{over}")
            }
            None => format!("{name} (not in the shown epochs)"),
        };
        LayerPanel {
            x_max,
            y_max,
            hists,
            budgets,
            caption,
        }
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &LayerPanel,
    ) -> Result<(), PlotError> {
        let theme = &self.theme;
        let mut chart = theme
            .panel(area, &panel.caption, 70.0)
            .build_cartesian_2d(0.0..panel.x_max, 0.0..panel.y_max)
            .or_draw()?;
        let y_ticks = (panel.y_max as usize).clamp(1, 8);
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(215, 215, 215))
            .y_labels(y_ticks)
            .y_label_formatter(&int_label)
            .label_style(theme.tick())
            .axis_desc_style(theme.label())
            .x_desc("firing rate (spikes / neuron / step)")
            .y_desc("neurons")
            .draw()
            .or_draw()?;

        let bin = panel.x_max / BINS as f64;
        let width = theme.px(2.0);
        if let Some(latest) = panel.hists.last() {
            let shade = latest.colour.mix(0.18).filled();
            chart
                .draw_series(
                    latest
                        .counts
                        .iter()
                        .enumerate()
                        .filter(|(_, &c)| c > 0)
                        .map(|(b, &c)| {
                            let x0 = b as f64 * bin;
                            Rectangle::new([(x0, 0.0), (x0 + bin, c as f64)], shade)
                        }),
                )
                .or_draw()?;
        }
        for hist in &panel.hists {
            // Step outline: up and across each bin, back to zero at the right end.
            let mut outline = vec![(0.0, 0.0)];
            for (b, &c) in hist.counts.iter().enumerate() {
                outline.push((b as f64 * bin, c as f64));
                outline.push(((b + 1) as f64 * bin, c as f64));
            }
            outline.push((panel.x_max, 0.0));
            chart
                .draw_series(LineSeries::new(outline, hist.colour.stroke_width(width)))
                .or_draw()?;
        }
        for &budget in &panel.budgets {
            let b = budget as f64;
            chart
                .draw_series(DashedLineSeries::new(
                    [(b, 0.0), (b, panel.y_max)],
                    theme.px(10.0),
                    theme.px(6.0),
                    colour::BUDGET.stroke_width(width),
                ))
                .or_draw()?;
        }
        Ok(())
    }
}

impl RateHistograms {
    /// One legend row for the whole figure: a line sample per shown epoch, then the budget line.
    fn draw_legend<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), PlotError> {
        let theme = &self.theme;
        let font = theme.legend();
        let sample = theme.px(24.0) as i32;
        let gap = theme.px(6.0) as i32;
        let spacing = theme.px(22.0) as i32;
        let mut entries: Vec<(String, RGBColor, bool)> = self
            .legend
            .iter()
            .map(|&(e, c)| (format!("epoch {e}"), c, false))
            .collect();
        if self.any_budget {
            entries.push(("budget max".to_string(), colour::BUDGET, true));
        }
        let mut widths = Vec::with_capacity(entries.len());
        for (text, _, _) in &entries {
            widths.push(area.estimate_text_size(text, &font).or_draw()?.0 as i32);
        }
        let total: i32 = widths.iter().map(|w| sample + gap + w).sum::<i32>()
            + spacing * (entries.len() as i32 - 1);
        let (w, h) = area.dim_in_pixel();
        let y = h as i32 / 2;
        let mut x = ((w as i32 - total) / 2).max(0);
        let width = theme.px(2.0);
        let text_style = font.pos(Pos::new(HPos::Left, VPos::Center));
        for ((text, colour, dashed), text_w) in entries.iter().zip(widths) {
            let style = colour.stroke_width(width);
            if *dashed {
                area.draw(&plotters::element::DashedPathElement::new(
                    vec![(x, y), (x + sample, y)],
                    theme.px(7.0),
                    theme.px(4.0),
                    style,
                ))
                .or_draw()?;
            } else {
                area.draw(&PathElement::new(vec![(x, y), (x + sample, y)], style))
                    .or_draw()?;
            }
            area.draw(&Text::new(
                text.as_str(),
                (x + sample + gap, y),
                text_style.clone(),
            ))
            .or_draw()?;
            x += sample + gap + text_w + spacing;
        }
        Ok(())
    }
}

impl Figure for RateHistograms {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        root.fill(&WHITE).or_draw()?;
        let body = root.titled(&self.title, self.theme.title()).or_draw()?;
        let (legend, body) = body.split_vertically(self.theme.px(30.0));
        self.draw_legend(&legend)?;
        let n = self.panels.len();
        let cols = match n {
            1 | 2 => n,
            3 | 4 => 2,
            _ => 3,
        };
        let rows = n.div_ceil(cols);
        let areas = body.split_evenly((rows, cols));
        for (area, panel) in areas.iter().zip(&self.panels) {
            self.draw_panel(area, panel)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_epochs_are_spread_and_keep_ends() {
        assert_eq!(shown_indices(3), vec![0, 1, 2]);
        assert_eq!(shown_indices(11), vec![0, 3, 5, 8, 10]);
        let idx = shown_indices(40);
        assert_eq!(idx.len(), MAX_EPOCHS_SHOWN);
        assert_eq!((idx[0], idx[idx.len() - 1]), (0, 39));
    }

    #[test]
    fn bins_cover_the_axis() {
        let counts = bin_counts(&[0.0, 0.0399, 0.04, 1.0, 0.99], 1.0);
        assert_eq!(counts[0], 2);
        assert_eq!(counts[1], 1);
        assert_eq!(counts[BINS - 1], 2);
        assert_eq!(counts.iter().sum::<usize>(), 5);
    }
}
