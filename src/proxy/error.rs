//! Errors Parapet itself answers with, rendered as OpenAI error bodies so every SDK
//! raises its usual exception type:
//! `{"error":{"message":"...","type":"...","param":...,"code":"..."}}`.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use super::ctx::Outcome;

/// Which wait on the upstream ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Connecting (TCP and TLS).
    Connect,
    /// Waiting for the response headers.
    FirstByte,
    /// The whole exchange.
    Total,
    /// A stream's first event.
    FirstToken,
    /// The gap between two reads of a response body.
    Idle,
}

impl TimeoutPhase {
    /// The `parapet_upstream_errors_total{kind}` label.
    pub fn kind(self) -> &'static str {
        match self {
            TimeoutPhase::Connect => "connect_timeout",
            TimeoutPhase::FirstByte => "timeout",
            TimeoutPhase::Total => "total_timeout",
            TimeoutPhase::FirstToken => "first_token_timeout",
            TimeoutPhase::Idle => "idle_timeout",
        }
    }
}

/// The proxy boundary's error: everything that ends a request with a Parapet-made response.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The body is not valid JSON, or a field Parapet must inspect has the wrong type.
    #[error("{message}")]
    InvalidRequest {
        /// Lowercase, user-facing explanation.
        message: String,
        /// The top-level request field at fault, if known.
        param: Option<String>,
        /// Machine-readable code (`invalid_json`, `invalid_field`).
        code: &'static str,
    },
    /// The request path is suspicious (dot segments, encoded slashes).
    #[error("request path is not allowed: dot segments and encoded slashes are refused")]
    BadPath,
    /// The body is larger than `limits.max_request_bytes`.
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The client did not send its body in time.
    #[error("request body was not received within {0:?}")]
    BodyTimeout(Duration),
    /// Reading the client's body failed (connection error).
    #[error("could not read the request body")]
    BodyRead,
    /// The path is not served.
    #[error("unknown route `{0}`")]
    NotFound(String),
    /// The concurrency limit is reached.
    #[error("parapet is overloaded; retry shortly")]
    Overloaded,
    /// The upstream could not be reached.
    #[error("upstream is unreachable")]
    UpstreamUnreachable,
    /// The upstream did not answer in time.
    #[error("upstream did not respond in time ({} after {:?})", .phase.kind(), .after)]
    UpstreamTimeout {
        /// Which wait ran out.
        phase: TimeoutPhase,
        /// The configured limit.
        after: Duration,
    },
    /// The upstream's non-streamed response or one of its events is over `limits.max_response_bytes`.
    #[error("upstream response is larger than the limit of {limit} bytes")]
    UpstreamTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The upstream broke the HTTP exchange (reset, malformed response).
    #[error("upstream connection failed during the response")]
    UpstreamProtocol,
    /// A guarded completion could not be read, so the output rules could not vet it.
    #[error("the upstream response could not be read, so the output policy could not check it")]
    UpstreamUnreadable,
    /// The policy refused the prompt.
    #[error("{message}")]
    Blocked {
        /// The policy message.
        message: String,
        /// Ids of the rules that fired.
        rules: Vec<String>,
    },
    /// A bug or an impossible state, reported instead of panicking.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ProxyError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::InvalidRequest { .. }
            | ProxyError::BadPath
            | ProxyError::BodyRead
            | ProxyError::Blocked { .. } => StatusCode::BAD_REQUEST,
            ProxyError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ProxyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ProxyError::NotFound(_) => StatusCode::NOT_FOUND,
            ProxyError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::UpstreamUnreachable
            | ProxyError::UpstreamTooLarge { .. }
            | ProxyError::UpstreamProtocol
            | ProxyError::UpstreamUnreadable => StatusCode::BAD_GATEWAY,
            ProxyError::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The OpenAI `code` field.
    pub fn code(&self) -> &'static str {
        match self {
            ProxyError::InvalidRequest { code, .. } => code,
            ProxyError::BadPath => "invalid_path",
            ProxyError::TooLarge { .. } => "request_too_large",
            ProxyError::BodyTimeout(_) => "request_timeout",
            ProxyError::BodyRead => "invalid_body",
            ProxyError::NotFound(_) => "unknown_url",
            ProxyError::Overloaded => "overloaded",
            ProxyError::UpstreamUnreachable => "upstream_unreachable",
            ProxyError::UpstreamTimeout { .. } => "upstream_timeout",
            ProxyError::UpstreamTooLarge { .. } => "upstream_response_too_large",
            ProxyError::UpstreamProtocol => "upstream_protocol_error",
            ProxyError::Blocked { .. } => "content_filter",
            ProxyError::UpstreamUnreadable => "upstream_response_unreadable",
            ProxyError::Internal(_) => "internal_error",
        }
    }

    /// The OpenAI `type` field.
    pub fn kind(&self) -> &'static str {
        match self.status().as_u16() {
            400..=499 => "invalid_request_error",
            500 | 503 => "server_error",
            _ => "upstream_error",
        }
    }

    /// The request's outcome when it ends with this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            ProxyError::Overloaded => Outcome::Shed,
            ProxyError::UpstreamUnreachable
            | ProxyError::UpstreamTooLarge { .. }
            | ProxyError::UpstreamProtocol
            | ProxyError::UpstreamUnreadable => Outcome::UpstreamUnreachable,
            ProxyError::UpstreamTimeout { .. } => Outcome::UpstreamTimeout,
            ProxyError::Blocked { .. } => Outcome::Blocked,
            _ => Outcome::Rejected,
        }
    }

    /// The OpenAI `param` field.
    fn param(&self) -> Option<&str> {
        match self {
            ProxyError::InvalidRequest { param, .. } => param.as_deref(),
            ProxyError::Blocked { .. } => Some("messages"),
            _ => None,
        }
    }

    /// The JSON error body.
    pub fn body(&self) -> Bytes {
        if let ProxyError::Blocked { message, rules } = self {
            // Azure OpenAI's shape, so clients that understand content filtering do.
            let results: serde_json::Map<String, serde_json::Value> = rules
                .iter()
                .map(|r| (r.clone(), serde_json::json!({"filtered": true})))
                .collect();
            let body = serde_json::json!({
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "content_filter",
                    "innererror": {
                        "code": "ResponsibleAIPolicyViolation",
                        "content_filter_result": results,
                    }
                }
            });
            return Bytes::from(body.to_string());
        }
        let body = serde_json::json!({
            "error": {
                "message": self.to_string(),
                "type": self.kind(),
                "param": self.param(),
                "code": self.code(),
            }
        });
        Bytes::from(body.to_string())
    }

    /// The full response (status, JSON body, `Retry-After` when overloaded).
    pub fn into_response<B: From<Bytes>>(&self) -> Response<B> {
        let mut resp = Response::new(B::from(self.body()));
        *resp.status_mut() = self.status();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if matches!(self, ProxyError::Overloaded) {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_openai_errors() {
        let e = ProxyError::TooLarge { limit: 10 };
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["code"], "request_too_large");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["param"].is_null());
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let r: Response<Bytes> = ProxyError::Overloaded.into_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
