//! The response body of every Parapet response. It owns the request's
//! [`RequestCtx`], so the request is logged and measured when its last byte is
//! written or when the client goes away, not when the headers leave.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::Sleep;

use super::ctx::{Outcome, RequestCtx};
use super::stream::SseRelay;
use super::upstream::BoxError;

/// What the body yields.
enum Kind {
    /// A complete body (buffered upstream response or a Parapet-made one).
    Full(Option<Bytes>),
    /// An SSE stream relayed event by event.
    Stream(Box<SseRelay>),
    /// Any other upstream body, relayed frame by frame.
    Pass(Box<PassThrough>),
}

/// Response body type of the proxy service.
pub struct ProxyBody {
    kind: Kind,
    ctx: Option<Box<RequestCtx>>,
}

impl ProxyBody {
    /// A complete body.
    pub fn full(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Full(Some(bytes)),
            ctx: None,
        }
    }

    /// An SSE relay.
    pub(crate) fn stream(relay: SseRelay) -> Self {
        Self {
            kind: Kind::Stream(Box::new(relay)),
            ctx: None,
        }
    }

    /// A pass-through of the upstream body.
    pub(crate) fn pass(upstream: Incoming, idle: std::time::Duration, deadline: Instant) -> Self {
        Self {
            kind: Kind::Pass(Box::new(PassThrough {
                upstream,
                idle_after: idle,
                idle: Box::pin(tokio::time::sleep(idle)),
                deadline: Box::pin(tokio::time::sleep_until(deadline.into())),
            })),
            ctx: None,
        }
    }

    /// Attaches the request context (dropped, i.e. logged, with the body).
    pub(crate) fn with_ctx(mut self, ctx: RequestCtx) -> Self {
        self.ctx = Some(Box::new(ctx));
        self
    }
}

impl From<Bytes> for ProxyBody {
    fn from(b: Bytes) -> Self {
        Self::full(b)
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let ctx = this.ctx.as_deref_mut();
        match &mut this.kind {
            Kind::Full(bytes) => {
                // Complete as soon as the last bytes are handed over: a server that
                // knows the length need not poll again.
                if let Some(c) = ctx {
                    c.complete();
                }
                Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b))))
            }
            Kind::Stream(relay) => relay.poll_frame(cx, ctx),
            Kind::Pass(pass) => pass.poll_frame(cx, ctx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(b) => b.is_none(),
            Kind::Stream(_) => false,
            Kind::Pass(p) => p.upstream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Stream(_) => SizeHint::default(),
            Kind::Pass(p) => p.upstream.size_hint(),
        }
    }
}

/// An upstream body relayed unchanged, with the idle and total timeouts applied.
pub(crate) struct PassThrough {
    upstream: Incoming,
    idle_after: std::time::Duration,
    idle: Pin<Box<Sleep>>,
    deadline: Pin<Box<Sleep>>,
}

impl PassThrough {
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
        mut ctx: Option<&mut RequestCtx>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.upstream).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = Instant::now() + self.idle_after;
                self.idle.as_mut().reset(next.into());
                // A body of known length is complete with its last byte: the server
                // need not poll again, so do not wait for the end-of-stream poll.
                if self.upstream.is_end_stream() {
                    if let Some(c) = ctx {
                        c.upstream_finished();
                        c.complete();
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(c) = ctx.as_deref_mut() {
                    c.upstream_finished();
                    c.outcome = Outcome::StreamError;
                    c.upstream_error("stream_interrupted");
                }
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Poll::Ready(None) => {
                if let Some(c) = ctx {
                    c.upstream_finished();
                    c.complete();
                }
                Poll::Ready(None)
            }
            Poll::Pending => {
                let kind = if self.deadline.as_mut().poll(cx).is_ready() {
                    "total_timeout"
                } else {
                    ready!(self.idle.as_mut().poll(cx));
                    "idle_timeout"
                };
                if let Some(c) = ctx {
                    c.upstream_finished();
                    c.outcome = Outcome::StreamError;
                    c.upstream_error(kind);
                }
                Poll::Ready(Some(Err(format!("upstream body {kind}").into())))
            }
        }
    }
}
