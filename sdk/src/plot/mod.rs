//! Plots for inspecting spiking networks: spike rasters, membrane traces, firing-rate histograms
//! against their budgets, training curves and connectivity matrices.
//!
//! Every function takes plain data (vectors of numbers and names), so it does not depend on the
//! training loop's or the network's types, and writes one image file. The format comes from the
//! file extension: `.png` (bitmap) or `.svg` (vector); anything else is a
//! [`PlotError::UnsupportedFormat`]. Files are written atomically (a temporary file in the same
//! directory, then a rename), so a reader never sees half an image.
//!
//! Text is drawn with a vendored, subset DejaVu Sans (see `sdk/assets/fonts/README.md`) through
//! plotters' `ab_glyph` renderer, so no system fontconfig/freetype is needed. The font is
//! registered with plotters under the family name `sans-serif` the first time a plot is drawn.
//!
//! ```no_run
//! use snn_sdk::plot::{membrane_traces, PlotOptions};
//! let v: Vec<f32> = (0..100).map(|t| (t % 20) as f32 / 20.0).collect();
//! membrane_traces(&[("neuron 0", v)], Some(1.0), "trace.png".as_ref(), &PlotOptions::default())?;
//! # Ok::<(), snn_sdk::plot::PlotError>(())
//! ```

mod colour;
mod connectivity;
mod curves;
mod font;
mod frontier;
mod histogram;
mod metrics;
mod output;
mod raster;
mod style;
mod traces;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use connectivity::connectivity;
pub use curves::curves;
pub use frontier::{frontier, FrontierSeries};
pub use histogram::{rate_histograms, LayerRates};
pub use metrics::{read_metrics_jsonl, MetricsRow};
pub use output::ImageFormat;
pub use raster::spike_raster;
pub use traces::membrane_traces;

/// Smallest accepted image side in pixels (smaller leaves no room for axes and labels).
pub const MIN_SIDE: u32 = 256;
/// Largest accepted image side in pixels (a 8192x8192 RGB bitmap is 192 MiB).
pub const MAX_SIDE: u32 = 8192;

/// Size and title of a plot; `Default` is 1024x768 with the plot's own title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlotOptions {
    /// Image width in pixels (SVG: user units), `MIN_SIDE..=MAX_SIDE`.
    pub width: u32,
    /// Image height in pixels (SVG: user units), `MIN_SIDE..=MAX_SIDE`.
    pub height: u32,
    /// Replaces the plot's default title when set.
    pub title: Option<String>,
}

impl Default for PlotOptions {
    fn default() -> Self {
        Self {
            width: 1024,
            height: 768,
            title: None,
        }
    }
}

impl PlotOptions {
    /// Options with the given size and the default title.
    pub fn with_size(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            ..Self::default()
        }
    }

    /// Checks the size is within `MIN_SIDE..=MAX_SIDE` on both sides.
    pub fn validate(&self) -> Result<(), PlotError> {
        let ok = |side: u32| (MIN_SIDE..=MAX_SIDE).contains(&side);
        if ok(self.width) && ok(self.height) {
            Ok(())
        } else {
            Err(PlotError::InvalidSize {
                width: self.width,
                height: self.height,
            })
        }
    }

    /// The title to draw: the user's if set, else `default`.
    pub(crate) fn title_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.title.as_deref().unwrap_or(default)
    }
}

/// Everything that can go wrong while making a plot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The output path does not end in `.png` or `.svg`.
    #[error("cannot tell the image format of `{}`: the file name must end in .png or .svg", path.display())]
    UnsupportedFormat {
        /// The offending output path.
        path: PathBuf,
    },
    /// The requested image size is outside `MIN_SIDE..=MAX_SIDE`.
    #[error("plot size {width}x{height} is out of range: width and height must each be {MIN_SIDE}..={MAX_SIDE} pixels")]
    InvalidSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// The data cannot be plotted (empty, ragged, non-finite …); the message says what and where.
    #[error("{plot}: {message}")]
    InvalidData {
        /// Which plot rejected the data (e.g. `spike raster`).
        plot: &'static str,
        /// What is wrong and where.
        message: String,
    },
    /// The vendored font could not be parsed (a build problem, not a user error).
    #[error("the vendored plot font could not be loaded")]
    Font,
    /// plotters reported an error while drawing.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Png(String),
    /// The image file could not be written.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The file (or its temporary sibling) being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A metrics file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The metrics file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A line of a metrics JSONL file is not a valid metrics row.
    #[error("`{}` line {line}: not a metrics row: {source}", path.display())]
    MetricsLine {
        /// The metrics file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What serde_json found wrong (with the column).
        source: serde_json::Error,
    },
}

impl PlotError {
    /// Shorthand for [`PlotError::InvalidData`].
    pub(crate) fn data(plot: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidData {
            plot,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_toml_with_defaults() {
        let opts: PlotOptions = toml::from_str("width = 800\ntitle = \"Run 3\"").unwrap();
        assert_eq!((opts.width, opts.height), (800, 768));
        assert_eq!(opts.title.as_deref(), Some("Run 3"));
        opts.validate().unwrap();
        let err = toml::from_str::<PlotOptions>("widht = 800").unwrap_err();
        assert!(err.to_string().contains("widht"), "{err}");
    }

    #[test]
    fn size_limits() {
        assert!(PlotOptions::with_size(MIN_SIDE, MAX_SIDE)
            .validate()
            .is_ok());
        let err = PlotOptions::with_size(MIN_SIDE - 1, 600)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("255x600"), "{err}");
        assert!(PlotOptions::with_size(800, MAX_SIDE + 1)
            .validate()
            .is_err());
    }
}
