//! The upstream HTTP client: pooled keep-alive connections over HTTP/1.1, HTTPS via
//! rustls (bundled Mozilla roots plus an optional extra CA file), TCP_NODELAY, and a
//! connect timeout. The other timeouts are applied per phase by the pipeline.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::uri::{PathAndQuery, Uri};
use http::HeaderValue;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::config::UpstreamConfig;

/// Boxed error type used by bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of requests sent upstream.
pub type UpstreamBody = UnsyncBoxBody<Bytes, BoxError>;

/// Errors building the upstream client.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    /// The CA file could not be read or holds no certificate.
    #[error("cannot use CA file `{path}`: {message}")]
    CaFile {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// A configured upstream: where requests go and the client that sends them.
pub struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, UpstreamBody>,
    config: UpstreamConfig,
    auth: Option<HeaderValue>,
}

impl Upstream {
    /// Builds the pooled client.
    pub fn new(config: &UpstreamConfig) -> Result<Self, UpstreamSetupError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(60)));
        let tls = tls_config(config)?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(config.pool_max_idle)
            .build(https);
        let auth = config
            .api_key
            .as_ref()
            .and_then(|k| HeaderValue::from_str(&format!("Bearer {k}")).ok())
            .map(|mut v| {
                v.set_sensitive(true);
                v
            });
        Ok(Self {
            client,
            config: config.clone(),
            auth,
        })
    }

    /// The `Authorization` value that replaces the client's, if configured.
    pub fn auth(&self) -> Option<&HeaderValue> {
        self.auth.as_ref()
    }

    /// The upstream settings.
    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    /// The client.
    pub fn client(&self) -> &Client<HttpsConnector<HttpConnector>, UpstreamBody> {
        &self.client
    }

    /// `{upstream base}{rest}?{query}` for a request path whose `/v1` prefix was removed.
    pub fn uri(&self, rest: &str, query: Option<&str>) -> Result<Uri, http::Error> {
        let mut pq = String::with_capacity(self.config.base_path.len() + rest.len() + 64);
        pq.push_str(&self.config.base_path);
        pq.push_str(rest);
        if pq.is_empty() {
            pq.push('/');
        }
        if let Some(q) = query {
            pq.push('?');
            pq.push_str(q);
        }
        Uri::builder()
            .scheme(self.config.scheme.clone())
            .authority(self.config.authority.clone())
            .path_and_query(PathAndQuery::try_from(pq)?)
            .build()
    }
}

fn tls_config(config: &UpstreamConfig) -> Result<rustls::ClientConfig, UpstreamSetupError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = &config.ca_file {
        let err = |message: String| UpstreamSetupError::CaFile {
            path: path.display().to_string(),
            message,
        };
        let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| err(e.to_string()))?;
            roots.add(cert).map_err(|e| err(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(err("no PEM certificate found".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamSetupError::CaFile {
            path: String::new(),
            message: e.to_string(),
        })?;
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}
