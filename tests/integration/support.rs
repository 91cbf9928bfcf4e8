//! Test support: an in-process mock upstream on a loopback socket whose replies,
//! delays, failures and stream shapes each test scripts, plus helpers to drive the
//! proxy in-process (`app(config)` as a tower service) or through a real listener.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parapet::config::{Config, FileConfig, Overrides};
use parapet::proxy::body::ProxyBody;
use parapet::App;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Notify};
use tower::ServiceExt;

/// A request as the mock upstream received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub uri: http::Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// One piece of a scripted response body.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Send these bytes as one write.
    Data(Bytes),
    /// Wait before the next piece (shapes the stream; tests never rely on it for ordering).
    Pause(Duration),
    /// Abort the connection without finishing the body.
    Abort,
    /// Never send anything more (the body stays open).
    Hang,
    /// Wait until the test opens this gate.
    Wait(Arc<Notify>),
}

/// What the mock answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Duration,
    pub pieces: Vec<Piece>,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap(),
            headers: vec![("content-type", "application/json".into())],
            delay: Duration::ZERO,
            pieces: vec![Piece::Data(Bytes::copy_from_slice(body.as_bytes()))],
        }
    }

    pub fn sse(pieces: Vec<Piece>) -> Self {
        Self {
            status: StatusCode::OK,
            headers: vec![("content-type", "text/event-stream".into())],
            delay: Duration::ZERO,
            pieces,
        }
    }

    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

/// The mock upstream server.
pub struct Mock {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    /// Notified whenever a response body is dropped before it finished (the proxy
    /// went away), and counts how often.
    pub bodies_dropped: Arc<Notify>,
    pub dropped_count: Arc<Mutex<usize>>,
}

impl Mock {
    /// Starts a mock whose replies `handler` decides.
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Mock {
        let handler: Handler = Arc::new(handler);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let bodies_dropped = Arc::new(Notify::new());
        let dropped_count = Arc::new(Mutex::new(0));
        let (reqs, dropped, count) = (
            requests.clone(),
            bodies_dropped.clone(),
            dropped_count.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                // Small scripted writes must leave at once (no Nagle delay).
                let _ = stream.set_nodelay(true);
                let (handler, reqs, dropped, count) = (
                    handler.clone(),
                    reqs.clone(),
                    dropped.clone(),
                    count.clone(),
                );
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (handler, reqs, dropped, count) = (
                            handler.clone(),
                            reqs.clone(),
                            dropped.clone(),
                            count.clone(),
                        );
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            let rec = Recorded {
                                method: parts.method,
                                uri: parts.uri,
                                headers: parts.headers,
                                body,
                            };
                            let reply = handler(&rec);
                            reqs.lock().unwrap().push(rec);
                            if !reply.delay.is_zero() {
                                tokio::time::sleep(reply.delay).await;
                            }
                            Ok::<_, Infallible>(respond(reply, dropped, count))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Mock {
            addr,
            requests,
            bodies_dropped,
            dropped_count,
        }
    }

    /// The base URL to configure as Parapet's upstream.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The requests received so far.
    pub fn received(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn dropped(&self) -> usize {
        *self.dropped_count.lock().unwrap()
    }
}

fn respond(reply: Reply, dropped: Arc<Notify>, count: Arc<Mutex<usize>>) -> Response<ScriptBody> {
    let (tx, rx) = mpsc::channel(16);
    let (done_tx, done_rx) = oneshot::channel();
    let pieces = reply.pieces;
    tokio::spawn(async move {
        for piece in pieces {
            match piece {
                Piece::Data(b) => {
                    if tx.send(Ok(b)).await.is_err() {
                        return;
                    }
                }
                Piece::Pause(d) => tokio::time::sleep(d).await,
                Piece::Abort => {
                    let _ = tx.send(Err(std::io::Error::other("scripted abort"))).await;
                    return;
                }
                Piece::Hang => {
                    tx.closed().await;
                    return;
                }
                Piece::Wait(gate) => gate.notified().await,
            }
        }
        let _ = done_tx.send(());
    });
    let body = ScriptBody {
        rx,
        done: done_rx,
        finished: false,
        dropped: Some((dropped, count)),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = reply.status;
    for (k, v) in reply.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

/// A scripted response body that reports being dropped before its end.
pub struct ScriptBody {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    done: oneshot::Receiver<()>,
    finished: bool,
    dropped: Option<(Arc<Notify>, Arc<Mutex<usize>>)>,
}

impl Body for ScriptBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(r)) => Poll::Ready(Some(r.map(Frame::data))),
            Poll::Ready(None) => {
                let done = Pin::new(&mut self.done).poll(cx);
                self.finished = matches!(done, Poll::Ready(Ok(())));
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

use std::future::Future;

impl Drop for ScriptBody {
    fn drop(&mut self) {
        if !self.finished {
            if let Some((notify, count)) = self.dropped.take() {
                *count.lock().unwrap() += 1;
                notify.notify_one();
            }
        }
    }
}

/// A config in front of `mock`, adjusted by a YAML snippet (same schema as the file).
pub fn config(mock: &Mock, yaml: &str) -> Config {
    let file = FileConfig::parse(yaml).expect("test config parses");
    Config::resolve(
        file,
        Overrides {
            upstream: Some(mock.url()),
            ..Overrides::default()
        },
    )
    .expect("test config is valid")
}

/// Builds the app in front of `mock`.
pub fn proxy(mock: &Mock, yaml: &str) -> App {
    parapet::app(config(mock, yaml)).expect("app builds")
}

/// Sends one request through the app in-process.
pub async fn send(app: &App, req: Request<Full<Bytes>>) -> Response<ProxyBody> {
    app.clone().oneshot(req).await.expect("infallible")
}

/// A POST with a JSON body.
pub fn post(path: &str, body: &str) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-client")
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .unwrap()
}

/// Reads a whole response body.
pub async fn body_bytes(resp: Response<ProxyBody>) -> Bytes {
    resp.into_body().collect().await.expect("body").to_bytes()
}

/// Parses an error body and returns `error.code`.
pub fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("error body is JSON");
    for key in ["message", "type", "param", "code"] {
        assert!(
            v["error"].get(key).is_some(),
            "error body lacks `{key}`: {v}"
        );
    }
    v["error"]["code"].as_str().unwrap_or_default().to_owned()
}

/// Value of one sample in the Prometheus text output (`name{labels}`), or 0.
pub fn metric(app: &App, series: &str) -> f64 {
    let text = app.metrics().render();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

/// A realistic chat-completions SSE body: `n` content chunks, a finish chunk, [DONE].
pub fn chat_stream(words: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    let head = r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
    out.extend_from_slice(format!("data: {head}\n\n").as_bytes());
    for w in words {
        let chunk = serde_json::json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",
            "choices":[{"index":0,"delta":{"content":w},"finish_reason":null}]});
        out.extend_from_slice(format!("data: {chunk}\n\n").as_bytes());
    }
    let fin = r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
    out.extend_from_slice(format!("data: {fin}\n\ndata: [DONE]\n\n").as_bytes());
    out
}

/// Serves `app` on a loopback listener; returns its address and a shutdown trigger.
pub async fn listen(
    app: App,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<usize>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(parapet::server::serve(app, listener, async {
        let _ = rx.await;
    }));
    (addr, tx, task)
}

/// A plain HTTP/1.1 client for socket-level tests.
pub fn client() -> hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
> {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// Writes a policy to a fresh temporary file.
pub fn policy_file(name: &str, yaml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "parapet-it-{}-{name}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// A one-message chat request body.
pub fn chat(content: &str) -> String {
    serde_json::json!({"model": "m", "messages": [{"role": "user", "content": content}]})
        .to_string()
}

/// A non-streamed chat completion whose message is `content`.
pub fn completion(content: &str) -> String {
    serde_json::json!({"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":content},"finish_reason":"stop"}]}).to_string()
}

/// The assistant text a client reassembles from a relayed stream, and its finish reason.
pub fn reassemble(body: &[u8]) -> (String, Option<String>, bool) {
    let mut text = String::new();
    let mut finish = None;
    let mut done = false;
    for ev in String::from_utf8_lossy(body).split("\n\n") {
        let Some(data) = ev.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(data).unwrap();
        if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
            text.push_str(c);
        }
        if let Some(f) = v["choices"][0]["finish_reason"].as_str() {
            finish = Some(f.to_owned());
        }
    }
    (text, finish, done)
}
