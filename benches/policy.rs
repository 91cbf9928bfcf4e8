//! The policy engine's hot paths: evaluating a compiled policy on a prompt, and the
//! per-chunk cost of the output guard on a streamed completion through the whole
//! proxy. Run with `cargo bench --bench policy`.
//!
//! - `policy/evaluate_50_rules_1k_prompt`: a generated 50-rule policy (keyword lists,
//!   regexes, PII kinds, length, any/all/not, scopes) on a ~1 KB prompt of 4 texts.
//! - `policy/default_policy_1k_prompt`: the built-in default policy on the same prompt.
//! - `guard/stream_500_chunks_{guarded,unguarded}`: one streamed chat request through
//!   `parapet::app` against an in-bench loopback upstream that answers a canned
//!   500-event stream, with `policies/default.yaml` (output rules: every event goes
//!   through the hold-back guard; the harm model's scores of the canned text come from
//!   the cache after the first run, so this is the guard's own cost) and with the same policy narrowed to input rules (no
//!   guard). The difference divided by 500 is the guard's cost per chunk; it is printed
//!   after each pair. The upstream writes event by event (about one event per proxy
//!   read, as from a generating model); the `_one_write` pair sends the whole body in
//!   one write (many events per read, so the guard vets far less often).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::{Request, Response};
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parapet::config::{Config, FileConfig, Overrides};
use parapet::policy::model::ScoreKey;
use parapet::policy::raw::Direction;
use parapet::policy::{check_source, CompileEnv, Policy, RequestInfo, Scores, Text};
use parapet::proxy::openai::Role;
use parapet::proxy::route::Route;
use parapet::proxy::BUILTIN_POLICY;
use parapet::App;
use std::hint::black_box;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Stream events in the canned upstream response (content chunks).
const CHUNKS: usize = 500;

fn compile(name: &str, yaml: String) -> Policy {
    // Classifier rules compile against pinned scores (`Zero`): this bench measures the
    // policy engine; the models have their own bench (`cargo bench --bench classify`).
    let env = CompileEnv {
        classifiers: true,
        catalog: None,
    };
    let checked = check_source(name, yaml, env);
    match checked.policy {
        Some(p) => p,
        None => panic!("{name} does not compile:\n{}", checked.render()),
    }
}

/// Every classifier score is 0 (the texts are benign; scores are computed before
/// evaluation, so their cost is not the evaluator's).
struct Zero;

impl Scores for Zero {
    fn score(&self, _: &Policy, _: &ScoreKey, _: usize, _: &str) -> Option<f64> {
        Some(0.0)
    }
}

/// A 50-rule policy: ten rule shapes, five variants each.
fn policy_50_rules() -> String {
    const PII: [&str; 10] = [
        "email",
        "phone",
        "credit_card",
        "iban",
        "us_ssn",
        "ipv4",
        "ipv6",
        "api_key",
        "jwt",
        "private_key",
    ];
    let mut y = String::from(
        "version: 1\nid: bench-50\ndescription: Generated benchmark policy.\n\
         defaults: {mode: enforce, stream: {mode: vetted, holdback: 128}}\nlists:\n",
    );
    for v in 0..5 {
        y.push_str(&format!(
            "  words_{v}:\n    items: [project falcon {v}, orion-{v}, codename {v}, acme internal {v}, \
             red team {v}, payroll {v}, board minutes {v}, merger {v}]\n    match: word\n    case: insensitive\n  \
             subs_{v}:\n    items: [BEGIN CONFIDENTIAL {v}, XX-{v}-SECRET, ProjectZ{v}]\n    match: substring\n    case: sensitive\n"
        ));
    }
    y.push_str("rules:\n");
    for i in 0..50 {
        let v = i / 10;
        let (scope, when, action) = match i % 10 {
            0 => (
                "{direction: input}".to_owned(),
                format!("{{keywords: words_{v}}}"),
                "annotate",
            ),
            1 => (
                "{direction: input, roles: [user]}".to_owned(),
                format!(r"{{regex: '(?i)\b(ignore|bypass) (all|the) (rules|filters) {v}\b'}}"),
                "block",
            ),
            2 => (
                "{direction: both}".to_owned(),
                format!("{{pii: {}}}", PII[(2 * v) % PII.len()]),
                "{redact: {with: \"[{ENTITY}]\"}}",
            ),
            3 => (
                "{direction: input, roles: [user], messages: latest}".to_owned(),
                format!("{{length: {{gt: {}}}}}", 4000 + v * 100),
                "block",
            ),
            4 => (
                "{direction: input, roles: [user, tool]}".to_owned(),
                format!(
                    r"{{any: [{{keywords: words_{v}}}, {{regex: '(?i)\bwire (the )?money to account {v}\b'}}]}}"
                ),
                "block",
            ),
            5 => (
                "{direction: input, routes: [chat_completions, responses]}".to_owned(),
                format!(
                    r"{{all: [{{regex: '\d{{3}}-\d{{2}}-\d{{4}}'}}, {{not: {{keywords: subs_{v}}}}}]}}"
                ),
                "annotate",
            ),
            6 => (
                "{direction: input, messages: latest}".to_owned(),
                format!(
                    "{{all: [{{pii: {}}}, {{not: {{keywords: words_{v}}}}}, {{length: {{lt: 20000}}}}]}}",
                    PII[(2 * v + 1) % PII.len()]
                ),
                "annotate",
            ),
            7 => (
                "{direction: input, roles: [system, developer]}".to_owned(),
                format!("{{keywords: subs_{v}}}"),
                "block",
            ),
            8 => (
                "{direction: both, models: [\"gpt-4o*\", \"llama-3*\"]}".to_owned(),
                format!(
                    r"{{regex: {{pattern: '\b(password|passwd|secret)\s*[:=]\s*\S{{6,}} {v}', case: insensitive}}}}"
                ),
                "{redact: {with: \"[REDACTED]\"}}",
            ),
            _ => (
                "{direction: input, roles: [user]}".to_owned(),
                format!(
                    "{{not: {{any: [{{length: {{gt: 0}}}}, {{keywords: subs_{v}}}, {{pii: [ipv4, ipv6]}}]}}}}"
                ),
                "annotate",
            ),
        };
        y.push_str(&format!(
            "  - id: rule-{i:02}\n    scope: {scope}\n    when: {when}\n    action: {action}\n"
        ));
    }
    y
}

/// A ~1 KB conversation: system, user, assistant, user (the latest turn).
fn prompt() -> [(&'static str, Role); 4] {
    [
        (
            "You are a careful assistant for the finance team. Answer concisely, cite the \
             source document when you can, and never guess numbers you were not given. If a \
             question is ambiguous, ask one clarifying question before answering.",
            Role::System,
        ),
        (
            "Here are the notes from Tuesday's planning call. Revenue for the quarter came in \
             slightly above forecast, churn was flat, and hiring is paused until the budget \
             review. Maria (maria.lopez@example.com) owns the follow-up on the vendor contracts \
             and will circulate a summary by Friday.",
            Role::User,
        ),
        (
            "Thanks. In short: revenue beat the forecast, churn held steady, hiring is on hold \
             pending the budget review, and Maria will summarise the vendor contracts by Friday. \
             Would you like me to draft the summary email?",
            Role::Assistant,
        ),
        (
            "Yes please, draft a short email to the leadership team with those four points, a \
             friendly tone and a subject line. Mention that questions can go to the finance \
             channel or to me at +1 415 555 0132, and keep it under 150 words.",
            Role::User,
        ),
    ]
}

fn texts<'a>(prompt: &'a [(&'static str, Role); 4]) -> Vec<Text<'a>> {
    prompt
        .iter()
        .enumerate()
        .map(|(i, (text, role))| Text {
            text,
            role: *role,
            latest: i == 3,
            joined: false,
        })
        .collect()
}

fn bench_evaluate(c: &mut Criterion) {
    let prompt = prompt();
    let texts = texts(&prompt);
    let bytes: usize = texts.iter().map(|t| t.text.len()).sum();
    let req = RequestInfo {
        direction: Direction::Input,
        route: Route::ChatCompletions,
        model: Some("gpt-4o-mini"),
        tenant: None,
        opaque_inputs: 0,
        token_inputs: 0,
    };
    let generated = compile("bench-50.yaml", policy_50_rules());
    assert_eq!(generated.rules.len(), 50);
    let builtin = compile("builtin:policies/default.yaml", BUILTIN_POLICY.to_owned());
    // Both redact the email and the phone number: the full path, not an early exit.
    for p in [&generated, &builtin] {
        let v = p.evaluate(&req, &texts, &Zero);
        assert!(!v.redactions.is_empty(), "{}: {v:?}", p.id);
    }

    let mut group = c.benchmark_group("policy");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("evaluate_50_rules_1k_prompt", |b| {
        b.iter(|| generated.evaluate(black_box(&req), black_box(&texts), &Zero))
    });
    group.bench_function("default_policy_1k_prompt", |b| {
        b.iter(|| builtin.evaluate(black_box(&req), black_box(&texts), &Zero))
    });
    group.finish();
}

/// The canned upstream answer, one event per item: a role chunk, `CHUNKS` content
/// chunks (two to four words each, as an OpenAI server streams them), a finish chunk
/// and `[DONE]`.
fn canned_events() -> Vec<Bytes> {
    const WORDS: [&str; 12] = [
        " The",
        " quarterly",
        " numbers",
        " look",
        " healthy,",
        " and",
        " churn",
        " stayed",
        " flat",
        " while",
        " hiring",
        " paused.",
    ];
    let head = r#"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"#;
    let mut out = vec![format!(
        "data: {head}\"role\":\"assistant\",\"content\":\"\"}},\"finish_reason\":null}}]}}\n\n"
    )];
    for i in 0..CHUNKS {
        let piece: String = (0..2 + i % 3)
            .map(|k| WORDS[(i + k) % WORDS.len()])
            .collect();
        out.push(format!(
            "data: {head}\"content\":\"{piece}\"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    out.push(format!(
        "data: {head}}},\"finish_reason\":\"stop\"}}]}}\n\n"
    ));
    out.push("data: [DONE]\n\n".to_owned());
    out.into_iter().map(Bytes::from).collect()
}

/// How the upstream writes the stream.
#[derive(Clone, Copy)]
enum Delivery {
    /// Event by event, yielding to the runtime in between, so the proxy reads about one
    /// event per upstream read, as from a model generating tokens.
    PerEvent,
    /// The whole body in one write: the proxy gets many events per read.
    OneWrite,
}

type UpstreamBody = BoxBody<Bytes, Infallible>;

fn upstream_body(events: &[Bytes], delivery: Delivery) -> UpstreamBody {
    match delivery {
        Delivery::OneWrite => Full::new(Bytes::from(events.concat())).boxed(),
        Delivery::PerEvent => {
            let events = events.to_vec();
            let frames = futures_util::stream::unfold(0, move |i| {
                let next = events.get(i).cloned();
                async move {
                    let event = next?;
                    tokio::task::yield_now().await;
                    Some((Ok(Frame::data(event)), i + 1))
                }
            });
            StreamBody::new(frames).boxed()
        }
    }
}

/// A loopback HTTP/1.1 upstream that answers every request with `events` as an SSE
/// stream.
async fn upstream(events: Vec<Bytes>, delivery: Delivery) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let events = events.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let events = events.clone();
                    async move {
                        // Read the request fully so the connection can be reused.
                        let _ = req.into_body().collect().await;
                        let resp = Response::builder()
                            .header("content-type", "text/event-stream")
                            .body(upstream_body(&events, delivery))
                            .expect("response");
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// The proxy in front of `upstream`, serving `policy`.
fn proxy(upstream: SocketAddr, policy: &Path) -> App {
    let yaml = format!("policies: [\"{}\"]\n", policy.display());
    let file = FileConfig::parse(&yaml).expect("bench config parses");
    let config = Config::resolve(
        file,
        Overrides {
            upstream: Some(format!("http://{upstream}/v1")),
            ..Overrides::default()
        },
    )
    .expect("bench config is valid");
    parapet::app(config).expect("app builds")
}

fn chat_request() -> Request<Full<Bytes>> {
    let body = r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"You are a careful assistant."},{"role":"user","content":"Summarise the quarterly numbers in a few sentences."}]}"#;
    Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-bench")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("request")
}

/// One streamed request through the proxy; returns the body length.
async fn stream_once(app: &App) -> usize {
    let resp = app
        .clone()
        .oneshot(chat_request())
        .await
        .expect("infallible");
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    body.len()
}

/// One streamed request; returns the body and the number of data frames it came in.
async fn stream_frames(app: &App) -> (Vec<u8>, usize) {
    let resp = app
        .clone()
        .oneshot(chat_request())
        .await
        .expect("infallible");
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let (mut bytes, mut frames) = (Vec::new(), 0);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("frame").into_data() {
            bytes.extend_from_slice(&data);
            frames += 1;
        }
    }
    (bytes, frames)
}

/// `policies/default.yaml` with every rule narrowed to prompts: no output rules, so
/// streams are relayed without a guard; everything else is the same.
fn input_only_policy() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("policies/default.yaml")).expect("default");
    let text = text
        .replace("id: default", "id: default-input-only")
        .replace("direction: both", "direction: input")
        .replace("direction: output", "direction: input");
    let compiled = compile("default-input-only.yaml", text.clone());
    assert!(!compiled.has_rules_for(Direction::Output));
    let path = std::env::temp_dir().join(format!(
        "parapet-bench-input-only-{}.yaml",
        std::process::id()
    ));
    std::fs::write(&path, text).expect("write policy");
    path
}

fn bench_stream(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let events = canned_events();
    let canned = events.concat();
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/default.yaml");
    let input_only = input_only_policy();

    let mut group = c.benchmark_group("guard");
    group.throughput(Throughput::Elements(CHUNKS as u64));
    group.measurement_time(Duration::from_secs(8));
    for (suffix, delivery) in [("", Delivery::PerEvent), ("_one_write", Delivery::OneWrite)] {
        let addr = rt.block_on(upstream(events.clone(), delivery));
        let apps = [
            ("guarded", proxy(addr, &default)),
            ("unguarded", proxy(addr, &input_only)),
        ];
        let mut means = [0.0f64; 2];
        let mut frames = [0usize; 2];
        for (k, (name, app)) in apps.iter().enumerate() {
            // The stream is relayed unchanged (nothing in it is redacted or blocked).
            let (body, n) = rt.block_on(stream_frames(app));
            assert!(body == canned, "{name}{suffix}: the stream was changed");
            frames[k] = n;
            let mut total = Duration::ZERO;
            let mut runs = 0u64;
            group.bench_function(format!("stream_500_chunks_{name}{suffix}"), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(rt.block_on(stream_once(app)));
                    }
                    let spent = start.elapsed();
                    total += spent;
                    runs += iters;
                    spent
                })
            });
            means[k] = total.as_secs_f64() / runs.max(1) as f64;
        }
        println!(
            "guard{suffix}: guarded {:.3} ms ({} frames to the client), unguarded {:.3} ms ({} frames) \
             per {}-event request (means incl. warm-up): output guard ~{:.2} us per chunk",
            means[0] * 1e3,
            frames[0],
            means[1] * 1e3,
            frames[1],
            events.len(),
            (means[0] - means[1]) / CHUNKS as f64 * 1e6
        );
    }
    group.finish();
    let _ = std::fs::remove_file(&input_only);
}

criterion_group!(benches, bench_evaluate, bench_stream);
criterion_main!(benches);
