//! Through a real listener: disconnects, graceful shutdown, HTTPS upstreams.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::support::*;

/// Fails the test instead of hanging forever if an expected event never comes.
async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for: {what}"))
}

fn stream_request(addr: std::net::SocketAddr) -> Request<Full<Bytes>> {
    Request::post(format!("http://{addr}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(
            br#"{"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        )))
        .unwrap()
}

#[tokio::test]
async fn client_disconnect_mid_stream_cancels_the_upstream_request() {
    let mock = Mock::start(|_| {
        Reply::sse(vec![
            Piece::Data(Bytes::from_static(b"data: {\"choices\":[]}\n\n")),
            Piece::Hang,
        ])
    })
    .await;
    let app = proxy(&mock, "");
    let (addr, _stop, _task) = listen(app.clone()).await;
    let resp = client().request(stream_request(addr)).await.unwrap();
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    drop(body); // the client goes away
    within(
        "the upstream body to be dropped",
        mock.bodies_dropped.notified(),
    )
    .await;
    assert_eq!(mock.dropped(), 1);
    assert_eq!(
        metric(
            &app,
            "parapet_requests_total{outcome=\"client_closed\",route=\"chat_completions\"}"
        ),
        1.0
    );
    assert_eq!(metric(&app, "parapet_inflight_requests"), 0.0);
}

#[tokio::test]
async fn client_disconnect_while_waiting_for_upstream_cancels_it() {
    let mock = Mock::start(|_| {
        let mut r = Reply::json(200, "{\"choices\":");
        r.pieces.push(Piece::Hang);
        r
    })
    .await;
    let app = proxy(&mock, "");
    let (addr, _stop, _task) = listen(app.clone()).await;
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = r#"{"messages":[]}"#;
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    // Wait until the upstream has the request, then hang up.
    within("the upstream to receive the request", async {
        while mock.received().is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    drop(sock);
    within(
        "the upstream body to be dropped",
        mock.bodies_dropped.notified(),
    )
    .await;
}

#[tokio::test]
async fn graceful_shutdown_lets_open_streams_finish_and_refuses_new_connections() {
    let gate = Arc::new(Notify::new());
    let g = gate.clone();
    let mock = Mock::start(move |_| {
        Reply::sse(vec![
            Piece::Data(Bytes::from_static(b"data: {\"choices\":[]}\n\n")),
            Piece::Wait(g.clone()),
            Piece::Data(Bytes::from_static(b"data: [DONE]\n\n")),
        ])
    })
    .await;
    let app = proxy(&mock, "");
    let (addr, stop, task) = listen(app.clone()).await;
    let resp = client().request(stream_request(addr)).await.unwrap();
    let mut body = resp.into_body();
    body.frame().await.unwrap().unwrap();
    stop.send(()).unwrap();
    within("draining to start", async {
        while !app.is_draining() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener must be closed"
    );
    gate.notify_one();
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(&rest[..], b"data: [DONE]\n\n");
    assert_eq!(within("serve to return", task).await.unwrap(), 0);
}

#[tokio::test]
async fn drain_deadline_cuts_streams_that_never_end() {
    let mock = Mock::start(|_| {
        Reply::sse(vec![
            Piece::Data(Bytes::from_static(b"data: {}\n\n")),
            Piece::Hang,
        ])
    })
    .await;
    let app = proxy(&mock, "shutdown_grace: 100ms\n");
    let (addr, stop, task) = listen(app.clone()).await;
    let resp = client().request(stream_request(addr)).await.unwrap();
    let mut body = resp.into_body();
    body.frame().await.unwrap().unwrap();
    stop.send(()).unwrap();
    assert_eq!(within("serve to return", task).await.unwrap(), 1);
}

#[tokio::test]
async fn admin_endpoints_report_health_readiness_and_metrics() {
    let mock = Mock::start(|_| Reply::json(200, "{}")).await;
    let app = proxy(&mock, "");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = listener.local_addr().unwrap();
    tokio::spawn(parapet::server::serve_admin(app.clone(), listener));
    body_bytes(send(&app, post("/v1/embeddings", r#"{"input":"x"}"#)).await).await;
    let get = |path: &str| {
        let uri = format!("http://{admin}{path}");
        async move {
            let resp = client()
                .request(Request::get(uri).body(Full::new(Bytes::new())).unwrap())
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/readyz").await.0, 200);
    let (status, text) = get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        text.contains("parapet_requests_total{outcome=\"forwarded\",route=\"embeddings\"} 1"),
        "{text}"
    );
    assert!(text.contains("parapet_build_info{version="));
    app.set_draining(true);
    assert_eq!(get("/readyz").await.0, 503);
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/nope").await.0, 404);
}

#[tokio::test]
async fn raw_http1_client_gets_well_formed_chunked_stream() {
    let mock =
        Mock::start(|_| Reply::sse(vec![Piece::Data(Bytes::from(chat_stream(&["x"])))])).await;
    let app = proxy(&mock, "");
    let (addr, _stop, _task) = listen(app).await;
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = r#"{"stream":true,"messages":[]}"#;
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    within("the response", sock.read_to_end(&mut out))
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
    assert!(
        text.ends_with("0\r\n\r\n"),
        "stream must end with the last chunk: {text}"
    );
}

#[tokio::test]
async fn https_upstream_with_a_private_ca() {
    use hyper_util::rt::TokioIo;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("parapet-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert.cert.der().to_vec())], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let path = req.uri().path().to_owned();
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            Bytes::from(format!("{{\"tls_path\":\"{path}\"}}")),
                        )))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    let file = parapet::config::FileConfig::parse(&format!(
        "upstream:\n  url: https://localhost:{port}/v1\n  ca_file: {}\n",
        ca.display()
    ))
    .unwrap();
    let cfg = parapet::Config::resolve(file, Default::default()).unwrap();
    let app = parapet::app(cfg).unwrap();
    let resp = send(&app, post("/v1/embeddings", r#"{"input":"x"}"#)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        body_bytes(resp).await,
        &b"{\"tls_path\":\"/v1/embeddings\"}"[..]
    );
    // Without the CA the certificate is refused: 502, not a silent downgrade.
    let app = parapet::app(
        parapet::Config::with_upstream(&format!("https://localhost:{port}/v1")).unwrap(),
    )
    .unwrap();
    let resp = send(&app, post("/v1/embeddings", r#"{"input":"x"}"#)).await;
    assert_eq!(resp.status(), 502);
}
