//! The proxy: an OpenAI-compatible reverse proxy whose per-request work is one
//! pipeline ([`pipeline`]) wrapped in a short chain of generic tower layers.

pub mod body;
pub mod ctx;
pub mod error;
mod guard;
pub mod headers;
pub mod layers;
mod models;
pub mod openai;
mod pipeline;
pub mod route;
mod scoring;
pub mod sse;
mod stream;
mod stream_guard;
mod stream_scores;
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

use arc_swap::ArcSwap;

use crate::classify::Classifiers;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::policy::{ClassifierCatalog, CompileEnv, PolicyError, PolicySet};
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
    /// The live policies: read once per request, swapped whole after a full compile.
    pub(crate) policies: ArcSwap<PolicySet>,
    /// The classifier runtime, when loaded.
    pub(crate) classifiers: Option<Arc<Classifiers>>,
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
    /// The policies do not compile.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The classifier models could not be loaded.
    #[error("cannot load the classifiers from {dir}: {source}")]
    Classifiers {
        /// The model directory.
        dir: std::path::PathBuf,
        /// Why.
        source: crate::classify::ClassifyError,
    },
}

/// The policy `parapet serve` uses when no `--policy` is given.
pub const BUILTIN_POLICY: &str = include_str!("../../policies/default.yaml");

/// Loads the configured policy files, or the built-in default when none are given;
/// classifier references are resolved against `classifiers` and topics embedded by it.
pub fn load_policies(
    config: &Config,
    classifiers: Option<&Classifiers>,
) -> Result<(PolicySet, String), PolicyError> {
    let env = CompileEnv {
        classifiers: classifiers.is_some(),
        catalog: classifiers.map(|c| c as &dyn ClassifierCatalog),
    };
    if config.policies.is_empty() {
        let checked = crate::policy::check_source(
            "builtin:policies/default.yaml",
            BUILTIN_POLICY.to_owned(),
            env,
        );
        let report = checked.render();
        return match checked.policy {
            Some(p) => Ok((
                PolicySet {
                    policies: vec![Arc::new(p)],
                },
                report,
            )),
            None => Err(PolicyError::Invalid {
                errors: checked.errors(),
                report,
            }),
        };
    }
    PolicySet::load(&config.policies, env)
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
    let classifiers = models::load(&config.classifiers, &metrics)?;
    let (policies, warnings) = load_policies(&config, classifiers.as_deref())?;
    if !warnings.is_empty() {
        tracing::warn!("policy warnings:\n{warnings}");
    }
    publish_policy_info(&metrics, &policies);
    let shared = Arc::new(Shared {
        config,
        upstream,
        metrics: metrics.clone(),
        route_metrics,
        policies: ArcSwap::from_pointee(policies),
        classifiers,
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

    /// The live policy set.
    pub fn policies(&self) -> Arc<PolicySet> {
        self.shared.policies.load_full()
    }

    /// Recompiles the policies from their files and swaps them in atomically; on
    /// error the old set keeps serving. Counts `parapet_policy_reloads_total{result}`.
    /// Returns the rendered warnings.
    pub fn reload_policies(&self) -> Result<String, PolicyError> {
        let m = &self.shared.metrics;
        match load_policies(&self.shared.config, self.shared.classifiers.as_deref()) {
            Ok((set, warnings)) => {
                m.policy_info.reset();
                publish_policy_info(m, &set);
                self.shared.policies.store(Arc::new(set));
                m.policy_reloads.with_label_values(&["ok"]).inc();
                Ok(warnings)
            }
            Err(e) => {
                m.policy_reloads.with_label_values(&["error"]).inc();
                Err(e)
            }
        }
    }
}

fn publish_policy_info(m: &Metrics, set: &PolicySet) {
    for p in &set.policies {
        m.policy_info.with_label_values(&[&p.id, &p.hash]).set(1);
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
