//! Text sizes and shared layout numbers, scaled with the image size.

use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use plotters::style::{IntoFont, TextStyle};

use super::font::FAMILY;
use super::output::OrDraw;
use super::{PlotError, PlotOptions};

/// Font sizes and spacings for one image; 1.0 scale is tuned for 1024x768.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Theme {
    /// Multiplier on every size: `clamp(min(width, height·4/3) / 1024, 0.8, 4)`; text stays readable on small images.
    scale: f64,
}

impl Theme {
    /// The theme for an image of the size in `opts`.
    pub(crate) fn new(opts: &PlotOptions) -> Self {
        let side = (opts.width as f64).min(opts.height as f64 * 4.0 / 3.0);
        Self {
            scale: (side / 1024.0).clamp(0.8, 4.0),
        }
    }

    /// `base` pixels at this scale, at least 1.
    pub(crate) fn px(&self, base: f64) -> u32 {
        (base * self.scale).round().max(1.0) as u32
    }

    fn font(&self, base: f64) -> TextStyle<'static> {
        (FAMILY, base * self.scale).into_font().into()
    }

    /// Figure title.
    pub(crate) fn title(&self) -> TextStyle<'static> {
        self.font(28.0)
    }

    /// Panel caption.
    pub(crate) fn caption(&self) -> TextStyle<'static> {
        self.font(19.0)
    }

    /// Axis descriptions ("time step").
    pub(crate) fn label(&self) -> TextStyle<'static> {
        self.font(18.0)
    }

    /// Tick labels.
    pub(crate) fn tick(&self) -> TextStyle<'static> {
        self.font(15.0)
    }

    /// Legend entries.
    pub(crate) fn legend(&self) -> TextStyle<'static> {
        self.font(15.0)
    }

    /// A chart builder for one panel of a multi-panel figure: `caption` above, the shared
    /// margins and x label area, `y_label_area` base pixels for the y tick labels.
    pub(crate) fn panel<'a, 'b, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        caption: &str,
        y_label_area: f64,
    ) -> ChartBuilder<'a, 'b, DB> {
        let mut builder = ChartBuilder::on(area);
        builder
            .caption(caption, self.caption())
            .margin(self.px(10.0))
            .margin_right(self.px(22.0))
            .x_label_area_size(self.px(48.0))
            .y_label_area_size(self.px(y_label_area));
        builder
    }
}

/// Tick label for an axis whose ticks fall on whole numbers (no "-0").
pub(crate) fn int_label(v: &f64) -> String {
    format!("{:.0}", v.round() + 0.0)
}

/// Tick count hint for an integer axis with `n` positions: never more ticks than positions,
/// so plotters picks a step of at least 1 and labels stay distinct.
pub(crate) fn int_ticks(n: usize, max: usize) -> usize {
    n.clamp(1, max)
}

/// The legend key of a line series: a short stroke in the series' colour and width.
pub(crate) fn line_key(
    colour: RGBColor,
    width: u32,
) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(width))
}

/// Draws the legend box of `chart`'s labelled series at `position`: legend font, translucent
/// white background, grey border.
pub(crate) fn draw_series_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    theme: &Theme,
    position: SeriesLabelPosition,
) -> Result<(), PlotError> {
    chart
        .configure_series_labels()
        .label_font(theme.legend())
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .position(position)
        .draw()
        .or_draw()
}
