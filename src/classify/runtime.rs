//! Finding and loading the ONNX Runtime shared library, once per process.
//!
//! The `ort` crate is built with `load-dynamic`: nothing is linked at build
//! time and the library (`libonnxruntime.so.1.31.1`, from the PyPI wheel that
//! `scripts/fetch-onnxruntime.sh` unpacks) is opened on first use. The path is
//! `PARAPET_ORT_LIB` or `ORT_DYLIB_PATH` when set, else the first existing
//! file of [`candidates`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;

use super::ClassifyError;

/// File name of the ONNX Runtime library this build is written against.
pub const LIBRARY_NAME: &str = "libonnxruntime.so.1.31.1";

/// Environment variables naming the library, in order of precedence.
pub const LIBRARY_VARS: [&str; 2] = ["PARAPET_ORT_LIB", "ORT_DYLIB_PATH"];

/// The loaded environment. Errors are not kept: a later call tries again
/// (e.g. after the library was fetched).
static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

/// Places searched for the library when no variable names it, in order:
/// next to the executable, `../lib/parapet/` from the executable's folder,
/// `/usr/lib/parapet/`, `.cache/onnxruntime/` under the working directory and
/// under the source tree this binary was built from.
pub fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        out.push(dir.join(LIBRARY_NAME));
        out.push(dir.join("../lib/parapet").join(LIBRARY_NAME));
    }
    out.push(Path::new("/usr/lib/parapet").join(LIBRARY_NAME));
    if let Ok(cwd) = std::env::current_dir() {
        out.push(cwd.join(".cache/onnxruntime").join(LIBRARY_NAME));
    }
    out.push(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.cache/onnxruntime")).join(LIBRARY_NAME),
    );
    out
}

/// Resolves the library path: a variable if set (the file must exist), else
/// the first existing candidate.
pub fn library_path() -> Result<PathBuf, ClassifyError> {
    for var in LIBRARY_VARS {
        if let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(value);
            if path.is_file() {
                return Ok(path);
            }
            return Err(ClassifyError::RuntimeNotFound {
                tried: format!("{} (from {var})", path.display()),
            });
        }
    }
    let candidates = candidates();
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let tried = candidates
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Err(ClassifyError::RuntimeNotFound { tried })
}

/// The process-wide ONNX Runtime environment, loading the library on first use.
pub fn environment() -> Result<Environment, ClassifyError> {
    let mut slot = ENVIRONMENT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(env) = slot.as_ref() {
        return Ok(env.clone());
    }
    let path = library_path()?;
    let load_err = |message: String| ClassifyError::RuntimeLoad {
        path: path.clone(),
        message,
    };
    let env = ort::init_from(&path)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("parapet")
        .with_telemetry(false)
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    tracing::info!(library = %path.display(), "loaded ONNX Runtime");
    *slot = Some(env.clone());
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_end_with_the_source_tree_cache() {
        let c = candidates();
        assert!(c.len() >= 3);
        assert!(c.iter().all(|p| p.ends_with(LIBRARY_NAME)));
        assert!(c.last().unwrap().starts_with(env!("CARGO_MANIFEST_DIR")));
    }

    #[test]
    fn not_found_error_names_the_places_and_the_script() {
        let err = ClassifyError::RuntimeNotFound {
            tried: "/a, /b".into(),
        };
        let msg = err.to_string();
        assert!(msg.contains("/a, /b"), "{msg}");
        assert!(msg.contains("scripts/fetch-onnxruntime.sh"), "{msg}");
    }
}
