//! ONNX text classifiers: encoders, MLP heads over their embeddings, and
//! bring-your-own sequence classifiers, loaded from a classifiers directory
//! (`<dir>/<model>/manifest.yaml`, see [`manifest`]).
//!
//! [`Catalog::load`] validates the directory without ONNX Runtime (for
//! `parapet check`). [`Classifiers::load`] also loads ONNX Runtime (found by
//! [`runtime::library_path`]), creates every session once and starts the
//! worker threads. Every label of every model gets a dense index
//! ([`Classifiers::label_index`]); [`TextScores::scores`] is indexed by it.
//!
//! # Behaviour choices
//!
//! * Texts longer than a model's `max_tokens` are cut into overlapping windows
//!   ([`window`]); a label's score is its max over windows; beyond
//!   `max_windows` only the first and last halves are scored (`truncated`).
//! * [`Classifiers::classify`] looks texts up in a shared cache (keyed by a
//!   keyed 128-bit hash of the text), queues the misses for the worker threads
//!   and waits at most `budget`: a late answer still fills the cache. A full
//!   queue answers [`ClassifyError::Overloaded`] at once.
//! * Workers batch whatever is queued (never waiting for more), sort windows
//!   by length and run each encoder once per batch; heads reuse its
//!   embeddings. ONNX runs hold `max_pass_rows` windows (default 1: int8
//!   models give batch-dependent scores otherwise, see [`ClassifyOptions`]).
//! * Each worker owns one session per model (`workers` x model memory);
//!   blocking calls share them.

pub mod cache;
mod engine;
pub mod head;
pub mod manifest;
pub mod metrics;
mod model;
mod policy;
pub mod runtime;
pub mod window;
mod worker;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

pub use engine::DEFAULT_ENCODER;
pub use head::Activation;
pub use manifest::{Catalog, ModelKind, ModelSpec};
pub use metrics::ClassifyMetrics;
pub use policy::{score_of, ScoreTable};

/// The classifier boundary's error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClassifyError {
    /// The ONNX Runtime library is nowhere to be found.
    #[error(
        "ONNX Runtime ({}) not found; tried: {tried}. Run scripts/fetch-onnxruntime.sh, or set PARAPET_ORT_LIB to the library",
        runtime::LIBRARY_NAME
    )]
    RuntimeNotFound {
        /// The places looked at, comma-separated.
        tried: String,
    },
    /// The library exists but could not be loaded (wrong version, corrupt).
    #[error("cannot load ONNX Runtime from {}: {message}", path.display())]
    RuntimeLoad {
        /// The library file.
        path: PathBuf,
        /// What ONNX Runtime said.
        message: String,
    },
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
    /// A manifest (or the head it names) is invalid.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The `manifest.yaml`.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A `tokenizer.json` could not be loaded or failed on a text.
    #[error("tokenizer {}: {message}", path.display())]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// The tokenizer's error.
        message: String,
    },
    /// A model's session could not be created or does not fit its manifest.
    #[error("classifier `{model}`: {message}")]
    Session {
        /// The model (folder) name.
        model: String,
        /// What went wrong.
        message: String,
    },
    /// A model pass failed.
    #[error("classifier `{model}` failed: {message}")]
    Inference {
        /// The model (folder) name.
        model: String,
        /// What went wrong.
        message: String,
    },
    /// Embeddings were asked for but no encoder is loaded.
    #[error("no encoder model is loaded")]
    NoEncoder,
    /// The scores did not arrive within the budget (they are still cached
    /// when they do).
    #[error("classifier budget exceeded")]
    Timeout,
    /// The queue is full.
    #[error("classifier queue is full")]
    Overloaded,
    /// The classifiers were shut down.
    #[error("classifiers are shut down")]
    Closed,
    /// A bug (e.g. a panic in a worker).
    #[error("classifier internal error: {0}")]
    Internal(String),
}

impl ClassifyError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ClassifyError::Io {
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }
}

/// Runtime settings of [`Classifiers::load`].
#[derive(Debug, Clone)]
pub struct ClassifyOptions {
    /// ONNX Runtime intra-op threads per session (default 1).
    pub intra_threads: usize,
    /// Let ONNX Runtime's intra-op threads spin while idle (default off:
    /// spinning burns CPU the proxy needs on small machines).
    pub spin: bool,
    /// Worker threads, each with its own sessions (default 1).
    pub workers: usize,
    /// Texts per worker batch (default 32).
    pub max_batch: usize,
    /// Windows per ONNX run (default 1). Larger runs are a little faster
    /// but an int8 dynamically quantised model (the shipped `minilm`) then
    /// gives scores that depend on the other texts of the run: quantisation
    /// ranges are per tensor (measured: up to 0.12 on a head score). Every
    /// model still runs once per worker batch; 1 makes that a loop of runs.
    pub max_pass_rows: usize,
    /// Windows x padded length per model pass (default 4096).
    pub max_batch_tokens: usize,
    /// Windows scored per text; beyond, the first and last halves (default 32).
    pub max_windows: usize,
    /// Cache capacity in windows; 0 disables the cache (default 10 000).
    pub cache_entries: usize,
    /// Texts waiting for a worker before [`ClassifyError::Overloaded`] (default 1024).
    pub queue_capacity: usize,
    /// Metric handles (default: unregistered).
    pub metrics: ClassifyMetrics,
}

impl Default for ClassifyOptions {
    fn default() -> Self {
        Self {
            intra_threads: 1,
            spin: false,
            workers: 1,
            max_batch: 32,
            max_pass_rows: 1,
            max_batch_tokens: 4096,
            max_windows: 32,
            cache_entries: 10_000,
            queue_capacity: 1024,
            metrics: ClassifyMetrics::unregistered(),
        }
    }
}

/// Scores of one text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextScores {
    /// One score per label, by [`Classifiers::label_index`]; max over windows.
    pub scores: Vec<f32>,
    /// The default encoder's embedding of each window (empty without encoder).
    pub embeddings: Vec<Arc<[f32]>>,
    /// Windows scored.
    pub windows: usize,
    /// Whether windows were dropped (text over `max_windows` windows).
    pub truncated: bool,
}

/// Every loaded model, the score cache and the worker threads.
///
/// `Send + Sync`; share it in an `Arc`. Dropping it stops the workers once
/// the queued work is done.
pub struct Classifiers {
    shared: Arc<worker::Shared>,
    next_slot: AtomicUsize,
    slots: usize,
}

impl std::fmt::Debug for Classifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifiers")
            .field("models", &self.shared.engine.catalog.specs().len())
            .field("workers", &self.slots)
            .finish()
    }
}

impl Classifiers {
    /// Loads every model of `dir/*/manifest.yaml` and starts the workers.
    /// Loading ONNX Runtime is skipped when the directory has no model.
    pub fn load(dir: &Path, opts: &ClassifyOptions) -> Result<Self, ClassifyError> {
        let engine = engine::Engine::load(dir, opts)?;
        let shared = Arc::new(worker::Shared {
            engine,
            cache: cache::ScoreCache::new(opts.cache_entries),
            queue: worker::Queue::new(opts.queue_capacity, opts.metrics.clone()),
            metrics: opts.metrics.clone(),
            max_batch: opts.max_batch.max(1),
        });
        let slots = opts.workers.max(1);
        for slot in 0..slots {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("parapet-classify-{slot}"))
                .spawn(move || worker::run(shared, slot))
                .map_err(|e| ClassifyError::Internal(format!("cannot start a worker: {e}")))?;
        }
        Ok(Self {
            shared,
            next_slot: AtomicUsize::new(0),
            slots,
        })
    }

    /// The models and their labels.
    pub fn catalog(&self) -> &Catalog {
        &self.shared.engine.catalog
    }

    /// `(model, labels)` of every model, in name order.
    pub fn models(&self) -> Vec<(String, Vec<String>)> {
        self.catalog().models()
    }

    /// The dense index of `label` (of `model`, or of the only model having it).
    pub fn label_index(&self, model: Option<&str>, label: &str) -> Option<usize> {
        self.catalog().label_index(model, label)
    }

    /// Length of [`TextScores::scores`].
    pub fn label_count(&self) -> usize {
        self.catalog().label_count()
    }

    /// The encoder whose embeddings [`TextScores::embeddings`] and
    /// [`Classifiers::embed_blocking`] return: `minilm`, else the first encoder.
    pub fn embedding_model(&self) -> Option<&str> {
        self.shared.engine.embedding_model()
    }

    fn slot(&self) -> usize {
        self.next_slot.fetch_add(1, Ordering::Relaxed) % self.slots
    }

    /// Scores `texts` on the calling thread (cache included). For tools and
    /// compile-time work; async code uses [`Classifiers::classify`].
    pub fn classify_blocking(&self, texts: &[&str]) -> Result<Vec<Arc<TextScores>>, ClassifyError> {
        let shared = &self.shared;
        let keys: Vec<u128> = texts.iter().map(|t| shared.cache.key(t)).collect();
        let mut out: Vec<Option<Arc<TextScores>>> =
            keys.iter().map(|k| shared.cache.get(*k)).collect();
        let missing: Vec<(u128, &str)> = keys
            .iter()
            .zip(texts)
            .zip(&out)
            .filter(|(_, hit)| hit.is_none())
            .map(|((k, t), _)| (*k, *t))
            .collect();
        self.count(texts.len(), missing.len());
        if !missing.is_empty() {
            let scored = worker::score_and_cache(shared, self.slot(), &missing)?;
            let mut scored = scored.into_iter();
            for slot in out.iter_mut().filter(|s| s.is_none()) {
                *slot = scored.next();
            }
        }
        Ok(out
            .into_iter()
            .map(|s| s.expect("every text scored"))
            .collect())
    }

    /// Scores `texts`: cached ones at once, the others on a worker thread.
    /// Waits at most `budget` ([`ClassifyError::Timeout`]); a full queue is
    /// [`ClassifyError::Overloaded`]. Needs a Tokio runtime with timers.
    /// Only the texts that miss the cache are copied (into the worker's job).
    pub async fn classify(
        &self,
        texts: &[&str],
        budget: Duration,
    ) -> Result<Vec<Arc<TextScores>>, ClassifyError> {
        let shared = &self.shared;
        let keys: Vec<u128> = texts.iter().map(|t| shared.cache.key(t)).collect();
        let mut out: Vec<Option<Arc<TextScores>>> =
            keys.iter().map(|k| shared.cache.get(*k)).collect();
        // Each distinct missing text is scored once.
        let mut position: HashMap<u128, usize> = HashMap::new();
        let mut missing = Vec::new();
        let mut misses = 0;
        for ((key, text), hit) in keys.iter().zip(texts).zip(&out) {
            if hit.is_none() {
                misses += 1;
                position.entry(*key).or_insert_with(|| {
                    missing.push((*key, (*text).to_owned()));
                    missing.len() - 1
                });
            }
        }
        self.count(out.len(), misses);
        if missing.is_empty() {
            return Ok(out.into_iter().flatten().collect());
        }
        let (reply, answer) = oneshot::channel();
        shared.queue.push(worker::Job {
            texts: missing,
            reply,
        })?;
        let scored = match tokio::time::timeout(budget, answer).await {
            Err(_) => return Err(ClassifyError::Timeout),
            Ok(Err(_)) => return Err(ClassifyError::Closed),
            Ok(Ok(result)) => result?,
        };
        for (key, slot) in keys.iter().zip(out.iter_mut()) {
            if slot.is_none() {
                *slot = Some(Arc::clone(&scored[position[key]]));
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Embeds `texts` with the default encoder on the calling thread (no
    /// cache): one vector per text, the mean of its windows re-normalised.
    pub fn embed_blocking(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ClassifyError> {
        self.shared.engine.embed(self.slot(), texts)
    }

    fn count(&self, total: usize, misses: usize) {
        let metrics = &self.shared.metrics;
        metrics.cache_hits.inc_by((total - misses) as u64);
        metrics.cache_misses.inc_by(misses as u64);
    }
}

impl Drop for Classifiers {
    fn drop(&mut self) {
        self.shared.queue.close();
    }
}
