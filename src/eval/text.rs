//! The terminal rendering, and the tables the HTML page shares with it.

use std::fmt::Write;

use super::metrics::Suggestion;
use super::report::{LabelStats, Report, TagStats};
use super::table::{ms, num, pct, thr, Table};

/// The one-line summary at the top.
pub(super) fn headline(r: &Report) -> String {
    let c = &r.counts;
    let of = if c.evaluated == c.rows {
        String::new()
    } else {
        format!(" of {}", c.rows)
    };
    format!(
        "{}{of} rows evaluated: {} benign, {} non-benign; policy flagged {}",
        c.evaluated, c.benign, c.non_benign, c.flagged
    )
}

pub(super) fn overall(r: &Report) -> Table {
    let c = &r.overall;
    let mut t = Table::new(&[
        ("precision", true),
        ("recall", true),
        ("FPR", true),
        ("F1", true),
        ("TP", true),
        ("FP", true),
        ("FN", true),
        ("TN", true),
    ]);
    t.row(vec![
        pct(c.precision()),
        pct(c.recall()),
        pct(c.fpr()),
        pct(c.f1()),
        c.tp.to_string(),
        c.fp.to_string(),
        c.fn_.to_string(),
        c.tn.to_string(),
    ]);
    t
}

pub(super) fn tags(r: &Report) -> Table {
    let mut t = Table::new(&[
        ("tag", false),
        ("rows", true),
        ("flagged", true),
        ("rate", true),
    ]);
    for s in &r.per_tag {
        let rate = (s.rows > 0).then(|| s.flagged as f64 / s.rows as f64);
        t.row(vec![
            s.tag.clone(),
            s.rows.to_string(),
            s.flagged.to_string(),
            pct(rate),
        ]);
    }
    t
}

fn by_tag(tags: &[TagStats]) -> String {
    let parts: Vec<String> = tags
        .iter()
        .map(|t| format!("{} {}", t.tag, t.rows))
        .collect();
    parts.join(", ")
}

pub(super) fn rules(r: &Report) -> Table {
    let mut t = Table::new(&[
        ("rule", false),
        ("fired", true),
        ("TP", true),
        ("FP", true),
        ("precision", true),
        ("recall", true),
        ("FPR", true),
        ("fired by tag", false),
    ]);
    for s in &r.per_rule {
        let c = &s.confusion;
        t.row(vec![
            s.id.clone(),
            s.fired.to_string(),
            c.tp.to_string(),
            c.fp.to_string(),
            pct(c.precision()),
            pct(c.recall()),
            pct(c.fpr()),
            by_tag(&s.by_tag),
        ]);
    }
    t
}

pub(super) fn labels(r: &Report) -> Table {
    let mut t = Table::new(&[
        ("label", false),
        ("positives", true),
        ("benign", true),
        ("missing", true),
        ("AUC", true),
        ("AP", true),
        ("threshold", true),
        ("precision", true),
        ("recall", true),
        ("FPR", true),
        ("policy recall", true),
    ]);
    for l in &r.per_label {
        let c = l.at_threshold;
        t.row(vec![
            l.name(),
            l.positives.to_string(),
            l.negatives.to_string(),
            l.missing.to_string(),
            num(l.auc),
            num(l.average_precision),
            l.threshold.map_or_else(|| "-".into(), thr),
            pct(c.and_then(|c| c.precision())),
            pct(c.and_then(|c| c.recall())),
            pct(c.and_then(|c| c.fpr())),
            pct(l.policy.recall()),
        ]);
    }
    t
}

pub(super) fn suggestions(r: &Report) -> Table {
    let mut t = Table::new(&[
        ("label", false),
        ("target FPR", true),
        ("threshold", true),
        ("precision", true),
        ("recall", true),
        ("FPR", true),
        ("benign flagged", true),
    ]);
    for l in &r.per_label {
        for (target, s) in [("1%", &l.fpr_1pct), ("0.1%", &l.fpr_01pct)] {
            t.row(suggestion_row(l.name(), target, s.as_ref()));
        }
    }
    t
}

fn suggestion_row(name: String, target: &str, s: Option<&Suggestion>) -> Vec<String> {
    let Some(s) = s else {
        let none = "-".to_string();
        return vec![
            name,
            target.into(),
            "none".into(),
            none.clone(),
            none.clone(),
            none.clone(),
            none,
        ];
    };
    let c = &s.confusion;
    vec![
        name,
        target.into(),
        thr(s.threshold),
        pct(c.precision()),
        pct(c.recall()),
        pct(c.fpr()),
        format!("{} (max {})", c.fp, s.allowed_fp),
    ]
}

pub(super) fn sweep(l: &LabelStats) -> Table {
    let mut t = Table::new(&[
        ("threshold", true),
        ("flagged", true),
        ("precision", true),
        ("recall", true),
        ("FPR", true),
        ("", false),
    ]);
    for s in &l.sweep {
        let c = &s.confusion;
        t.row(vec![
            thr(s.threshold),
            s.flagged.to_string(),
            pct(c.precision()),
            pct(c.recall()),
            pct(c.fpr()),
            if s.policy {
                "<- policy".into()
            } else {
                String::new()
            },
        ]);
    }
    t
}

pub(super) fn latency(r: &Report) -> Table {
    let l = &r.latency;
    let mut t = Table::new(&[
        ("texts", true),
        ("p50", true),
        ("p90", true),
        ("p99", true),
        ("max", true),
        ("mean", true),
    ]);
    t.row(vec![
        l.count.to_string(),
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.max),
        ms(l.mean),
    ]);
    t
}

impl Report {
    /// Aligned tables for a terminal; `sweep` adds each label's threshold sweep.
    pub fn render_text(&self, sweep: bool) -> String {
        let mut out = format!("{}\n", headline(self));
        let mut section = |title: &str, t: Table| {
            let _ = write!(out, "\n{title}\n{}", t.render("  "));
        };
        section("Overall (policy flagged vs non-benign rows)", overall(self));
        section(
            "By tag (rate: share flagged; for benign, the false-positive rate)",
            tags(self),
        );
        if !self.per_rule.is_empty() {
            section(
                "Rules (TP: fired on non-benign, FP: fired on benign)",
                rules(self),
            );
        }
        if !self.per_label.is_empty() {
            section(
                "Classifiers (score >= threshold; negatives are benign rows only)",
                labels(self),
            );
            section(
                "Lowest thresholds within a false-positive budget",
                suggestions(self),
            );
            if sweep {
                for l in &self.per_label {
                    let title = format!(
                        "Sweep {} ({} positives, {} benign)",
                        l.name(),
                        l.positives,
                        l.negatives
                    );
                    section(&title, self::sweep(l));
                }
            }
        }
        section("Latency per text", latency(self));
        out
    }
}
