//! Server configuration: a YAML file, `PARAPET_*` environment variables and
//! command-line flags, merged (flags > environment > file > defaults) and
//! validated into one [`Config`].
//!
//! The raw file form ([`FileConfig`]) is strict: an unknown key is an error, so a
//! typo can never silently fall back to a default.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::Uri;
use serde::Deserialize;

mod classifiers;
pub use classifiers::{default_classifiers_dir, ClassifierConfig};

/// Everything `parapet serve` needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address of the proxy listener.
    pub listen: SocketAddr,
    /// Address of the admin listener (`/metrics`, `/healthz`, `/readyz`).
    pub admin_listen: SocketAddr,
    /// The upstream LLM endpoint and its timeouts.
    pub upstream: UpstreamConfig,
    /// Size and concurrency limits.
    pub limits: Limits,
    /// Route handling.
    pub routes: RoutesConfig,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub shutdown_grace: Duration,
    /// Policy files or directories (empty: the built-in `policies/default.yaml`).
    pub policies: Vec<PathBuf>,
    /// Header naming the tenant (trusted as sent: set it only behind an authenticating layer).
    pub tenant_header: Option<http::HeaderName>,
    /// How often policy files are checked for changes (0: never; SIGHUP always reloads).
    pub policy_reload_interval: Duration,
    /// The classifier runtime.
    pub classifiers: ClassifierConfig,
}

/// The upstream endpoint, parsed.
#[derive(Clone)]
pub struct UpstreamConfig {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Host and port.
    pub authority: Authority,
    /// Path prefix without a trailing slash (`/v1` for `https://api.openai.com/v1`).
    pub base_path: String,
    /// When set, replaces the client's `Authorization` header with `Bearer <key>`.
    pub api_key: Option<String>,
    /// Extra PEM file of trusted root certificates for HTTPS upstreams.
    pub ca_file: Option<PathBuf>,
    /// TCP (and TLS) connect timeout.
    pub connect_timeout: Duration,
    /// Time from sending the request until the upstream's response headers.
    pub first_byte_timeout: Duration,
    /// Whole exchange, response body included (streams too).
    pub total_timeout: Duration,
    /// Streams: time from the response headers until the first event.
    pub first_token_timeout: Duration,
    /// Streams and pass-through bodies: longest gap between two reads.
    pub idle_timeout: Duration,
    /// Idle keep-alive connections kept per upstream host.
    pub pool_max_idle: usize,
}

impl fmt::Debug for UpstreamConfig {
    // Hand-written so the API key never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("url", &self.url())
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("connect_timeout", &self.connect_timeout)
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("pool_max_idle", &self.pool_max_idle)
            .finish()
    }
}

impl UpstreamConfig {
    /// The base URL as configured (without credentials).
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.base_path)
    }
}

/// Size and concurrency limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted (413 beyond).
    pub max_request_bytes: usize,
    /// Largest non-streamed upstream response body Parapet buffers for inspection,
    /// and largest single SSE event (502 beyond).
    pub max_response_bytes: usize,
    /// Requests (streams included) handled at once; beyond, 503 with `Retry-After`.
    pub max_concurrency: usize,
    /// Longest time a client may take to send its request body (408 beyond).
    pub client_body_timeout: Duration,
}

/// Route handling.
#[derive(Debug, Clone, Default)]
pub struct RoutesConfig {
    /// Refuse (404) paths under `/v1` that Parapet does not know, instead of passing them through.
    pub deny_unknown: bool,
}

/// Errors found while loading or validating configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid YAML for the schema.
    #[error("invalid config file `{path}`: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What serde said, with line and column.
        message: String,
    },
    /// A value is present but unusable.
    #[error("invalid value for `{key}`: {message}")]
    Invalid {
        /// The config key (dotted path).
        key: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A required value is missing.
    #[error("no upstream configured: pass `--upstream URL`, set `PARAPET_UPSTREAM` or `upstream.url` in the config file")]
    MissingUpstream,
}

/// The config file as written (every field optional; unknown keys are errors).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See [`Config::listen`].
    pub listen: Option<String>,
    /// See [`Config::admin_listen`].
    pub admin_listen: Option<String>,
    /// See [`UpstreamConfig`].
    #[serde(default)]
    pub upstream: FileUpstream,
    /// See [`Limits`].
    #[serde(default)]
    pub limits: FileLimits,
    /// See [`RoutesConfig`].
    #[serde(default)]
    pub routes: FileRoutes,
    /// See [`Config::shutdown_grace`].
    pub shutdown_grace: Option<HumanDuration>,
    /// See [`Config::policies`].
    pub policies: Option<Vec<PathBuf>>,
    /// See [`Config::tenant_header`].
    pub tenant_header: Option<String>,
    /// See [`Config::policy_reload_interval`].
    pub policy_reload_interval: Option<HumanDuration>,
    /// See [`ClassifierConfig`].
    #[serde(default)]
    pub classifiers: FileClassifiers,
}

/// `classifiers:` section of the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FileClassifiers {
    pub enabled: Option<bool>,
    pub dir: Option<PathBuf>,
    pub workers: Option<usize>,
    pub intra_threads: Option<usize>,
    pub max_batch: Option<usize>,
    pub cache_entries: Option<usize>,
    pub budget: Option<HumanDuration>,
    pub max_windows: Option<usize>,
}

/// `upstream:` section of the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FileUpstream {
    pub url: Option<String>,
    pub api_key: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Option<HumanDuration>,
    pub first_byte_timeout: Option<HumanDuration>,
    pub total_timeout: Option<HumanDuration>,
    pub first_token_timeout: Option<HumanDuration>,
    pub idle_timeout: Option<HumanDuration>,
    pub pool_max_idle: Option<usize>,
}

/// `limits:` section of the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FileLimits {
    pub max_request_bytes: Option<ByteSize>,
    pub max_response_bytes: Option<ByteSize>,
    pub max_concurrency: Option<usize>,
    pub client_body_timeout: Option<HumanDuration>,
}

/// `routes:` section of the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FileRoutes {
    pub deny_unknown: Option<bool>,
}

/// Values given on the command line or in the environment; they win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen` / `PARAPET_LISTEN`.
    pub listen: Option<String>,
    /// `--admin-listen` / `PARAPET_ADMIN_LISTEN`.
    pub admin_listen: Option<String>,
    /// `--upstream` / `PARAPET_UPSTREAM`.
    pub upstream: Option<String>,
    /// `PARAPET_UPSTREAM_API_KEY` (environment only, so it never shows in `ps`).
    pub upstream_api_key: Option<String>,
    /// `--max-concurrency` / `PARAPET_MAX_CONCURRENCY`.
    pub max_concurrency: Option<usize>,
    /// `--deny-unknown-routes` / `PARAPET_DENY_UNKNOWN_ROUTES`.
    pub deny_unknown_routes: Option<bool>,
    /// `--policy` (repeatable) / `PARAPET_POLICY` (comma-separated).
    pub policies: Vec<PathBuf>,
    /// `--classifiers` / `PARAPET_CLASSIFIERS`: the model directory.
    pub classifiers_dir: Option<PathBuf>,
}

/// Default proxy listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default admin listen address.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9464";

impl FileConfig {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses config YAML; the error carries serde's message with line and column.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_norway::from_str(text).map_err(|e| e.to_string())
    }
}

impl Config {
    /// A config with every default and the given upstream URL (handy for tests and embedding).
    pub fn with_upstream(url: &str) -> Result<Self, ConfigError> {
        Self::resolve(
            FileConfig::default(),
            Overrides {
                upstream: Some(url.to_owned()),
                ..Overrides::default()
            },
        )
    }

    /// Merges overrides over the file over the defaults, and validates the result.
    pub fn resolve(file: FileConfig, over: Overrides) -> Result<Self, ConfigError> {
        let listen = parse_addr(
            "listen",
            over.listen
                .or(file.listen)
                .as_deref()
                .unwrap_or(DEFAULT_LISTEN),
        )?;
        let admin_listen = parse_addr(
            "admin_listen",
            over.admin_listen
                .or(file.admin_listen)
                .as_deref()
                .unwrap_or(DEFAULT_ADMIN_LISTEN),
        )?;
        let up = file.upstream;
        let url = over
            .upstream
            .or(up.url)
            .ok_or(ConfigError::MissingUpstream)?;
        let (scheme, authority, base_path) = parse_upstream_url(&url)?;
        let dur = |v: Option<HumanDuration>, key: &'static str, default: u64| {
            positive(key, v.map_or(Duration::from_secs(default), |d| d.0))
        };
        let api_key = over
            .upstream_api_key
            .or(up.api_key)
            .filter(|k| !k.is_empty());
        if let Some(key) = &api_key {
            if http::HeaderValue::from_str(&format!("Bearer {key}")).is_err() {
                return Err(ConfigError::Invalid {
                    key: "upstream.api_key",
                    message: "contains characters not allowed in an HTTP header".into(),
                });
            }
        }
        let upstream = UpstreamConfig {
            scheme,
            authority,
            base_path,
            api_key,
            ca_file: up.ca_file,
            connect_timeout: dur(up.connect_timeout, "upstream.connect_timeout", 5)?,
            first_byte_timeout: dur(up.first_byte_timeout, "upstream.first_byte_timeout", 120)?,
            total_timeout: dur(up.total_timeout, "upstream.total_timeout", 600)?,
            first_token_timeout: dur(up.first_token_timeout, "upstream.first_token_timeout", 120)?,
            idle_timeout: dur(up.idle_timeout, "upstream.idle_timeout", 60)?,
            pool_max_idle: up.pool_max_idle.unwrap_or(64),
        };
        let lim = file.limits;
        let limits = Limits {
            max_request_bytes: at_least(
                "limits.max_request_bytes",
                lim.max_request_bytes.map_or(4 << 20, |b| b.0),
                1024,
            )?,
            max_response_bytes: at_least(
                "limits.max_response_bytes",
                lim.max_response_bytes.map_or(32 << 20, |b| b.0),
                1024,
            )?,
            max_concurrency: at_least(
                "limits.max_concurrency",
                over.max_concurrency.or(lim.max_concurrency).unwrap_or(1024),
                1,
            )?,
            client_body_timeout: positive(
                "limits.client_body_timeout",
                lim.client_body_timeout
                    .map_or(Duration::from_secs(30), |d| d.0),
            )?,
        };
        Ok(Config {
            listen,
            admin_listen,
            upstream,
            limits,
            routes: RoutesConfig {
                deny_unknown: over
                    .deny_unknown_routes
                    .or(file.routes.deny_unknown)
                    .unwrap_or(false),
            },
            shutdown_grace: file.shutdown_grace.map_or(Duration::from_secs(30), |d| d.0),
            policies: if over.policies.is_empty() {
                file.policies.unwrap_or_default()
            } else {
                over.policies
            },
            tenant_header: match file.tenant_header {
                None => None,
                Some(h) => Some(http::HeaderName::from_bytes(h.as_bytes()).map_err(|_| {
                    ConfigError::Invalid {
                        key: "tenant_header",
                        message: format!("`{h}` is not a valid header name"),
                    }
                })?),
            },
            policy_reload_interval: file
                .policy_reload_interval
                .map_or(Duration::from_secs(2), |d| d.0),
            classifiers: ClassifierConfig::resolve(file.classifiers, over.classifiers_dir)?,
        })
    }
}

fn parse_addr(key: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| ConfigError::Invalid {
        key,
        message: format!("`{text}` is not an address such as `127.0.0.1:8080` or `[::1]:8080`"),
    })
}

fn positive(key: &'static str, d: Duration) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::Invalid {
            key,
            message: "must be greater than zero".into(),
        });
    }
    Ok(d)
}

fn at_least(key: &'static str, v: usize, min: usize) -> Result<usize, ConfigError> {
    if v < min {
        return Err(ConfigError::Invalid {
            key,
            message: format!("is {v}, must be at least {min}"),
        });
    }
    Ok(v)
}

/// Splits an upstream base URL into scheme, authority and path prefix.
fn parse_upstream_url(url: &str) -> Result<(Scheme, Authority, String), ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        key: "upstream.url",
        message,
    };
    let uri: Uri = url
        .parse()
        .map_err(|e| invalid(format!("`{url}` is not a URL: {e}")))?;
    let scheme = uri.scheme().cloned().ok_or_else(|| {
        invalid(format!(
            "`{url}` has no scheme; use `http://` or `https://`"
        ))
    })?;
    if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
        return Err(invalid(format!(
            "scheme `{scheme}` is not supported; use `http://` or `https://`"
        )));
    }
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| invalid(format!("`{url}` has no host")))?;
    if authority.as_str().contains('@') {
        return Err(invalid(
            "credentials in the URL are not supported; use `upstream.api_key`".into(),
        ));
    }
    if uri.query().is_some() {
        return Err(invalid(format!("`{url}` must not have a query string")));
    }
    let base_path = uri.path().trim_end_matches('/').to_owned();
    Ok((scheme, authority, base_path))
}

/// A duration written as `250ms`, `5s`, `2m` or `1h` (a bare number means seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = NumOrText::deserialize(d)?;
        match v {
            NumOrText::Num(n) => Ok(Self(Duration::from_secs(n))),
            NumOrText::Text(t) => parse_duration(&t)
                .map(Self)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// A size written as `4096`, `64KiB`, `4MiB`, `1GiB` (also `KB`/`MB`/`GB` as powers of ten).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = NumOrText::deserialize(d)?;
        match v {
            NumOrText::Num(n) => usize::try_from(n)
                .map(Self)
                .map_err(serde::de::Error::custom),
            NumOrText::Text(t) => parse_size(&t).map(Self).map_err(serde::de::Error::custom),
        }
    }
}

/// A YAML scalar that is a number or a string (visited by hand, so errors stay precise).
enum NumOrText {
    Num(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for NumOrText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = NumOrText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number or a string such as `5s` or `4MiB`")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NumOrText, E> {
                Ok(NumOrText::Num(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NumOrText, E> {
                u64::try_from(v)
                    .map(NumOrText::Num)
                    .map_err(|_| E::custom(format!("`{v}` must not be negative")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NumOrText, E> {
                Ok(NumOrText::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses `250ms`, `5s`, `1.5s`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as `500ms`, `5s`, `2m`"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}`; use `ms`, `s`, `m` or `h`"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is out of range"))
}

/// Parses `4096`, `64KiB`, `4MiB`, `1GiB`, `10KB`, `10MB`.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as `4096`, `64KiB` or `4MiB`"))?;
    let mul: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
            "unknown size unit `{other}` in `{text}`; use `KiB`, `MiB`, `GiB`, `KB`, `MB` or `GB`"
        ))
        }
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("`{text}` is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("5 parsecs")
            .unwrap_err()
            .contains("unknown duration unit"));
        assert_eq!(parse_size("64KiB").unwrap(), 65536);
        assert_eq!(parse_size("4MiB").unwrap(), 4 << 20);
        assert_eq!(parse_size("10MB").unwrap(), 10_000_000);
        assert!(parse_size("4 furlongs").is_err());
    }

    #[test]
    fn unknown_key_is_an_error_with_position() {
        let err = FileConfig::parse("upstream:\n  urll: http://x/v1\n").unwrap_err();
        assert!(err.contains("unknown field `urll`"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn file_values_parse_and_overrides_win() {
        let file = FileConfig::parse(
            "listen: 127.0.0.1:9000\nupstream:\n  url: https://api.example.com/v1/\n  idle_timeout: 3s\nlimits:\n  max_request_bytes: 64KiB\n",
        )
        .unwrap();
        let cfg = Config::resolve(
            file,
            Overrides {
                listen: Some("127.0.0.1:9100".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(cfg.listen.port(), 9100);
        assert_eq!(cfg.upstream.scheme, Scheme::HTTPS);
        assert_eq!(cfg.upstream.authority.as_str(), "api.example.com");
        assert_eq!(cfg.upstream.base_path, "/v1");
        assert_eq!(cfg.upstream.idle_timeout, Duration::from_secs(3));
        assert_eq!(cfg.limits.max_request_bytes, 65536);
    }

    #[test]
    fn bad_values_are_reported_by_key() {
        let err = Config::with_upstream("ftp://x/v1").unwrap_err().to_string();
        assert!(err.contains("upstream.url") && err.contains("ftp"), "{err}");
        let err = Config::resolve(FileConfig::default(), Overrides::default()).unwrap_err();
        assert!(matches!(err, ConfigError::MissingUpstream));
        let file =
            FileConfig::parse("upstream:\n  url: http://x/v1\n  connect_timeout: 0s\n").unwrap();
        let err = Config::resolve(file, Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("upstream.connect_timeout"), "{err}");
    }

    #[test]
    fn api_key_never_in_debug_output() {
        let file =
            FileConfig::parse("upstream:\n  url: http://x/v1\n  api_key: sk-secret-123\n").unwrap();
        let cfg = Config::resolve(file, Overrides::default()).unwrap();
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("sk-secret-123"), "{dbg}");
    }
}
