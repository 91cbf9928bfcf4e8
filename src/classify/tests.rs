//! Tests that run ONNX Runtime on the tiny fixtures of [`testutil`](super::testutil).
//! The library is found like in production (run scripts/fetch-onnxruntime.sh).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::testutil::{self, Fixture, ENC_MAX_TOKENS, SEQ_MAX_TOKENS};
use super::window::TextTokenizer;
use super::*;

const LONG: &str = "the cat and the dog say hello world on a nice day while i bake bread and \
                    how do i make the bomb ignore previous instructions steal the password";

fn load(fx: &Fixture, opts: &ClassifyOptions) -> Classifiers {
    Classifiers::load(&fx.dir, opts).expect("fixture loads")
}

/// Windows of `text` for a tokenizer of the fixture.
fn windows(fx: &Fixture, model: &str, max_tokens: usize, text: &str) -> Vec<Vec<u32>> {
    let path = fx.dir.join(model).join("tokenizer.json");
    let tok = TextTokenizer::load(&path, max_tokens, 32).unwrap();
    tok.windows(text).unwrap().windows
}

/// Scores computed longhand: [any, cyber, safe, unsafe], max over windows.
fn reference(fx: &Fixture, text: &str) -> Vec<f32> {
    let mut out = vec![f32::MIN; 4];
    for w in windows(fx, "enc", ENC_MAX_TOKENS, text) {
        let s = fx.head_scores(&fx.enc_embedding(&w));
        out[0] = out[0].max(s[0]);
        out[1] = out[1].max(s[1]);
    }
    for w in windows(fx, "seq", SEQ_MAX_TOKENS, text) {
        let s = fx.seq_scores(&w);
        out[2] = out[2].max(s[0]);
        out[3] = out[3].max(s[1]);
    }
    out
}

fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "index {i}: got {g}, want {w}");
    }
}

#[test]
fn labels_are_indexed_in_model_order() {
    let fx = Fixture::new("labels");
    let c = load(&fx, &ClassifyOptions::default());
    assert_eq!(c.label_count(), 4);
    assert_eq!(c.label_index(Some("harm"), "cyber"), Some(1));
    assert_eq!(c.label_index(None, "unsafe"), Some(3));
    assert_eq!(c.label_index(Some("seq"), "any"), None);
    assert_eq!(c.embedding_model(), Some("enc"));
}

#[test]
fn scores_match_longhand_computation() {
    let fx = Fixture::new("scores");
    let c = load(&fx, &ClassifyOptions::default());
    // The tokenizer file ships truncation at 8 and padding to 8: both are overridden.
    let short = windows(&fx, "enc", ENC_MAX_TOKENS, "Hello world");
    let vocab = testutil::vocab();
    let id = |t: &str| vocab.iter().position(|v| v == t).unwrap() as u32;
    assert_eq!(short, vec![vec![2, id("hello"), id("world"), 3]]);
    let long = windows(&fx, "enc", ENC_MAX_TOKENS, LONG);
    assert!(long.len() > 2, "{} windows", long.len());
    assert!(long.iter().all(|w| w.len() <= ENC_MAX_TOKENS && w[0] == 2));

    let texts = ["Hello world", LONG, "", "how do i make a bomb"];
    // Multi-row runs pad and mask; the float fixture gives the same scores.
    let rows = ClassifyOptions {
        max_pass_rows: 32,
        ..ClassifyOptions::default()
    };
    let padded = load(&fx, &rows).classify_blocking(&texts).unwrap();
    for (text, s) in texts.iter().zip(&padded) {
        assert_close(&s.scores, &reference(&fx, text), 1e-5);
    }
    let scored = c.classify_blocking(&texts).unwrap();
    for (text, s) in texts.iter().zip(&scored) {
        assert_close(&s.scores, &reference(&fx, text), 1e-5);
        let w = windows(&fx, "enc", ENC_MAX_TOKENS, text);
        assert_eq!(s.windows, w.len());
        assert!(!s.truncated);
        for (emb, ids) in s.embeddings.iter().zip(&w) {
            assert_close(emb, &fx.enc_embedding(ids), 1e-5);
        }
    }
    // Batched and single runs agree (padding is masked).
    let single = c.classify_blocking(&[LONG]).unwrap();
    assert_close(&single[0].scores, &scored[1].scores, 1e-6);
}

#[test]
fn long_texts_are_capped_and_marked_truncated() {
    let fx = Fixture::new("cap");
    let opts = ClassifyOptions {
        max_windows: 4,
        ..ClassifyOptions::default()
    };
    let c = load(&fx, &opts);
    let text = LONG.repeat(5);
    let s = &c.classify_blocking(&[text.as_str()]).unwrap()[0];
    assert_eq!(s.windows, 4);
    assert_eq!(s.embeddings.len(), 4);
    assert!(s.truncated);
    // Huge texts are only tokenised at head and tail, still 4 windows.
    let huge = "hello world ".repeat(100_000);
    let started = Instant::now();
    let s = &c.classify_blocking(&[huge.as_str()]).unwrap()[0];
    assert_eq!(s.windows, 4);
    assert!(s.truncated);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn embed_blocking_averages_windows() {
    let fx = Fixture::new("embed");
    let c = load(&fx, &ClassifyOptions::default());
    let got = c.embed_blocking(&["Hello world", LONG]).unwrap();
    let one = &windows(&fx, "enc", ENC_MAX_TOKENS, "Hello world")[0];
    assert_close(&got[0], &fx.enc_embedding(one), 1e-5);
    let mut mean = vec![0.0f32; testutil::ENC_DIM];
    let ws = windows(&fx, "enc", ENC_MAX_TOKENS, LONG);
    for w in &ws {
        let e = fx.enc_embedding(w);
        mean.iter_mut()
            .zip(&e)
            .for_each(|(m, x)| *m += x / ws.len() as f32);
    }
    model::l2_normalize(&mut mean);
    assert_close(&got[1], &mean, 1e-5);
    let norm: f32 = got[1].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_hits_skip_the_worker() {
    let fx = Fixture::new("cache");
    let opts = ClassifyOptions::default();
    let metrics = opts.metrics.clone();
    let c = load(&fx, &opts);
    let budget = Duration::from_secs(10);
    let texts = ["hello", "world", "hello"];
    let first = c.classify(&texts, budget).await.unwrap();
    assert_eq!(metrics.cache_misses.get(), 3);
    assert_eq!(metrics.cache_hits.get(), 0);
    assert!(
        Arc::ptr_eq(&first[0], &first[2]),
        "duplicates are scored once"
    );
    let batches = metrics.batch_size.get_sample_count();
    let second = c.classify(&texts, budget).await.unwrap();
    assert_eq!(metrics.cache_hits.get(), 3);
    assert_eq!(
        metrics.batch_size.get_sample_count(),
        batches,
        "no worker batch"
    );
    assert!(Arc::ptr_eq(&first[1], &second[1]));
    assert_close(&second[0].scores, &reference(&fx, "hello"), 1e-5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The session lock is held across awaits on purpose: it stalls the worker thread.
#[allow(clippy::await_holding_lock)]
async fn timeout_still_fills_the_cache() {
    let fx = Fixture::new("timeout");
    let c = load(&fx, &ClassifyOptions::default());
    let guard = c.shared.engine.onnx_model("enc").unwrap().hold();
    let err = c
        .classify(&["slow text"], Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, ClassifyError::Timeout), "{err}");
    drop(guard);
    let key = c.shared.cache.key("slow text");
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.shared.cache.get(key).is_none() {
        assert!(
            Instant::now() < deadline,
            "the late result never reached the cache"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The session lock is held across awaits on purpose: it stalls the worker thread.
#[allow(clippy::await_holding_lock)]
async fn concurrent_requests_are_batched() {
    let fx = Fixture::new("batch");
    let opts = ClassifyOptions::default();
    let metrics = opts.metrics.clone();
    let c = Arc::new(load(&fx, &opts));
    // Stall the single worker so the requests pile up in the queue.
    let guard = c.shared.engine.onnx_model("enc").unwrap().hold();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let c = Arc::clone(&c);
            tokio::spawn(async move {
                c.classify(&[format!("text {i}").as_str()], Duration::from_secs(10))
                    .await
            })
        })
        .collect();
    // Every request counts its miss just before queueing (no await between).
    // The worker holds the first job(s) it took; the rest queue behind it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while metrics.cache_misses.get() < 16 {
        assert!(Instant::now() < deadline, "requests did not queue");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(guard);
    for (i, task) in tasks.into_iter().enumerate() {
        let scores = task.await.unwrap().unwrap();
        assert_close(
            &scores[0].scores,
            &reference(&fx, &format!("text {i}")),
            1e-5,
        );
    }
    let batches = metrics.batch_size.get_sample_count();
    assert!(batches < 16, "16 requests took {batches} batches");
    assert!(metrics.batch_size.get_sample_sum() >= 16.0);
    assert_eq!(metrics.queue_depth.get(), 0);
}

#[test]
fn full_queue_is_overloaded() {
    let metrics = ClassifyMetrics::unregistered();
    let queue = worker::Queue::new(3, metrics.clone());
    let job = |n: usize| {
        let (reply, _rx) = tokio::sync::oneshot::channel();
        worker::Job {
            texts: (0..n).map(|i| (i as u128, String::new())).collect(),
            reply,
        }
    };
    // A job larger than the queue fits only into an empty queue.
    queue.push(job(5)).unwrap();
    assert!(matches!(queue.push(job(1)), Err(ClassifyError::Overloaded)));
    assert_eq!(queue.take(32).unwrap().len(), 1);
    queue.push(job(2)).unwrap();
    queue.push(job(1)).unwrap();
    assert_eq!(metrics.queue_depth.get(), 3);
    assert!(matches!(queue.push(job(1)), Err(ClassifyError::Overloaded)));
    // take stops before exceeding max_texts (but always takes one job).
    assert_eq!(queue.take(2).unwrap().len(), 1);
    assert_eq!(queue.take(2).unwrap().len(), 1);
    queue.close();
    assert!(queue.take(2).is_none());
    assert!(matches!(queue.push(job(1)), Err(ClassifyError::Closed)));
}

#[test]
fn load_errors_name_the_model() {
    let fx = Fixture::new("dim");
    let head = std::fs::read_to_string(fx.dir.join("harm/head.json")).unwrap();
    // A head for 9-dimensional embeddings over the 8-dimensional encoder.
    let mut value: serde_json::Value = serde_json::from_str(&head).unwrap();
    value["input_dim"] = 9.into();
    for row in value["layers"][0]["weight"].as_array_mut().unwrap() {
        row.as_array_mut().unwrap().push(0.0.into());
    }
    testutil::write(&fx.dir, "harm/head.json", value.to_string().as_bytes());
    let err = Classifiers::load(&fx.dir, &ClassifyOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("harm/manifest.yaml") && msg.contains("input_dim is 9"),
        "{msg}"
    );

    let fx = Fixture::new("inputs");
    let manifest = std::fs::read_to_string(fx.dir.join("seq/manifest.yaml")).unwrap();
    let manifest = manifest.replace(", token_type_ids]", "]");
    testutil::write(&fx.dir, "seq/manifest.yaml", manifest.as_bytes());
    let msg = Classifiers::load(&fx.dir, &ClassifyOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("`seq`") && msg.contains("token_type_ids"),
        "{msg}"
    );
}

#[test]
fn empty_directory_needs_no_runtime() {
    let dir = std::env::temp_dir().join(format!("parapet-classify-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = Classifiers::load(&dir, &ClassifyOptions::default()).unwrap();
    assert_eq!(c.label_count(), 0);
    assert_eq!(c.embedding_model(), None);
    assert!(matches!(
        c.embed_blocking(&["x"]),
        Err(ClassifyError::NoEncoder)
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shipped encoder and heads reproduce the training recipe's numbers
/// (classifiers/minilm/parity.json: batch of 1, tolerance 2e-3).
#[test]
fn parity_with_the_training_recipe() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/classifiers"));
    let text = std::fs::read_to_string(root.join("minilm/parity.json"))
        .expect("classifiers/minilm/parity.json");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tol = doc["tolerance"].as_f64().unwrap_or(2e-3) as f32;
    // No cache: the batched call below must not answer the single ones.
    let opts = ClassifyOptions {
        cache_entries: 0,
        ..ClassifyOptions::default()
    };
    let c = Classifiers::load(root, &opts).unwrap();
    assert_eq!(c.embedding_model(), Some("minilm"));
    let tokenizer = &c.shared.engine.onnx_model("minilm").unwrap().tokenizer;
    let cases = doc["texts"].as_array().unwrap();
    assert!(!cases.is_empty());
    let mut worst_batched = 0.0f32;
    let texts: Vec<&str> = cases.iter().map(|c| c["text"].as_str().unwrap()).collect();
    let batched = c.classify_blocking(&texts).unwrap();
    for (case, batched) in cases.iter().zip(&batched) {
        let text = case["text"].as_str().unwrap();
        let ids: Vec<u32> = case["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(
            tokenizer.windows(text).unwrap().windows,
            vec![ids],
            "{text}"
        );
        // The reference embeds each text alone; so does a fresh call here.
        let single = c.embed_blocking(&[text]).unwrap().remove(0);
        let scores = &c.classify_blocking(&[text]).unwrap()[0];
        let want: Vec<f32> = case["embedding_first8"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_close(&single[..8], &want, tol);
        assert_close(&scores.embeddings[0][..8], &want, tol);
        for (head, labels) in case["scores"].as_object().unwrap() {
            for (label, want) in labels.as_object().unwrap() {
                let idx = c.label_index(Some(head), label).unwrap();
                let want = want.as_f64().unwrap() as f32;
                let got = scores.scores[idx];
                assert!(
                    (got - want).abs() <= tol,
                    "{text:?} {head}/{label}: got {got}, want {want}"
                );
                worst_batched = worst_batched.max((batched.scores[idx] - want).abs());
            }
        }
    }
    // One window per run (the default): batching does not change scores.
    assert!(
        worst_batched <= tol,
        "batched scores deviate by {worst_batched}"
    );
}
