//! The policy engine: YAML rules compiled once, evaluated per request.
//!
//! `load` (YAML with positions -> [`raw::RawPolicy`]) -> `compile` (references
//! resolved, matchers built -> [`Policy`]) -> `eval` ([`Policy::evaluate`] ->
//! [`Verdict`]). Every problem is a [`diag::Diagnostic`] with line and column,
//! collected all at once.

pub mod compile;
pub mod diag;
pub mod eval;
pub mod glob;
pub mod load;
pub mod model;
pub mod raw;
pub mod reload;
pub mod testing;
#[cfg(test)]
mod tests_scores;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use compile::{ClassifierCatalog, CompileEnv};
pub use eval::{Decision, Fired, Redaction, RequestInfo, Scores, Text, Verdict};
pub use model::Policy;

use crate::proxy::route::Route;

/// The policy boundary's error.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file or directory could not be read.
    #[error("cannot read policy `{path}`: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// One or more files have errors; `report` holds every rendered diagnostic.
    #[error("{errors} error(s) in policy files\n{report}")]
    Invalid {
        /// Number of errors.
        errors: usize,
        /// Rendered diagnostics (errors and warnings).
        report: String,
    },
    /// Two files define the same policy id.
    #[error("policy id `{id}` is defined in both `{first}` and `{second}`")]
    DuplicateId {
        /// The id.
        id: String,
        /// First file.
        first: String,
        /// Second file.
        second: String,
    },
}

/// One loaded file: its compiled policy (if it has no errors) and its diagnostics.
pub struct Checked {
    /// The file.
    pub path: String,
    /// The source text.
    pub source: String,
    /// The compiled policy, if there was no error.
    pub policy: Option<Policy>,
    /// Every diagnostic, errors and warnings.
    pub diagnostics: Vec<diag::Diagnostic>,
}

impl Checked {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// All diagnostics rendered.
    pub fn render(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| diag::render(d, &self.path, &self.source))
            .collect::<Vec<_>>()
            .join("")
    }
}

/// Loads and compiles one policy source.
pub fn check_source(path: &str, source: String, env: CompileEnv<'_>) -> Checked {
    let (raw, mut diagnostics) = load::load(&source);
    let has_errors = diagnostics.iter().any(|d| d.is_error());
    let policy = match (&raw, has_errors) {
        (Some(raw), false) => compile::compile(raw, &source, env, &mut diagnostics),
        _ => None,
    };
    Checked {
        path: path.to_owned(),
        source,
        policy,
        diagnostics,
    }
}

/// Expands paths: files as given, directories to their `*.yaml`/`*.yml` files (sorted).
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PolicyError> {
    let mut out = Vec::new();
    for p in paths {
        let read_err = |source| PolicyError::Read {
            path: p.clone(),
            source,
        };
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(read_err)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Loads and checks every file (for `parapet check` and `parapet test`).
pub fn check_paths(paths: &[PathBuf], env: CompileEnv<'_>) -> Result<Vec<Checked>, PolicyError> {
    expand_paths(paths)?
        .into_iter()
        .map(|p| {
            let source = std::fs::read_to_string(&p).map_err(|source| PolicyError::Read {
                path: p.clone(),
                source,
            })?;
            Ok(check_source(&p.display().to_string(), source, env))
        })
        .collect()
}

/// The policies a server runs, in selection order.
#[derive(Default)]
pub struct PolicySet {
    /// Compiled policies; the first whose `select` matches a request serves it.
    pub policies: Vec<Arc<Policy>>,
}

impl PolicySet {
    /// Loads, compiles and checks every file; any error fails the whole set (so a
    /// broken edit never replaces a working set). Warnings are returned rendered.
    pub fn load(
        paths: &[PathBuf],
        env: CompileEnv<'_>,
    ) -> Result<(PolicySet, String), PolicyError> {
        let checked = check_paths(paths, env)?;
        let errors: usize = checked.iter().map(Checked::errors).sum();
        let report = checked
            .iter()
            .filter(|c| !c.diagnostics.is_empty())
            .map(Checked::render)
            .collect::<Vec<_>>()
            .join("\n");
        if errors > 0 {
            return Err(PolicyError::Invalid { errors, report });
        }
        let mut set = PolicySet::default();
        let mut seen: Vec<(String, String)> = Vec::new();
        for c in checked {
            let Some(p) = c.policy else { continue };
            if let Some((_, first)) = seen.iter().find(|(id, _)| *id == p.id) {
                return Err(PolicyError::DuplicateId {
                    id: p.id.clone(),
                    first: first.clone(),
                    second: c.path,
                });
            }
            seen.push((p.id.clone(), c.path));
            set.policies.push(Arc::new(p));
        }
        Ok((set, report))
    }

    /// The policy serving a request, if any.
    pub fn select(
        &self,
        route: Route,
        model: Option<&str>,
        tenant: Option<&str>,
    ) -> Option<&Arc<Policy>> {
        self.policies
            .iter()
            .find(|p| p.select.matches(route, model, tenant))
    }
}

/// A path as given on the command line, for messages.
pub fn display(p: &Path) -> String {
    p.display().to_string()
}
