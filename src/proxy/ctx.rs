//! Per-request context, carried from the `admit` phase to the end of the response
//! body. Dropping it is the `log` phase: it records the metrics and writes the one
//! structured log line of the request, whether the body ended, failed or the client
//! went away. It also holds the concurrency permit, so a long stream counts against
//! the limit until its last byte.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderValue;
use tokio::sync::OwnedSemaphorePermit;

use super::route::Route;
use super::Shared;
use crate::policy::raw::Direction;
use crate::policy::{Decision, Policy, Verdict};

/// What happened to a request (the `outcome` label of `parapet_requests_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream's response (any status) was delivered in full.
    Forwarded,
    /// Parapet refused the request (400, 404, 408, 413).
    Rejected,
    /// The concurrency limit was reached (503).
    Shed,
    /// The upstream could not be reached or broke the exchange before a response (502).
    UpstreamUnreachable,
    /// The upstream did not answer in time (504).
    UpstreamTimeout,
    /// The upstream failed or stalled after the response had started.
    StreamError,
    /// The client went away before the response ended.
    ClientClosed,
    /// The policy refused the prompt (400 `content_filter`).
    Blocked,
}

impl Outcome {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Forwarded => "forwarded",
            Outcome::Rejected => "rejected",
            Outcome::Shed => "shed",
            Outcome::UpstreamUnreachable => "upstream_unreachable",
            Outcome::UpstreamTimeout => "upstream_timeout",
            Outcome::StreamError => "stream_error",
            Outcome::ClientClosed => "client_closed",
            Outcome::Blocked => "blocked",
        }
    }
}

/// The concurrency permit a request holds until its response body is gone
/// (an `Arc` because request extensions must be `Clone`).
#[derive(Clone)]
pub struct Permit(pub Arc<OwnedSemaphorePermit>);

/// State of one request across the pipeline phases.
pub struct RequestCtx {
    shared: Arc<Shared>,
    /// The request id (client-supplied or generated).
    pub request_id: HeaderValue,
    /// The route admitted.
    pub route: Route,
    /// The `model` the request named, if any.
    pub model: Option<String>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The tenant (from the configured tenant header).
    pub tenant: Option<String>,
    /// The policy serving the request (`id@hash`), if any.
    pub policy: Option<String>,
    /// The strongest decision taken so far (input and output).
    pub decision: Decision,
    /// Ids of the rules that fired (monitor ones included).
    pub fired: Vec<String>,
    /// (rule, direction) pairs already counted in `parapet_decisions_total`, so a
    /// stream re-evaluated per event counts each rule once.
    counted: Vec<(usize, Direction)>,
    /// Texts extracted from the request (for the log line: how many were scanned).
    pub request_segments: usize,
    /// Request inputs Parapet cannot read as text.
    pub opaque_inputs: u32,
    /// Of which token-id prompts.
    pub token_inputs: u32,
    /// Texts extracted from the response so far.
    pub response_segments: usize,
    /// SSE events relayed.
    pub events: u64,
    start: Instant,
    overhead: Duration,
    waits: Duration,
    /// Time spent waiting for classifier scores (part of the overhead).
    pub classify_time: Duration,
    upstream_start: Option<Instant>,
    upstream_elapsed: Option<Duration>,
    /// Upstream response status, once known.
    pub upstream_status: Option<u16>,
    /// Status sent to the client.
    pub status: u16,
    /// Provisional outcome; `Forwarded` becomes `ClientClosed` unless the body completed.
    pub outcome: Outcome,
    completed: bool,
    _permit: Option<Permit>,
}

impl RequestCtx {
    /// Starts the context of a request received at `start`.
    pub(crate) fn new(
        shared: Arc<Shared>,
        request_id: HeaderValue,
        permit: Option<Permit>,
        start: Instant,
    ) -> Self {
        shared.metrics.inflight.inc();
        Self {
            shared,
            request_id,
            route: Route::Other,
            model: None,
            stream: false,
            tenant: None,
            policy: None,
            decision: Decision::Allow,
            fired: Vec::new(),
            counted: Vec::new(),
            request_segments: 0,
            opaque_inputs: 0,
            token_inputs: 0,
            response_segments: 0,
            events: 0,
            start,
            overhead: Duration::ZERO,
            waits: Duration::ZERO,
            classify_time: Duration::ZERO,
            upstream_start: None,
            upstream_elapsed: None,
            upstream_status: None,
            status: 0,
            outcome: Outcome::Rejected,
            completed: false,
            _permit: permit,
        }
    }

    /// The metrics registry.
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub(crate) fn shared_metrics(&self) -> &crate::metrics::Metrics {
        &self.shared.metrics
    }

    /// Counts `parapet_upstream_errors_total{kind}`.
    pub(crate) fn upstream_error(&self, kind: &'static str) {
        self.shared
            .metrics
            .upstream_errors
            .with_label_values(&[kind])
            .inc();
    }

    /// Records a verdict: decision, fired rules, `parapet_decisions_total`.
    pub(crate) fn record_verdict(&mut self, policy: &Policy, direction: Direction, v: &Verdict) {
        let dir = match direction {
            Direction::Input => "input",
            _ => "output",
        };
        for f in &v.fired {
            let id = &policy.rules[f.rule].id;
            if self.counted.contains(&(f.rule, direction)) {
                continue;
            }
            self.counted.push((f.rule, direction));
            let action = if f.monitor {
                "monitor"
            } else {
                f.action.as_str()
            };
            self.shared
                .metrics
                .decisions
                .with_label_values(&[&policy.id, id, action, dir])
                .inc();
            if !self.fired.contains(id) {
                self.fired.push(id.clone());
            }
        }
        self.decision = self.decision.max(v.decision);
    }

    /// Decision headers: `x-parapet-decision`, `x-parapet-rules`, `x-parapet-policy`.
    pub(crate) fn decision_headers(&self, headers: &mut http::HeaderMap) {
        let Some(policy) = &self.policy else { return };
        if let Ok(v) = HeaderValue::from_str(policy) {
            headers.insert("x-parapet-policy", v);
        }
        headers.insert(
            "x-parapet-decision",
            HeaderValue::from_static(self.decision.as_str()),
        );
        if !self.fired.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&self.fired.join(",")) {
                headers.insert("x-parapet-rules", v);
            }
        }
    }

    /// Adds time spent in Parapet's own work.
    pub fn add_overhead(&mut self, d: Duration) {
        self.overhead += d;
    }

    /// Parapet's own time so far.
    pub fn overhead(&self) -> Duration {
        self.overhead
    }

    /// Time spent waiting on the client before the request went upstream (not overhead).
    pub fn exclude_wait(&mut self, d: Duration) {
        self.waits += d;
    }

    /// Marks the moment the request goes upstream; everything before it, less the
    /// waits on the client, was overhead.
    pub fn upstream_started(&mut self) -> Instant {
        let now = Instant::now();
        self.overhead += now
            .saturating_duration_since(self.start)
            .saturating_sub(self.waits);
        self.upstream_start = Some(now);
        now
    }

    /// For a request answered without going upstream (refused, blocked): all of its
    /// time so far, less the waits on the client, was Parapet's own.
    pub fn finish_local(&mut self) {
        if self.upstream_start.is_none() {
            self.overhead = self.start.elapsed().saturating_sub(self.waits);
        }
    }

    /// Marks the end of the upstream exchange (last byte received).
    pub fn upstream_finished(&mut self) {
        if let (Some(s), None) = (self.upstream_start, self.upstream_elapsed) {
            self.upstream_elapsed = Some(s.elapsed());
        }
    }

    /// Time from sending upstream until now or until it finished.
    pub fn upstream_time(&self) -> Duration {
        self.upstream_elapsed
            .or_else(|| self.upstream_start.map(|s| s.elapsed()))
            .unwrap_or_default()
    }

    /// The response body was delivered in full.
    pub fn complete(&mut self) {
        self.completed = true;
    }

    /// A `Server-Timing` header value (milliseconds).
    pub fn server_timing(&self) -> HeaderValue {
        let mut v = format!(
            "parapet;dur={:.3}, upstream;dur={:.3}",
            self.overhead.as_secs_f64() * 1e3,
            self.upstream_time().as_secs_f64() * 1e3
        );
        if !self.classify_time.is_zero() {
            let _ = write!(
                v,
                ", classify;dur={:.3}",
                self.classify_time.as_secs_f64() * 1e3
            );
        }
        HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("parapet"))
    }
}

impl Drop for RequestCtx {
    fn drop(&mut self) {
        if self.outcome == Outcome::Forwarded && !self.completed {
            self.outcome = Outcome::ClientClosed;
        }
        let m = &self.shared.metrics;
        let rm = &self.shared.route_metrics[self.route as usize];
        let total = self.start.elapsed();
        m.inflight.dec();
        m.requests
            .with_label_values(&[self.route.label(), self.outcome.label()])
            .inc();
        rm.duration.observe(total.as_secs_f64());
        rm.overhead.observe(self.overhead.as_secs_f64());
        if self.events > 0 {
            m.stream_events
                .with_label_values(&[self.route.label()])
                .inc_by(self.events);
        }
        if let Some(status) = self.upstream_status {
            let up = self.upstream_time();
            m.upstream_duration
                .with_label_values(&[self.route.label(), status_label(status)])
                .observe(up.as_secs_f64());
        }
        tracing::info!(
            target: "parapet::access",
            request_id = self.request_id.to_str().unwrap_or("-"),
            route = self.route.label(),
            model = self.model.as_deref().unwrap_or("-"),
            tenant = self.tenant.as_deref().unwrap_or("-"),
            policy = self.policy.as_deref().unwrap_or("-"),
            decision = self.decision.as_str(),
            rules = self.fired.join(","),
            stream = self.stream,
            status = self.status,
            upstream_status = self.upstream_status.unwrap_or(0),
            outcome = self.outcome.label(),
            texts_in = self.request_segments,
            texts_out = self.response_segments,
            events = self.events,
            duration_ms = total.as_secs_f64() * 1e3,
            overhead_us = self.overhead.as_secs_f64() * 1e6,
            upstream_ms = self.upstream_time().as_secs_f64() * 1e3,
            "request"
        );
    }
}

/// Status codes as static labels (bounded set; anything unusual is `other`).
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        409 => "409",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => match other / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
    }
}
