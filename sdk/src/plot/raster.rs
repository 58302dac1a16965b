//! Spike raster: one panel per layer, a mark at (time step, neuron) for every spike.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::colour;
use super::output::{save, Figure, OrDraw};
use super::style::{int_label, int_ticks, Theme};
use super::{PlotError, PlotOptions};

const PLOT: &str = "spike raster";

/// "1 neuron", "40 neurons".
fn neurons(n: usize) -> String {
    if n == 1 {
        "1 neuron".to_string()
    } else {
        format!("{n} neurons")
    }
}

/// Draws a spike raster with one panel per layer, stacked top to bottom, sharing the time axis.
///
/// `layers[l] = (name, spikes)` with `spikes[t][n]` true when neuron `n` spiked at step `t`
/// (`[T][N]`, every row the same length). Each panel's caption gives the layer's neuron count,
/// spike count and mean rate `spikes / (T·N)` in spikes per neuron per step.
pub fn spike_raster<S: AsRef<str>>(
    layers: &[(S, Vec<Vec<bool>>)],
    out: &Path,
    opts: &PlotOptions,
) -> Result<(), PlotError> {
    let figure = Raster::new(layers, opts)?;
    save(&figure, out, opts)
}

/// One validated layer.
struct Layer<'a> {
    name: &'a str,
    neurons: usize,
    spikes: &'a [Vec<bool>],
    count: usize,
}

/// A validated raster, ready to draw.
struct Raster<'a> {
    title: &'a str,
    theme: Theme,
    steps: usize,
    layers: Vec<Layer<'a>>,
}

impl<'a> Raster<'a> {
    fn new<S: AsRef<str>>(
        layers: &'a [(S, Vec<Vec<bool>>)],
        opts: &'a PlotOptions,
    ) -> Result<Self, PlotError> {
        if layers.is_empty() {
            return Err(PlotError::data(PLOT, "no layers given"));
        }
        let mut checked = Vec::with_capacity(layers.len());
        for (name, spikes) in layers {
            let name = name.as_ref();
            let neurons = spikes.first().map_or(0, Vec::len);
            if spikes.is_empty() || neurons == 0 {
                return Err(PlotError::data(
                    PLOT,
                    format!(
                        "layer `{name}` is empty ({} time steps, {neurons} neurons)",
                        spikes.len()
                    ),
                ));
            }
            if let Some((t, row)) = spikes.iter().enumerate().find(|(_, r)| r.len() != neurons) {
                return Err(PlotError::data(
                    PLOT,
                    format!(
                        "layer `{name}`: time step {t} has {} neurons but step 0 has {neurons}",
                        row.len()
                    ),
                ));
            }
            let count = spikes.iter().flatten().filter(|&&s| s).count();
            checked.push(Layer {
                name,
                neurons,
                spikes,
                count,
            });
        }
        let steps = checked.iter().map(|l| l.spikes.len()).max().unwrap_or(1);
        Ok(Self {
            title: opts.title_or("Spike raster"),
            theme: Theme::new(opts),
            steps,
            layers: checked,
        })
    }

    fn draw_layer<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        index: usize,
        layer: &Layer<'_>,
        panel_h: u32,
    ) -> Result<(), PlotError> {
        let theme = &self.theme;
        let last = index + 1 == self.layers.len();
        let rate = layer.count as f64 / (self.steps * layer.neurons) as f64;
        // Many layers leave little height: shorter, smaller captions and fewer ticks.
        let roomy = panel_h >= theme.px(110.0);
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(theme.px(if roomy { 8.0 } else { 3.0 }))
            .margin_right(theme.px(24.0))
            .x_label_area_size(if last { theme.px(52.0) } else { 0 })
            .y_label_area_size(theme.px(72.0));
        if roomy {
            let caption = format!(
                "{}: {}, {} spikes, mean rate {rate:.3} spikes/neuron/step",
                layer.name,
                neurons(layer.neurons),
                layer.count
            );
            builder.caption(caption, theme.caption());
        } else if panel_h >= theme.px(50.0) {
            let caption = format!("{}: {}, rate {rate:.3}", layer.name, neurons(layer.neurons));
            builder.caption(caption, theme.tick());
        }
        let mut chart = builder
            .build_cartesian_2d(
                -0.5..self.steps as f64 - 0.5,
                -0.5..layer.neurons as f64 - 0.5,
            )
            .or_draw()?;
        let plot_h = chart.plotting_area().dim_in_pixel().1;
        let y_ticks = (plot_h / theme.px(28.0)).clamp(2, 6) as usize;
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh()
            .x_labels(int_ticks(self.steps, 12))
            .y_labels(int_ticks(layer.neurons, y_ticks))
            .x_label_formatter(&int_label)
            .y_label_formatter(&int_label)
            .label_style(theme.tick())
            .axis_desc_style(theme.label())
            .y_desc(if roomy { "neuron" } else { layer.name });
        if last {
            mesh.x_desc("time step");
        }
        mesh.draw().or_draw()?;

        let style = colour::series(index).filled();
        let marks = layer.spikes.iter().enumerate().flat_map(|(t, row)| {
            let t = t as f64;
            row.iter()
                .enumerate()
                .filter(|(_, &s)| s)
                .map(move |(n, _)| {
                    let n = n as f64;
                    Rectangle::new([(t - 0.4, n - 0.45), (t + 0.4, n + 0.45)], style)
                })
        });
        chart.draw_series(marks).or_draw()?;
        Ok(())
    }
}

impl Figure for Raster<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        root.fill(&WHITE).or_draw()?;
        let body = root.titled(self.title, self.theme.title()).or_draw()?;
        // Equal panels; the last one also holds the shared time axis below it.
        let n = self.layers.len() as u32;
        let axis_h = self.theme.px(52.0);
        let panel_h = body.dim_in_pixel().1.saturating_sub(axis_h) / n;
        let breaks: Vec<u32> = (1..n).map(|k| k * panel_h).collect();
        let panels = body.split_by_breakpoints::<u32, u32, _, _>([], breaks);
        for (index, (area, layer)) in panels.iter().zip(&self.layers).enumerate() {
            self.draw_layer(area, index, layer, panel_h)?;
        }
        Ok(())
    }
}
