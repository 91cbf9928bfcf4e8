//! The whole evaluation: overall, per tag, per rule, per classifier label, latency.

use serde::Serialize;
use std::collections::BTreeMap;

use super::data::Row;
use super::latency::LatencyStats;
use super::metrics::{self, Confusion, Curves, Suggestion, SweepRow, Truth};
use super::record::{LabelSpec, Record};
use super::EvalError;

/// How many rows were read and evaluated.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Rows in the data.
    pub rows: usize,
    /// Rows evaluated (records).
    pub evaluated: usize,
    /// Evaluated benign rows.
    pub benign: usize,
    /// Evaluated rows with any other label.
    pub non_benign: usize,
    /// Evaluated rows the policy flagged.
    pub flagged: usize,
}

/// The policy's decisions for the rows carrying one tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagStats {
    /// The tag.
    pub tag: String,
    /// Evaluated rows with the tag.
    pub rows: u64,
    /// Of those, flagged by the policy.
    pub flagged: u64,
}

/// How one rule behaved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleStats {
    /// Rule id.
    pub id: String,
    /// Rows it fired on.
    pub fired: u64,
    /// Fired on non-benign rows (TP), on benign (FP); recall is against all
    /// non-benign rows, FPR against benign rows.
    pub confusion: Confusion,
    /// Rows fired on, per tag (tags it never fired for left out).
    pub by_tag: Vec<TagStats>,
}

/// How one classifier label scores against the rows it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelStats {
    /// Model name.
    pub model: String,
    /// Label name.
    pub label: String,
    /// Threshold the policy uses, if any.
    pub threshold: Option<f64>,
    /// Scored positive rows.
    pub positives: u64,
    /// Scored benign rows.
    pub negatives: u64,
    /// Scored rows positive for something else (outside this label's metrics).
    pub ignored: u64,
    /// Rows without a score (NaN), left out of everything.
    pub missing: u64,
    /// Score >= policy threshold.
    pub at_threshold: Option<Confusion>,
    /// The policy's final decision on this label's positives and benign rows.
    pub policy: Confusion,
    /// Area under the ROC curve.
    pub auc: Option<f64>,
    /// Average precision.
    pub average_precision: Option<f64>,
    /// Lowest threshold keeping the FPR within 1%.
    pub fpr_1pct: Option<Suggestion>,
    /// Lowest threshold keeping the FPR within 0.1%.
    pub fpr_01pct: Option<Suggestion>,
    /// Thresholds 0.05..=0.95 and the policy's.
    pub sweep: Vec<SweepRow>,
    /// ROC and PR curves (in the HTML, not the JSON).
    #[serde(skip)]
    pub curves: Curves,
}

impl LabelStats {
    /// `model/label`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.model, self.label)
    }
}

/// Everything `parapet eval` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Row counts.
    pub counts: Counts,
    /// The policy's decision (flagged) against non-benign rows.
    pub overall: Confusion,
    /// The policy's decision per tag (all tags seen, benign first).
    pub per_tag: Vec<TagStats>,
    /// Every rule in `rule_ids` plus any other that fired, in that order.
    pub per_rule: Vec<RuleStats>,
    /// One per [`LabelSpec`].
    pub per_label: Vec<LabelStats>,
    /// Policy time per text.
    pub latency: LatencyStats,
}

impl Report {
    /// Computes the report. Fails when a record points past `rows` or has a score
    /// count different from `labels`.
    pub fn build(
        rows: &[Row],
        records: &[Record],
        labels: &[LabelSpec],
        rule_ids: &[String],
    ) -> Result<Report, EvalError> {
        for (index, r) in records.iter().enumerate() {
            let message = if r.row >= rows.len() {
                format!("row index {} is past the {} rows", r.row, rows.len())
            } else if r.scores.len() != labels.len() {
                format!("{} scores for {} labels", r.scores.len(), labels.len())
            } else {
                continue;
            };
            return Err(EvalError::Record { index, message });
        }
        let mut counts = Counts {
            rows: rows.len(),
            evaluated: records.len(),
            ..Counts::default()
        };
        let mut overall = Confusion::default();
        let mut tags: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for r in records {
            let row = &rows[r.row];
            let positive = !row.is_benign();
            overall.add(positive, r.flagged);
            counts.benign += usize::from(!positive);
            counts.non_benign += usize::from(positive);
            counts.flagged += usize::from(r.flagged);
            for t in &row.tags {
                let e = tags.entry(t.as_str()).or_default();
                e.0 += 1;
                e.1 += u64::from(r.flagged);
            }
        }
        let per_tag = tag_list(
            tags.into_iter()
                .map(|(t, (rows, flagged))| (t, rows, flagged)),
        );
        Ok(Report {
            counts,
            overall,
            per_tag,
            per_rule: rule_stats(rows, records, rule_ids),
            per_label: labels
                .iter()
                .enumerate()
                .map(|(i, l)| label_stats(rows, records, l, i))
                .collect(),
            latency: LatencyStats::from_samples(records.iter().map(|r| r.latency).collect()),
        })
    }
}

/// Benign first, then the other tags alphabetically.
fn tag_list<'a>(it: impl Iterator<Item = (&'a str, u64, u64)>) -> Vec<TagStats> {
    let mut v: Vec<TagStats> = it
        .map(|(tag, rows, flagged)| TagStats {
            tag: tag.to_string(),
            rows,
            flagged,
        })
        .collect();
    v.sort_by_key(|t| (t.tag != super::data::BENIGN, t.tag.clone()));
    v
}

fn rule_stats(rows: &[Row], records: &[Record], rule_ids: &[String]) -> Vec<RuleStats> {
    let mut ids: Vec<&str> = rule_ids.iter().map(String::as_str).collect();
    for r in records {
        for id in &r.fired {
            if !ids.contains(&id.as_str()) {
                ids.push(id);
            }
        }
    }
    let (benign, non_benign) = records.iter().fold((0, 0), |(b, n), r| {
        let is_b = rows[r.row].is_benign();
        (b + u64::from(is_b), n + u64::from(!is_b))
    });
    ids.into_iter()
        .map(|id| {
            let mut c = Confusion::default();
            let mut tags: BTreeMap<&str, u64> = BTreeMap::new();
            for r in records.iter().filter(|r| r.fired.iter().any(|f| f == id)) {
                let row = &rows[r.row];
                c.add(!row.is_benign(), true);
                for t in &row.tags {
                    *tags.entry(t.as_str()).or_default() += 1;
                }
            }
            let fired = c.tp + c.fp;
            c.fn_ = non_benign - c.tp;
            c.tn = benign - c.fp;
            let by_tag = tag_list(tags.into_iter().map(|(t, n)| (t, n, n)));
            RuleStats {
                id: id.to_string(),
                fired,
                confusion: c,
                by_tag,
            }
        })
        .collect()
}

fn label_stats(rows: &[Row], records: &[Record], spec: &LabelSpec, i: usize) -> LabelStats {
    let mut samples = Vec::with_capacity(records.len());
    let (mut policy, mut missing, mut ignored) = (Confusion::default(), 0, 0);
    for r in records {
        let row = &rows[r.row];
        let truth = if spec.positive(row) {
            Truth::Positive
        } else if row.is_benign() {
            Truth::Negative
        } else {
            Truth::Ignored
        };
        if truth != Truth::Ignored {
            policy.add(truth == Truth::Positive, r.flagged);
        }
        let score = r.scores[i];
        if score.is_nan() {
            missing += 1;
            continue;
        }
        ignored += u64::from(truth == Truth::Ignored);
        samples.push((score, truth));
    }
    let curves = metrics::curves(&samples);
    let positives = samples.iter().filter(|s| s.1 == Truth::Positive).count() as u64;
    LabelStats {
        model: spec.model.clone(),
        label: spec.label.clone(),
        threshold: spec.threshold,
        positives,
        negatives: samples.len() as u64 - positives - ignored,
        ignored,
        missing,
        at_threshold: spec.threshold.map(|t| metrics::at_threshold(&samples, t).0),
        policy,
        auc: curves.auc,
        average_precision: curves.average_precision,
        fpr_1pct: metrics::lowest_threshold_for_fpr(&samples, 0.01),
        fpr_01pct: metrics::lowest_threshold_for_fpr(&samples, 0.001),
        sweep: metrics::sweep(&samples, spec.threshold),
        curves,
    }
}

#[cfg(test)]
mod tests;
