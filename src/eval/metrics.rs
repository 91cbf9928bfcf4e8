//! Confusion counts, ROC and precision/recall curves, threshold sweeps.
//!
//! A score flags a sample when `score >= threshold`. Ties are handled by treating
//! all samples with the same score as one step of the curve.

use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Counts of a binary decision against the truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Positives flagged.
    pub tp: u64,
    /// Negatives (benign) flagged.
    pub fp: u64,
    /// Positives missed.
    pub fn_: u64,
    /// Negatives passed.
    pub tn: u64,
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl Confusion {
    /// Adds one sample.
    pub fn add(&mut self, positive: bool, flagged: bool) {
        match (positive, flagged) {
            (true, true) => self.tp += 1,
            (true, false) => self.fn_ += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
        }
    }

    /// TP / (TP + FP); None when nothing was flagged.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }

    /// TP / positives; None without positives.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// FP / negatives; None without negatives.
    pub fn fpr(&self) -> Option<f64> {
        ratio(self.fp, self.fp + self.tn)
    }

    /// Harmonic mean of precision and recall; None when either is undefined.
    pub fn f1(&self) -> Option<f64> {
        let (p, r) = (self.precision()?, self.recall()?);
        Some(if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        })
    }
}

impl Serialize for Confusion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Confusion", 8)?;
        st.serialize_field("tp", &self.tp)?;
        st.serialize_field("fp", &self.fp)?;
        st.serialize_field("fn", &self.fn_)?;
        st.serialize_field("tn", &self.tn)?;
        st.serialize_field("precision", &self.precision())?;
        st.serialize_field("recall", &self.recall())?;
        st.serialize_field("fpr", &self.fpr())?;
        st.serialize_field("f1", &self.f1())?;
        st.end()
    }
}

/// What a sample is for the metric at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// Counts as a positive.
    Positive,
    /// Benign: the only negatives.
    Negative,
    /// Positive for something else: neither TP nor FP (still counted as flagged).
    Ignored,
}

/// A point of the ROC curve: flagging at `score >= threshold` gives (`fpr`, `tpr`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RocPoint {
    /// Threshold (`inf` for the origin).
    pub threshold: f64,
    /// False-positive rate.
    pub fpr: f64,
    /// True-positive rate (recall).
    pub tpr: f64,
}

/// A point of the precision/recall curve.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PrPoint {
    /// Threshold.
    pub threshold: f64,
    /// Recall.
    pub recall: f64,
    /// Precision.
    pub precision: f64,
}

/// ROC and PR curves with their areas.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curves {
    /// From (0, 0) to (1, 1); empty without both positives and negatives.
    pub roc: Vec<RocPoint>,
    /// One point per distinct score, highest threshold first; empty without positives.
    pub pr: Vec<PrPoint>,
    /// Area under the ROC curve (trapezoids; ties count half).
    pub auc: Option<f64>,
    /// Average precision: sum over steps of (recall gain) x precision.
    pub average_precision: Option<f64>,
}

/// Cumulative counts after each distinct score, highest first: (score, tp, fp).
fn steps(samples: &[(f64, Truth)]) -> (Vec<(f64, u64, u64)>, u64, u64) {
    let mut s: Vec<(f64, bool)> = samples
        .iter()
        .filter(|(v, t)| !v.is_nan() && *t != Truth::Ignored)
        .map(|&(v, t)| (v, t == Truth::Positive))
        .collect();
    s.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp, mut out) = (0, 0, Vec::new());
    for (i, &(v, pos)) in s.iter().enumerate() {
        if pos {
            tp += 1;
        } else {
            fp += 1;
        }
        if s.get(i + 1).is_none_or(|n| n.0 != v) {
            out.push((v, tp, fp));
        }
    }
    (out, tp, fp)
}

/// ROC and PR curves of scored samples (NaN scores and ignored samples left out).
pub fn curves(samples: &[(f64, Truth)]) -> Curves {
    let (steps, p, n) = steps(samples);
    let mut c = Curves::default();
    if p > 0 && n > 0 {
        c.roc.push(RocPoint {
            threshold: f64::INFINITY,
            fpr: 0.0,
            tpr: 0.0,
        });
        let mut auc = 0.0;
        for &(v, tp, fp) in &steps {
            let last = c.roc[c.roc.len() - 1];
            let pt = RocPoint {
                threshold: v,
                fpr: fp as f64 / n as f64,
                tpr: tp as f64 / p as f64,
            };
            auc += (pt.fpr - last.fpr) * (pt.tpr + last.tpr) / 2.0;
            c.roc.push(pt);
        }
        c.auc = Some(auc);
    }
    if p > 0 {
        let (mut ap, mut last_recall) = (0.0, 0.0);
        for &(v, tp, fp) in &steps {
            let pt = PrPoint {
                threshold: v,
                recall: tp as f64 / p as f64,
                precision: tp as f64 / (tp + fp) as f64,
            };
            ap += (pt.recall - last_recall) * pt.precision;
            last_recall = pt.recall;
            c.pr.push(pt);
        }
        c.average_precision = Some(ap);
    }
    c
}

/// Confusion counts of `score >= threshold` plus how many scored samples it flags
/// (ignored ones included).
pub fn at_threshold(samples: &[(f64, Truth)], threshold: f64) -> (Confusion, u64) {
    let (mut c, mut flagged) = (Confusion::default(), 0);
    for &(v, t) in samples.iter().filter(|(v, _)| !v.is_nan()) {
        let hit = v >= threshold;
        flagged += u64::from(hit);
        if t != Truth::Ignored {
            c.add(t == Truth::Positive, hit);
        }
    }
    (c, flagged)
}

/// One threshold of a sweep.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SweepRow {
    /// The threshold.
    pub threshold: f64,
    /// Whether this is the threshold the policy uses.
    pub policy: bool,
    /// Scored samples flagged (positives for other labels included).
    pub flagged: u64,
    /// Counts against positives and benign rows.
    pub confusion: Confusion,
}

/// Thresholds 0.05, 0.10 ... 0.95, plus `policy` if it is not one of them.
pub fn sweep(samples: &[(f64, Truth)], policy: Option<f64>) -> Vec<SweepRow> {
    let mut ts: Vec<f64> = (1..=19).map(|i| f64::from(i) / 20.0).collect();
    if let Some(p) = policy.filter(|p| p.is_finite()) {
        if !ts.iter().any(|t| (t - p).abs() < 1e-9) {
            ts.push(p);
            ts.sort_by(f64::total_cmp);
        }
    }
    ts.into_iter()
        .map(|t| {
            let (confusion, flagged) = at_threshold(samples, t);
            let policy = policy.is_some_and(|p| (t - p).abs() < 1e-9);
            SweepRow {
                threshold: t,
                policy,
                flagged,
                confusion,
            }
        })
        .collect()
}

/// The lowest threshold whose false-positive rate stays within a target.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Suggestion {
    /// The target false-positive rate (0.01 for 1%).
    pub target_fpr: f64,
    /// Benign rows that may be flagged at that rate (floor of target x benign).
    pub allowed_fp: u64,
    /// A score seen in the data: flagging at `>= threshold` meets the target.
    pub threshold: f64,
    /// Counts at that threshold.
    pub confusion: Confusion,
}

/// The lowest observed score `t` such that `score >= t` keeps the FPR within
/// `target`; None without benign or positive samples, or when even the highest
/// score exceeds the target.
pub fn lowest_threshold_for_fpr(samples: &[(f64, Truth)], target: f64) -> Option<Suggestion> {
    let (steps, p, n) = steps(samples);
    if p == 0 || n == 0 {
        return None;
    }
    let allowed_fp = (target * n as f64 + 1e-9).floor() as u64;
    let &(threshold, tp, fp) = steps.iter().take_while(|s| s.2 <= allowed_fp).last()?;
    let confusion = Confusion {
        tp,
        fp,
        fn_: p - tp,
        tn: n - fp,
    };
    Some(Suggestion {
        target_fpr: target,
        allowed_fp,
        threshold,
        confusion,
    })
}

#[cfg(test)]
mod tests;
