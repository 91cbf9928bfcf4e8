//! The request pipeline, one phase per function, read top to bottom:
//!
//! 1. [`admit`](Shared::admit): route the request (and refuse what is not served).
//! 2. [`inspect_request`](Shared::inspect_request): read the body once, with limits,
//!    and extract every text with its origin.
//! 3. [`enforce_request`](Shared::enforce_request): the policy's input rules may
//!    block (400 `content_filter`) or rewrite (redact) the texts.
//! 4. [`forward`](Shared::forward): send upstream with the first-byte timeout.
//! 5. [`respond`](Shared::respond): `inspect_response` (non-streamed bodies, buffered,
//!    extracted and judged by the output rules) or `inspect_chunk` (SSE streams,
//!    relayed event by event by [`SseRelay`], held back and vetted by
//!    [`StreamGuard`]); anything else passes through.
//! 6. `log`: when the response body is dropped, [`RequestCtx`]'s `Drop` records
//!    metrics and writes the log line.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, Version};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;

use super::body::ProxyBody;
use super::ctx::{Outcome, Permit, RequestCtx};
use super::error::{ProxyError, TimeoutPhase};
use super::guard;
use super::headers::{self, REQUEST_ID};
use super::openai::{self, Endpoint, ExtractError, RequestTexts};
use super::route::{Route, RouteError};
use super::stream::SseRelay;
use super::stream_guard::StreamGuard;
use super::upstream::{BoxError, UpstreamBody};
use super::Shared;
use crate::policy::raw::Direction;
use crate::policy::Policy;

static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

impl Shared {
    /// Runs the pipeline for one request; never fails (errors become responses).
    pub(crate) async fn handle<B>(self: Arc<Self>, mut req: Request<B>) -> Response<ProxyBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let start = Instant::now();
        let id = req
            .headers()
            .get(&REQUEST_ID)
            .cloned()
            .unwrap_or_else(headers::new_request_id);
        let permit = req.extensions_mut().remove::<Permit>();
        let mut ctx = RequestCtx::new(self.clone(), id, permit, start);
        let mut resp = match self.run(&mut ctx, req).await {
            Ok(resp) => resp,
            Err(err) => {
                ctx.outcome = err.outcome();
                ctx.finish_local();
                err.into_response()
            }
        };
        ctx.status = resp.status().as_u16();
        ctx.decision_headers(resp.headers_mut());
        resp.headers_mut()
            .insert(SERVER_TIMING.clone(), ctx.server_timing());
        resp.map(|body| body.with_ctx(ctx))
    }

    async fn run<B>(
        &self,
        ctx: &mut RequestCtx,
        req: Request<B>,
    ) -> Result<Response<ProxyBody>, ProxyError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (route, rest) = self.admit(ctx, &req)?;
        // The policy set is read once: a reload mid-request does not change it.
        let policies = self.policies.load_full();
        let (parts, body) = req.into_parts();
        let mut policy = None;
        let upstream_body = match route.endpoint() {
            Some(endpoint) => {
                let bytes = self.read_body(ctx, body, &parts.headers).await?;
                let texts = self.inspect_request(ctx, endpoint, &bytes)?;
                policy = policies
                    .select(route, ctx.model.as_deref(), ctx.tenant.as_deref())
                    .cloned();
                let bytes = match &policy {
                    Some(p) => {
                        ctx.policy = Some(p.label());
                        self.enforce_request(ctx, p, &texts, bytes).await?
                    }
                    None => bytes,
                };
                Full::new(bytes)
                    .map_err(|never| match never {})
                    .boxed_unsync()
            }
            None => body.map_err(Into::into).boxed_unsync(),
        };
        let response = self
            .forward(ctx, route, &rest, parts, upstream_body)
            .await?;
        self.respond(ctx, route, response, policy).await
    }

    /// Phase 1: which route, and may it be served.
    fn admit<B>(
        &self,
        ctx: &mut RequestCtx,
        req: &Request<B>,
    ) -> Result<(Route, String), ProxyError> {
        let path = req.uri().path();
        let (route, rest) = Route::classify_path(req.method(), path).map_err(|e| match e {
            RouteError::NotFound => ProxyError::NotFound(path.to_owned()),
            RouteError::Suspicious => ProxyError::BadPath,
        })?;
        ctx.route = route;
        if let Some(h) = &self.config.tenant_header {
            ctx.tenant = req
                .headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
        }
        if route == Route::Other && self.config.routes.deny_unknown {
            return Err(ProxyError::NotFound(path.to_owned()));
        }
        Ok((route, rest))
    }

    /// Reads the whole request body within the size and time limits. Time spent
    /// waiting on the client is not Parapet's overhead.
    async fn read_body<B>(
        &self,
        ctx: &mut RequestCtx,
        body: B,
        headers: &HeaderMap,
    ) -> Result<Bytes, ProxyError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let limits = &self.config.limits;
        let limit = limits.max_request_bytes;
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ProxyError::TooLarge { limit });
        }
        let waited = Instant::now();
        let collected = tokio::time::timeout(
            limits.client_body_timeout,
            Limited::new(body, limit).collect(),
        )
        .await;
        ctx.exclude_wait(waited.elapsed());
        match collected {
            Err(_) => Err(ProxyError::BodyTimeout(limits.client_body_timeout)),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
                Err(ProxyError::TooLarge { limit })
            }
            Ok(Err(_)) => Err(ProxyError::BodyRead),
            Ok(Ok(c)) => Ok(c.to_bytes()),
        }
    }

    /// Phase 2: parse the body once and extract every text to scan.
    fn inspect_request(
        &self,
        ctx: &mut RequestCtx,
        endpoint: Endpoint,
        body: &[u8],
    ) -> Result<RequestTexts, ProxyError> {
        let texts = openai::extract_request(endpoint, body).map_err(invalid_request)?;
        ctx.model = texts.model.clone();
        ctx.stream = texts.stream;
        ctx.request_segments = texts.segments.len();
        ctx.opaque_inputs = texts.opaque_inputs;
        ctx.token_inputs = texts.token_inputs;
        Ok(texts)
    }

    /// Phase 3: the policy's input rules may block the request or rewrite its texts.
    async fn enforce_request(
        &self,
        ctx: &mut RequestCtx,
        policy: &Policy,
        texts: &RequestTexts,
        body: Bytes,
    ) -> Result<Bytes, ProxyError> {
        if !policy.has_rules_for(Direction::Input) {
            return Ok(body);
        }
        guard::enforce_request(ctx, policy, texts, body).await
    }

    /// Phase 4: send the request upstream and wait for its response headers.
    async fn forward(
        &self,
        ctx: &mut RequestCtx,
        route: Route,
        rest: &str,
        mut parts: http::request::Parts,
        body: UpstreamBody,
    ) -> Result<Response<Incoming>, ProxyError> {
        let up = &self.upstream;
        let cfg = up.config();
        parts.uri = up
            .uri(rest, parts.uri.query())
            .map_err(|_| ProxyError::BadPath)?;
        parts.version = Version::HTTP_11;
        headers::to_upstream(&mut parts.headers, up.auth(), route.inspects_response());
        let request = Request::from_parts(parts, body);
        ctx.upstream_started();
        match tokio::time::timeout(cfg.first_byte_timeout, up.client().request(request)).await {
            Ok(Ok(resp)) => {
                ctx.upstream_status = Some(resp.status().as_u16());
                Ok(resp)
            }
            Ok(Err(e)) => {
                ctx.upstream_finished();
                let timed_out = e.is_connect() && connect_timed_out(&e);
                if timed_out {
                    ctx.upstream_error(TimeoutPhase::Connect.kind());
                    return Err(ProxyError::UpstreamTimeout {
                        phase: TimeoutPhase::Connect,
                        after: cfg.connect_timeout,
                    });
                }
                ctx.upstream_error(if e.is_connect() {
                    "connect"
                } else {
                    "protocol"
                });
                tracing::warn!(request_id = ?ctx.request_id, error = %error_chain(&e), "upstream request failed");
                Err(ProxyError::UpstreamUnreachable)
            }
            Err(_) => {
                ctx.upstream_finished();
                ctx.upstream_error(TimeoutPhase::FirstByte.kind());
                Err(ProxyError::UpstreamTimeout {
                    phase: TimeoutPhase::FirstByte,
                    after: cfg.first_byte_timeout,
                })
            }
        }
    }

    /// Phase 5: inspect the response (whole or per event) or pass it through.
    async fn respond(
        &self,
        ctx: &mut RequestCtx,
        route: Route,
        response: Response<Incoming>,
        policy: Option<Arc<Policy>>,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        let cfg = self.upstream.config();
        let (mut parts, body) = response.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers);
        let deadline = Instant::now() + cfg.total_timeout;
        let success = parts.status.is_success();
        let endpoint = route.endpoint().filter(|_| route.inspects_response());
        let output_policy = policy.filter(|p| p.has_rules_for(Direction::Output));
        if success && content_type_is(&parts.headers, "text/event-stream") {
            parts.headers.remove(CONTENT_LENGTH);
            let mut relay = SseRelay::new(
                body,
                endpoint,
                self.config.limits.max_response_bytes,
                cfg.idle_timeout,
                deadline,
                cfg.total_timeout,
            );
            if let (Some(p), Some(e)) = (output_policy, endpoint) {
                let scored = guard::output_scored(ctx, &p);
                relay = relay.guard(StreamGuard::new(p, e, scored));
            }
            relay.prime(ctx, cfg.first_token_timeout).await?;
            ctx.outcome = Outcome::Forwarded;
            return Ok(Response::from_parts(parts, ProxyBody::stream(relay)));
        }
        if let Some(endpoint) = endpoint.filter(|_| success) {
            if content_type_is(&parts.headers, "application/json") {
                let bytes = self.read_upstream(ctx, body, deadline).await?;
                let bytes = self
                    .inspect_response(ctx, endpoint, bytes, output_policy.as_deref())
                    .await?;
                parts
                    .headers
                    .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                ctx.outcome = Outcome::Forwarded;
                return Ok(Response::from_parts(parts, ProxyBody::full(bytes)));
            }
        }
        ctx.outcome = Outcome::Forwarded;
        Ok(Response::from_parts(
            parts,
            ProxyBody::pass(body, cfg.idle_timeout, deadline),
        ))
    }

    /// Phase 5 for non-streamed completions: extract the generated texts and apply
    /// the output rules.
    async fn inspect_response(
        &self,
        ctx: &mut RequestCtx,
        endpoint: Endpoint,
        body: Bytes,
        policy: Option<&Policy>,
    ) -> Result<Bytes, ProxyError> {
        let t = Instant::now();
        let out = match openai::extract_response(endpoint, &body) {
            Ok(segments) => {
                ctx.response_segments = segments.len();
                Ok(match policy {
                    Some(p) => guard::enforce_response(ctx, p, endpoint, &segments, body).await,
                    None => body,
                })
            }
            // Output rules cannot vet what Parapet cannot read: fail closed.
            Err(e) if policy.is_some() => {
                tracing::warn!(request_id = ?ctx.request_id, error = %e, "unreadable upstream response refused");
                Err(ProxyError::UpstreamUnreadable)
            }
            Err(e) => {
                tracing::debug!(request_id = ?ctx.request_id, error = %e, "unreadable upstream response");
                Ok(body)
            }
        };
        ctx.add_overhead(t.elapsed());
        out
    }

    /// Buffers a non-streamed upstream body within the size limit, the idle gap and
    /// the total deadline.
    async fn read_upstream(
        &self,
        ctx: &mut RequestCtx,
        mut body: Incoming,
        deadline: Instant,
    ) -> Result<Bytes, ProxyError> {
        let cfg = self.upstream.config();
        let limit = self.config.limits.max_response_bytes;
        let hint = body.size_hint().exact().unwrap_or(0).min(limit as u64) as usize;
        let mut buf = BytesMut::with_capacity(hint);
        loop {
            let now = Instant::now();
            let (wait, phase) = if deadline.saturating_duration_since(now) < cfg.idle_timeout {
                (deadline.saturating_duration_since(now), TimeoutPhase::Total)
            } else {
                (cfg.idle_timeout, TimeoutPhase::Idle)
            };
            let frame = match tokio::time::timeout(wait, body.frame()).await {
                Err(_) => {
                    ctx.upstream_finished();
                    ctx.upstream_error(phase.kind());
                    let after = match phase {
                        TimeoutPhase::Total => cfg.total_timeout,
                        _ => cfg.idle_timeout,
                    };
                    return Err(ProxyError::UpstreamTimeout { phase, after });
                }
                Ok(None) => break,
                Ok(Some(Err(_))) => {
                    ctx.upstream_finished();
                    ctx.upstream_error("stream_interrupted");
                    return Err(ProxyError::UpstreamProtocol);
                }
                Ok(Some(Ok(frame))) => frame,
            };
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    ctx.upstream_finished();
                    ctx.upstream_error("response_too_large");
                    return Err(ProxyError::UpstreamTooLarge { limit });
                }
                buf.extend_from_slice(&data);
            }
        }
        ctx.upstream_finished();
        Ok(buf.freeze())
    }
}

fn invalid_request(e: ExtractError) -> ProxyError {
    let code = match e {
        ExtractError::Json { .. } | ExtractError::NotAnObject => "invalid_json",
        _ => "invalid_field",
    };
    ProxyError::InvalidRequest {
        message: e.to_string(),
        param: e.param().map(str::to_owned),
        code,
    }
}

fn content_type_is(headers: &HeaderMap, mime: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(mime))
}

fn connect_timed_out(e: &hyper_util::client::legacy::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        source = s.source();
    }
    false
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
