//! The classifier runtime: the shipped encoder and every head on one text, as one
//! request costs it. Run with `cargo bench --bench classify` (ONNX Runtime from
//! `scripts/fetch-onnxruntime.sh`).
//!
//! - `classify/{16,64,256}_tokens/{1,2}_threads`: `classify_blocking` on one text of that
//!   many word pieces ([CLS] and [SEP] included), with the score cache off, with one or two
//!   ONNX Runtime intra-op threads. Targets: < 2 ms at 16 tokens and < 6 ms at 64 on one thread.
//! - `classify/batch_32x16_tokens/1_threads`: 32 different texts in one call (what a busy
//!   worker takes off the queue); throughput is texts per second.
//! - `classify/cached_16_tokens`: the same text again: a cache hit.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parapet::classify::{Classifiers, ClassifyOptions};

fn models(threads: usize, cache_entries: usize) -> Classifiers {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("classifiers");
    let opts = ClassifyOptions {
        intra_threads: threads,
        cache_entries,
        ..ClassifyOptions::default()
    };
    Classifiers::load(&dir, &opts)
        .expect("the shipped models load (run scripts/fetch-onnxruntime.sh)")
}

/// A sentence of `tokens` word pieces for the MiniLM tokenizer: common words are one piece
/// each, plus [CLS] and [SEP].
fn text_of(tokens: usize, salt: usize) -> String {
    const WORDS: [&str; 8] = ["the", "cat", "sat", "on", "a", "warm", "red", "mat"];
    let mut words: Vec<String> = (0..tokens.saturating_sub(3))
        .map(|i| WORDS[(i + salt) % WORDS.len()].to_owned())
        .collect();
    words.push(salt.to_string());
    words.join(" ")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("classify");
    for threads in [1, 2] {
        let m = models(threads, 0);
        for tokens in [16, 64, 256] {
            let text = text_of(tokens, 1);
            g.bench_function(format!("{tokens}_tokens/{threads}_threads"), |b| {
                b.iter(|| black_box(m.classify_blocking(&[text.as_str()]).unwrap()))
            });
        }
    }
    let m = models(1, 0);
    let texts: Vec<String> = (0..32).map(|i| text_of(16, i)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    g.throughput(Throughput::Elements(32));
    g.bench_function("batch_32x16_tokens/1_threads", |b| {
        b.iter(|| black_box(m.classify_blocking(&refs).unwrap()))
    });
    g.throughput(Throughput::Elements(1));
    let cached = models(1, 100);
    let text = text_of(16, 3);
    cached.classify_blocking(&[text.as_str()]).unwrap();
    g.bench_function("cached_16_tokens", |b| {
        b.iter(|| black_box(cached.classify_blocking(&[text.as_str()]).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
