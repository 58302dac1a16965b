//! The vendored plot font and its one-time registration with plotters.

use std::sync::OnceLock;

use plotters::style::FontStyle;

use super::PlotError;

/// DejaVu Sans, subset to Latin-1, Greek and a few math symbols (see `sdk/assets/fonts/README.md`).
const DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");

/// Font family name every plot uses; the vendored font is registered under it.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the vendored font with plotters' `ab_glyph` renderer (once per process).
pub(crate) fn ensure_registered() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

#[cfg(test)]
mod tests {
    use plotters::prelude::*;
    use plotters::style::IntoFont;

    #[test]
    fn vendored_font_parses() {
        super::ensure_registered().unwrap();
    }

    /// Renders `text` black at `size` on white and returns one `(first column, end column,
    /// lowest inked row)` per run of inked columns, left to right (one run per glyph when
    /// glyphs do not touch).
    fn glyph_runs(text: &str, size: f64) -> Vec<(usize, usize, usize)> {
        super::ensure_registered().unwrap();
        let (w, h) = (200usize, 80usize);
        let mut rgb = vec![255u8; w * h * 3];
        {
            let root =
                BitMapBackend::with_buffer(&mut rgb, (w as u32, h as u32)).into_drawing_area();
            let style = (super::FAMILY, size).into_font().color(&BLACK);
            root.draw(&Text::new(text, (10, 10), style)).unwrap();
            root.present().unwrap();
        }
        let inked = |x: usize, y: usize| rgb[(y * w + x) * 3] < 128;
        let mut runs = Vec::new();
        let mut current: Option<(usize, usize)> = None;
        for x in 0..w {
            match ((0..h).filter(|&y| inked(x, y)).max(), current) {
                (Some(y), Some((start, bottom))) => current = Some((start, bottom.max(y))),
                (Some(y), None) => current = Some((x, y)),
                (None, Some((start, bottom))) => {
                    runs.push((start, x, bottom));
                    current = None;
                }
                (None, None) => {}
            }
        }
        runs
    }

    /// plotters' ab_glyph renderer places glyph bounding boxes, not glyph origins; the vendored
    /// font's anchor contours (see `sdk/assets/fonts/README.md`) make the two the same. Without
    /// them the full stop in "0.0" sits above the baseline (15 px) or touches the zero (12 px).
    #[test]
    fn glyphs_keep_bearings_and_baseline() {
        for size in [12.0, 15.0, 20.0, 40.0] {
            let runs = glyph_runs("0.0", size);
            assert_eq!(runs.len(), 3, "{size} px: glyphs touch: {runs:?}");
            let bottom = runs[0].2;
            assert!(
                runs.iter().all(|r| r.2 == bottom),
                "{size} px: glyphs off the baseline: {runs:?}"
            );
        }
    }
}
