//! The self-contained HTML report: tables plus SVG ROC and PR curves per label.

use std::fmt::Write;

use super::metrics::Confusion;
use super::report::{LabelStats, Report};
use super::svg::{esc, plot, Axis, Line, Mark, Shape};
use super::table::{num, pct, thr, Table};
use super::text;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1150px}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:15px}\
table{border-collapse:collapse;margin:6px 0 12px}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}\
th{background:#f4f4f4}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.plots{display:flex;flex-wrap:wrap;gap:12px}.note{color:#666;font-size:13px}\
.k{font-size:13px;margin-right:14px}summary{cursor:pointer;color:#245}";

const BLUE: &str = "#1f6fb5";
const GREY: &str = "#999";
const POLICY: &str = "#e07b00";
const FPR1: &str = "#1a9850";
const FPR01: &str = "#8e44ad";

fn table(t: &Table) -> String {
    let cell = |tag: &str, i: usize, v: &str| {
        let class = if t.is_right(i) { " class=\"n\"" } else { "" };
        format!("<{tag}{class}>{}</{tag}>", esc(v))
    };
    let mut s = String::from("<table><thead><tr>");
    for (i, h) in t.header().iter().enumerate() {
        s.push_str(&cell("th", i, h));
    }
    s.push_str("</tr></thead><tbody>\n");
    for r in t.rows() {
        s.push_str("<tr>");
        for (i, v) in r.iter().enumerate() {
            s.push_str(&cell("td", i, v));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n");
    s
}

/// Points up to `x == max`, the last one interpolated onto the edge.
fn clip_x(points: &[(f64, f64)], max: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for &(x, y) in points {
        if x <= max {
            out.push((x, y));
            continue;
        }
        if let Some(&(lx, ly)) = out.last() {
            let y_at = if x > lx {
                ly + (y - ly) * (max - lx) / (x - lx)
            } else {
                y
            };
            out.push((max, y_at));
        }
        break;
    }
    out
}

/// The policy-threshold and suggested-threshold points of one label.
fn marks(l: &LabelStats) -> Vec<(Confusion, &'static str, Shape, String)> {
    let mut m = Vec::new();
    if let (Some(c), Some(t)) = (l.at_threshold, l.threshold) {
        m.push((
            c,
            POLICY,
            Shape::Circle,
            format!("policy threshold {}", thr(t)),
        ));
    }
    for (s, color, what) in [(&l.fpr_1pct, FPR1, "1%"), (&l.fpr_01pct, FPR01, "0.1%")] {
        if let Some(s) = s {
            let title = format!("lowest threshold within {what} FPR: {}", thr(s.threshold));
            m.push((s.confusion, color, Shape::Diamond, title));
        }
    }
    m
}

fn label_plots(l: &LabelStats) -> String {
    let c = &l.curves;
    if c.roc.is_empty() {
        return "<p class=\"note\">No curves: they need scored positive and benign rows.</p>\n"
            .into();
    }
    let mk = |c: &Confusion, color, shape, title: &String, x: Option<f64>, y: Option<f64>| {
        Some(Mark {
            x: x?,
            y: y?,
            color,
            shape,
            title: format!("{title}: {}", describe(c)),
        })
    };
    let ms = marks(l);
    let roc_marks = |max: f64| -> Vec<Mark> {
        ms.iter()
            .filter(|m| m.0.fpr().is_some_and(|f| f <= max))
            .filter_map(|(c, col, sh, t)| mk(c, col, *sh, t, c.fpr(), c.recall()))
            .collect()
    };
    let off_chart: Vec<String> = ms
        .iter()
        .filter_map(|(c, _, _, t)| Some((c.fpr().filter(|f| *f > 0.05)?, t)))
        .map(|(f, t)| format!("{t}: FPR {} (off chart)", pct(Some(f))))
        .collect();
    let pr_marks: Vec<Mark> = ms
        .iter()
        .filter_map(|(c, col, sh, t)| mk(c, col, *sh, t, c.recall(), c.precision()))
        .collect();
    let roc: Vec<(f64, f64)> = c.roc.iter().map(|p| (p.fpr, p.tpr)).collect();
    let line = |points, color, dashed, width| Line {
        points,
        color,
        dashed,
        width,
    };
    let recall = Axis::percent(1.0, 5, 0, "recall");
    let full = plot(
        &format!("ROC (AUC {})", num(l.auc)),
        &Axis::percent(1.0, 5, 0, "false-positive rate"),
        &recall,
        &[
            line(vec![(0.0, 0.0), (1.0, 1.0)], GREY, true, 1.0),
            line(roc.clone(), BLUE, false, 2.0),
        ],
        &roc_marks(1.0),
        &[],
    );
    let zoom = plot(
        "ROC, low false-positive rates",
        &Axis::percent(0.05, 5, 0, "false-positive rate (0-5%)"),
        &recall,
        &[line(clip_x(&roc, 0.05), BLUE, false, 2.0)],
        &roc_marks(0.05),
        &off_chart,
    );
    let base = l.positives as f64 / (l.positives + l.negatives) as f64;
    let pr: Vec<(f64, f64)> = c.pr.iter().map(|p| (p.recall, p.precision)).collect();
    let prc = plot(
        &format!("Precision / recall (AP {})", num(l.average_precision)),
        &recall,
        &Axis::percent(1.0, 5, 0, "precision"),
        &[
            line(vec![(0.0, base), (1.0, base)], GREY, true, 1.0),
            line(pr, BLUE, false, 2.0),
        ],
        &pr_marks,
        &[],
    );
    format!("<div class=\"plots\">\n{full}{zoom}{prc}</div>\n")
}

fn describe(c: &Confusion) -> String {
    format!(
        "precision {}, recall {}, FPR {}",
        pct(c.precision()),
        pct(c.recall()),
        pct(c.fpr())
    )
}

const LEGEND: &str =
    "<p><span class=\"k\"><svg width=\"18\" height=\"8\"><path d=\"M0 4H18\" stroke=\"#1f6fb5\" stroke-width=\"2\"/></svg> classifier</span>\
<span class=\"k\"><svg width=\"18\" height=\"8\"><path d=\"M0 4H18\" stroke=\"#999\" stroke-dasharray=\"4 3\"/></svg> chance (ROC) / share of positives (PR)</span>\
<span class=\"k\"><b style=\"color:#e07b00\">&#9679;</b> policy threshold</span>\
<span class=\"k\"><b style=\"color:#1a9850\">&#9670;</b> lowest threshold within 1% FPR</span>\
<span class=\"k\"><b style=\"color:#8e44ad\">&#9670;</b> within 0.1% FPR</span></p>\n";

impl Report {
    /// One self-contained HTML page (inline CSS and SVG, no script, no external
    /// assets); every piece of data in it is escaped.
    pub fn render_html(&self, title: &str) -> String {
        let mut s = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title>\
             <style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n<p>{}</p>\n",
            esc(&text::headline(self)),
            t = esc(title),
        );
        let mut section = |h: &str, note: &str, body: String| {
            let _ = write!(
                s,
                "<h2>{}</h2>\n<p class=\"note\">{}</p>\n{body}",
                esc(h),
                esc(note)
            );
        };
        section(
            "Overall",
            "The policy's decision (flagged) against every non-benign row.",
            table(&text::overall(self)),
        );
        section(
            "By tag",
            "Share of rows flagged per label tag; for benign rows this is the false-positive rate.",
            table(&text::tags(self)),
        );
        if !self.per_rule.is_empty() {
            section(
                "Rules",
                "TP: fired on a non-benign row; FP: fired on a benign row. Recall is against all non-benign rows.",
                table(&text::rules(self)),
            );
        }
        if !self.per_label.is_empty() {
            let mut body = table(&text::labels(self));
            body.push_str("<h3>Lowest thresholds within a false-positive budget</h3>\n");
            body.push_str(&table(&text::suggestions(self)));
            body.push_str(LEGEND);
            for l in &self.per_label {
                let _ = write!(
                    body,
                    "<h3>{}</h3>\n<p class=\"note\">{} positives, {} benign, {} positive for other labels (left out), {} without a score.</p>\n{}\
                     <details><summary>Threshold sweep</summary>\n{}</details>\n",
                    esc(&l.name()),
                    l.positives,
                    l.negatives,
                    l.ignored,
                    l.missing,
                    label_plots(l),
                    table(&text::sweep(l))
                );
            }
            section(
                "Classifiers",
                "Score >= threshold. Positives are rows carrying the label (or the model name for `any`); negatives are benign rows only.",
                body,
            );
        }
        section(
            "Latency per text",
            "Policy time per text, classifiers included.",
            table(&text::latency(self)),
        );
        s.push_str("</body></html>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_at_edge() {
        let pts = [(0.0, 0.0), (0.02, 0.5), (0.1, 0.9)];
        assert_eq!(clip_x(&pts, 0.05), [(0.0, 0.0), (0.02, 0.5), (0.05, 0.65)]);
    }
}
