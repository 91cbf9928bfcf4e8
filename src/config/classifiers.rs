//! The `classifiers:` section: where the models are and how inference runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{at_least, positive, ConfigError, FileClassifiers};
use crate::classify::ClassifyOptions;

/// How the classifier runtime is set up (`classifiers:` in the config file).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierConfig {
    /// Load the models (false: no classifier runtime; policies that use classifiers or
    /// topics then fail to load).
    pub enabled: bool,
    /// The model directory (one folder with a `manifest.yaml` per model); None: not found.
    pub dir: Option<PathBuf>,
    /// Inference threads; each runs one batch at a time.
    pub workers: usize,
    /// ONNX Runtime intra-op threads per inference.
    pub intra_threads: usize,
    /// Most texts in one batch.
    pub max_batch: usize,
    /// Scores remembered by text (0 disables the cache).
    pub cache_entries: usize,
    /// Longest a request waits for its scores; past it each rule's `on_error` decides.
    pub budget: Duration,
    /// Most windows scored per text (long texts keep their first and last windows).
    pub max_windows: usize,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: default_classifiers_dir(),
            workers: 1,
            intra_threads: 1,
            max_batch: 32,
            cache_entries: 10_000,
            budget: Duration::from_millis(500),
            max_windows: 32,
        }
    }
}

impl ClassifierConfig {
    /// Whether `other` makes the same runtime (the budget is the caller's concern).
    pub fn same_runtime(&self, other: &Self) -> bool {
        Self {
            budget: other.budget,
            ..self.clone()
        } == *other
    }

    /// The runtime options these settings make (`metrics`: where it reports).
    pub fn options(&self, metrics: crate::classify::ClassifyMetrics) -> ClassifyOptions {
        ClassifyOptions {
            workers: self.workers,
            intra_threads: self.intra_threads,
            max_batch: self.max_batch,
            cache_entries: self.cache_entries,
            max_windows: self.max_windows,
            metrics,
            ..ClassifyOptions::default()
        }
    }

    /// The file section over the defaults; `dir` (from `--classifiers`) wins over the file.
    pub(super) fn resolve(
        file: FileClassifiers,
        dir: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            enabled: file.enabled.unwrap_or(d.enabled),
            dir: dir.or(file.dir).or(d.dir),
            workers: at_least("classifiers.workers", file.workers.unwrap_or(d.workers), 1)?,
            intra_threads: at_least(
                "classifiers.intra_threads",
                file.intra_threads.unwrap_or(d.intra_threads),
                1,
            )?,
            max_batch: at_least(
                "classifiers.max_batch",
                file.max_batch.unwrap_or(d.max_batch),
                1,
            )?,
            cache_entries: file.cache_entries.unwrap_or(d.cache_entries),
            budget: positive("classifiers.budget", file.budget.map_or(d.budget, |b| b.0))?,
            max_windows: at_least(
                "classifiers.max_windows",
                file.max_windows.unwrap_or(d.max_windows),
                2,
            )?,
        })
    }
}

/// Where the models are when nothing says: `./classifiers`, then next to the
/// executable (`<exe>/../share/parapet/classifiers`), then `/usr/share/parapet/classifiers`,
/// then the source tree this binary was built from.
pub fn default_classifiers_dir() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("classifiers")];
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        candidates.push(exe_dir.join("../share/parapet/classifiers"));
    }
    candidates.push(PathBuf::from("/usr/share/parapet/classifiers"));
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("classifiers"));
    candidates
        .into_iter()
        .find(|p| p.is_dir())
        .map(|p| p.canonicalize().unwrap_or(p))
}
