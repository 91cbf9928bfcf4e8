//! Metrics, timing headers and logs: what operators see, and what they must not.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use crate::support::*;

#[tokio::test]
async fn request_metrics_and_server_timing() {
    let mock = Mock::start(|_| {
        Reply::json(
            200,
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}"#,
        )
    })
    .await;
    let app = proxy(&mock, "");
    let resp = send(
        &app,
        post(
            "/v1/chat/completions",
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
        ),
    )
    .await;
    let timing = resp.headers()["server-timing"].to_str().unwrap().to_owned();
    assert!(
        timing.starts_with("parapet;dur=") && timing.contains(", upstream;dur="),
        "{timing}"
    );
    body_bytes(resp).await;
    assert_eq!(
        metric(
            &app,
            "parapet_requests_total{outcome=\"forwarded\",route=\"chat_completions\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &app,
            "parapet_overhead_seconds_count{route=\"chat_completions\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &app,
            "parapet_request_duration_seconds_count{route=\"chat_completions\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &app,
            "parapet_upstream_duration_seconds_count{route=\"chat_completions\",status=\"200\"}"
        ),
        1.0
    );
    assert_eq!(metric(&app, "parapet_inflight_requests"), 0.0);
    // The overhead histogram resolves microseconds.
    assert!(app
        .metrics()
        .render()
        .contains("parapet_overhead_seconds_bucket{route=\"chat_completions\",le=\"0.00001\"}"));
}

/// Every log line of this test binary, from every thread (a global subscriber: a
/// thread-scoped one loses events to tracing's per-callsite interest cache when
/// other tests run at the same time).
fn captured_logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || Capture(buf))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
}

struct Capture(&'static Mutex<Vec<u8>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_carry_no_prompt_completion_or_key() {
    let logs = captured_logs();
    let mock = Mock::start(|_| {
        Reply::sse(vec![Piece::Data(bytes::Bytes::from(chat_stream(&[
            "COMPLETION-SECRET-7",
        ])))])
    })
    .await;
    let app = proxy(&mock, "upstream:\n  api_key: sk-CONFIG-SECRET-9\n");
    let mut req = post(
        "/v1/chat/completions",
        r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"What rhymes with PROMPT-SECRET-42 in a short poem?"}]}"#,
    );
    req.headers_mut().insert(
        "authorization",
        "Bearer sk-CLIENT-SECRET-1".parse().unwrap(),
    );
    req.headers_mut()
        .insert("x-request-id", "log-test-1".parse().unwrap());
    body_bytes(send(&app, req).await).await;
    // A failing request logs too.
    let mut bad = post(
        "/v1/chat/completions",
        r#"{"messages":[{"content":"PROMPT-SECRET-43""#,
    );
    bad.headers_mut()
        .insert("x-request-id", "log-test-2".parse().unwrap());
    body_bytes(send(&app, bad).await).await;
    drop(app);
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let line = |id: &str| {
        logs.lines()
            .find(|l| l.contains(id) && l.contains("\"message\":\"request\""))
            .map(str::to_owned)
    };
    let ok =
        line("log-test-1").unwrap_or_else(|| panic!("no access log line for log-test-1:\n{logs}"));
    assert!(
        ok.contains("\"route\":\"chat_completions\"") && ok.contains("\"outcome\":\"forwarded\""),
        "{ok}"
    );
    let bad =
        line("log-test-2").unwrap_or_else(|| panic!("no access log line for log-test-2:\n{logs}"));
    assert!(bad.contains("\"outcome\":\"rejected\""), "{bad}");
    for secret in [
        "PROMPT-SECRET",
        "COMPLETION-SECRET",
        "CONFIG-SECRET",
        "CLIENT-SECRET",
    ] {
        assert!(
            !logs.contains(secret),
            "`{secret}` leaked into logs:\n{logs}"
        );
    }
}
