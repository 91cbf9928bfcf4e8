//! The `admit` phase's routing: which OpenAI endpoint a request targets.
//!
//! Paths are normalised before they are classified (repeated slashes collapsed, a
//! trailing slash dropped, percent-encoded unreserved characters decoded), so that a
//! spelling an upstream server would still route to, say, chat completions
//! (`/v1//chat/completions/`, `/v1/chat/complet%69ons`) is inspected like the
//! canonical path and cannot slip past the guard as an "unknown" route.

use http::Method;

use super::openai::Endpoint;

/// The endpoints Parapet knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `POST /v1/completions` (legacy).
    Completions,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `POST /v1/responses`.
    Responses,
    /// `GET /v1/models` (and `/v1/models/{id}`).
    Models,
    /// Anything else under `/v1`: passed through unchanged unless configured to deny.
    Other,
}

/// Every route, for pre-resolving per-route metric handles.
pub const ALL_ROUTES: [Route; 6] = [
    Route::ChatCompletions,
    Route::Completions,
    Route::Embeddings,
    Route::Responses,
    Route::Models,
    Route::Other,
];

/// Why a path cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// Outside `/v1`.
    NotFound,
    /// A `.` or `..` segment, or an encoded slash: refused rather than guessed at.
    Suspicious,
}

impl Route {
    /// Classifies a request by method and (raw) path.
    pub fn classify(method: &Method, path: &str) -> Result<Route, RouteError> {
        Self::classify_path(method, path).map(|(route, _)| route)
    }

    /// Classifies a request and returns the normalised path after `/v1` (what is
    /// forwarded upstream, so the upstream routes exactly what was inspected).
    pub fn classify_path(method: &Method, path: &str) -> Result<(Route, String), RouteError> {
        let mut norm = normalise(path)?;
        let rest = match norm.strip_prefix("/v1") {
            Some("") => "",
            Some(r) if r.starts_with('/') => r,
            _ => return Err(RouteError::NotFound),
        };
        let post = method == Method::POST;
        let route = match rest {
            "/chat/completions" if post => Route::ChatCompletions,
            "/completions" if post => Route::Completions,
            "/embeddings" if post => Route::Embeddings,
            "/responses" if post => Route::Responses,
            "/models" if method == Method::GET => Route::Models,
            r if method == Method::GET && r.starts_with("/models/") => Route::Models,
            _ => Route::Other,
        };
        norm.drain(..3);
        Ok((route, norm))
    }

    /// The metric label for this route.
    pub fn label(self) -> &'static str {
        match self {
            Route::ChatCompletions => "chat_completions",
            Route::Completions => "completions",
            Route::Embeddings => "embeddings",
            Route::Responses => "responses",
            Route::Models => "models",
            Route::Other => "other",
        }
    }

    /// The endpoint whose body Parapet parses, if any.
    pub fn endpoint(self) -> Option<Endpoint> {
        match self {
            Route::ChatCompletions => Some(Endpoint::ChatCompletions),
            Route::Completions => Some(Endpoint::Completions),
            Route::Embeddings => Some(Endpoint::Embeddings),
            Route::Responses => Some(Endpoint::Responses),
            Route::Models | Route::Other => None,
        }
    }

    /// Whether the response carries generated text to inspect.
    pub fn inspects_response(self) -> bool {
        matches!(
            self,
            Route::ChatCompletions | Route::Completions | Route::Responses
        )
    }
}

/// Normalises a path for classification; the path forwarded upstream is the original.
fn normalise(path: &str) -> Result<String, RouteError> {
    let mut out = String::with_capacity(path.len());
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(c) if c.is_ascii_alphanumeric() || b"-._~".contains(&c) => {
                    out.push(c as char);
                    i += 3;
                    continue;
                }
                Some(b'/') | Some(b'\\') => return Err(RouteError::Suspicious),
                _ => {}
            }
        }
        if b == b'/' && out.ends_with('/') {
            i += 1;
            continue;
        }
        out.push(b as char);
        i += 1;
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    if out.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(RouteError::Suspicious);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths() {
        let post = Method::POST;
        assert_eq!(
            Route::classify(&post, "/v1/chat/completions"),
            Ok(Route::ChatCompletions)
        );
        assert_eq!(
            Route::classify(&post, "/v1/completions"),
            Ok(Route::Completions)
        );
        assert_eq!(
            Route::classify(&post, "/v1/embeddings"),
            Ok(Route::Embeddings)
        );
        assert_eq!(
            Route::classify(&post, "/v1/responses"),
            Ok(Route::Responses)
        );
        assert_eq!(
            Route::classify(&Method::GET, "/v1/models"),
            Ok(Route::Models)
        );
        assert_eq!(
            Route::classify(&Method::GET, "/v1/models/gpt-4o"),
            Ok(Route::Models)
        );
        assert_eq!(Route::classify(&post, "/v1/files"), Ok(Route::Other));
        assert_eq!(
            Route::classify(&Method::GET, "/v1/chat/completions"),
            Ok(Route::Other)
        );
        assert_eq!(
            Route::classify(&post, "/v2/chat/completions"),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            Route::classify(&post, "/v1x/chat"),
            Err(RouteError::NotFound)
        );
        assert_eq!(Route::classify(&post, "/"), Err(RouteError::NotFound));
    }

    #[test]
    fn regression_alternate_spellings_cannot_bypass_inspection() {
        let post = Method::POST;
        for p in [
            "/v1//chat/completions",
            "/v1/chat/completions/",
            "//v1/chat//completions//",
            "/v1/chat/complet%69ons",
            "/%761/chat/completions",
        ] {
            assert_eq!(Route::classify(&post, p), Ok(Route::ChatCompletions), "{p}");
        }
        assert_eq!(
            Route::classify(&post, "/v1/chat%2Fcompletions"),
            Err(RouteError::Suspicious)
        );
        assert_eq!(
            Route::classify(&post, "/v1/x/../chat/completions"),
            Err(RouteError::Suspicious)
        );
        assert_eq!(
            Route::classify(&post, "/v1/%2e%2e/v1/chat/completions"),
            Err(RouteError::Suspicious)
        );
        // Truncated or invalid escapes are kept literally and cannot panic.
        assert_eq!(Route::classify(&post, "/v1/chat%"), Ok(Route::Other));
        assert_eq!(Route::classify(&post, "/v1/chat%4"), Ok(Route::Other));
        assert_eq!(Route::classify(&post, "/v1/chat%zz"), Ok(Route::Other));
    }
}
