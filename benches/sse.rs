//! Throughput of the SSE parser on a typical chat-completion stream.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

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

criterion_group!(benches, bench_chat);
criterion_main!(benches);
