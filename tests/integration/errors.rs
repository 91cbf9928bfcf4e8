//! Errors Parapet answers itself, each with its status and an OpenAI error body;
//! upstream errors pass through unchanged.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body::{Body, Frame};
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::support::*;

#[tokio::test]
async fn malformed_json_is_400_and_never_forwarded() {
    let mock = Mock::start(|_| Reply::json(200, "{}")).await;
    let app = proxy(&mock, "");
    for bad in [
        "{\"messages\": [",
        "",
        "[1,2]",
        "\"text\"",
        "{\"messages\":[]} trailing",
    ] {
        let resp = send(&app, post("/v1/chat/completions", bad)).await;
        assert_eq!(resp.status(), 400, "{bad:?}");
        assert_eq!(
            error_code(&body_bytes(resp).await),
            "invalid_json",
            "{bad:?}"
        );
    }
    assert!(mock.received().is_empty());
    assert_eq!(
        metric(
            &app,
            "parapet_requests_total{outcome=\"rejected\",route=\"chat_completions\"}"
        ),
        5.0
    );
}

#[tokio::test]
async fn a_field_parapet_must_scan_with_the_wrong_type_is_400() {
    let mock = Mock::start(|_| Reply::json(200, "{}")).await;
    let app = proxy(&mock, "");
    let resp = send(
        &app,
        post(
            "/v1/chat/completions",
            r#"{"messages":[{"role":"user","content":5}]}"#,
        ),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let body = body_bytes(resp).await;
    assert_eq!(error_code(&body), "invalid_field");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["param"], "messages");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(mock.received().is_empty());
}

#[tokio::test]
async fn body_over_the_limit_is_413_declared_or_not() {
    let mock = Mock::start(|_| Reply::json(200, "{}")).await;
    let app = proxy(&mock, "limits:\n  max_request_bytes: 2KiB\n");
    let big = format!(
        r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(4096)
    );
    // Without a Content-Length header: caught while reading.
    let resp = send(&app, post("/v1/chat/completions", &big)).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(error_code(&body_bytes(resp).await), "request_too_large");
    // With one: refused before reading.
    let mut req = post("/v1/chat/completions", &big);
    req.headers_mut().insert("content-length", big.len().into());
    let resp = send(&app, req).await;
    assert_eq!(resp.status(), 413);
    // Just under the limit passes.
    let ok = format!(
        r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(1900)
    );
    assert_eq!(
        send(&app, post("/v1/chat/completions", &ok)).await.status(),
        200
    );
    assert_eq!(mock.received().len(), 1);
}

/// A request body that never arrives.
struct StalledBody;

impl Body for StalledBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Pending
    }
}

#[tokio::test]
async fn a_client_that_never_sends_its_body_gets_408() {
    let mock = Mock::start(|_| Reply::json(200, "{}")).await;
    let app = proxy(&mock, "limits:\n  client_body_timeout: 100ms\n");
    let req = Request::post("/v1/chat/completions")
        .body(StalledBody)
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 408);
    assert_eq!(error_code(&body_bytes(resp).await), "request_timeout");
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = parapet::Config::with_upstream(&format!("http://{closed}/v1")).unwrap();
    let app = parapet::app(cfg).unwrap();
    let resp = send(&app, post("/v1/chat/completions", r#"{"messages":[]}"#)).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(error_code(&body_bytes(resp).await), "upstream_unreachable");
    assert_eq!(
        metric(&app, "parapet_upstream_errors_total{kind=\"connect\"}"),
        1.0
    );
}

#[tokio::test]
async fn slow_upstream_is_504() {
    let mock = Mock::start(|_| Reply::json(200, "{}").delayed(Duration::from_secs(30))).await;
    let app = proxy(&mock, "upstream:\n  first_byte_timeout: 150ms\n");
    let resp = send(&app, post("/v1/chat/completions", r#"{"messages":[]}"#)).await;
    assert_eq!(resp.status(), 504);
    assert_eq!(error_code(&body_bytes(resp).await), "upstream_timeout");
    assert_eq!(
        metric(&app, "parapet_upstream_errors_total{kind=\"timeout\"}"),
        1.0
    );
}

#[tokio::test]
async fn upstream_stalling_mid_body_is_504() {
    let mock = Mock::start(|_| {
        let mut r = Reply::json(200, "{\"choices\":");
        r.pieces.push(Piece::Hang);
        r
    })
    .await;
    let app = proxy(&mock, "upstream:\n  idle_timeout: 150ms\n");
    let resp = send(&app, post("/v1/chat/completions", r#"{"messages":[]}"#)).await;
    assert_eq!(resp.status(), 504);
    assert_eq!(
        metric(&app, "parapet_upstream_errors_total{kind=\"idle_timeout\"}"),
        1.0
    );
}

#[tokio::test]
async fn oversized_upstream_response_is_502() {
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(5000));
    let mock = Mock::start(move |_| Reply::json(200, &big)).await;
    let app = proxy(&mock, "limits:\n  max_response_bytes: 2KiB\n");
    let resp = send(&app, post("/v1/chat/completions", r#"{"messages":[]}"#)).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(
        error_code(&body_bytes(resp).await),
        "upstream_response_too_large"
    );
}

#[tokio::test]
async fn upstream_errors_pass_through_unchanged() {
    let body = r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
    let mock = Mock::start(move |r| {
        let status = if r.uri.path().ends_with("/embeddings") {
            500
        } else {
            429
        };
        Reply::json(status, body).header("retry-after", "7")
    })
    .await;
    let app = proxy(&mock, "");
    let stream = r#"{"stream":true,"messages":[]}"#;
    for (path, req, status) in [
        ("/v1/chat/completions", stream, 429),
        ("/v1/chat/completions", r#"{"messages":[]}"#, 429),
        ("/v1/embeddings", r#"{"input":"x"}"#, 500),
    ] {
        let resp = send(&app, post(path, req)).await;
        assert_eq!(resp.status(), status);
        assert_eq!(resp.headers()["retry-after"], "7");
        assert_eq!(body_bytes(resp).await, body.as_bytes());
    }
}

#[tokio::test]
async fn over_the_concurrency_limit_is_503_with_retry_after() {
    let gate = Arc::new(Notify::new());
    let g = gate.clone();
    let mock = Mock::start(move |_| {
        Reply::sse(vec![
            Piece::Data(Bytes::from_static(b"data: {}\n\n")),
            Piece::Wait(g.clone()),
            Piece::Data(Bytes::from_static(b"data: [DONE]\n\n")),
        ])
    })
    .await;
    let app = proxy(&mock, "limits:\n  max_concurrency: 1\n");
    let req = r#"{"stream":true,"messages":[]}"#;
    // An open stream holds the only permit...
    let first = send(&app, post("/v1/chat/completions", req)).await;
    assert_eq!(first.status(), 200);
    let second = send(&app, post("/v1/chat/completions", req)).await;
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "1");
    assert!(second.headers().contains_key("x-request-id"));
    assert_eq!(error_code(&body_bytes(second).await), "overloaded");
    assert_eq!(metric(&app, "parapet_load_shed_total"), 1.0);
    // ...until its body ends.
    gate.notify_one();
    assert!(body_bytes(first).await.ends_with(b"data: [DONE]\n\n"));
    gate.notify_one();
    let third = send(&app, post("/v1/chat/completions", req)).await;
    assert_eq!(third.status(), 200);
}

#[tokio::test]
async fn paths_outside_v1_and_dot_segments_are_refused() {
    let mock = Mock::start(|_| Reply::json(200, "{}")).await;
    let app = proxy(&mock, "");
    let resp = send(&app, post("/chat/completions", "{}")).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(&body_bytes(resp).await), "unknown_url");
    let resp = send(&app, post("/v1/a/../chat/completions", "{}")).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(&body_bytes(resp).await), "invalid_path");
    assert!(mock.received().is_empty());
}

#[tokio::test]
async fn regression_passed_through_body_with_length_is_forwarded_not_client_closed() {
    let mock = Mock::start(|_| Reply::json(500, r#"{"error":{"message":"boom"}}"#)).await;
    let app = proxy(&mock, "");
    let (addr, _stop, _task) = listen(app.clone()).await;
    // Through a real server: hyper stops polling a body of known length at its last byte.
    let req = http::Request::post(format!("http://{addr}/v1/embeddings"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from_static(
            br#"{"input":"x"}"#,
        )))
        .unwrap();
    let resp = client().request(req).await.unwrap();
    assert_eq!(resp.status(), 500);
    http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap();
    let series = "parapet_requests_total{outcome=\"forwarded\",route=\"embeddings\"}";
    tokio::time::timeout(Duration::from_secs(10), async {
        while metric(&app, series) < 1.0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the request is recorded as forwarded");
    assert_eq!(
        metric(
            &app,
            "parapet_requests_total{outcome=\"client_closed\",route=\"embeddings\"}"
        ),
        0.0
    );
}
