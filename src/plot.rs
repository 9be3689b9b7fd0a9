//! Small SVG line plots for the experiments' figures (no plotting dependency).

use std::fmt::Write as _;
use std::path::Path;

/// One line of a [`LinePlot`]: points `(x, y)` joined in the order given.
#[derive(Clone, Debug)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// Draw the points without the line joining them.
    pub markers_only: bool,
    /// Error bars: ± this much around each point's y (e.g. the sd over seeds), one per
    /// point, or empty for none.
    pub y_errors: Vec<f64>,
}

/// A line plot with a legend, linear or logarithmic x axis, written as SVG.
#[derive(Clone, Debug)]
pub struct LinePlot {
    /// The title above the plot.
    pub title: String,
    /// The x axis' label.
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// Logarithmic x axis (all x must be positive).
    pub log_x: bool,
    /// A horizontal reference line, e.g. 0.97 of the dense accuracy.
    pub y_reference: Option<(f64, String)>,
    /// The lines.
    pub series: Vec<Series>,
}

const COLORS: [&str; 10] = [
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
    "#1f78b4", "#b2df8a",
];

impl LinePlot {
    /// The SVG text.
    ///
    /// # Panics
    /// If there is no point, `log_x` with an x ≤ 0, or a series with error bars for some of
    /// its points only.
    pub fn to_svg(&self) -> String {
        let points = || self.series.iter().flat_map(|s| s.points.iter().copied());
        assert!(points().next().is_some(), "LinePlot: no points to plot");
        for series in &self.series {
            assert!(
                series.y_errors.is_empty() || series.y_errors.len() == series.points.len(),
                "LinePlot: series {:?} has {} points but {} error bars",
                series.name,
                series.points.len(),
                series.y_errors.len()
            );
        }
        // The error bars' ends, so that the axis range holds them.
        let bar_ends = self.series.iter().flat_map(|s| {
            s.points
                .iter()
                .zip(&s.y_errors)
                .flat_map(|(&(x, y), &e)| [(x, y - e), (x, y + e)])
        });
        let fx = |x: f64| {
            if self.log_x {
                assert!(x > 0.0, "LinePlot: x = {x} on a logarithmic axis");
                x.log10()
            } else {
                x
            }
        };
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        let reference = self.y_reference.iter().map(|(y, _)| (f64::NAN, *y));
        for (x, y) in points().chain(bar_ends).chain(reference) {
            if !x.is_nan() {
                x0 = x0.min(fx(x));
                x1 = x1.max(fx(x));
            }
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        let pad = |lo: f64, hi: f64| {
            let d = (hi - lo).max(1e-9) * 0.04;
            (lo - d, hi + d)
        };
        let ((x0, x1), (y0, y1)) = (pad(x0, x1), pad(y0, y1));
        let (w, h, left, right, top, bottom) = (900.0, 520.0, 70.0, 250.0, 40.0, 60.0);
        let px = |x: f64| left + (w - left - right) * (fx(x) - x0) / (x1 - x0);
        let py = |y: f64| top + (h - top - bottom) * (y1 - y) / (y1 - y0);
        let mut svg = format!(
            "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'>\n\
             <rect width='100%' height='100%' fill='white'/>\n<text x='{left}' y='22' font-size='14'>{}</text>\n",
            escape(&self.title)
        );
        for y in nice_ticks(y0, y1) {
            let _ = writeln!(
                svg,
                "<line x1='{left}' x2='{:.1}' y1='{py:.1}' y2='{py:.1}' stroke='#e4e4e4'/><text x='{:.1}' y='{:.1}' text-anchor='end'>{}</text>",
                w - right,
                left - 6.0,
                py(y) + 4.0,
                format_tick(y),
                py = py(y)
            );
        }
        let mut data_xs: Vec<f64> = points().map(|(x, _)| fx(x)).collect();
        data_xs.sort_by(f64::total_cmp);
        data_xs.dedup();
        for tick in x_ticks(x0, x1, self.log_x, &data_xs) {
            let x = if self.log_x { 10f64.powf(tick) } else { tick };
            let _ = writeln!(
                svg,
                "<line x1='{px:.1}' x2='{px:.1}' y1='{top}' y2='{:.1}' stroke='#e4e4e4'/><text x='{px:.1}' y='{:.1}' text-anchor='middle'>{}</text>",
                h - bottom,
                h - bottom + 16.0,
                format_tick(x),
                px = px(x)
            );
        }
        let _ = writeln!(
            svg,
            "<text x='{:.1}' y='{:.1}' text-anchor='middle'>{}</text>\n<text transform='translate(18,{:.1}) rotate(-90)' text-anchor='middle'>{}</text>",
            left + (w - left - right) / 2.0,
            h - 18.0,
            escape(&self.x_label),
            top + (h - top - bottom) / 2.0,
            escape(&self.y_label)
        );
        if let Some((y, label)) = &self.y_reference {
            let _ = writeln!(
                svg,
                "<line x1='{left}' x2='{:.1}' y1='{py:.1}' y2='{py:.1}' stroke='black' stroke-dasharray='5,4'/><text x='{:.1}' y='{:.1}' text-anchor='end'>{}</text>",
                w - right,
                w - right - 4.0,
                py(*y) - 4.0,
                escape(label),
                py = py(*y)
            );
        }
        for (i, series) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            if !series.markers_only && series.points.len() > 1 {
                let path: Vec<String> = series
                    .points
                    .iter()
                    .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                    .collect();
                let _ = writeln!(
                    svg,
                    "<polyline fill='none' stroke='{color}' stroke-width='1.8' points='{}'/>",
                    path.join(" ")
                );
            }
            for &(x, y) in &series.points {
                let _ = writeln!(
                    svg,
                    "<circle cx='{:.1}' cy='{:.1}' r='3' fill='{color}'/>",
                    px(x),
                    py(y)
                );
            }
            for (&(x, y), &e) in series.points.iter().zip(&series.y_errors) {
                let (x, low, high) = (px(x), py(y - e), py(y + e));
                let _ = writeln!(
                    svg,
                    "<path d='M{x:.1},{low:.1}V{high:.1}M{:.1},{low:.1}h8M{:.1},{high:.1}h8' stroke='{color}' fill='none'/>",
                    x - 4.0,
                    x - 4.0
                );
            }
            let ly = top + 10.0 + 18.0 * i as f64;
            let _ = writeln!(
                svg,
                "<circle cx='{:.1}' cy='{ly:.1}' r='4' fill='{color}'/><text x='{:.1}' y='{:.1}'>{}</text>",
                w - right + 16.0,
                w - right + 26.0,
                ly + 4.0,
                escape(&series.name)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }

    /// Writes [`LinePlot::to_svg`] to `path`, creating its folder.
    ///
    /// # Errors
    /// A message naming the path if it cannot be written.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(path, self.to_svg())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// Tick positions (in axis units: log10 of x on a log axis). A log axis with a few distinct
/// x values (`data`, sorted, in axis units) labels exactly those: the swept values.
fn x_ticks(lo: f64, hi: f64, log: bool, data: &[f64]) -> Vec<f64> {
    // Up to 8 labels fit the plot's width even as "1.3e5".
    if log && data.len() <= 8 {
        data.to_vec()
    } else if log {
        let mut ticks = Vec::new();
        for decade in lo.floor() as i32..=hi.ceil() as i32 {
            for m in [1.0, 2.0, 5.0] {
                let t = (m * 10f64.powi(decade)).log10();
                if t >= lo && t <= hi {
                    ticks.push(t);
                }
            }
        }
        ticks
    } else {
        nice_ticks(lo, hi)
    }
}

/// Round ticks (multiples of 1, 2 or 5 × 10^k) inside `[lo, hi]`: the step whose count is
/// nearest five (on a tie, the smaller step: more ticks).
fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let magnitude = 10f64.powf(((hi - lo) / 5.0).log10().floor());
    let ticks = |step: f64| {
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        (first..=last).map(|i| i as f64 * step).collect::<Vec<_>>()
    };
    [0.5, 1.0, 2.0, 5.0, 10.0]
        .map(|m| ticks(m * magnitude))
        .into_iter()
        .min_by_key(|t| t.len().abs_diff(5))
        .expect("five candidate steps")
}

/// A tick label: up to four significant digits, exponents for very small or large values.
fn format_tick(x: f64) -> String {
    if x != 0.0 && (x.abs() < 0.01 || x.abs() >= 1e4) {
        let text = format!("{x:.1e}");
        text.replace(".0e", "e")
    } else {
        let rounded = (x * 1e4).round() / 1e4;
        format!("{rounded}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_and_legend_entry_is_drawn() {
        let plot = LinePlot {
            title: "a < b".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_x: true,
            y_reference: Some((0.5, "half".into())),
            series: vec![
                Series {
                    name: "one".into(),
                    points: vec![(0.01, 0.1), (0.1, 0.6), (1.0, 0.9)],
                    markers_only: false,
                    y_errors: vec![0.05, 0.0, 0.2],
                },
                Series {
                    name: "two".into(),
                    points: vec![(0.5, 0.4)],
                    markers_only: true,
                    y_errors: Vec::new(),
                },
            ],
        };
        let svg = plot.to_svg();
        assert_eq!(svg.matches("<circle").count(), 4 + 2);
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(
            svg.matches("<path").count(),
            3,
            "one error bar per point of `one`"
        );
        // The plot area (from y = 40 down) holds the top of the largest bar (0.9 + 0.2).
        let tops: Vec<f64> = svg
            .split("V")
            .skip(1)
            .map(|rest| rest.split('M').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(tops.len(), 3);
        assert!(tops.iter().all(|&y| y >= 40.0), "{tops:?}");
        assert!(svg.contains("a &lt; b") && svg.contains(">half<") && svg.contains(">two<"));
    }

    #[test]
    fn a_log_axis_with_few_values_labels_them() {
        let data = [0.25f64, 0.5, 1.0, 2.0].map(f64::log10);
        let ticks = x_ticks(data[0] - 0.05, data[3] + 0.05, true, &data);
        assert_eq!(ticks, data);
        let many: Vec<f64> = (0..10).map(|i| f64::from(i) * 0.5).collect();
        let labels: Vec<String> = x_ticks(-0.1, 4.6, true, &many)
            .into_iter()
            .map(|t| format_tick(10f64.powf(t)))
            .collect();
        assert_eq!(labels[..4], ["1", "2", "5", "10"]);
    }

    #[test]
    fn linear_ticks_are_round_numbers() {
        let labels = |lo, hi| {
            nice_ticks(lo, hi)
                .into_iter()
                .map(format_tick)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            labels(-4177.9, 135_000.0),
            ["0", "2e4", "4e4", "6e4", "8e4", "1e5", "1.2e5"]
        );
        assert_eq!(labels(0.907, 0.987), ["0.92", "0.94", "0.96", "0.98"]);
        assert_eq!(labels(0.204, 0.489), ["0.25", "0.3", "0.35", "0.4", "0.45"]);
        assert_eq!(
            [120_000.0, 100_000.0, 0.9, 0.001].map(format_tick),
            ["1.2e5", "1e5", "0.9", "1e-3"]
        );
    }
}
