//! Generic per-request concerns as tower layers (the guard logic itself lives in
//! the pipeline). The chain is assembled, commented, in [`super::app`].

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::Either;
use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tokio::sync::Semaphore;
use tower::{Layer, Service};

use super::ctx::Permit;
use super::error::ProxyError;
use super::headers::{new_request_id, valid_request_id, REQUEST_ID};
use super::route::Route;
use crate::metrics::Metrics;

/// Takes the client's `x-request-id` (when well-formed) or generates one, sets it on
/// the request (so the upstream and the pipeline see it) and echoes it on the response.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestId { inner }
    }
}

/// See [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct RequestId<S> {
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for RequestId<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let id = match req.headers().get(&REQUEST_ID) {
            Some(v) if valid_request_id(v) => v.clone(),
            _ => new_request_id(),
        };
        req.headers_mut().insert(REQUEST_ID.clone(), id.clone());
        RequestIdFuture {
            inner: self.inner.call(req),
            id: Some(id),
        }
    }
}

pin_project! {
    /// Response future of [`RequestId`].
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F, RB, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = Result<Response<RB>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = std::task::ready!(this.inner.poll(cx));
        if let (Ok(resp), Some(id)) = (&mut res, this.id.take()) {
            resp.headers_mut().insert(REQUEST_ID.clone(), id);
        }
        Poll::Ready(res)
    }
}

/// Concurrency limit with load shedding: a request either gets a permit at once or is
/// answered `503` with `Retry-After` (queueing would only add latency to every
/// request behind a slow upstream). The permit travels in the request's extensions
/// into the response body, so an open stream holds it until its last byte.
#[derive(Clone)]
pub struct ShedLayer {
    permits: Arc<Semaphore>,
    metrics: Metrics,
}

impl ShedLayer {
    /// At most `max` requests at once.
    pub fn new(max: usize, metrics: Metrics) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
            metrics,
        }
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            permits: self.permits.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// See [`ShedLayer`].
#[derive(Clone)]
pub struct Shed<S> {
    inner: S,
    permits: Arc<Semaphore>,
    metrics: Metrics,
}

impl<S, B, RB> Service<Request<B>> for Shed<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    RB: From<Bytes>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response<RB>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                req.extensions_mut().insert(Permit(Arc::new(permit)));
                Either::Left(self.inner.call(req))
            }
            Err(_) => {
                let route = Route::classify(req.method(), req.uri().path())
                    .unwrap_or(Route::Other)
                    .label();
                self.metrics.load_shed.inc();
                self.metrics
                    .requests
                    .with_label_values(&[route, "shed"])
                    .inc();
                Either::Right(ready(Ok(ProxyError::Overloaded.into_response())))
            }
        }
    }
}
