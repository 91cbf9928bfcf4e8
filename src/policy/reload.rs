//! Hot reload: SIGHUP, and a poll of the policy files' contents every
//! `policy_reload_interval`. Polling the contents (not inotify) also sees edits made
//! by replacing a symlink, as Kubernetes does when it updates a ConfigMap volume.
//! A reload compiles everything first and swaps only on success; a broken edit is
//! logged with its diagnostics and the old policies keep serving.

use std::path::PathBuf;
use std::time::Duration;

use super::compile::{fnv1a, FNV_OFFSET};
use crate::proxy::App;

/// Runs until dropped: reloads on SIGHUP and when a policy file changes.
pub async fn watch(app: App) {
    let paths = app.config().policies.clone();
    let interval = app.config().policy_reload_interval;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut last = fingerprint(&paths);
    loop {
        let tick = async {
            if interval.is_zero() || paths.is_empty() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(interval.max(Duration::from_millis(100))).await;
        };
        let by_signal = tokio::select! {
            () = tick => false,
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
        };
        let now = fingerprint(&paths);
        if !by_signal && now == last {
            continue;
        }
        last = now;
        // Compiling may embed topic examples with the encoder: off the async runtime.
        let why = if by_signal { "SIGHUP" } else { "file change" };
        let app2 = app.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || reload(&app2, why)).await {
            tracing::error!(error = %e, "policy reload task failed");
        }
    }
}

/// Reloads once and logs the outcome.
pub fn reload(app: &App, why: &str) {
    match app.reload_policies() {
        Ok(warnings) => {
            let set = app.policies();
            let versions: Vec<String> = set.policies.iter().map(|p| p.label()).collect();
            tracing::info!(reason = why, policies = %versions.join(","), "policies reloaded");
            if !warnings.is_empty() {
                tracing::warn!("policy warnings:\n{warnings}");
            }
        }
        Err(e) => tracing::error!(
            reason = why,
            "policy reload refused, the previous policies keep serving:\n{e}"
        ),
    }
}

/// A cheap fingerprint of the files' contents (missing files count too).
fn fingerprint(paths: &[PathBuf]) -> u64 {
    let mut h = FNV_OFFSET;
    for f in super::expand_paths(paths).unwrap_or_default() {
        h = fnv1a(h, f.as_os_str().as_encoded_bytes());
        h = fnv1a(h, &std::fs::read(&f).unwrap_or_default());
    }
    h
}
