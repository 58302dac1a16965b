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
    #[test]
    fn vendored_font_parses() {
        super::ensure_registered().unwrap();
    }
}
