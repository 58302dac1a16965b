//! Connectivity matrix as a heat map with a diverging colour scale, optionally marking each
//! presynaptic neuron as excitatory or inhibitory.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::colour;
use super::output::{save, Figure, OrDraw};
use super::style::{int_label, int_ticks, Theme};
use super::{PlotError, PlotOptions};

const PLOT: &str = "connectivity";
/// At most this many cells per axis are drawn; larger matrices are shown as block means.
pub const MAX_CELLS: usize = 200;
/// Steps in the colour bar.
const BAR_STEPS: usize = 128;

/// Draws a weight matrix `weights[post][pre]` as a heat map: presynaptic neuron on x,
/// postsynaptic on y, blue (negative) – white (0) – red (positive), symmetric around 0 up to the
/// largest `|w|`, with a colour bar.
///
/// `ei[pre]` (true = excitatory), when given, adds a strip above the matrix marking each
/// presynaptic column red (E) or blue (I), with a legend. Matrices wider or taller than
/// [`MAX_CELLS`] are drawn as means over blocks of neighbouring rows/columns (said in the
/// caption); the colour scale still uses the largest single `|w|`.
pub fn connectivity(
    weights: &[Vec<f32>],
    ei: Option<&[bool]>,
    out: &Path,
    opts: &PlotOptions,
) -> Result<(), PlotError> {
    let figure = Connectivity::new(weights, ei, opts)?;
    save(&figure, out, opts)
}

/// Start of block `k` of `n` blocks over `len` items: `floor(k·len / n)`.
fn block_start(k: usize, len: usize, n: usize) -> usize {
    k * len / n
}

/// A validated, block-averaged matrix, ready to draw.
struct Connectivity<'a> {
    title: &'a str,
    caption: String,
    theme: Theme,
    pre: usize,
    post: usize,
    /// Block means, `[row block][column block]`.
    cells: Vec<Vec<f64>>,
    /// Largest `|w|` (the colour scale's end), > 0.
    max_abs: f64,
    /// Fraction of excitatory neurons per column block, when E/I is given.
    e_fraction: Option<Vec<f64>>,
}

impl<'a> Connectivity<'a> {
    fn new(
        weights: &[Vec<f32>],
        ei: Option<&[bool]>,
        opts: &'a PlotOptions,
    ) -> Result<Self, PlotError> {
        let post = weights.len();
        let pre = weights.first().map_or(0, Vec::len);
        if post == 0 || pre == 0 {
            return Err(PlotError::data(
                PLOT,
                format!("the weight matrix is empty ({post} postsynaptic x {pre} presynaptic)"),
            ));
        }
        for (i, row) in weights.iter().enumerate() {
            if row.len() != pre {
                return Err(PlotError::data(
                    PLOT,
                    format!(
                        "postsynaptic row {i} has {} weights but row 0 has {pre}",
                        row.len()
                    ),
                ));
            }
            if let Some(j) = row.iter().position(|w| !w.is_finite()) {
                return Err(PlotError::data(
                    PLOT,
                    format!("weight [post {i}][pre {j}] is {}", row[j]),
                ));
            }
        }
        if let Some(ei) = ei {
            if ei.len() != pre {
                return Err(PlotError::data(
                    PLOT,
                    format!(
                        "the E/I mask has {} entries but there are {pre} presynaptic neurons",
                        ei.len()
                    ),
                ));
            }
        }
        let max_abs = weights
            .iter()
            .flatten()
            .fold(0.0f64, |m, &w| m.max((w as f64).abs()));
        let (rows, cols) = (post.min(MAX_CELLS), pre.min(MAX_CELLS));
        let cells = (0..rows)
            .map(|r| {
                let (r0, r1) = (block_start(r, post, rows), block_start(r + 1, post, rows));
                (0..cols)
                    .map(|c| {
                        let (c0, c1) = (block_start(c, pre, cols), block_start(c + 1, pre, cols));
                        let sum: f64 = weights[r0..r1]
                            .iter()
                            .flat_map(|row| row[c0..c1].iter().map(|&w| w as f64))
                            .sum();
                        sum / ((r1 - r0) * (c1 - c0)) as f64
                    })
                    .collect()
            })
            .collect();
        let e_fraction = ei.map(|ei| {
            (0..cols)
                .map(|c| {
                    let span = &ei[block_start(c, pre, cols)..block_start(c + 1, pre, cols)];
                    span.iter().filter(|&&e| e).count() as f64 / span.len() as f64
                })
                .collect()
        });
        let mut caption =
            format!("{post} postsynaptic × {pre} presynaptic, largest magnitude {max_abs:.4}");
        if let Some(ei) = ei {
            let e = ei.iter().filter(|&&e| e).count();
            caption.push_str(&format!(", {e} E / {} I", pre - e));
        }
        if rows < post || cols < pre {
            caption.push_str(&format!(" (block means, {rows}×{cols} cells)"));
        }
        Ok(Self {
            title: opts.title_or("Connectivity"),
            caption,
            theme: Theme::new(opts),
            pre,
            post,
            cells,
            max_abs: if max_abs > 0.0 { max_abs } else { 1.0 },
            e_fraction,
        })
    }

    /// Shared chart margins so the E/I strip lines up with the matrix columns.
    fn margins(&self) -> (u32, u32) {
        (self.theme.px(12.0), self.theme.px(84.0))
    }

    fn draw_matrix<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), PlotError> {
        let theme = &self.theme;
        let (margin, y_area) = self.margins();
        let mut chart = ChartBuilder::on(area)
            .margin(margin)
            .x_label_area_size(theme.px(52.0))
            .y_label_area_size(y_area)
            .build_cartesian_2d(-0.5..self.pre as f64 - 0.5, -0.5..self.post as f64 - 0.5)
            .or_draw()?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(int_ticks(self.pre, 12))
            .y_labels(int_ticks(self.post, 10))
            .x_label_formatter(&int_label)
            .y_label_formatter(&int_label)
            .label_style(theme.tick())
            .axis_desc_style(theme.label())
            .x_desc("presynaptic neuron")
            .y_desc("postsynaptic neuron")
            .draw()
            .or_draw()?;
        let (rows, cols) = (self.cells.len(), self.cells[0].len());
        let edge = |k: usize, len: usize, n: usize| block_start(k, len, n) as f64 - 0.5;
        let rects = self.cells.iter().enumerate().flat_map(|(r, row)| {
            row.iter().enumerate().map(move |(c, &w)| {
                let x = (edge(c, self.pre, cols), edge(c + 1, self.pre, cols));
                let y = (edge(r, self.post, rows), edge(r + 1, self.post, rows));
                let fill = colour::diverging(w / self.max_abs).filled();
                Rectangle::new([(x.0, y.0), (x.1, y.1)], fill)
            })
        });
        chart.draw_series(rects).or_draw()?;
        Ok(())
    }

    fn draw_ei_strip<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        e_fraction: &[f64],
    ) -> Result<(), PlotError> {
        let theme = &self.theme;
        let (margin, y_area) = self.margins();
        let mut chart = ChartBuilder::on(area)
            .margin(margin)
            .margin_bottom(theme.px(4.0))
            .y_label_area_size(y_area)
            .build_cartesian_2d(-0.5..self.pre as f64 - 0.5, 0.0..1.0)
            .or_draw()?;
        let cols = e_fraction.len();
        let edge = |k: usize| block_start(k, self.pre, cols) as f64 - 0.5;
        let (e, i) = (colour::EXCITATORY, colour::INHIBITORY);
        let mix = |a: u8, b: u8, f: f64| (b as f64 + f * (a as f64 - b as f64)).round() as u8;
        chart
            .draw_series(e_fraction.iter().enumerate().map(|(c, &f)| {
                let fill = RGBColor(mix(e.0, i.0, f), mix(e.1, i.1, f), mix(e.2, i.2, f));
                Rectangle::new([(edge(c), 0.0), (edge(c + 1), 1.0)], fill.filled())
            }))
            .or_draw()?;
        // Label left of the strip, in the area's own pixel coordinates.
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let (bx, by) = area.get_base_pixel();
        let at = (
            xs.start - bx - theme.px(10.0) as i32,
            (ys.start + ys.end) / 2 - by,
        );
        let style = theme.label().pos(Pos::new(HPos::Right, VPos::Center));
        area.draw(&Text::new("E / I", at, style)).or_draw()?;
        Ok(())
    }

    fn draw_ei_legend<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), PlotError> {
        let theme = &self.theme;
        let (_, h) = area.dim_in_pixel();
        let size = theme.px(12.0) as i32;
        let x = theme.px(8.0) as i32;
        let style = theme.legend().pos(Pos::new(HPos::Left, VPos::Center));
        let entries = [
            (colour::EXCITATORY, "excitatory (E)"),
            (colour::INHIBITORY, "inhibitory (I)"),
        ];
        for (k, (fill, text)) in entries.into_iter().enumerate() {
            let y = h as i32 * (2 * k as i32 + 1) / 4;
            area.draw(&Rectangle::new(
                [(x, y - size / 2), (x + size, y + size / 2)],
                fill.filled(),
            ))
            .or_draw()?;
            area.draw(&Text::new(
                text,
                (x + size + theme.px(6.0) as i32, y),
                style.clone(),
            ))
            .or_draw()?;
        }
        Ok(())
    }

    fn draw_colour_bar<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), PlotError> {
        let theme = &self.theme;
        let (margin, _) = self.margins();
        let m = self.max_abs;
        // Decimals for ticks about m/4 apart: one more than the leading digit of m needs.
        let decimals = (1 - m.log10().floor() as i32).max(0) as usize;
        let bar_label = |v: &f64| {
            let v = if v.abs() < 0.5 * 10f64.powi(-(decimals as i32)) {
                0.0
            } else {
                *v
            };
            format!("{v:.decimals$}")
        };
        let mut chart = ChartBuilder::on(area)
            .margin(margin)
            .margin_right(theme.px(40.0))
            .x_label_area_size(theme.px(52.0))
            .y_label_area_size(theme.px(66.0))
            .build_cartesian_2d(0.0..1.0, -m..m)
            .or_draw()?;
        chart
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(9)
            .y_label_formatter(&bar_label)
            .set_all_tick_mark_size(theme.px(6.0))
            .label_style(theme.tick())
            .axis_desc_style(theme.label())
            .y_desc("weight")
            .draw()
            .or_draw()?;
        let step = 2.0 * m / BAR_STEPS as f64;
        chart
            .draw_series((0..BAR_STEPS).map(|k| {
                let lo = -m + k as f64 * step;
                let fill = colour::diverging((lo + step / 2.0) / m).filled();
                Rectangle::new([(0.0, lo), (1.0, lo + step)], fill)
            }))
            .or_draw()?;
        // Frame the bar so the tick marks attach to it.
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, -m), (1.0, m)],
                BLACK.stroke_width(1),
            )))
            .or_draw()?;
        Ok(())
    }
}

impl Figure for Connectivity<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let theme = &self.theme;
        root.fill(&WHITE).or_draw()?;
        let body = root.titled(self.title, theme.title()).or_draw()?;
        let (w, _) = body.dim_in_pixel();
        let caption_h = theme.px(26.0);
        let (caption, body) = body.split_vertically(caption_h);
        let (cw, ch) = caption.dim_in_pixel();
        caption
            .draw(&Text::new(
                self.caption.as_str(),
                (cw as i32 / 2, ch as i32 / 2),
                theme.caption().pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .or_draw()?;
        let (main, side) = body.split_horizontally(w.saturating_sub(theme.px(170.0)));
        match &self.e_fraction {
            Some(e_fraction) => {
                let strip_h = theme.px(54.0);
                let (strip, matrix) = main.split_vertically(strip_h);
                let (legend, bar) = side.split_vertically(strip_h);
                self.draw_ei_strip(&strip, e_fraction)?;
                self.draw_ei_legend(&legend)?;
                self.draw_matrix(&matrix)?;
                self.draw_colour_bar(&bar)?;
            }
            None => {
                self.draw_matrix(&main)?;
                self.draw_colour_bar(&side)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_partition_the_axis() {
        for (len, n) in [(7, 7), (1000, 200), (201, 200), (5, 1)] {
            assert_eq!(block_start(0, len, n), 0);
            assert_eq!(block_start(n, len, n), len);
            for k in 0..n {
                assert!(block_start(k + 1, len, n) > block_start(k, len, n));
            }
        }
    }

    #[test]
    fn block_means_and_scale() {
        let w: Vec<Vec<f32>> = (0..400)
            .map(|i| {
                (0..3)
                    .map(|j| if i % 2 == 0 { j as f32 } else { -(j as f32) })
                    .collect()
            })
            .collect();
        let opts = PlotOptions::default();
        let c = Connectivity::new(&w, None, &opts).unwrap();
        assert_eq!((c.cells.len(), c.cells[0].len()), (200, 3));
        assert_eq!(c.max_abs, 2.0);
        assert!(c.cells.iter().all(|row| row.iter().all(|&v| v == 0.0)));
        assert!(c.caption.contains("block means"));
    }
}
