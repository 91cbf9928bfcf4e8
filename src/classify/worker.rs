//! The request queue and the worker threads that drain it in batches.
//!
//! Callers push one job per request (its uncached texts); each worker thread
//! blocks until work is queued, then takes every queued job that fits in
//! `max_batch` texts (at least one job, never waiting for more), scores them
//! together, fills the cache and answers each job on its oneshot channel.
//! Workers are plain threads: model passes never block the async runtime.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::oneshot;

use super::cache::ScoreCache;
use super::engine::Engine;
use super::metrics::ClassifyMetrics;
use super::{ClassifyError, TextScores};

/// What a job's caller receives.
pub(crate) type Reply = Result<Vec<Arc<TextScores>>, ClassifyError>;

/// The texts of one request (with their cache keys) and where to answer.
pub(crate) struct Job {
    pub texts: Vec<(u128, String)>,
    pub reply: oneshot::Sender<Reply>,
}

struct State {
    jobs: VecDeque<Job>,
    texts: usize,
    closed: bool,
}

/// A bounded queue of jobs, counted in texts.
pub(crate) struct Queue {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
    metrics: ClassifyMetrics,
}

impl Queue {
    /// A queue holding up to `capacity` texts.
    pub fn new(capacity: usize, metrics: ClassifyMetrics) -> Self {
        Self {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                texts: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job`; [`ClassifyError::Overloaded`] when it does not fit (a job
    /// larger than the whole queue is accepted only into an empty queue).
    pub fn push(&self, job: Job) -> Result<(), ClassifyError> {
        let mut state = self.lock();
        if state.closed {
            return Err(ClassifyError::Closed);
        }
        if state.texts > 0 && state.texts + job.texts.len() > self.capacity {
            return Err(ClassifyError::Overloaded);
        }
        state.texts += job.texts.len();
        state.jobs.push_back(job);
        self.metrics.queue_depth.set(state.texts as i64);
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// Blocks until work is queued, then takes jobs up to `max_texts` texts
    /// (at least one). `None` once the queue is closed and empty.
    pub fn take(&self, max_texts: usize) -> Option<Vec<Job>> {
        let mut state = self.lock();
        while state.jobs.is_empty() {
            if state.closed {
                return None;
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        let mut jobs = Vec::new();
        let mut taken = 0;
        while let Some(job) = state.jobs.front() {
            if !jobs.is_empty() && taken + job.texts.len() > max_texts {
                break;
            }
            taken += job.texts.len();
            jobs.push(state.jobs.pop_front().expect("front exists"));
        }
        state.texts -= taken;
        self.metrics.queue_depth.set(state.texts as i64);
        Some(jobs)
    }

    /// Stops accepting jobs and wakes the workers so they exit once drained.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// What the workers share with the [`Classifiers`](super::Classifiers) handle.
pub(crate) struct Shared {
    pub engine: Engine,
    pub cache: ScoreCache,
    pub queue: Queue,
    pub metrics: ClassifyMetrics,
    pub max_batch: usize,
}

/// Scores texts and stores the results in the cache.
pub(crate) fn score_and_cache(
    shared: &Shared,
    slot: usize,
    texts: &[(u128, &str)],
) -> Result<Vec<Arc<TextScores>>, ClassifyError> {
    let plain: Vec<&str> = texts.iter().map(|(_, t)| *t).collect();
    let scored = std::panic::catch_unwind(AssertUnwindSafe(|| shared.engine.score(slot, &plain)))
        .map_err(|_| ClassifyError::Internal("a classifier pass panicked".into()))??;
    Ok(texts
        .iter()
        .zip(scored)
        .map(|((key, _), scores)| {
            let scores = Arc::new(scores);
            shared.cache.insert(*key, Arc::clone(&scores));
            scores
        })
        .collect())
}

/// A worker thread's loop; `slot` is its session index.
pub(crate) fn run(shared: Arc<Shared>, slot: usize) {
    while let Some(jobs) = shared.queue.take(shared.max_batch) {
        let texts: Vec<(u128, &str)> = jobs
            .iter()
            .flat_map(|j| j.texts.iter().map(|(k, t)| (*k, t.as_str())))
            .collect();
        shared.metrics.batch_size.observe(texts.len() as f64);
        match score_and_cache(&shared, slot, &texts) {
            Ok(mut scored) => {
                for job in jobs {
                    let rest = scored.split_off(job.texts.len());
                    // The caller may have timed out; the cache is filled anyway.
                    let _ = job.reply.send(Ok(scored));
                    scored = rest;
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, texts = texts.len(), "classifier batch failed");
                for job in jobs {
                    let _ = job.reply.send(Err(err.clone()));
                }
            }
        }
    }
}
