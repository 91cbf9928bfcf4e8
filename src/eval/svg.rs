//! Hand-written inline SVG line plots (no plotting crate, no script).

use std::fmt::Write;

const W: f64 = 340.0;
const H: f64 = 300.0;
const LEFT: f64 = 50.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 42.0;

/// Escapes text for HTML and SVG (elements and attribute values).
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One axis: range, ticks (value, label) and title.
pub(super) struct Axis {
    pub min: f64,
    pub max: f64,
    pub ticks: Vec<(f64, String)>,
    pub title: &'static str,
}

impl Axis {
    /// `0%..max` with `steps` evenly spaced ticks, labels with `decimals`.
    pub(super) fn percent(max: f64, steps: u32, decimals: usize, title: &'static str) -> Self {
        let ticks = (0..=steps)
            .map(|i| {
                let v = max * f64::from(i) / f64::from(steps);
                (v, format!("{:.*}%", decimals, v * 100.0))
            })
            .collect();
        Self {
            min: 0.0,
            max,
            ticks,
            title,
        }
    }
}

/// A polyline.
pub(super) struct Line {
    pub points: Vec<(f64, f64)>,
    pub color: &'static str,
    pub dashed: bool,
    pub width: f64,
}

/// Marker shapes.
#[derive(Clone, Copy)]
pub(super) enum Shape {
    Circle,
    Diamond,
}

/// A highlighted point with a hover title.
pub(super) struct Mark {
    pub x: f64,
    pub y: f64,
    pub color: &'static str,
    pub shape: Shape,
    pub title: String,
}

/// One plot: title, axes, lines drawn in order, marks on top, then `notes`
/// (small grey lines in the lower right corner, e.g. for marks off the chart).
pub(super) fn plot(
    title: &str,
    x: &Axis,
    y: &Axis,
    lines: &[Line],
    marks: &[Mark],
    notes: &[String],
) -> String {
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let px = |v: f64| LEFT + (v - x.min) / (x.max - x.min) * pw;
    let py = |v: f64| TOP + ph - (v - y.min) / (y.max - y.min) * ph;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         role=\"img\" font-family=\"sans-serif\" font-size=\"11\">\n<title>{t}</title>\n\
         <text x=\"{cx:.1}\" y=\"17\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{t}</text>\n",
        t = esc(title),
        cx = LEFT + pw / 2.0,
    );
    for (v, label) in &x.ticks {
        let gx = px(*v);
        let _ = writeln!(
            s,
            "<line x1=\"{gx:.1}\" y1=\"{TOP}\" x2=\"{gx:.1}\" y2=\"{:.1}\" stroke=\"#e3e3e3\"/>\
             <text x=\"{gx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + ph + 4.0,
            TOP + ph + 16.0,
            esc(label)
        );
    }
    for (v, label) in &y.ticks {
        let gy = py(*v);
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" y1=\"{gy:.1}\" x2=\"{:.1}\" y2=\"{gy:.1}\" stroke=\"#e3e3e3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 4.0,
            LEFT + pw,
            LEFT - 6.0,
            gy + 4.0,
            esc(label)
        );
    }
    let _ = write!(
        s,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>\n\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
         <text transform=\"translate(13 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
        LEFT + pw / 2.0,
        H - 8.0,
        esc(x.title),
        TOP + ph / 2.0,
        esc(y.title)
    );
    for l in lines {
        let _ = writeln!(
            s,
            "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{}/>",
            path(l.points.iter().map(|&(a, b)| (px(a), py(b)))),
            l.color,
            l.width,
            if l.dashed {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            }
        );
    }
    for m in marks {
        let (gx, gy) = (px(m.x), py(m.y));
        let shape = match m.shape {
            Shape::Circle => format!("<circle cx=\"{gx:.1}\" cy=\"{gy:.1}\" r=\"5\""),
            Shape::Diamond => format!(
                "<path d=\"M{gx:.1} {:.1}L{:.1} {gy:.1}L{gx:.1} {:.1}L{:.1} {gy:.1}Z\"",
                gy - 6.0,
                gx + 6.0,
                gy + 6.0,
                gx - 6.0
            ),
        };
        let _ = writeln!(
            s,
            "{shape} fill=\"{}\" stroke=\"#fff\" stroke-width=\"1.5\"><title>{}</title>{}",
            m.color,
            esc(&m.title),
            if matches!(m.shape, Shape::Circle) {
                "</circle>"
            } else {
                "</path>"
            }
        );
    }
    for (i, n) in notes.iter().rev().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\" font-size=\"10\">{}</text>",
            LEFT + pw - 5.0,
            TOP + ph - 6.0 - 13.0 * i as f64,
            esc(n)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// An SVG path through pixel points, dropping points under half a pixel apart.
fn path(points: impl Iterator<Item = (f64, f64)>) -> String {
    let pts: Vec<(f64, f64)> = points.collect();
    let mut d = String::new();
    let mut last: Option<(f64, f64)> = None;
    for (i, &(x, y)) in pts.iter().enumerate() {
        let near = last.is_some_and(|(lx, ly)| (x - lx).abs() < 0.5 && (y - ly).abs() < 0.5);
        if near && i + 1 < pts.len() {
            continue;
        }
        let _ = write!(d, "{}{x:.1} {y:.1}", if last.is_none() { "M" } else { "L" });
        last = Some((x, y));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            esc("<a href='x'>\"&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn path_thins_close_points() {
        let d = path([(0.0, 0.0), (0.1, 0.1), (0.2, 0.2), (5.0, 5.0)].into_iter());
        assert_eq!(d, "M0.0 0.0L5.0 5.0");
    }
}
