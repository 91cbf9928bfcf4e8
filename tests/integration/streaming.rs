//! SSE streams: relayed event by event, byte for byte, with failures ending the
//! client's stream cleanly.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::sync::Notify;

use crate::support::*;

const STREAM_REQ: &str =
    r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

fn data(b: &[u8]) -> Piece {
    Piece::Data(Bytes::copy_from_slice(b))
}

#[tokio::test]
async fn chat_stream_is_relayed_byte_for_byte() {
    let body = chat_stream(&["héllo ", "世界 ", "🎉", "\"quoted\"\n"]);
    let pieces = vec![data(&body)];
    let mock = Mock::start(move |_| Reply::sse(pieces.clone())).await;
    let app = proxy(&mock, "");
    let resp = send(&app, post("/v1/chat/completions", STREAM_REQ)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert!(resp.headers().get("content-length").is_none());
    assert_eq!(body_bytes(resp).await, body);
    assert_eq!(
        metric(
            &app,
            "parapet_stream_events_total{route=\"chat_completions\"}"
        ),
        7.0
    );
}

#[tokio::test]
async fn each_event_is_forwarded_before_the_next_arrives() {
    let body = chat_stream(&["one", "two"]);
    let first_end = body.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    let gate = Arc::new(Notify::new());
    let pieces = vec![
        data(&body[..first_end]),
        Piece::Wait(gate.clone()),
        data(&body[first_end..]),
    ];
    let mock = Mock::start(move |_| Reply::sse(pieces.clone())).await;
    let app = proxy(&mock, "");
    let resp = send(&app, post("/v1/chat/completions", STREAM_REQ)).await;
    let mut b = resp.into_body();
    // The upstream is blocked on the gate: the first event must already be here.
    let first = b.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&first[..], &body[..first_end]);
    gate.notify_one();
    let rest = b.collect().await.unwrap().to_bytes();
    assert_eq!(&rest[..], &body[first_end..]);
}

#[tokio::test]
async fn frame_split_across_reads_at_every_byte_offset() {
    // A stream with CRLF endings, comments, an `event:` line and multi-byte characters.
    let mut body = b": keep-alive\r\n\r\n".to_vec();
    body.extend_from_slice(&chat_stream(&["ça ", "va? ", "😀"]));
    body.extend_from_slice("event: note\r\ndata: {\"x\":\"é\"}\r\n\r\n".as_bytes());
    let mock_body = body.clone();
    let mock = Mock::start(move |r| {
        let k: usize = r.headers["x-split"].to_str().unwrap().parse().unwrap();
        Reply::sse(vec![
            data(&mock_body[..k]),
            // Let the first part leave on its own, so the proxy reads it separately.
            Piece::Pause(Duration::from_millis(1)),
            data(&mock_body[k..]),
        ])
    })
    .await;
    let app = proxy(&mock, "");
    for k in 1..body.len() {
        let mut req = post("/v1/chat/completions", STREAM_REQ);
        req.headers_mut().insert("x-split", k.into());
        let resp = send(&app, req).await;
        assert_eq!(resp.status(), 200, "split at {k}");
        assert_eq!(body_bytes(resp).await, body, "split at {k}");
    }
}

#[tokio::test]
async fn completions_and_responses_streams_are_relayed() {
    let completions = "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"abc\",\"finish_reason\":null}]}\n\ndata: [DONE]\n\n";
    let responses = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"r\"}}\n\nevent: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"output_index\":0,\"content_index\":0,\"delta\":\"hey\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"r\"}}\n\n";
    let mock = Mock::start(move |r| {
        let body = if r.uri.path().ends_with("/responses") {
            responses
        } else {
            completions
        };
        Reply::sse(vec![Piece::Data(Bytes::from_static(body.as_bytes()))])
    })
    .await;
    let app = proxy(&mock, "");
    let resp = send(
        &app,
        post("/v1/completions", r#"{"prompt":"x","stream":true}"#),
    )
    .await;
    assert_eq!(body_bytes(resp).await, completions.as_bytes());
    let resp = send(
        &app,
        post("/v1/responses", r#"{"input":"x","stream":true}"#),
    )
    .await;
    assert_eq!(body_bytes(resp).await, responses.as_bytes());
}

#[tokio::test]
async fn tool_calls_n2_and_usage_chunks_are_relayed() {
    let events = [
        r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null},{"index":1,"delta":{"content":"B"},"finish_reason":null}]}"#,
        r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}"#,
        r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":"tool_calls"}]}"#,
        r#"{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
    ];
    let mut body = String::new();
    for e in events {
        body.push_str(&format!("data: {e}\n\n"));
    }
    body.push_str("data: [DONE]\n\n");
    let b = body.clone();
    let mock = Mock::start(move |_| Reply::sse(vec![Piece::Data(Bytes::from(b.clone()))])).await;
    let app = proxy(&mock, "");
    let req = r#"{"model":"m","n":2,"stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"get_weather","description":"weather","parameters":{"type":"object"}}}],"messages":[{"role":"user","content":[{"type":"text","text":"weather?"}]}]}"#;
    let resp = send(&app, post("/v1/chat/completions", req)).await;
    assert_eq!(body_bytes(resp).await, body.as_bytes());
    assert_eq!(mock.received()[0].body, req.as_bytes());
}

/// Splits a relayed body into its events' data payloads.
fn payloads(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: ").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn upstream_dying_mid_stream_ends_the_client_stream_cleanly() {
    let body = chat_stream(&["partial", "answer"]);
    let cut = body.len() / 2;
    let pieces = vec![
        data(&body[..cut]),
        Piece::Pause(Duration::from_millis(1)),
        Piece::Abort,
    ];
    let mock = Mock::start(move |_| Reply::sse(pieces.clone())).await;
    let app = proxy(&mock, "");
    let resp = send(&app, post("/v1/chat/completions", STREAM_REQ)).await;
    assert_eq!(resp.status(), 200);
    let got = body_bytes(resp).await; // ends without a transport error
    let events = payloads(&got);
    let last = events.last().unwrap();
    assert_eq!(error_code(last.as_bytes()), "upstream_protocol_error");
    // Every complete event before the cut was relayed unchanged.
    let complete = body[..cut].windows(2).filter(|w| w == b"\n\n").count();
    assert_eq!(events.len(), complete + 1);
    assert!(
        got.starts_with(&body[..body[..cut].windows(2).rposition(|w| w == b"\n\n").unwrap() + 2])
    );
    assert_eq!(
        metric(
            &app,
            "parapet_upstream_errors_total{kind=\"stream_interrupted\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &app,
            "parapet_requests_total{outcome=\"stream_error\",route=\"chat_completions\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn idle_gap_timeout_ends_the_stream_with_an_error_event() {
    let body = chat_stream(&["a"]);
    let first_end = body.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    let pieces = vec![data(&body[..first_end]), Piece::Hang];
    let mock = Mock::start(move |_| Reply::sse(pieces.clone())).await;
    let app = proxy(&mock, "upstream:\n  idle_timeout: 150ms\n");
    let resp = send(&app, post("/v1/chat/completions", STREAM_REQ)).await;
    let got = body_bytes(resp).await;
    let events = payloads(&got);
    assert_eq!(events.len(), 2);
    assert_eq!(error_code(events[1].as_bytes()), "upstream_timeout");
    assert_eq!(
        metric(&app, "parapet_upstream_errors_total{kind=\"idle_timeout\"}"),
        1.0
    );
}

#[tokio::test]
async fn first_token_timeout_answers_504() {
    let mock = Mock::start(|_| Reply::sse(vec![Piece::Hang])).await;
    let app = proxy(&mock, "upstream:\n  first_token_timeout: 150ms\n");
    let resp = send(&app, post("/v1/chat/completions", STREAM_REQ)).await;
    assert_eq!(resp.status(), 504);
    assert_eq!(error_code(&body_bytes(resp).await), "upstream_timeout");
    assert_eq!(
        metric(
            &app,
            "parapet_upstream_errors_total{kind=\"first_token_timeout\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn oversized_event_ends_the_stream() {
    let big = format!("data: {{\"x\":\"{}\"}}\n\n", "a".repeat(4096));
    let mut body = chat_stream(&["ok"]);
    body.extend_from_slice(big.as_bytes());
    let pieces = vec![data(&body)];
    let mock = Mock::start(move |_| Reply::sse(pieces.clone())).await;
    let app = proxy(&mock, "limits:\n  max_response_bytes: 2KiB\n");
    let resp = send(&app, post("/v1/chat/completions", STREAM_REQ)).await;
    let got = body_bytes(resp).await;
    let events = payloads(&got);
    assert_eq!(
        error_code(events.last().unwrap().as_bytes()),
        "upstream_response_too_large"
    );
    assert!(got.starts_with(&chat_stream(&["ok"])));
}
