//! The `inspect_chunk` phase: relays an upstream SSE stream event by event.
//!
//! Upstream reads are split into complete events by [`SseParser`]; each event is
//! forwarded byte-for-byte as soon as it is complete, and its `data` is fed to the
//! [`StreamAccumulator`] so each choice's text and tool-call arguments are known
//! assembled (the policy phase consumes them). Failures after the response has
//! started cannot change the status any more: the relay drops the incomplete event,
//! appends an OpenAI error event (`data: {"error":{...}}`, which the official SDKs
//! raise as `APIError`) and ends the body cleanly.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};
use hyper::body::Incoming;
use tokio::time::Sleep;

use super::ctx::{Outcome, RequestCtx};
use super::error::{ProxyError, TimeoutPhase};
use super::openai::{Endpoint, StreamAccumulator};
use super::sse::{data_event, SseEvent, SseParser};
use super::stream_guard::StreamGuard;
use super::upstream::BoxError;
use crate::classify::{ClassifyError, TextScores};

/// Why a stream ended early.
enum Failure {
    Interrupted,
    TooLarge(usize),
    Timeout(TimeoutPhase, Duration),
}

impl Failure {
    fn error(&self) -> ProxyError {
        match *self {
            Failure::Interrupted => ProxyError::UpstreamProtocol,
            Failure::TooLarge(limit) => ProxyError::UpstreamTooLarge { limit },
            Failure::Timeout(phase, after) => ProxyError::UpstreamTimeout { phase, after },
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Failure::Interrupted => "stream_interrupted",
            Failure::TooLarge(_) => "response_too_large",
            Failure::Timeout(phase, _) => phase.kind(),
        }
    }
}

/// Relays one SSE response.
pub(crate) struct SseRelay {
    upstream: Incoming,
    parser: SseParser,
    acc: Option<StreamAccumulator>,
    scratch: Vec<SseEvent>,
    ready: VecDeque<Bytes>,
    idle_after: Duration,
    idle: Pin<Box<Sleep>>,
    deadline: Pin<Box<Sleep>>,
    total: Duration,
    max_event: usize,
    ended: bool,
    guard: Option<StreamGuard>,
    /// The classification the guard waits for, if any.
    scoring: Option<Scoring>,
    /// An error event held until the text before it has been vetted and released.
    deferred_error: Option<Bytes>,
}

/// What a classification of the guard's texts yields: the texts and their scores.
type Classified = (Vec<String>, Result<Vec<Arc<TextScores>>, ClassifyError>);

/// The guard's texts being classified, and when that started.
struct Scoring {
    started: Instant,
    result: Pin<Box<dyn Future<Output = Classified> + Send>>,
}

impl SseRelay {
    /// Starts relaying `upstream`; `endpoint` selects how chunk JSON is read.
    pub(crate) fn new(
        upstream: Incoming,
        endpoint: Option<Endpoint>,
        max_event: usize,
        idle_after: Duration,
        deadline: Instant,
        total: Duration,
    ) -> Self {
        Self {
            upstream,
            parser: SseParser::new(max_event),
            acc: endpoint.map(StreamAccumulator::new),
            scratch: Vec::new(),
            ready: VecDeque::new(),
            idle_after,
            idle: Box::pin(tokio::time::sleep(idle_after)),
            deadline: Box::pin(tokio::time::sleep_until(deadline.into())),
            total,
            max_event,
            ended: false,
            guard: None,
            scoring: None,
            deferred_error: None,
        }
    }

    /// Puts the stream under a policy's output rules.
    pub(crate) fn guard(mut self, guard: StreamGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Waits until the first event is complete (or the stream ended), so a slow or
    /// dead upstream can still be answered with a proper status.
    pub(crate) async fn prime(
        &mut self,
        ctx: &mut RequestCtx,
        first_token: Duration,
    ) -> Result<(), ProxyError> {
        let deadline = tokio::time::Instant::now() + first_token;
        while self.ready.is_empty() && (!self.ended || self.scoring_due()) {
            let step = poll_fn(|cx| match self.poll_scoring(cx, ctx) {
                Some(p) => p.map(Ok),
                None => self.poll_upstream(cx, ctx),
            });
            match tokio::time::timeout_at(deadline, step).await {
                Ok(Ok(())) => {}
                // Events completed before the failure are still delivered, followed
                // by the error event; with nothing to deliver, answer with a status.
                Ok(Err(f)) if !self.ready.is_empty() => self.fail(f, ctx),
                Ok(Err(f)) => {
                    ctx.upstream_error(f.kind());
                    return Err(f.error());
                }
                Err(_) => {
                    let f = Failure::Timeout(TimeoutPhase::FirstToken, first_token);
                    ctx.upstream_error(f.kind());
                    return Err(f.error());
                }
            }
        }
        Ok(())
    }

    /// Reads one upstream frame and turns it into ready events.
    fn poll_upstream(
        &mut self,
        cx: &mut Context<'_>,
        ctx: &mut RequestCtx,
    ) -> Poll<Result<(), Failure>> {
        match ready!(Pin::new(&mut self.upstream).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let t = Instant::now();
                    self.idle.as_mut().reset((t + self.idle_after).into());
                    let res = self.ingest(&data, ctx);
                    ctx.add_overhead(t.elapsed());
                    res?;
                }
                Poll::Ready(Ok(()))
            }
            Some(Err(_)) => Poll::Ready(Err(Failure::Interrupted)),
            None => {
                let tail = self.parser.finish_into(&mut self.scratch);
                self.drain_events(ctx);
                if let (Some(guard), Some(acc)) = (self.guard.as_mut(), self.acc.as_ref()) {
                    guard.on_end(acc, ctx, &mut self.ready);
                }
                // An unterminated last event is discarded by SSE clients anyway; a
                // guarded stream drops it (it was never vetted), an unguarded one
                // relays it byte for byte.
                if let Some(tail) = tail.filter(|_| self.guard.is_none()) {
                    self.ready.push_back(tail);
                }
                self.ended = true;
                ctx.upstream_finished();
                Poll::Ready(Ok(()))
            }
        }
    }

    fn ingest(&mut self, data: &[u8], ctx: &mut RequestCtx) -> Result<(), Failure> {
        let pushed = self.parser.push(data, &mut self.scratch);
        // Events completed before an oversized one are still relayed.
        self.drain_events(ctx);
        pushed.map_err(|_| Failure::TooLarge(self.max_event))
    }

    fn drain_events(&mut self, ctx: &mut RequestCtx) {
        for ev in self.scratch.drain(..) {
            ctx.events += 1;
            let mut delta = None;
            if let (Some(acc), Some(payload)) = (self.acc.as_mut(), ev.data.as_ref()) {
                if !ev.is_done() {
                    match acc.push(payload) {
                        Ok(d) => delta = Some(d),
                        // Unreadable text cannot be vetted: a guarded stream fails
                        // closed; an unguarded one relays it.
                        Err(e) => {
                            tracing::debug!(request_id = ?ctx.request_id, error = %e, "unreadable stream chunk");
                            if let Some(g) = self.guard.as_mut() {
                                g.fail_closed(&mut self.ready);
                            }
                        }
                    }
                }
            }
            match (self.guard.as_mut(), self.acc.as_ref()) {
                (Some(g), Some(acc)) => g.on_event(ev, delta.as_ref(), acc),
                _ => self.ready.push_back(ev.raw),
            }
        }
        if let (Some(g), Some(acc)) = (self.guard.as_mut(), self.acc.as_ref()) {
            g.flush(acc, ctx, &mut self.ready);
        }
        if self.guard.as_ref().is_some_and(StreamGuard::blocked) {
            // Stop reading: dropping the upstream body later cancels the generation.
            self.ended = true;
            ctx.upstream_finished();
        }
    }

    /// Whether the guard waits for scores.
    fn scoring_due(&self) -> bool {
        self.scoring.is_some() || self.guard.as_ref().is_some_and(|g| g.scores.has_pending())
    }

    /// Drives the classification the guard waits for: starts it when texts are queued,
    /// and when it completes hands the scores over and has the guard vet again. None
    /// when there is nothing to wait for. The upstream is not read meanwhile.
    fn poll_scoring(&mut self, cx: &mut Context<'_>, ctx: &mut RequestCtx) -> Option<Poll<()>> {
        if self.scoring.is_none() {
            let guard = self.guard.as_mut()?;
            if guard.blocked() || !guard.scores.has_pending() {
                return None;
            }
            let texts = guard.scores.take_pending();
            let shared = ctx.shared();
            let Some(classifiers) = shared.classifiers.clone() else {
                guard.scores.fill(texts, None);
                self.revet(ctx);
                return Some(Poll::Ready(()));
            };
            let budget = shared.config.classifiers.budget;
            self.scoring = Some(Scoring {
                started: Instant::now(),
                result: Box::pin(async move {
                    let batch: Vec<&str> = texts.iter().map(String::as_str).collect();
                    let result = classifiers.classify(&batch, budget).await;
                    (texts, result)
                }),
            });
        }
        let s = self.scoring.as_mut()?;
        let Poll::Ready((texts, result)) = s.result.as_mut().poll(cx) else {
            return Some(Poll::Pending);
        };
        let s = self.scoring.take()?;
        let waited = s.started.elapsed();
        ctx.classify_time += waited;
        ctx.add_overhead(waited);
        let scores = match result {
            Ok(v) => Some(v),
            Err(e) => {
                super::scoring::classify_failed(ctx, &e);
                None
            }
        };
        if let Some(g) = self.guard.as_mut() {
            g.scores.fill(texts, scores);
        }
        self.revet(ctx);
        // The upstream was not read meanwhile: its silence was not idleness.
        self.idle
            .as_mut()
            .reset((Instant::now() + self.idle_after).into());
        Some(Poll::Ready(()))
    }

    /// Has the guard vet (and release) again after scores came in.
    fn revet(&mut self, ctx: &mut RequestCtx) {
        if let (Some(g), Some(acc)) = (self.guard.as_mut(), self.acc.as_ref()) {
            g.flush(acc, ctx, &mut self.ready);
            if g.blocked() {
                // The stream ends with its content_filter chunk and [DONE].
                self.deferred_error = None;
                if !self.ended {
                    self.ended = true;
                    ctx.upstream_finished();
                }
            }
        }
        if !self.scoring_due() {
            if let Some(error) = self.deferred_error.take() {
                self.ready.push_back(error);
            }
        }
    }

    fn fail(&mut self, f: Failure, ctx: &mut RequestCtx) {
        // Text held back for context is final now: vet and release it before the error.
        if let (Some(guard), Some(acc)) = (self.guard.as_mut(), self.acc.as_ref()) {
            guard.on_end(acc, ctx, &mut self.ready);
        }
        ctx.upstream_error(f.kind());
        ctx.upstream_finished();
        ctx.outcome = Outcome::StreamError;
        let error = data_event(&f.error().body());
        if self.scoring_due() {
            // The final text is still being classified: it goes out first.
            self.deferred_error = Some(error);
        } else {
            self.ready.push_back(error);
        }
        self.ended = true;
    }

    /// Joins every ready event into one write: one chunk (and one syscall) per
    /// upstream read instead of one per event.
    fn coalesce(&mut self, first: Bytes) -> Bytes {
        if self.ready.is_empty() {
            return first;
        }
        let total = first.len() + self.ready.iter().map(Bytes::len).sum::<usize>();
        let mut buf = BytesMut::with_capacity(total);
        buf.extend_from_slice(&first);
        for b in self.ready.drain(..) {
            buf.extend_from_slice(&b);
        }
        buf.freeze()
    }

    /// The body's `poll_frame`.
    pub(crate) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
        ctx: Option<&mut RequestCtx>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some(ctx) = ctx else {
            return Poll::Ready(None);
        };
        loop {
            if let Some(first) = self.ready.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(self.coalesce(first)))));
            }
            match self.poll_scoring(cx, ctx) {
                Some(Poll::Ready(())) => continue,
                Some(Poll::Pending) => {
                    if self.deadline.as_mut().poll(cx).is_ready() {
                        self.scoring = None;
                        self.fail(Failure::Timeout(TimeoutPhase::Total, self.total), ctx);
                        continue;
                    }
                    return Poll::Pending;
                }
                None => {}
            }
            if self.ended {
                if let Some(acc) = &self.acc {
                    ctx.response_segments = acc.choices().len();
                }
                ctx.complete();
                return Poll::Ready(None);
            }
            match self.poll_upstream(cx, ctx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(f)) => {
                    self.fail(f, ctx);
                    continue;
                }
                Poll::Pending => {}
            }
            if self.deadline.as_mut().poll(cx).is_ready() {
                self.fail(Failure::Timeout(TimeoutPhase::Total, self.total), ctx);
                continue;
            }
            if self.idle.as_mut().poll(cx).is_ready() {
                self.fail(Failure::Timeout(TimeoutPhase::Idle, self.idle_after), ctx);
                continue;
            }
            return Poll::Pending;
        }
    }
}
