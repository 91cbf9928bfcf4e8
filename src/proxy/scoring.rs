//! Classifier and topic scores for one evaluation: the texts some rule will score are
//! classified together (one call, batched with other requests' texts by the runtime),
//! before the policy runs, under the configured latency budget.

use std::time::Instant;

use super::ctx::RequestCtx;
use crate::classify::{ClassifyError, ScoreTable};
use crate::policy::eval::Join;
use crate::policy::{Policy, RequestInfo, Text};

/// Classifies the texts of `texts` that some rule scores. `joins[k]` describes
/// `texts[first_join + k]`, with `parts` indexing `texts`. On failure (timeout,
/// overload, no runtime) the table stays empty, so every score is unavailable and
/// each rule's `on_error` decides.
pub(crate) async fn score(
    ctx: &RequestCtx,
    policy: &Policy,
    info: &RequestInfo<'_>,
    texts: &[Text<'_>],
    first_join: usize,
    joins: &[Join],
) -> ScoreTable {
    if !policy.uses_classifier {
        return ScoreTable::default();
    }
    let wanted = policy.texts_to_score(info, texts);
    if wanted.is_empty() {
        return ScoreTable::default();
    }
    let start = Instant::now();
    let shared = ctx.shared();
    let Some(classifiers) = &shared.classifiers else {
        return ScoreTable::default();
    };
    let batch: Vec<&str> = wanted.iter().map(|&i| texts[i].text).collect();
    let result = classifiers
        .classify(&batch, shared.config.classifiers.budget)
        .await;
    let scored = match result {
        Ok(v) => v,
        Err(e) => {
            classify_failed(ctx, &e);
            let mut table = ScoreTable::default();
            table.elapsed = start.elapsed();
            return table;
        }
    };
    let mut table = ScoreTable::build(texts.len(), &wanted, scored, first_join, joins);
    table.elapsed = start.elapsed();
    table
}

/// Counts and logs a classification that could not be had (no text is logged).
pub(crate) fn classify_failed(ctx: &RequestCtx, e: &ClassifyError) {
    let kind = match e {
        ClassifyError::Timeout => "timeout",
        ClassifyError::Overloaded => "overloaded",
        _ => "failed",
    };
    ctx.shared()
        .metrics
        .classifier_errors
        .with_label_values(&[kind])
        .inc();
    tracing::warn!(request_id = ?ctx.request_id, kind, error = %e, "classification unavailable; rules apply on_error");
}
