//! Every route, non-streamed: what reaches the upstream and what comes back.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use crate::support::*;

const CHAT_REPLY: &str = r#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;

#[tokio::test]
async fn chat_request_and_response_pass_byte_for_byte() {
    let mock = Mock::start(|_| Reply::json(200, CHAT_REPLY).header("x-upstream", "yes")).await;
    let app = proxy(&mock, "");
    // Odd spacing, key order and fields Parapet has never heard of must survive.
    let body = "{ \"model\":\"gpt-x\",  \"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\n \"x_future_field\":{\"a\":[1,2,{\"b\":null}]}, \"temperature\":0.2 }";
    let resp = send(&app, post("/v1/chat/completions", body)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-upstream"], "yes");
    assert_eq!(
        resp.headers()["content-length"],
        CHAT_REPLY.len().to_string()
    );
    assert!(resp.headers().contains_key("server-timing"));
    assert_eq!(body_bytes(resp).await, CHAT_REPLY.as_bytes());
    let got = mock.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, http::Method::POST);
    assert_eq!(got[0].uri.path(), "/v1/chat/completions");
    assert_eq!(got[0].body, body.as_bytes());
    assert_eq!(got[0].headers["authorization"], "Bearer sk-client");
    assert_eq!(got[0].headers["accept-encoding"], "identity");
}

#[tokio::test]
async fn completions_embeddings_responses_and_models() {
    let mock = Mock::start(|r| {
        let path = r.uri.path().to_owned();
        Reply::json(200, &format!("{{\"path\":\"{path}\"}}"))
    })
    .await;
    let app = proxy(&mock, "");
    for (path, body) in [
        (
            "/v1/completions",
            r#"{"model":"m","prompt":["a","b"],"suffix":"z"}"#,
        ),
        ("/v1/embeddings", r#"{"model":"m","input":["one","two"]}"#),
        (
            "/v1/responses",
            r#"{"model":"m","instructions":"be nice","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}]}"#,
        ),
    ] {
        let resp = send(&app, post(path, body)).await;
        assert_eq!(resp.status(), 200, "{path}");
        let got = body_bytes(resp).await;
        assert_eq!(got, format!("{{\"path\":\"{path}\"}}").as_bytes());
    }
    let req = Request::get("/v1/models")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = send(&app, req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body_bytes(resp).await, &b"{\"path\":\"/v1/models\"}"[..]);
    let paths: Vec<String> = mock
        .received()
        .iter()
        .map(|r| r.uri.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "/v1/completions",
            "/v1/embeddings",
            "/v1/responses",
            "/v1/models"
        ]
    );
}

#[tokio::test]
async fn unknown_routes_pass_through_with_query_and_body() {
    let mock = Mock::start(|_| Reply::json(201, "{\"ok\":true}")).await;
    let app = proxy(&mock, "");
    let req = Request::post("/v1/files?purpose=batch&x=1")
        .header("content-type", "application/octet-stream")
        .body(Full::new(Bytes::from_static(b"\x00\x01binary, not json")))
        .unwrap();
    let resp = send(&app, req).await;
    assert_eq!(resp.status(), 201);
    let got = &mock.received()[0];
    assert_eq!(got.uri.path(), "/v1/files");
    assert_eq!(got.uri.query(), Some("purpose=batch&x=1"));
    assert_eq!(&got.body[..], b"\x00\x01binary, not json");
    // Pass-through responses are not re-encoded.
    assert!(got.headers.get("accept-encoding").is_none());
}

#[tokio::test]
async fn deny_unknown_routes_refuses_them() {
    let mock = Mock::start(|_| Reply::json(200, "{}")).await;
    let app = proxy(&mock, "routes:\n  deny_unknown: true\n");
    let resp = send(&app, post("/v1/files", "{}")).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(&body_bytes(resp).await), "unknown_url");
    assert!(mock.received().is_empty());
    // Known routes still work.
    let resp = send(&app, post("/v1/embeddings", r#"{"input":"x"}"#)).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn upstream_base_path_is_prefixed() {
    let mock = Mock::start(|_| Reply::json(200, "{}")).await;
    let mut cfg = config(&mock, "");
    cfg.upstream.base_path = "/openai/deployments/d1".into();
    let app = parapet::app(cfg).unwrap();
    let resp = send(
        &app,
        post(
            "/v1/chat/completions?api-version=2024",
            r#"{"messages":[]}"#,
        ),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let got = &mock.received()[0];
    assert_eq!(got.uri.path(), "/openai/deployments/d1/chat/completions");
    assert_eq!(got.uri.query(), Some("api-version=2024"));
}

#[tokio::test]
async fn regression_alternate_path_spelling_is_inspected_and_forwarded_canonically() {
    let mock = Mock::start(|_| Reply::json(200, "{}")).await;
    let app = proxy(&mock, "");
    // Inspected: a bad body is refused even on an odd spelling of the route.
    let resp = send(&app, post("/v1//chat/completions/", "{not json")).await;
    assert_eq!(resp.status(), 400);
    let resp = send(&app, post("/v1//chat/complet%69ons/", r#"{"messages":[]}"#)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(mock.received()[0].uri.path(), "/v1/chat/completions");
}

#[tokio::test]
async fn upstream_api_key_replaces_client_authorization() {
    let mock = Mock::start(|_| Reply::json(200, "{}")).await;
    let app = proxy(&mock, "upstream:\n  api_key: sk-upstream\n");
    send(&app, post("/v1/embeddings", r#"{"input":"x"}"#)).await;
    assert_eq!(
        mock.received()[0].headers["authorization"],
        "Bearer sk-upstream"
    );
}

#[tokio::test]
async fn hop_by_hop_headers_are_not_forwarded_and_request_id_is() {
    let mock = Mock::start(|_| {
        Reply::json(200, "{}")
            .header("connection", "x-up-hop")
            .header("x-up-hop", "1")
            .header("keep-alive", "timeout=5")
    })
    .await;
    let app = proxy(&mock, "");
    let mut req = post("/v1/embeddings", r#"{"input":"x"}"#);
    let h = req.headers_mut();
    h.insert("connection", "x-client-hop".parse().unwrap());
    h.insert("x-client-hop", "1".parse().unwrap());
    h.insert("proxy-authorization", "Basic abc".parse().unwrap());
    h.insert("x-request-id", "req-123".parse().unwrap());
    h.insert("x-custom", "kept".parse().unwrap());
    let resp = send(&app, req).await;
    assert_eq!(resp.headers()["x-request-id"], "req-123");
    assert!(resp.headers().get("x-up-hop").is_none());
    assert!(resp.headers().get("keep-alive").is_none());
    let got = &mock.received()[0];
    assert!(got.headers.get("x-client-hop").is_none());
    assert!(got.headers.get("proxy-authorization").is_none());
    assert_eq!(got.headers["x-request-id"], "req-123");
    assert_eq!(got.headers["x-custom"], "kept");
}

#[tokio::test]
async fn request_id_is_generated_when_missing_or_malformed() {
    let mock = Mock::start(|_| Reply::json(200, "{}")).await;
    let app = proxy(&mock, "");
    let mut req = post("/v1/embeddings", r#"{"input":"x"}"#);
    req.headers_mut()
        .insert("x-request-id", "has space".parse().unwrap());
    let resp = send(&app, req).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(mock.received()[0].headers["x-request-id"], id.as_str());
}
