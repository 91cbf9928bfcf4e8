//! The JSON rendering (`"schema": "parapet-eval/1"`).

use serde_json::{json, Value};

use super::report::Report;

impl Report {
    /// Machine-readable report. Field names are stable within schema
    /// `parapet-eval/1`; undefined rates are `null`, latencies are milliseconds.
    /// Curve points are left out (the sweep and the suggestions carry the numbers).
    pub fn to_json(&self) -> Value {
        let l = &self.latency;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        json!({
            "schema": "parapet-eval/1",
            "counts": self.counts,
            "overall": self.overall,
            "per_tag": self.per_tag,
            "per_rule": self.per_rule,
            "per_label": self.per_label,
            "latency_ms": {
                "count": l.count,
                "p50": ms(l.p50),
                "p90": ms(l.p90),
                "p99": ms(l.p99),
                "max": ms(l.max),
                "mean": ms(l.mean),
            },
        })
    }
}
