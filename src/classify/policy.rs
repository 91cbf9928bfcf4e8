//! The classifier set as the policy compiler sees it: labels to check references
//! against, and the encoder that embeds topic examples.

use std::sync::Arc;
use std::time::Duration;

use super::{Catalog, Classifiers, TextScores};
use crate::policy::eval::Join;
use crate::policy::model::{ScoreKey, ScoreSource};
use crate::policy::testing::Scorer;
use crate::policy::{ClassifierCatalog, Policy, RequestInfo, Scores, Text};

impl ClassifierCatalog for Classifiers {
    fn models(&self) -> Vec<(String, Vec<String>)> {
        Classifiers::models(self)
    }

    fn label_index(&self, model: Option<&str>, label: &str) -> Option<usize> {
        Classifiers::label_index(self, model, label)
    }

    fn embed(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>, String>> {
        Some(self.embed_blocking(texts).map_err(|e| e.to_string()))
    }
}

impl ClassifierCatalog for Catalog {
    fn models(&self) -> Vec<(String, Vec<String>)> {
        Catalog::models(self)
    }

    fn label_index(&self, model: Option<&str>, label: &str) -> Option<usize> {
        Catalog::label_index(self, model, label)
    }

    fn embed(&self, _: &[&str]) -> Option<Result<Vec<Vec<f32>>, String>> {
        None
    }
}

/// Scores by position in the evaluated text slice; joined texts hold the highest score
/// of their parts (and all their parts' window embeddings).
#[derive(Default)]
pub struct ScoreTable {
    per_text: Vec<Option<Arc<TextScores>>>,
    /// Time spent waiting for the classifier.
    pub elapsed: Duration,
}

impl Scores for ScoreTable {
    fn score(&self, policy: &Policy, key: &ScoreKey, index: usize, _: &str) -> Option<f64> {
        score_of(policy, key, self.per_text.get(index)?.as_ref()?)
    }
}

/// The score `key` of `policy` reads from a text's classification.
pub fn score_of(policy: &Policy, key: &ScoreKey, s: &TextScores) -> Option<f64> {
    match key.source {
        ScoreSource::Label(Some(i)) => s.scores.get(i).map(|v| f64::from(*v)),
        ScoreSource::Label(None) => None,
        ScoreSource::Topic(t) => Some(policy.topics.get(t)?.score(&s.embeddings)),
    }
}

impl ScoreTable {
    /// The table for `len` texts of which those at `wanted` were scored (`scored` in the
    /// same order); `texts[first_join + k]` joins the texts at `joins[k].parts`.
    pub fn build(
        len: usize,
        wanted: &[usize],
        scored: Vec<Arc<TextScores>>,
        first_join: usize,
        joins: &[Join],
    ) -> Self {
        let mut per_text: Vec<Option<Arc<TextScores>>> = vec![None; len];
        for (&i, s) in wanted.iter().zip(scored) {
            per_text[i] = Some(s);
        }
        for (k, j) in joins.iter().enumerate() {
            let parts: Vec<&TextScores> = j
                .parts
                .iter()
                .filter_map(|&p| per_text.get(p)?.as_deref())
                .collect();
            let merged = (parts.len() == j.parts.len()).then(|| Arc::new(merge(&parts)));
            if let (Some(m), Some(slot)) = (merged, per_text.get_mut(first_join + k)) {
                *slot = Some(m);
            }
        }
        Self {
            per_text,
            elapsed: Duration::ZERO,
        }
    }

    /// The scores of the text at `index`, if it was classified.
    pub fn get(&self, index: usize) -> Option<&TextScores> {
        self.per_text.get(index)?.as_deref()
    }
}

/// The scores of several texts judged as one: the highest per label, every window.
fn merge(parts: &[&TextScores]) -> TextScores {
    let mut out = TextScores::default();
    for p in parts {
        if out.scores.len() < p.scores.len() {
            out.scores.resize(p.scores.len(), f32::NEG_INFINITY);
        }
        for (o, s) in out.scores.iter_mut().zip(&p.scores) {
            *o = o.max(*s);
        }
        out.embeddings.extend(p.embeddings.iter().cloned());
        out.windows += p.windows;
        out.truncated |= p.truncated;
    }
    out
}

impl Scorer for Classifiers {
    fn score(
        &self,
        policy: &Policy,
        req: &RequestInfo<'_>,
        texts: &[Text<'_>],
        first_join: usize,
        joins: &[Join],
    ) -> Result<ScoreTable, String> {
        let wanted = policy.texts_to_score(req, texts);
        let batch: Vec<&str> = wanted.iter().map(|&i| texts[i].text).collect();
        let scored = if batch.is_empty() {
            Vec::new()
        } else {
            self.classify_blocking(&batch).map_err(|e| e.to_string())?
        };
        Ok(ScoreTable::build(
            texts.len(),
            &wanted,
            scored,
            first_join,
            joins,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::openai::Role;

    fn scores(v: &[f32], window: f32) -> Arc<TextScores> {
        Arc::new(TextScores {
            scores: v.to_vec(),
            embeddings: vec![Arc::from(vec![window])],
            windows: 1,
            truncated: false,
        })
    }

    #[test]
    fn a_join_holds_the_highest_score_of_its_parts_and_all_their_windows() {
        let join = Join {
            role: Role::User,
            latest: true,
            text: "a\nb".into(),
            parts: vec![0, 2],
        };
        let table = ScoreTable::build(
            4,
            &[0, 2],
            vec![scores(&[0.1, 0.9], 1.0), scores(&[0.7, 0.2], -1.0)],
            3,
            std::slice::from_ref(&join),
        );
        let joined = table.get(3).expect("the join is scored");
        assert_eq!(joined.scores, vec![0.7, 0.9]);
        assert_eq!(joined.embeddings.len(), 2);
        assert_eq!(joined.windows, 2);
        assert!(table.get(1).is_none(), "an unscored text stays unscored");
    }

    #[test]
    fn a_join_with_an_unscored_part_is_unscored() {
        let join = Join {
            role: Role::User,
            latest: true,
            text: "a\nb".into(),
            parts: vec![0, 1],
        };
        let table = ScoreTable::build(3, &[0], vec![scores(&[0.5], 1.0)], 2, &[join]);
        assert!(table.get(2).is_none());
    }
}
