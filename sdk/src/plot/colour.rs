//! Colours: a categorical palette for series and the colour maps for rates and weights.

use plotters::style::RGBColor;

/// Ten well-separated categorical colours (the Tableau 10 palette), cycled for series.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Colour of series number `i` (cycles after ten).
pub(crate) fn series(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Excitatory (red) marker colour for connectivity plots.
pub(crate) const EXCITATORY: RGBColor = RGBColor(214, 39, 40);
/// Inhibitory (blue) marker colour for connectivity plots.
pub(crate) const INHIBITORY: RGBColor = RGBColor(31, 119, 180);
/// Budget lines in rate histograms.
pub(crate) const BUDGET: RGBColor = RGBColor(200, 0, 0);

/// Linear interpolation between anchor colours placed evenly on `0..=1`; `t` is clamped.
///
/// With anchors `c_0 … c_{k-1}`, `t` falls in segment `i = floor(t·(k−1))` and the colour is
/// `c_i + (t·(k−1) − i)·(c_{i+1} − c_i)` per channel, rounded.
fn interpolate(anchors: &[(u8, u8, u8)], t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let span = (anchors.len() - 1) as f64;
    let pos = t * span;
    let i = (pos.floor() as usize).min(anchors.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (anchors[i], anchors[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + f * (y as f64 - x as f64)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Diverging blue–white–red map for signed values: `v` in `-1..=1` (clamped), 0 is white,
/// negative blue, positive red (anchor colours of the ColorBrewer RdBu scheme).
pub(crate) fn diverging(v: f64) -> RGBColor {
    const RD_BU: [(u8, u8, u8); 7] = [
        (33, 102, 172),
        (103, 169, 207),
        (209, 229, 240),
        (247, 247, 247),
        (253, 219, 199),
        (239, 138, 98),
        (178, 24, 43),
    ];
    interpolate(&RD_BU, (v + 1.0) / 2.0)
}

/// Sequential map (viridis-like, dark purple → yellow) for ordered series such as epochs;
/// `t` in `0..=1`. The top is stopped short of yellow so lines stay visible on white.
pub(crate) fn sequential(t: f64) -> RGBColor {
    const VIRIDIS: [(u8, u8, u8); 5] = [
        (68, 1, 84),
        (59, 82, 139),
        (33, 145, 140),
        (94, 201, 98),
        (190, 210, 40),
    ];
    interpolate(&VIRIDIS, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverging_ends_and_middle() {
        assert_eq!(diverging(-1.0), RGBColor(33, 102, 172));
        assert_eq!(diverging(0.0), RGBColor(247, 247, 247));
        assert_eq!(diverging(1.0), RGBColor(178, 24, 43));
        assert_eq!(diverging(5.0), diverging(1.0));
        assert_eq!(diverging(f64::NAN), diverging(0.0));
    }

    #[test]
    fn sequential_ends() {
        assert_eq!(sequential(0.0), RGBColor(68, 1, 84));
        assert_eq!(sequential(1.0), RGBColor(190, 210, 40));
    }
}
