//! Header handling at the proxy boundary (RFC 9110 section 7.6.1): hop-by-hop fields
//! are consumed here, never forwarded; everything else passes through unchanged.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The request-id header, taken from the client when valid, generated otherwise.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Fields that describe one connection, not the message (plus the proxy-only ones).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Removes hop-by-hop fields, including every field the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

/// Prepares the client's headers for the upstream request.
///
/// `Host` and `Content-Length` are left to the HTTP client (derived from the URI and
/// the body). When the response will be inspected, `Accept-Encoding: identity` asks
/// the upstream for an uncompressed body Parapet can read.
pub fn to_upstream(headers: &mut HeaderMap, api_key: Option<&HeaderValue>, inspect: bool) {
    strip_hop_by_hop(headers);
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    if inspect {
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    if let Some(key) = api_key {
        headers.insert(header::AUTHORIZATION, key.clone());
    }
}

/// Whether a client-supplied request id is acceptable to echo and forward.
pub fn valid_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
}

/// A fresh request id: 128 random bits, hex.
pub fn new_request_id() -> HeaderValue {
    let id = format!("{:032x}", fastrand::u128(..));
    HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_listed_fields_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("x-custom", HeaderValue::from_static("kept"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer client"),
        );
        to_upstream(&mut h, None, true);
        assert_eq!(h.len(), 3, "{h:?}");
        assert_eq!(h["x-custom"], "kept");
        assert_eq!(h[header::AUTHORIZATION], "Bearer client");
        assert_eq!(h[header::ACCEPT_ENCODING], "identity");
    }

    #[test]
    fn configured_key_replaces_client_authorization() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer client"),
        );
        to_upstream(&mut h, Some(&HeaderValue::from_static("Bearer cfg")), false);
        assert_eq!(h[header::AUTHORIZATION], "Bearer cfg");
        assert!(h.get(header::ACCEPT_ENCODING).is_none());
    }

    #[test]
    fn request_ids() {
        assert!(valid_request_id(&HeaderValue::from_static("abc-123")));
        assert!(!valid_request_id(&HeaderValue::from_static("has space")));
        assert!(!valid_request_id(&HeaderValue::from_static("")));
        let a = new_request_id();
        assert_eq!(a.len(), 32);
        assert_ne!(a, new_request_id());
    }
}
