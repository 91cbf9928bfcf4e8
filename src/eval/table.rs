//! Plain-text tables and number formatting shared by the renderers.

use std::time::Duration;

/// A percentage with one decimal (`12.3%`), or `-` when undefined.
pub(super) fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
}

/// A score or area with three decimals, or `-`.
pub(super) fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

/// A threshold: two to four decimals (`0.50`, `0.9731`).
pub(super) fn thr(v: f64) -> String {
    let s = format!("{v:.4}");
    s.strip_suffix("00")
        .unwrap_or(s.strip_suffix('0').unwrap_or(&s))
        .to_string()
}

/// Milliseconds with two decimals.
pub(super) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A table of left-aligned text columns and right-aligned number columns.
pub(super) struct Table {
    header: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns as (title, right-aligned).
    pub(super) fn new(cols: &[(&'static str, bool)]) -> Self {
        Self {
            header: cols.iter().map(|c| c.0).collect(),
            right: cols.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as columns).
    pub(super) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    /// The header (for HTML).
    pub(super) fn header(&self) -> &[&'static str] {
        &self.header
    }

    /// The rows (for HTML).
    pub(super) fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// Whether column `i` holds numbers.
    pub(super) fn is_right(&self, i: usize) -> bool {
        self.right[i]
    }

    /// Aligned lines, each prefixed by `indent`, two spaces between columns.
    pub(super) fn render(&self, indent: &str) -> String {
        let width = |s: &str| s.chars().count();
        let mut w: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(width(c));
            }
        }
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        let mut out = String::new();
        for r in std::iter::once(&header).chain(&self.rows) {
            let mut line = indent.to_string();
            for (i, c) in r.iter().enumerate() {
                let pad = " ".repeat(w[i] - width(c));
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    line.push_str(&pad);
                    line.push_str(c);
                } else {
                    line.push_str(c);
                    line.push_str(&pad);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(pct(Some(0.1234)), "12.3%");
        assert_eq!(pct(None), "-");
        assert_eq!(thr(0.5), "0.50");
        assert_eq!(thr(0.125), "0.125");
        assert_eq!(thr(0.97314), "0.9731");
        assert_eq!(thr(1.0), "1.00");
        assert_eq!(ms(Duration::from_micros(1500)), "1.50 ms");
    }

    #[test]
    fn aligns() {
        let mut t = Table::new(&[("rule", false), ("fired", true)]);
        t.row(vec!["a".into(), "1234".into()]);
        t.row(vec!["longer".into(), "5".into()]);
        assert_eq!(
            t.render(""),
            "rule    fired\na        1234\nlonger      5\n"
        );
    }
}
