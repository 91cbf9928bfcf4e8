//! Classifier scores for a guarded stream. The guard cannot wait inside its
//! synchronous vetting, so it asks here first: a window whose scores are not known
//! yet is queued (and nothing past it is released); the relay classifies the queue
//! asynchronously, fills the answers in and has the guard vet again.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::Arc;

use crate::classify::{score_of, TextScores};
use crate::policy::model::ScoreKey;
use crate::policy::{Policy, Scores};

/// Known scores by text, and texts waiting for theirs.
#[derive(Default)]
pub(crate) struct StreamScores {
    /// Whether some output rule reads scores of assistant text at all.
    enabled: bool,
    /// Scores by text hash; None: could not be had (the rules' `on_error` decides).
    known: HashMap<u64, Option<Arc<TextScores>>>,
    pending: Vec<String>,
}

fn key(text: &str) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(text)
}

impl StreamScores {
    /// Scores are needed when `enabled`.
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    /// Whether rules read scores here.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether `text` can be judged now; if not it is queued for classification.
    pub(crate) fn ready(&mut self, text: &str) -> bool {
        // An empty text scores 0 without a model (see `Policy::texts_to_score`).
        if !self.enabled || text.is_empty() || self.known.contains_key(&key(text)) {
            return true;
        }
        if !self.pending.iter().any(|p| p == text) {
            self.pending.push(text.to_owned());
        }
        false
    }

    /// Takes the queued texts (the relay classifies them).
    pub(crate) fn take_pending(&mut self) -> Vec<String> {
        std::mem::take(&mut self.pending)
    }

    /// Whether texts are queued.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Records the answers for `texts` (None: unavailable).
    pub(crate) fn fill(&mut self, texts: Vec<String>, scores: Option<Vec<Arc<TextScores>>>) {
        // Old windows are never asked again: keep the map small.
        self.known.clear();
        match scores {
            Some(s) if s.len() == texts.len() => {
                for (t, s) in texts.iter().zip(s) {
                    self.known.insert(key(t), Some(s));
                }
            }
            _ => {
                for t in &texts {
                    self.known.insert(key(t), None);
                }
            }
        }
    }
}

impl Scores for StreamScores {
    fn score(&self, policy: &Policy, k: &ScoreKey, _: usize, text: &str) -> Option<f64> {
        score_of(policy, k, self.known.get(&key(text))?.as_ref()?)
    }
}
