//! Prometheus handles the classifier runtime updates.
//!
//! The runtime does not know the proxy's metric registry: the caller creates
//! [`ClassifyMetrics`] with [`ClassifyMetrics::register`] and passes it in
//! [`ClassifyOptions`](super::ClassifyOptions). Labels are bounded: the only
//! label is the classifier (model folder) name.

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntGauge, Opts, Registry};

/// Buckets for one model pass over a batch: 100 µs to 5 s.
const DURATION_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0,
];

/// Buckets for texts per batch.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// Handles to the classifier metrics. Cloning shares the handles.
#[derive(Clone)]
pub struct ClassifyMetrics {
    /// `parapet_classifier_duration_seconds{classifier}`: one model's pass over one batch.
    pub duration: HistogramVec,
    /// `parapet_classifier_batch_size`: texts scored per worker batch.
    pub batch_size: Histogram,
    /// `parapet_classifier_cache_hits_total`: texts answered from the score cache.
    pub cache_hits: IntCounter,
    /// `parapet_classifier_cache_misses_total`: texts that had to be scored.
    pub cache_misses: IntCounter,
    /// `parapet_classifier_queue_depth`: texts waiting for a worker.
    pub queue_depth: IntGauge,
}

impl ClassifyMetrics {
    /// Creates the handles without registering them anywhere (tests, tools).
    pub fn unregistered() -> Self {
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "parapet_classifier_duration_seconds",
                "Time one classifier spent on one batch, by classifier.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["classifier"],
        )
        .expect("valid metric");
        let batch_size = Histogram::with_opts(
            HistogramOpts::new(
                "parapet_classifier_batch_size",
                "Texts scored together in one classifier batch.",
            )
            .buckets(BATCH_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        let cache_hits = IntCounter::with_opts(Opts::new(
            "parapet_classifier_cache_hits_total",
            "Texts whose classifier scores came from the cache.",
        ))
        .expect("valid metric");
        let cache_misses = IntCounter::with_opts(Opts::new(
            "parapet_classifier_cache_misses_total",
            "Texts whose classifier scores were not cached.",
        ))
        .expect("valid metric");
        let queue_depth = IntGauge::with_opts(Opts::new(
            "parapet_classifier_queue_depth",
            "Texts waiting for a classifier worker.",
        ))
        .expect("valid metric");
        Self {
            duration,
            batch_size,
            cache_hits,
            cache_misses,
            queue_depth,
        }
    }

    /// Creates the handles and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self::unregistered();
        metrics.register_into(registry)?;
        Ok(metrics)
    }

    /// Registers these handles in `registry` too (one runtime shared by several
    /// registries reports to each of them).
    pub fn register_into(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.duration.clone()))?;
        registry.register(Box::new(self.batch_size.clone()))?;
        registry.register(Box::new(self.cache_hits.clone()))?;
        registry.register(Box::new(self.cache_misses.clone()))?;
        registry.register(Box::new(self.queue_depth.clone()))?;
        Ok(())
    }
}

impl Default for ClassifyMetrics {
    fn default() -> Self {
        Self::unregistered()
    }
}

impl std::fmt::Debug for ClassifyMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClassifyMetrics")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_every_metric_once() {
        let registry = Registry::new();
        let m = ClassifyMetrics::register(&registry).unwrap();
        m.duration.with_label_values(&["minilm"]).observe(0.01);
        m.batch_size.observe(3.0);
        m.cache_hits.inc();
        m.cache_misses.inc();
        m.queue_depth.set(2);
        let names: Vec<String> = registry
            .gather()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        assert_eq!(names.len(), 5, "{names:?}");
        assert!(ClassifyMetrics::register(&registry).is_err());
    }
}
