//! Rendering a figure to PNG or SVG bytes and writing the file atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use plotters::coord::Shift;
use plotters::prelude::{
    BitMapBackend, DrawingArea, DrawingAreaErrorKind, DrawingBackend, IntoDrawingArea, SVGBackend,
};

use super::{font, PlotError, PlotOptions};

/// Image file format, chosen from the output file's extension (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// 8-bit RGB PNG, drawn by plotters' bitmap backend.
    Png,
    /// SVG 1.1 text, drawn by plotters' SVG backend.
    Svg,
}

impl ImageFormat {
    /// The format for `path`: `.png` or `.svg`, otherwise [`PlotError::UnsupportedFormat`].
    pub fn from_path(path: &Path) -> Result<Self, PlotError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Self::Png),
            Some("svg") => Ok(Self::Svg),
            _ => Err(PlotError::UnsupportedFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// A plot that can draw itself on any plotters backend.
pub(crate) trait Figure {
    /// Draws the whole figure on `root` (already sized, not yet filled).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

/// Converts plotters' backend-generic drawing errors into [`PlotError::Draw`].
pub(crate) trait OrDraw<T> {
    /// Maps the error to [`PlotError::Draw`] with its message.
    fn or_draw(self) -> Result<T, PlotError>;
}

impl<T, E: std::error::Error + Send + Sync> OrDraw<T> for Result<T, DrawingAreaErrorKind<E>> {
    fn or_draw(self) -> Result<T, PlotError> {
        self.map_err(|e| PlotError::Draw(e.to_string()))
    }
}

/// Validates the options, renders `figure` in the format named by `out`'s extension and writes it
/// atomically. Nothing is written if any step fails.
pub(crate) fn save(figure: &impl Figure, out: &Path, opts: &PlotOptions) -> Result<(), PlotError> {
    opts.validate()?;
    let format = ImageFormat::from_path(out)?;
    font::ensure_registered()?;
    let bytes = match format {
        ImageFormat::Png => render_png(figure, opts.width, opts.height)?,
        ImageFormat::Svg => render_svg(figure, opts.width, opts.height)?.into_bytes(),
    };
    write_atomically(out, &bytes)
}

/// Draws into an RGB buffer and encodes it as PNG.
fn render_png(figure: &impl Figure, width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        figure.draw(&root)?;
        root.present().or_draw()?;
    }
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| PlotError::Png(e.to_string()))?;
    writer
        .write_image_data(&rgb)
        .map_err(|e| PlotError::Png(e.to_string()))?;
    writer.finish().map_err(|e| PlotError::Png(e.to_string()))?;
    Ok(png_bytes)
}

/// Draws into an SVG document string.
fn render_svg(figure: &impl Figure, width: u32, height: u32) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        figure.draw(&root)?;
        root.present().or_draw()?;
    }
    Ok(svg)
}

/// Writes `bytes` to `path` via a uniquely named temporary file in the same directory, then
/// renames it over `path` (atomic on POSIX file systems). The temporary file is removed on error.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(PlotError::Write { path: tmp, source });
    }
    fs::rename(&tmp, path).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        PlotError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(
            ImageFormat::from_path(Path::new("a/b.png")).unwrap(),
            ImageFormat::Png
        );
        assert_eq!(
            ImageFormat::from_path(Path::new("B.SVG")).unwrap(),
            ImageFormat::Svg
        );
        for bad in ["plot.jpg", "plot", "png", "dir.png/plot.pdf"] {
            let err = ImageFormat::from_path(Path::new(bad)).unwrap_err();
            assert!(err.to_string().contains(".png or .svg"), "{bad}: {err}");
        }
    }
}
