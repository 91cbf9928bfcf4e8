//! Every metric Parapet exports, named and registered in one place.
//!
//! Names follow Prometheus conventions (prefix `parapet_`, base units, `_total` for
//! counters). Labels are bounded: routes, outcomes, status codes and error kinds come
//! from fixed sets; no user text or key ever becomes a label.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets for durations dominated by Parapet's own work: fine enough for microseconds.
const OVERHEAD_BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Buckets for durations dominated by the LLM: milliseconds to minutes.
const UPSTREAM_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
    300.0, 600.0,
];

/// Handles to every metric, registered in one private [`Registry`].
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `parapet_requests_total{route,outcome}`.
    pub requests: IntCounterVec,
    /// `parapet_request_duration_seconds{route}`: until the last byte of the response.
    pub request_duration: HistogramVec,
    /// `parapet_overhead_seconds{route}`: time spent in Parapet's own work.
    pub overhead: HistogramVec,
    /// `parapet_upstream_duration_seconds{route,status}`: the upstream exchange, body included.
    pub upstream_duration: HistogramVec,
    /// `parapet_upstream_errors_total{kind}`.
    pub upstream_errors: IntCounterVec,
    /// `parapet_inflight_requests`.
    pub inflight: IntGauge,
    /// `parapet_load_shed_total`.
    pub load_shed: IntCounter,
    /// `parapet_stream_events_total{route}`: SSE events relayed to clients.
    pub stream_events: IntCounterVec,
    /// `parapet_build_info{version}` (always 1).
    pub build_info: IntGaugeVec,
    /// `parapet_decisions_total{policy,rule,action,direction}`.
    pub decisions: IntCounterVec,
    /// `parapet_policy_reloads_total{result}`.
    pub policy_reloads: IntCounterVec,
    /// `parapet_policy_info{policy,hash}` (1 for the live version).
    pub policy_info: IntGaugeVec,
    /// `parapet_stream_holdback_seconds`: how long streamed text waited for vetting.
    pub stream_holdback: Histogram,
    /// `parapet_stream_unvetted_chars_total`: characters released before full vetting (stream_first).
    pub stream_unvetted: IntCounter,
    /// `parapet_classifier_errors_total{kind}`: classifications that did not finish in
    /// time (`timeout`), were refused (`overloaded`) or failed (`failed`).
    pub classifier_errors: IntCounterVec,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "parapet_requests_total",
                "Requests handled, by route and outcome.",
            ),
            &["route", "outcome"],
        )
        .expect("valid metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "parapet_request_duration_seconds",
                "Time from receiving a request until its response body ended.",
            )
            .buckets(UPSTREAM_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        let overhead = HistogramVec::new(
            HistogramOpts::new(
                "parapet_overhead_seconds",
                "Time Parapet spent on a request itself: everything but waiting on the upstream or the client.",
            )
            .buckets(OVERHEAD_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        let upstream_duration = HistogramVec::new(
            HistogramOpts::new(
                "parapet_upstream_duration_seconds",
                "Time from sending a request upstream until its response body ended.",
            )
            .buckets(UPSTREAM_BUCKETS.to_vec()),
            &["route", "status"],
        )
        .expect("valid metric");
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "parapet_upstream_errors_total",
                "Failed upstream exchanges, by kind (connect, timeout, first_token_timeout, idle_timeout, stream_interrupted, response_too_large, protocol).",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let inflight = IntGauge::new(
            "parapet_inflight_requests",
            "Requests in progress, open streams included.",
        )
        .expect("valid metric");
        let load_shed = IntCounter::new(
            "parapet_load_shed_total",
            "Requests refused with 503 because the concurrency limit was reached.",
        )
        .expect("valid metric");
        let stream_events = IntCounterVec::new(
            Opts::new(
                "parapet_stream_events_total",
                "Server-sent events relayed to clients.",
            ),
            &["route"],
        )
        .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "parapet_build_info",
                "Build information; the value is always 1.",
            ),
            &["version"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let decisions = IntCounterVec::new(
            Opts::new(
                "parapet_decisions_total",
                "Rules that fired, by policy, rule, action (monitor rules: action=monitor) and direction.",
            ),
            &["policy", "rule", "action", "direction"],
        )
        .expect("valid metric");
        let policy_reloads = IntCounterVec::new(
            Opts::new(
                "parapet_policy_reloads_total",
                "Policy reloads, by result (ok, error).",
            ),
            &["result"],
        )
        .expect("valid metric");
        let policy_info = IntGaugeVec::new(
            Opts::new(
                "parapet_policy_info",
                "The live policy versions; the value is always 1.",
            ),
            &["policy", "hash"],
        )
        .expect("valid metric");
        let stream_holdback = Histogram::with_opts(
            HistogramOpts::new(
                "parapet_stream_holdback_seconds",
                "Time streamed events were held back for vetting before release.",
            )
            .buckets(OVERHEAD_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        let stream_unvetted = IntCounter::new(
            "parapet_stream_unvetted_chars_total",
            "Characters released in stream_first mode before the output rules saw their full context.",
        )
        .expect("valid metric");
        let classifier_errors = IntCounterVec::new(
            Opts::new(
                "parapet_classifier_errors_total",
                "Classifications that timed out, were refused for overload, or failed, by kind.",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let m = Self {
            registry,
            requests,
            request_duration,
            overhead,
            upstream_duration,
            upstream_errors,
            inflight,
            load_shed,
            stream_events,
            build_info,
            decisions,
            policy_reloads,
            policy_info,
            stream_holdback,
            stream_unvetted,
            classifier_errors,
        };
        m.register_all();
        // Present (at 0) from the start, so a first error is a visible increase.
        for kind in ["timeout", "overloaded", "failed"] {
            m.classifier_errors.with_label_values(&[kind]);
        }
        m
    }

    fn register_all(&self) {
        let collectors: [Box<dyn prometheus::core::Collector>; 15] = [
            Box::new(self.classifier_errors.clone()),
            Box::new(self.decisions.clone()),
            Box::new(self.policy_reloads.clone()),
            Box::new(self.policy_info.clone()),
            Box::new(self.stream_holdback.clone()),
            Box::new(self.stream_unvetted.clone()),
            Box::new(self.requests.clone()),
            Box::new(self.request_duration.clone()),
            Box::new(self.overhead.clone()),
            Box::new(self.upstream_duration.clone()),
            Box::new(self.upstream_errors.clone()),
            Box::new(self.inflight.clone()),
            Box::new(self.load_shed.clone()),
            Box::new(self.stream_events.clone()),
            Box::new(self.build_info.clone()),
        ];
        for c in collectors {
            self.registry.register(c).expect("metric names are unique");
        }
    }

    /// The registry every metric is in (the classifier runtime registers its own here).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::with_capacity(16 * 1024);
        // Encoding our own registry into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// A per-route histogram handle, resolved once so the hot path skips the label lookup.
    pub fn route_histogram(vec: &HistogramVec, route: &str) -> Histogram {
        vec.with_label_values(&[route])
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
