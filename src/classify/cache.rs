//! The score cache: text hash -> scores, bounded, shared by every caller.
//!
//! Keys are 128 bits made of two SipHash values with keys drawn at random
//! per process, so texts cannot be crafted offline to collide. Capacity is
//! counted in windows (a text of 3 windows weighs 3), which bounds memory
//! whatever the text lengths.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use super::TextScores;

/// Weighs an entry by its window count.
#[derive(Debug, Clone, Copy)]
struct WindowWeighter;

impl Weighter<u128, Arc<TextScores>> for WindowWeighter {
    fn weight(&self, _key: &u128, val: &Arc<TextScores>) -> u64 {
        val.windows.max(1) as u64
    }
}

/// The cache, or nothing when its capacity is 0.
pub(crate) struct ScoreCache {
    cache: Option<Cache<u128, Arc<TextScores>, WindowWeighter>>,
    hashers: (RandomState, RandomState),
}

impl ScoreCache {
    /// A cache holding up to `capacity` windows (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        let cache =
            (capacity > 0).then(|| Cache::with_weighter(capacity, capacity as u64, WindowWeighter));
        Self {
            cache,
            hashers: (RandomState::new(), RandomState::new()),
        }
    }

    /// The key of `text`.
    pub fn key(&self, text: &str) -> u128 {
        let hi = self.hashers.0.hash_one(text);
        let lo = self.hashers.1.hash_one(text);
        (u128::from(hi) << 64) | u128::from(lo)
    }

    /// The cached scores of `key`.
    pub fn get(&self, key: u128) -> Option<Arc<TextScores>> {
        self.cache.as_ref()?.get(&key)
    }

    /// Stores scores.
    pub fn insert(&self, key: u128, scores: Arc<TextScores>) {
        if let Some(cache) = &self.cache {
            cache.insert(key, scores);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(windows: usize) -> Arc<TextScores> {
        Arc::new(TextScores {
            scores: vec![0.5],
            embeddings: Vec::new(),
            windows,
            truncated: false,
        })
    }

    #[test]
    fn keys_differ_and_are_stable() {
        let cache = ScoreCache::new(10);
        assert_eq!(cache.key("a"), cache.key("a"));
        assert_ne!(cache.key("a"), cache.key("b"));
        assert_ne!(cache.key(""), cache.key(" "));
    }

    #[test]
    fn stores_and_bounds() {
        let cache = ScoreCache::new(100);
        let key = cache.key("x");
        assert!(cache.get(key).is_none());
        cache.insert(key, scores(1));
        assert_eq!(cache.get(key).unwrap().scores, [0.5]);
        for i in 0..1000 {
            cache.insert(cache.key(&i.to_string()), scores(3));
        }
        let held = (0..1000)
            .filter(|i| cache.get(cache.key(&i.to_string())).is_some())
            .count();
        assert!(held <= 40, "held {held} entries of weight 3 in 100");
        let off = ScoreCache::new(0);
        off.insert(key, scores(1));
        assert!(off.get(key).is_none());
    }
}
