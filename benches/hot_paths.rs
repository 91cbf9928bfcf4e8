//! The per-request and per-chunk hot paths: SSE framing, request text extraction
//! and stream accumulation. Run with `cargo bench --bench hot_paths`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

use parapet::proxy::openai::{extract_request, Endpoint, StreamAccumulator};
use parapet::proxy::sse::{SseEvent, SseParser};

/// A 500-event OpenAI chat-completions stream followed by `[DONE]`.
fn chat_stream() -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..500 {
        s.extend_from_slice(
            format!(
                "data: {{\"id\":\"chatcmpl-abc123\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {i} héllo 世界\"}},\"finish_reason\":null}}]}}\n\n"
            )
            .as_bytes(),
        );
    }
    s.extend_from_slice(b"data: [DONE]\n\n");
    s
}

fn bench_chat(c: &mut Criterion) {
    let stream = chat_stream();
    let mut group = c.benchmark_group("sse");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("chat_500_events_1k_chunks", |b| {
        let mut out: Vec<SseEvent> = Vec::with_capacity(16);
        b.iter(|| {
            let mut parser = SseParser::new(1 << 20);
            let mut events = 0usize;
            for chunk in stream.chunks(1024) {
                parser
                    .push(black_box(chunk), &mut out)
                    .expect("events are small");
                events += out.len();
                out.clear();
            }
            assert!(parser.finish().is_none());
            black_box(events)
        });
    });
    group.finish();
}

/// A ~1 KB chat request: system prompt, a short history, a tool definition.
fn chat_request() -> Vec<u8> {
    let filler = "The quarterly report covers revenue, churn and hiring plans in detail. ";
    serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": format!("You are a careful assistant. {}", filler.repeat(3))},
            {"role": "user", "content": filler.repeat(4)},
            {"role": "assistant", "content": "Here is a summary of the main points."},
            {"role": "user", "content": [{"type": "text", "text": "Now list the risks, please."}]}
        ],
        "tools": [{"type": "function", "function": {"name": "lookup", "description": "Look up a figure",
                   "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}],
        "temperature": 0.2
    })
    .to_string()
    .into_bytes()
}

fn bench_extract(c: &mut Criterion) {
    let body = chat_request();
    let mut group = c.benchmark_group("openai");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("extract_chat_request_1k", |b| {
        b.iter(|| extract_request(Endpoint::ChatCompletions, black_box(&body)).expect("valid"))
    });
    group.finish();
}

fn bench_accumulate(c: &mut Criterion) {
    let chunk = br#"{"id":"chatcmpl-abc123","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}"#;
    let mut group = c.benchmark_group("openai");
    group.bench_function("accumulate_chat_chunk", |b| {
        let mut acc = StreamAccumulator::new(Endpoint::ChatCompletions);
        b.iter(|| acc.push(black_box(chunk)).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, bench_chat, bench_extract, bench_accumulate);
criterion_main!(benches);
