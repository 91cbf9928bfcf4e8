//! What the caller measured for one row, and which classifier labels to report.

use std::time::Duration;

use super::data::{Row, POSITIVE};

/// The outcome of running the policy over one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Index into the rows handed to [`Report::build`](super::Report::build).
    pub row: usize,
    /// Whether the policy flagged the row (decided block, or the chosen flag action).
    pub flagged: bool,
    /// Ids of the rules that fired.
    pub fired: Vec<String>,
    /// One score per [`LabelSpec`], in the same order; NaN when unavailable.
    pub scores: Vec<f64>,
    /// Time the policy took for this text (classifiers included).
    pub latency: Duration,
}

/// One classifier output to measure: `model`'s `label` (e.g. `harm` / `any`).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSpec {
    /// Model (classifier folder) name.
    pub model: String,
    /// Output label.
    pub label: String,
    /// Threshold the policy applies to this score, if a rule reads it.
    pub threshold: Option<f64>,
}

impl LabelSpec {
    /// `model/label`, as shown in reports.
    pub fn name(&self) -> String {
        format!("{}/{}", self.model, self.label)
    }

    /// Whether `row` is a positive for this label: it carries the tag `label`, or
    /// `model` when the label is `any`, or the generic `positive` tag (numeric and
    /// bool labels). Tags compare ASCII case-insensitively.
    pub fn positive(&self, row: &Row) -> bool {
        row.has_tag(&self.label)
            || (self.label == "any" && row.has_tag(&self.model))
            || row.has_tag(POSITIVE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tags: &[&str]) -> Row {
        Row {
            line: 1,
            text: String::new(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn spec(model: &str, label: &str) -> LabelSpec {
        LabelSpec {
            model: model.into(),
            label: label.into(),
            threshold: None,
        }
    }

    #[test]
    fn positives() {
        let any = spec("harm", "any");
        let cyber = spec("harm", "cyber");
        let inj = spec("injection", "injection");
        assert!(any.positive(&row(&["harm", "violence"])));
        assert!(cyber.positive(&row(&["harm", "cyber"])));
        assert!(!cyber.positive(&row(&["harm", "violence"])));
        assert!(!any.positive(&row(&["injection"])));
        assert!(inj.positive(&row(&["injection"])));
        assert!(inj.positive(&row(&["positive"])) && any.positive(&row(&["positive"])));
        assert!(!inj.positive(&row(&["benign"])));
        assert_eq!(any.name(), "harm/any");
    }
}
