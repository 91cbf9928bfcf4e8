//! Latency percentiles.

use std::time::Duration;

/// Policy latency per text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyStats {
    /// Texts measured.
    pub count: usize,
    /// Median (nearest rank).
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
    /// Mean.
    pub mean: Duration,
}

impl LatencyStats {
    /// Nearest-rank percentiles of `samples`.
    pub fn from_samples(mut samples: Vec<Duration>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let n = samples.len();
        let rank = |q: f64| samples[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        let total: Duration = samples.iter().sum();
        Self {
            count: n,
            p50: rank(0.5),
            p90: rank(0.9),
            p99: rank(0.99),
            max: samples[n - 1],
            mean: total / n as u32,
        }
    }
}
