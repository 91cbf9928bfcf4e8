//! The classifier runtime a proxy uses: loaded once per process per configuration.
//!
//! Sessions, worker threads and the score cache are the expensive part of Parapet's
//! start-up (~100 ms, ~70 MiB), so apps built with the same `classifiers:` settings
//! share one runtime (tests build many apps in one process); each app's registry
//! gets the runtime's metric handles.

use std::sync::{Arc, Mutex};

use super::AppError;
use crate::classify::{Classifiers, ClassifyError, ClassifyMetrics};
use crate::config::ClassifierConfig;
use crate::metrics::Metrics;

type Loaded = (ClassifierConfig, Arc<Classifiers>, ClassifyMetrics);

static LOADED: Mutex<Vec<Loaded>> = Mutex::new(Vec::new());

/// The runtime for `config`, when enabled and a model directory exists; its metrics
/// are registered in `metrics`' registry.
pub(crate) fn load(
    config: &ClassifierConfig,
    metrics: &Metrics,
) -> Result<Option<Arc<Classifiers>>, AppError> {
    let Some(dir) = config.dir.as_ref().filter(|_| config.enabled) else {
        return Ok(None);
    };
    let err = |source| AppError::Classifiers {
        dir: dir.clone(),
        source,
    };
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    let (classifiers, handles) = match loaded.iter().find(|(c, _, _)| c.same_runtime(config)) {
        Some((_, c, m)) => (c.clone(), m.clone()),
        None => {
            let handles = ClassifyMetrics::unregistered();
            let started = std::time::Instant::now();
            let c =
                Arc::new(Classifiers::load(dir, &config.options(handles.clone())).map_err(err)?);
            let models: Vec<String> = c.models().into_iter().map(|(m, _)| m).collect();
            tracing::info!(
                dir = %dir.display(),
                models = %models.join(","),
                workers = config.workers,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "classifiers loaded"
            );
            loaded.push((config.clone(), c.clone(), handles.clone()));
            (c, handles)
        }
    };
    handles
        .register_into(metrics.registry())
        .map_err(|e| err(ClassifyError::Internal(format!("metrics: {e}"))))?;
    Ok(Some(classifiers))
}
