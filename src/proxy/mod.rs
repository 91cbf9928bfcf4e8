//! The proxy: an OpenAI-compatible reverse proxy whose per-request work is one
//! pipeline ([`pipeline`]) wrapped in a short chain of generic tower layers.

pub mod body;
pub mod ctx;
pub mod error;
pub mod headers;
pub mod layers;
pub mod openai;
mod pipeline;
pub mod route;
pub mod sse;
mod stream;
pub mod upstream;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use prometheus::Histogram;
use tower::{Service, ServiceBuilder};

use crate::config::Config;
use crate::metrics::Metrics;
use body::ProxyBody;
use layers::{RequestId, RequestIdLayer, Shed, ShedLayer};
use route::ALL_ROUTES;
use upstream::{BoxError, Upstream, UpstreamSetupError};

/// State shared by every request: configuration, the upstream client, metrics.
pub struct Shared {
    pub(crate) config: Config,
    pub(crate) upstream: Upstream,
    pub(crate) metrics: Metrics,
    /// Per-route histogram handles, indexed by `Route as usize`.
    pub(crate) route_metrics: Vec<RouteMetrics>,
    draining: AtomicBool,
}

/// Histogram handles resolved once per route.
pub(crate) struct RouteMetrics {
    pub(crate) duration: Histogram,
    pub(crate) overhead: Histogram,
}

/// The innermost service: runs the pipeline.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

impl<B> Service<Request<B>> for Proxy
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move { Ok(shared.handle(req).await) })
    }
}

/// The whole proxy service, as the listener runs it.
pub type AppService = RequestId<Shed<Proxy>>;

/// Errors building the application.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The upstream client could not be built.
    #[error(transparent)]
    Upstream(#[from] UpstreamSetupError),
}

/// The built application: a cloneable tower service plus handles to its state.
#[derive(Clone)]
pub struct App {
    service: AppService,
    shared: Arc<Shared>,
}

/// Builds the whole proxy from its configuration. Tests drive the returned service
/// in-process; `parapet serve` hands it to the listener.
pub fn app(config: Config) -> Result<App, AppError> {
    let metrics = Metrics::new();
    let upstream = Upstream::new(&config.upstream)?;
    let route_metrics = ALL_ROUTES
        .iter()
        .map(|r| RouteMetrics {
            duration: Metrics::route_histogram(&metrics.request_duration, r.label()),
            overhead: Metrics::route_histogram(&metrics.overhead, r.label()),
        })
        .collect();
    let max_concurrency = config.limits.max_concurrency;
    let shared = Arc::new(Shared {
        config,
        upstream,
        metrics: metrics.clone(),
        route_metrics,
        draining: AtomicBool::new(false),
    });
    let service = ServiceBuilder::new()
        // Outermost: every response, a shed one included, carries the request id, and
        // the upstream and the log line see the same id.
        .layer(RequestIdLayer)
        // Concurrency limit: over it, answer 503 + Retry-After at once instead of
        // queueing; the permit lives until the response body ends (streams included).
        .layer(ShedLayer::new(max_concurrency, metrics))
        // The guard pipeline: admit -> inspect -> (enforce) -> forward -> respond -> log.
        .service(Proxy {
            shared: shared.clone(),
        });
    Ok(App { service, shared })
}

impl App {
    /// A clone of the service (one per connection).
    pub fn service(&self) -> AppService {
        self.service.clone()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// The configuration the app was built with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Marks the app as draining (`/readyz` answers 503) or not.
    pub fn set_draining(&self, draining: bool) {
        self.shared.draining.store(draining, Ordering::Relaxed);
    }

    /// Whether the app is draining.
    pub fn is_draining(&self) -> bool {
        self.shared.draining.load(Ordering::Relaxed)
    }
}

impl<B> Service<Request<B>> for App
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = <AppService as Service<Request<B>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request<B>>::poll_ready(&mut self.service, cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.service.call(req)
    }
}
