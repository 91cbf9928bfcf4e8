//! A fast, controllable OpenAI-compatible mock LLM server, used by the e2e tests and the load
//! benchmark as Parapet's upstream.
//!
//! ```text
//! cargo run --release --example mock_upstream -- [--listen 127.0.0.1:0] [--canned] [--threads N]
//!                                                [--record N]
//! ```
//!
//! It binds, prints exactly one line `listening on 127.0.0.1:PORT` to stdout, then serves
//! HTTP/1.1 (keep-alive) and HTTP/2 (prior knowledge) until SIGINT/SIGTERM.
//!
//! Routes:
//! - `POST /v1/chat/completions`: the reply is `"echo: " + <text of the last user message>`
//!   (string content or concatenated text parts); honours `n`, `stream`,
//!   `stream_options.include_usage`; with `tools` and a last user text containing "call tool"
//!   the reply is a tool call whose arguments are `{"query": <last user text>}`.
//! - `POST /v1/completions`: legacy text completion, `"echo: " + prompt`, streamed or not.
//! - `POST /v1/embeddings`: one deterministic unit vector (8 floats, or `dimensions`) per
//!   input; `encoding_format: "base64"` is honoured (little-endian f32, as OpenAI does).
//! - `POST /v1/responses`: Responses API object, streamed as `response.*` events or not.
//! - `GET /v1/models`, `GET /v1/models/{id}`.
//! - Anything else: a JSON echo `{"method","path","query","headers","body_len","body"}`.
//!
//! Controls (request headers):
//! - `x-mock-delay-ms: N`: sleep before sending the response headers.
//! - `x-mock-status: 4xx|5xx`: reply with that status and an OpenAI error body.
//! - `x-mock-chunk-delay-ms: N`: sleep between stream events.
//! - `x-mock-die-after: K`: after K stream events (K bytes for a non-streamed body), abort the
//!   connection without finishing the body.
//! - `x-mock-echo-request: 1`: on the chat, completions and responses routes the reply text is
//!   the JSON echo of the request (method, path, query, headers, parsed body), so a test can
//!   check what reached the upstream through the proxy.
//! - `x-mock-reply: <percent-encoded UTF-8>`: on the chat, completions and responses routes the
//!   assistant replies exactly this text (it wins over the echo and over `x-mock-echo-request`).
//!   The value is percent-decoded (RFC 3986 `%XX` escapes, every other byte literal, `+` is not
//!   a space): Python `urllib.parse.quote(text, safe="")`, so it can carry any Unicode text,
//!   newlines and quotes. Streamed, the text is cut into pieces of 3 characters (so a match
//!   straddles chunk boundaries); with `n` > 1 every choice gets the text, and the choices'
//!   events interleave round-robin. With `logprobs` requested (chat `logprobs: true`,
//!   completions `logprobs: N`, responses `include: ["message.output_text.logprobs"]`) each
//!   piece is also a logprobs token, as OpenAI sends them.
//! - `x-mock-tool-args: <percent-encoded JSON text>`: chat and responses reply with one tool
//!   call (named after the first entry of `tools`, else `mock_tool`) whose arguments string is
//!   exactly this text, streamed in pieces of 3 characters.
//!   A malformed escape or non-UTF-8 value in either header is answered with 400 `bad_control`.
//!
//! `--record N`: keep the last N requests received (method, path, parsed body, `x-mock-*`
//! headers) and serve them at `GET /__mock/requests` as `{"total": <requests received>,
//! "requests": [{"seq", "method", "path", "body", "controls"}, ...]}` (oldest first), so a
//! test can prove what did (or did not) reach the upstream. Without `--record` that path is
//! an ordinary echo route.
//!
//! `--canned`: `POST /v1/chat/completions` skips JSON parsing and answers with precomputed bytes
//! (a fixed non-streamed completion, or a fixed 20-event stream when the body has
//! `"stream": true`), so a load benchmark measures the proxy rather than the mock.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::time::Sleep;

const MODEL_ID: &str = "mock-model";
/// Words per streamed content chunk.
const WORDS_PER_CHUNK: usize = 2;
/// Characters of tool-call arguments per streamed chunk.
const ARG_CHARS_PER_CHUNK: usize = 8;
/// Characters per streamed piece of an `x-mock-reply` text or `x-mock-tool-args` arguments.
const CONTROL_CHARS_PER_CHUNK: usize = 3;
/// Tool name of an `x-mock-tool-args` call when the request has no `tools`.
const DEFAULT_TOOL_NAME: &str = "mock_tool";
/// Path of the request log (`--record`).
const RECORD_PATH: &str = "/__mock/requests";
/// Pause before an aborted body is cut, so the events before it are flushed to the socket.
const DIE_FLUSH_PAUSE: Duration = Duration::from_millis(20);
const MAX_REQUEST_BYTES: usize = 64 << 20;

// ---------------------------------------------------------------------------------------------
// Response body: either one buffer, or a sequence of events with optional pacing and abort.
// ---------------------------------------------------------------------------------------------

enum MockBody {
    Full(Option<Bytes>),
    Events(EventBody),
}

struct EventBody {
    events: Arc<[Bytes]>,
    next: usize,
    delay: Duration,
    die_after: Option<usize>,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The pacing sleep before `events[next]` has elapsed.
    paced: bool,
    /// The flush pause before the abort has elapsed.
    die_paused: bool,
}

impl MockBody {
    fn full(bytes: impl Into<Bytes>) -> Self {
        MockBody::Full(Some(bytes.into()))
    }

    fn events(events: Arc<[Bytes]>, delay: Duration, die_after: Option<usize>) -> Self {
        MockBody::Events(EventBody {
            events,
            next: 0,
            delay,
            die_after,
            sleep: None,
            paced: false,
            die_paused: false,
        })
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            MockBody::Full(slot) => Poll::Ready(slot.take().map(|b| Ok(Frame::data(b)))),
            MockBody::Events(ev) => ev.poll_next(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            MockBody::Full(slot) => slot.is_none(),
            MockBody::Events(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            MockBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            MockBody::Full(None) => SizeHint::with_exact(0),
            MockBody::Events(_) => SizeHint::default(),
        }
    }
}

impl EventBody {
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        loop {
            if let Some(sleep) = self.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
            }
            if let Some(k) = self.die_after {
                if self.next >= k && self.next < self.events.len() {
                    if !self.die_paused {
                        self.die_paused = true;
                        self.sleep = Some(Box::pin(tokio::time::sleep(DIE_FLUSH_PAUSE)));
                        continue;
                    }
                    return Poll::Ready(Some(Err(std::io::Error::other(
                        "x-mock-die-after: aborting the response body",
                    ))));
                }
            }
            if self.next >= self.events.len() {
                return Poll::Ready(None);
            }
            if self.next > 0 && !self.delay.is_zero() && !self.paced {
                self.paced = true;
                self.sleep = Some(Box::pin(tokio::time::sleep(self.delay)));
                continue;
            }
            self.paced = false;
            let event = self.events[self.next].clone();
            self.next += 1;
            return Poll::Ready(Some(Ok(Frame::data(event))));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server state, controls
// ---------------------------------------------------------------------------------------------

struct Canned {
    chat: Bytes,
    chat_stream: Arc<[Bytes]>,
}

struct State {
    canned: Option<Canned>,
    counter: AtomicU64,
    record: Option<Recorder>,
}

impl State {
    fn next_id(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}mock{n:08x}")
    }
}

/// The request log kept with `--record N`.
struct Recorder {
    capacity: usize,
    log: Mutex<(u64, VecDeque<Value>)>,
}

impl Recorder {
    fn record(&self, info: &ReqInfo, body: &[u8]) {
        let parsed = serde_json::from_slice::<Value>(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
        let controls: Map<String, Value> = info
            .parts
            .headers
            .iter()
            .filter(|(name, _)| name.as_str().starts_with("x-mock-"))
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), Value::String(value))
            })
            .collect();
        let mut guard = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let (total, log) = &mut *guard;
        *total += 1;
        log.push_back(json!({
            "seq": *total, "method": info.method().as_str(), "path": info.path(),
            "body": parsed, "controls": controls,
        }));
        while log.len() > self.capacity {
            log.pop_front();
        }
    }

    fn snapshot(&self) -> Value {
        let guard = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let (total, log) = &*guard;
        json!({"total": total, "requests": log.iter().cloned().collect::<Vec<Value>>()})
    }
}

#[derive(Default)]
struct Controls {
    delay: Option<Duration>,
    status: Option<StatusCode>,
    chunk_delay: Duration,
    die_after: Option<usize>,
    echo_request: bool,
    /// `x-mock-reply`, decoded.
    reply: Option<String>,
    /// `x-mock-tool-args`, decoded.
    tool_args: Option<String>,
    /// Why a text control could not be decoded.
    bad_control: Option<String>,
}

/// Decodes RFC 3986 percent escapes (`%XX`); every other byte is taken literally.
fn percent_decode(raw: &[u8]) -> Result<String, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .ok_or_else(|| format!("malformed percent escape at byte {i}"))?;
            let hi = (hex[0] as char).to_digit(16).unwrap_or(0);
            let lo = (hex[1] as char).to_digit(16).unwrap_or(0);
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the decoded value is not UTF-8".to_string())
}

impl Controls {
    fn from_headers(h: &HeaderMap) -> Self {
        let num = |name: &str| -> Option<u64> {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse().ok())
        };
        let mut bad_control = None;
        let mut text = |name: &str| -> Option<String> {
            let raw = h.get(name)?;
            match percent_decode(raw.as_bytes()) {
                Ok(t) => Some(t),
                Err(e) => {
                    bad_control = Some(format!("{name}: {e}"));
                    None
                }
            }
        };
        let reply = text("x-mock-reply");
        let tool_args = text("x-mock-tool-args");
        Controls {
            reply,
            tool_args,
            bad_control,
            delay: num("x-mock-delay-ms").map(Duration::from_millis),
            status: num("x-mock-status")
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (400..=599).contains(s))
                .and_then(|s| StatusCode::from_u16(s).ok()),
            chunk_delay: Duration::from_millis(num("x-mock-chunk-delay-ms").unwrap_or(0)),
            die_after: num("x-mock-die-after").map(|k| k as usize),
            echo_request: h
                .get("x-mock-echo-request")
                .is_some_and(|v| !v.is_empty() && v.as_bytes() != b"0"),
        }
    }

    /// Builds an SSE (or other event-sequence) response with this request's pacing and abort.
    fn events_response(
        &self,
        content_type: &'static str,
        events: Vec<Bytes>,
    ) -> Response<MockBody> {
        self.events_response_shared(content_type, events.into())
    }

    fn events_response_shared(
        &self,
        content_type: &'static str,
        events: Arc<[Bytes]>,
    ) -> Response<MockBody> {
        let mut resp = Response::new(MockBody::events(events, self.chunk_delay, self.die_after));
        let h = resp.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert("cache-control", HeaderValue::from_static("no-cache"));
        resp
    }

    /// Builds a non-streamed JSON response; honours `x-mock-die-after` as a byte count.
    fn json_response(&self, status: StatusCode, body: Bytes) -> Response<MockBody> {
        let body_obj = match self.die_after {
            Some(k) if k < body.len() => {
                let events: Arc<[Bytes]> = vec![body.slice(..k), body.slice(k..)].into();
                MockBody::events(events, Duration::ZERO, Some(1))
            }
            _ => MockBody::full(body),
        };
        let mut resp = Response::new(body_obj);
        *resp.status_mut() = status;
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        resp
    }
}

fn error_body(message: &str, kind: &str, code: &str) -> Bytes {
    let v = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

fn plain_error(status: StatusCode, message: &str, kind: &str, code: &str) -> Response<MockBody> {
    Controls::default().json_response(status, error_body(message, kind, code))
}

fn json_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

fn sse_data(v: &Value) -> Bytes {
    let mut out = b"data: ".to_vec();
    serde_json::to_writer(&mut out, v).unwrap_or_default();
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

fn sse_named(event: &str, v: &Value) -> Bytes {
    let mut out = format!("event: {event}\ndata: ").into_bytes();
    serde_json::to_writer(&mut out, v).unwrap_or_default();
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

const SSE_DONE: &[u8] = b"data: [DONE]\n\n";
const SSE_CONTENT_TYPE: &str = "text/event-stream; charset=utf-8";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

/// Text of a message `content`: a string, or the concatenated `text` of its parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// Text of the last `role: user` item of a list of messages (chat `messages` or responses `input`).
fn last_user_text(items: &[Value]) -> String {
    items
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .and_then(|m| m.get("content"))
        .map(content_text)
        .unwrap_or_default()
}

fn word_count(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

/// Splits `text` into pieces of `words` words each; a piece starts with the whitespace that
/// precedes its first word (as tokenizers do), so the pieces concatenate back to `text`.
fn split_words(text: &str, words: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut seen = 0;
    let mut prev_ws = true;
    for (i, c) in text.char_indices() {
        let ws = c.is_whitespace();
        if ws && !prev_ws {
            seen += 1;
            if seen == words {
                pieces.push(text[start..i].to_string());
                start = i;
                seen = 0;
            }
        }
        prev_ws = ws;
    }
    if start < text.len() || pieces.is_empty() {
        pieces.push(text[start..].to_string());
    }
    pieces
}

/// Splits `text` into pieces of at most `chars` characters.
fn split_chars(text: &str, chars: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        cur.push(c);
        if cur.chars().count() >= chars {
            pieces.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() || pieces.is_empty() {
        pieces.push(cur);
    }
    pieces
}

/// Deterministic unit vector of `dims` floats derived from `text` (FNV-1a seed, xorshift).
fn embed(text: &str, dims: usize) -> Vec<f32> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut x = h | 1;
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|f| f * f).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|f| *f /= norm);
    }
    v
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Finds `"stream": true` in a raw JSON body without parsing it (canned fast path).
fn body_wants_stream(body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"stream\"";
    let mut rest = body;
    while let Some(pos) = rest.windows(KEY.len()).position(|w| w == KEY) {
        let after = &rest[pos + KEY.len()..];
        let after = trim_json_ws(after);
        if let Some(after) = after.strip_prefix(b":") {
            return trim_json_ws(after).starts_with(b"true");
        }
        rest = after;
    }
    false
}

fn trim_json_ws(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(b.len());
    &b[n..]
}

// ---------------------------------------------------------------------------------------------
// Request handling
// ---------------------------------------------------------------------------------------------

/// The request line and headers; the JSON echo of them is built only when asked for, so the
/// hot path (canned mode) does not allocate for it.
struct ReqInfo {
    parts: Parts,
}

impl ReqInfo {
    fn method(&self) -> &Method {
        &self.parts.method
    }

    fn path(&self) -> &str {
        self.parts.uri.path()
    }

    fn echo(&self, body: &[u8], parsed: Option<&Value>) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            match headers.get_mut(name.as_str()) {
                Some(Value::String(prev)) => {
                    prev.push_str(", ");
                    prev.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_string(), Value::String(value.into_owned()));
                }
            }
        }
        let body_value = match parsed {
            Some(v) => v.clone(),
            None => match std::str::from_utf8(body) {
                Ok(s) => Value::String(s.to_string()),
                Err(_) => Value::Null,
            },
        };
        json!({
            "method": self.parts.method.as_str(),
            "path": self.parts.uri.path(),
            "query": self.parts.uri.query(),
            "headers": headers,
            "body_len": body.len(),
            "body": body_value,
        })
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<MockBody>, Infallible> {
    let (parts, body) = req.into_parts();
    let controls = Controls::from_headers(&parts.headers);
    let info = ReqInfo { parts };
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(msg) => {
            return Ok(plain_error(
                StatusCode::BAD_REQUEST,
                &msg,
                "invalid_request_error",
                "bad_body",
            ))
        }
    };
    if let Some(rec) = &state.record {
        if info.path() == RECORD_PATH {
            return Ok(controls.json_response(StatusCode::OK, json_bytes(&rec.snapshot())));
        }
        rec.record(&info, &body);
    }
    if let Some(msg) = &controls.bad_control {
        return Ok(plain_error(
            StatusCode::BAD_REQUEST,
            msg,
            "invalid_request_error",
            "bad_control",
        ));
    }
    if let Some(delay) = controls.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = controls.status {
        return Ok(controls.json_response(status, error_body("mock error", "mock_error", "mock")));
    }
    let resp = route(&state, &controls, &info, &body);
    Ok(resp)
}

async fn read_body(body: Incoming) -> Result<Bytes, String> {
    if body.size_hint().lower() > MAX_REQUEST_BYTES as u64 {
        return Err("request body too large for the mock".into());
    }
    match body.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(format!("reading the request body failed: {e}")),
    }
}

fn route(state: &State, c: &Controls, info: &ReqInfo, body: &Bytes) -> Response<MockBody> {
    let path = info.path().trim_end_matches('/');
    match (info.method(), path) {
        (&Method::POST, "/v1/chat/completions") => {
            if let Some(canned) = &state.canned {
                if !c.echo_request && c.reply.is_none() && c.tool_args.is_none() {
                    return if body_wants_stream(body) {
                        c.events_response_shared(SSE_CONTENT_TYPE, canned.chat_stream.clone())
                    } else {
                        c.json_response(StatusCode::OK, canned.chat.clone())
                    };
                }
            }
            with_json(body, |v| chat_completions(state, c, info, body, v))
        }
        (&Method::POST, "/v1/completions") => {
            with_json(body, |v| completions(state, c, info, body, v))
        }
        (&Method::POST, "/v1/embeddings") => with_json(body, |v| embeddings(c, v)),
        (&Method::POST, "/v1/responses") => with_json(body, |v| responses(state, c, info, body, v)),
        (&Method::GET, "/v1/models") => c.json_response(
            StatusCode::OK,
            json_bytes(&json!({"object": "list", "data": [model_object(MODEL_ID)]})),
        ),
        (&Method::GET, p) if p.starts_with("/v1/models/") => {
            let id = &p["/v1/models/".len()..];
            c.json_response(StatusCode::OK, json_bytes(&model_object(id)))
        }
        _ => {
            let parsed: Option<Value> = serde_json::from_slice(body).ok();
            c.json_response(
                StatusCode::OK,
                json_bytes(&info.echo(body, parsed.as_ref())),
            )
        }
    }
}

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 0, "owned_by": "parapet"})
}

fn with_json(body: &[u8], f: impl FnOnce(&Value) -> Response<MockBody>) -> Response<MockBody> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => f(&v),
        Ok(_) => plain_error(
            StatusCode::BAD_REQUEST,
            "the request body must be a JSON object",
            "invalid_request_error",
            "invalid_json",
        ),
        Err(e) => plain_error(
            StatusCode::BAD_REQUEST,
            &format!("invalid JSON body: {e}"),
            "invalid_request_error",
            "invalid_json",
        ),
    }
}

fn bad_request(message: &str, param: &str) -> Response<MockBody> {
    let v = json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}});
    Controls::default().json_response(StatusCode::BAD_REQUEST, json_bytes(&v))
}

struct Common {
    id: String,
    created: u64,
    model: String,
    n: u64,
    stream: bool,
    include_usage: bool,
}

impl Common {
    fn new(state: &State, prefix: &str, v: &Value) -> Self {
        Common {
            id: state.next_id(prefix),
            created: now_secs(),
            model: v
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or(MODEL_ID)
                .to_string(),
            n: v.get("n")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 128),
            stream: v.get("stream").and_then(Value::as_bool).unwrap_or(false),
            include_usage: v
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}

fn reply_text(c: &Controls, info: &ReqInfo, raw: &[u8], v: &Value, user_text: &str) -> String {
    if let Some(reply) = &c.reply {
        reply.clone()
    } else if c.echo_request {
        info.echo(raw, Some(v)).to_string()
    } else {
        format!("echo: {user_text}")
    }
}

impl Controls {
    /// Whether a text control is set: pieces are then a few characters each and the
    /// events of several choices interleave.
    fn scripted(&self) -> bool {
        self.reply.is_some() || self.tool_args.is_some()
    }

    /// The streamed pieces of a reply text (also its logprobs tokens).
    fn text_pieces(&self, text: &str) -> Vec<String> {
        if self.reply.is_some() {
            split_chars(text, CONTROL_CHARS_PER_CHUNK)
        } else {
            split_words(text, WORDS_PER_CHUNK)
        }
    }

    /// The streamed pieces of tool-call arguments.
    fn arg_pieces(&self, args: &str) -> Vec<String> {
        let chars = if self.tool_args.is_some() {
            CONTROL_CHARS_PER_CHUNK
        } else {
            ARG_CHARS_PER_CHUNK
        };
        split_chars(args, chars)
    }

    /// The stream events of several choices: one choice after the other, or, when
    /// scripted, round-robin so that the choices' pieces interleave.
    /// Interleaves the choices' events, appends the usage chunk (if asked for) and
    /// `[DONE]`, and answers with the stream.
    fn close_stream(
        &self,
        per_choice: Vec<Vec<Bytes>>,
        usage_chunk: Option<Value>,
    ) -> Response<MockBody> {
        let mut events = self.merge_choices(per_choice);
        if let Some(last) = usage_chunk {
            events.push(sse_data(&last));
        }
        events.push(Bytes::from_static(SSE_DONE));
        self.events_response(SSE_CONTENT_TYPE, events)
    }

    fn merge_choices(&self, per_choice: Vec<Vec<Bytes>>) -> Vec<Bytes> {
        if !self.scripted() {
            return per_choice.into_iter().flatten().collect();
        }
        let mut iters: Vec<_> = per_choice.into_iter().map(Vec::into_iter).collect();
        let mut out = Vec::new();
        loop {
            let before = out.len();
            out.extend(iters.iter_mut().filter_map(Iterator::next));
            if out.len() == before {
                return out;
            }
        }
    }
}

/// Chat / Responses logprobs entries, one per piece.
fn token_logprobs(pieces: &[String]) -> Vec<Value> {
    pieces
        .iter()
        .map(|p| json!({"token": p, "logprob": -0.01, "bytes": p.as_bytes(), "top_logprobs": []}))
        .collect()
}

/// Legacy completions `logprobs` of `pieces` starting at text offset `offset`.
fn completion_logprobs(pieces: &[String], offset: usize) -> Value {
    let mut at = offset;
    let offsets: Vec<usize> = pieces
        .iter()
        .map(|p| {
            let o = at;
            at += p.len();
            o
        })
        .collect();
    json!({
        "tokens": pieces,
        "token_logprobs": pieces.iter().map(|_| -0.01).collect::<Vec<f64>>(),
        "top_logprobs": pieces.iter().map(|p| json!({p.as_str(): -0.01})).collect::<Vec<Value>>(),
        "text_offset": offsets,
    })
}

/// Name of the first tool of the request, if any.
fn first_tool_name(v: &Value) -> Option<String> {
    let tool = v.get("tools").and_then(Value::as_array)?.first()?;
    Some(
        tool.pointer("/function/name")
            .or_else(|| tool.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("tool")
            .to_string(),
    )
}

fn chat_completions(
    state: &State,
    c: &Controls,
    info: &ReqInfo,
    raw: &[u8],
    v: &Value,
) -> Response<MockBody> {
    let Some(messages) = v.get("messages").and_then(Value::as_array) else {
        return bad_request("'messages' must be an array", "messages");
    };
    let user_text = last_user_text(messages);
    let prompt_tokens: u64 = messages
        .iter()
        .filter_map(|m| m.get("content"))
        .map(|c| word_count(&content_text(c)))
        .sum();
    let cm = Common::new(state, "chatcmpl-", v);
    let tool_name = match &c.tool_args {
        Some(_) => Some(first_tool_name(v).unwrap_or_else(|| DEFAULT_TOOL_NAME.to_string())),
        None => first_tool_name(v).filter(|_| user_text.contains("call tool")),
    };
    let (text, tool_call) = match tool_name {
        Some(name) => {
            let args = match &c.tool_args {
                Some(args) => args.clone(),
                None => json!({"query": user_text}).to_string(),
            };
            (
                String::new(),
                Some((format!("call_{}", state.next_id("")), name, args)),
            )
        }
        None => (reply_text(c, info, raw, v, &user_text), None),
    };
    let pieces = c.text_pieces(&text);
    let logprobs = tool_call.is_none() && v.get("logprobs").and_then(Value::as_bool) == Some(true);
    let completion_tokens = match &tool_call {
        Some((_, _, args)) => word_count(args),
        None => word_count(&text),
    } * cm.n;
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    let finish = if tool_call.is_some() {
        "tool_calls"
    } else {
        "stop"
    };

    if !cm.stream {
        let choices: Vec<Value> = (0..cm.n)
            .map(|i| {
                let message = match &tool_call {
                    Some((id, name, args)) => json!({
                        "role": "assistant", "content": null, "refusal": null, "annotations": [],
                        "tool_calls": [{"id": id, "type": "function",
                                        "function": {"name": name, "arguments": args}}],
                    }),
                    None => json!({"role": "assistant", "content": text, "refusal": null, "annotations": []}),
                };
                let lp = if logprobs {
                    json!({"content": token_logprobs(&pieces), "refusal": null})
                } else {
                    Value::Null
                };
                json!({"index": i, "message": message, "logprobs": lp, "finish_reason": finish})
            })
            .collect();
        let body = json!({
            "id": cm.id, "object": "chat.completion", "created": cm.created, "model": cm.model,
            "choices": choices, "usage": usage, "service_tier": "default",
            "system_fingerprint": "fp_mock",
        });
        return c.json_response(StatusCode::OK, json_bytes(&body));
    }

    let chunk = |choices: Value| -> Value {
        let mut o = json!({
            "id": cm.id, "object": "chat.completion.chunk", "created": cm.created,
            "model": cm.model, "service_tier": "default", "system_fingerprint": "fp_mock",
            "choices": choices,
        });
        if cm.include_usage {
            o["usage"] = Value::Null;
        }
        o
    };
    let choice = |i: u64, delta: Value, finish: Option<&str>, lp: Value| -> Value {
        json!([{"index": i, "delta": delta, "logprobs": lp, "finish_reason": finish}])
    };
    let mut per_choice = Vec::new();
    for i in 0..cm.n {
        let mut events = Vec::new();
        match &tool_call {
            Some((id, name, args)) => {
                let first = json!({
                    "role": "assistant", "content": null, "refusal": null,
                    "tool_calls": [{"index": 0, "id": id, "type": "function",
                                    "function": {"name": name, "arguments": ""}}],
                });
                events.push(sse_data(&chunk(choice(i, first, None, Value::Null))));
                for piece in c.arg_pieces(args) {
                    let delta =
                        json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]});
                    events.push(sse_data(&chunk(choice(i, delta, None, Value::Null))));
                }
            }
            None => {
                let first = json!({"role": "assistant", "content": "", "refusal": null});
                events.push(sse_data(&chunk(choice(i, first, None, Value::Null))));
                for piece in &pieces {
                    let lp = if logprobs {
                        json!({"content": token_logprobs(std::slice::from_ref(piece)), "refusal": null})
                    } else {
                        Value::Null
                    };
                    events.push(sse_data(&chunk(choice(
                        i,
                        json!({"content": piece}),
                        None,
                        lp,
                    ))));
                }
            }
        }
        events.push(sse_data(&chunk(choice(
            i,
            json!({}),
            Some(finish),
            Value::Null,
        ))));
        per_choice.push(events);
    }
    let usage_chunk = cm.include_usage.then(|| {
        let mut last = chunk(json!([]));
        last["usage"] = usage;
        last
    });
    c.close_stream(per_choice, usage_chunk)
}

fn completions(
    state: &State,
    c: &Controls,
    info: &ReqInfo,
    raw: &[u8],
    v: &Value,
) -> Response<MockBody> {
    let prompts: Vec<String> = match v.get("prompt") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::Array(items)) if !items.is_empty() => {
            vec![Value::Array(items.clone()).to_string()]
        }
        _ => return bad_request("'prompt' must be a string or an array of strings", "prompt"),
    };
    let cm = Common::new(state, "cmpl-", v);
    let logprobs = v.get("logprobs").is_some_and(Value::is_number);
    let texts: Vec<String> = prompts
        .iter()
        .map(|p| reply_text(c, info, raw, v, p))
        .collect();
    let prompt_tokens: u64 = prompts.iter().map(|p| word_count(p)).sum();
    let completion_tokens: u64 = texts.iter().map(|t| word_count(t)).sum::<u64>() * cm.n;
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    // Choice index = prompt index * n + i, as OpenAI numbers them.
    let indexed: Vec<(u64, &String)> = texts
        .iter()
        .enumerate()
        .flat_map(|(p, t)| (0..cm.n).map(move |i| (p as u64 * cm.n + i, t)))
        .collect();

    if !cm.stream {
        let choices: Vec<Value> = indexed
            .iter()
            .map(|(i, t)| {
                let lp = if logprobs {
                    completion_logprobs(&c.text_pieces(t), 0)
                } else {
                    Value::Null
                };
                json!({"text": t, "index": i, "logprobs": lp, "finish_reason": "stop"})
            })
            .collect();
        let body = json!({
            "id": cm.id, "object": "text_completion", "created": cm.created, "model": cm.model,
            "choices": choices, "usage": usage, "system_fingerprint": "fp_mock",
        });
        return c.json_response(StatusCode::OK, json_bytes(&body));
    }

    let chunk = |choices: Value| -> Value {
        let mut o = json!({
            "id": cm.id, "object": "text_completion", "created": cm.created, "model": cm.model,
            "system_fingerprint": "fp_mock", "choices": choices,
        });
        if cm.include_usage {
            o["usage"] = Value::Null;
        }
        o
    };
    let mut per_choice = Vec::new();
    for (i, t) in &indexed {
        let mut events = Vec::new();
        let mut offset = 0;
        for piece in c.text_pieces(t) {
            let lp = if logprobs {
                completion_logprobs(std::slice::from_ref(&piece), offset)
            } else {
                Value::Null
            };
            offset += piece.len();
            let ch = json!([{"text": piece, "index": i, "logprobs": lp, "finish_reason": null}]);
            events.push(sse_data(&chunk(ch)));
        }
        let ch = json!([{"text": "", "index": i, "logprobs": null, "finish_reason": "stop"}]);
        events.push(sse_data(&chunk(ch)));
        per_choice.push(events);
    }
    let usage_chunk = cm.include_usage.then(|| {
        let mut last = chunk(json!([]));
        last["usage"] = usage;
        last
    });
    c.close_stream(per_choice, usage_chunk)
}

fn embeddings(c: &Controls, v: &Value) -> Response<MockBody> {
    let inputs: Vec<String> = match v.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(), // token arrays: embed their JSON text
            })
            .collect(),
        _ => return bad_request("'input' must be a string or a non-empty array", "input"),
    };
    let dims = v
        .get("dimensions")
        .and_then(Value::as_u64)
        .unwrap_or(8)
        .clamp(1, 4096) as usize;
    let b64 = v.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let vec = embed(text, dims);
            let embedding = if b64 {
                let raw: Vec<u8> = vec.iter().flat_map(|f| f.to_le_bytes()).collect();
                Value::String(base64(&raw))
            } else {
                json!(vec)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|t| word_count(t).max(1)).sum();
    let body = json!({
        "object": "list",
        "data": data,
        "model": v.get("model").and_then(Value::as_str).unwrap_or(MODEL_ID),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    });
    c.json_response(StatusCode::OK, json_bytes(&body))
}

fn responses(
    state: &State,
    c: &Controls,
    info: &ReqInfo,
    raw: &[u8],
    v: &Value,
) -> Response<MockBody> {
    let (user_text, input_tokens) = match v.get("input") {
        Some(Value::String(s)) => (s.clone(), word_count(s)),
        Some(Value::Array(items)) => {
            let tokens = items
                .iter()
                .filter_map(|m| m.get("content"))
                .map(|c| word_count(&content_text(c)))
                .sum();
            (last_user_text(items), tokens)
        }
        _ => return bad_request("'input' must be a string or an array", "input"),
    };
    let cm = Common::new(state, "resp_", v);
    let msg_id = state.next_id("msg_");
    let text = reply_text(c, info, raw, v, &user_text);
    let pieces = c.text_pieces(&text);
    let logprobs = v
        .get("include")
        .and_then(Value::as_array)
        .is_some_and(|inc| inc.iter().any(|i| i == "message.output_text.logprobs"));
    let lp = |pieces: &[String]| -> Value {
        if logprobs {
            Value::Array(token_logprobs(pieces))
        } else {
            json!([])
        }
    };
    let tool_call = c.tool_args.as_ref().map(|args| {
        let name = first_tool_name(v).unwrap_or_else(|| DEFAULT_TOOL_NAME.to_string());
        (
            state.next_id("fc_"),
            state.next_id("call_"),
            name,
            args.clone(),
        )
    });
    let output_tokens = match &tool_call {
        Some((_, _, _, args)) => word_count(args),
        None => word_count(&text),
    };
    let usage = json!({
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    });
    let part = |t: &str, lps: Value| json!({"type": "output_text", "text": t, "annotations": [], "logprobs": lps});
    let item = |status: &str, content: Value| json!({"id": msg_id, "type": "message", "status": status, "role": "assistant", "content": content});
    let call_item = |status: &str, args: &str| -> Value {
        match &tool_call {
            Some((id, call_id, name, _)) => json!({
                "id": id, "type": "function_call", "status": status, "arguments": args,
                "call_id": call_id, "name": name,
            }),
            None => Value::Null,
        }
    };
    let response = |status: &str, output: Value, usage: Value| {
        json!({
            "id": cm.id, "object": "response", "created_at": cm.created, "status": status,
            "background": false, "error": null, "incomplete_details": null,
            "instructions": v.get("instructions").cloned().unwrap_or(Value::Null),
            "max_output_tokens": v.get("max_output_tokens").cloned().unwrap_or(Value::Null),
            "model": cm.model, "output": output, "parallel_tool_calls": true,
            "previous_response_id": null, "reasoning": {"effort": null, "summary": null},
            "service_tier": "default", "store": false, "temperature": 1.0,
            "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
            "top_p": 1.0, "truncation": "disabled", "usage": usage, "user": null, "metadata": {},
        })
    };
    let done_item = match &tool_call {
        Some((_, _, _, args)) => call_item("completed", args),
        None => item("completed", json!([part(&text, lp(&pieces))])),
    };
    let done = response("completed", json!([done_item.clone()]), usage);

    if !cm.stream {
        return c.json_response(StatusCode::OK, json_bytes(&done));
    }

    let mut seq: u64 = 0;
    let mut events = Vec::new();
    let mut push = |name: &str, mut data: Value| {
        data["type"] = Value::String(name.to_string());
        data["sequence_number"] = json!(seq);
        seq += 1;
        events.push(sse_named(name, &data));
    };
    let in_progress = response("in_progress", json!([]), Value::Null);
    push("response.created", json!({"response": in_progress}));
    push("response.in_progress", json!({"response": in_progress}));
    match &tool_call {
        Some((id, _, _, args)) => {
            push(
                "response.output_item.added",
                json!({"output_index": 0, "item": call_item("in_progress", "")}),
            );
            for piece in c.arg_pieces(args) {
                push(
                    "response.function_call_arguments.delta",
                    json!({"item_id": id, "output_index": 0, "delta": piece}),
                );
            }
            push(
                "response.function_call_arguments.done",
                json!({"item_id": id, "output_index": 0, "arguments": args}),
            );
        }
        None => {
            push(
                "response.output_item.added",
                json!({"output_index": 0, "item": item("in_progress", json!([]))}),
            );
            push(
                "response.content_part.added",
                json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "part": part("", json!([]))}),
            );
            for piece in &pieces {
                push(
                    "response.output_text.delta",
                    json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "delta": piece,
                           "logprobs": lp(std::slice::from_ref(piece))}),
                );
            }
            push(
                "response.output_text.done",
                json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "text": text,
                       "logprobs": lp(&pieces)}),
            );
            push(
                "response.content_part.done",
                json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "part": part(&text, lp(&pieces))}),
            );
        }
    }
    push(
        "response.output_item.done",
        json!({"output_index": 0, "item": done_item}),
    );
    push("response.completed", json!({"response": done}));
    c.events_response(SSE_CONTENT_TYPE, events)
}

// ---------------------------------------------------------------------------------------------
// Canned responses (load benchmark fast path)
// ---------------------------------------------------------------------------------------------

fn canned() -> Canned {
    const TEXT: &str = "echo: Hello! This canned reply is thirty-four words long so that the mock \
                        streams exactly seventeen content chunks of two words, which keeps every \
                        stream at twenty events for the Parapet load benchmark runs.";
    let created = now_secs();
    let id = "chatcmpl-canned";
    let chat = json!({
        "id": id, "object": "chat.completion", "created": created, "model": MODEL_ID,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT, "refusal": null,
                     "annotations": []}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": word_count(TEXT),
                  "total_tokens": 10 + word_count(TEXT)},
        "service_tier": "default", "system_fingerprint": "fp_mock",
    });
    let chunk = |delta: Value, finish: Option<&str>| {
        sse_data(&json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "service_tier": "default", "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        }))
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        None,
    )];
    for piece in split_words(TEXT, WORDS_PER_CHUNK) {
        events.push(chunk(json!({"content": piece}), None));
    }
    events.push(chunk(json!({}), Some("stop")));
    events.push(Bytes::from_static(SSE_DONE));
    Canned {
        chat: json_bytes(&chat),
        chat_stream: events.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

struct Args {
    listen: SocketAddr,
    canned: bool,
    threads: Option<usize>,
    record: Option<usize>,
}

const USAGE: &str = "usage: mock_upstream [--listen ADDR] [--canned] [--threads N] [--record N]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        canned: false,
        threads: None,
        record: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                args.listen = v.parse().map_err(|e| format!("--listen {v}: {e}"))?;
            }
            "--threads" => {
                let v = value("--threads")?;
                let n: usize = v.parse().map_err(|e| format!("--threads {v}: {e}"))?;
                args.threads = Some(n.max(1));
            }
            "--record" => {
                let v = value("--record")?;
                let n: usize = v.parse().map_err(|e| format!("--record {v}: {e}"))?;
                args.record = Some(n.max(1));
            }
            "--canned" => args.canned = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mock_upstream: {e}");
            std::process::exit(2);
        }
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.threads {
        rt.worker_threads(n);
    }
    let rt = match rt.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mock_upstream: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(serve(args)) {
        eprintln!("mock_upstream: {e}");
        std::process::exit(1);
    }
}

async fn serve(args: Args) -> std::io::Result<()> {
    let listener = TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
    }
    let state = Arc::new(State {
        canned: args.canned.then(canned),
        counter: AtomicU64::new(1),
        record: args.record.map(|capacity| Recorder {
            capacity,
            log: Mutex::new((0, VecDeque::new())),
        }),
    });
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    // e.g. EMFILE under load: back off briefly instead of spinning.
                    eprintln!("mock_upstream: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = sigterm.recv() => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // Errors here are client disconnects and the deliberate x-mock-die-after aborts.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
