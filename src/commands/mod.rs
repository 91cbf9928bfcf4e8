//! The offline commands (`check`, `test`, `classify`, `eval`): output for people,
//! exit codes for CI.

use std::path::PathBuf;

use anyhow::Context;
use parapet::classify::{Catalog, Classifiers, ClassifyMetrics};
use parapet::config::{default_classifiers_dir, ClassifierConfig};
use parapet::policy::{check_paths, testing, CompileEnv};

pub mod classify;
pub mod eval;

/// Prints every diagnostic of every file; returns the exit code (1 on any error).
/// Classifier references are checked against the model manifests when there are any.
pub fn check(paths: &[PathBuf], classifiers: Option<PathBuf>) -> anyhow::Result<i32> {
    let catalog = match classifiers.or_else(default_classifiers_dir) {
        Some(dir) => Some(
            Catalog::load(&dir)
                .with_context(|| format!("cannot read the models in {}", dir.display()))?,
        ),
        None => None,
    };
    let env = CompileEnv {
        classifiers: true,
        catalog: catalog.as_ref().map(|c| c as _),
    };
    let checked = check_paths(paths, env)?;
    let (mut errors, mut warnings) = (0, 0);
    for c in &checked {
        if !c.diagnostics.is_empty() {
            println!("{}", c.render());
        }
        errors += c.errors();
        warnings += c.diagnostics.len() - c.errors();
    }
    println!(
        "checked {} file(s): {errors} error(s), {warnings} warning(s)",
        checked.len()
    );
    Ok(i32::from(errors > 0))
}

/// Runs the inline tests; the last line is `N passed, N failed`; exit 1 on a failure.
/// Classifier and topic matchers read the tests' pinned scores, or with `real` the
/// models' scores.
pub fn test(
    paths: &[PathBuf],
    coverage: bool,
    real: bool,
    classifiers: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let models = if real {
        Some(load_models(classifiers)?)
    } else {
        None
    };
    let env = CompileEnv {
        classifiers: true,
        catalog: models.as_ref().map(|c| c as _),
    };
    let checked = check_paths(paths, env)?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for c in &checked {
        let Some(policy) = &c.policy else {
            println!("{}", c.render());
            println!("FAIL {}: the policy does not compile", c.path);
            failed += 1;
            continue;
        };
        let scorer = models.as_ref().map(|m| m as &dyn testing::Scorer);
        for outcome in testing::run_with(policy, scorer) {
            if outcome.failures.is_empty() {
                passed += 1;
                println!("ok   {} :: {}", policy.id, outcome.name);
            } else {
                failed += 1;
                println!("FAIL {} :: {}", policy.id, outcome.name);
                for f in &outcome.failures {
                    println!("       {f}");
                }
            }
        }
        if coverage {
            let missing = testing::uncovered(policy);
            if missing.is_empty() {
                println!(
                    "coverage {}: every rule is expected to fire by a test",
                    policy.id
                );
            } else {
                println!(
                    "coverage {}: no test expects these rules to fire: {}",
                    policy.id,
                    missing.join(", ")
                );
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(i32::from(failed > 0))
}

/// Loads the models for an offline command (the same defaults as `parapet serve`).
pub fn load_models(dir: Option<PathBuf>) -> anyhow::Result<Classifiers> {
    let c = ClassifierConfig::default();
    let dir = dir.or_else(|| c.dir.clone()).context(
        "no model directory found: pass `--classifiers DIR` or set `PARAPET_CLASSIFIERS`",
    )?;
    let opts = c.options(ClassifyMetrics::unregistered());
    Classifiers::load(&dir, &opts)
        .with_context(|| format!("cannot load the models in {}", dir.display()))
}

/// Loads and compiles policies against `models`; prints diagnostics and fails on errors.
pub fn load_policies(
    paths: &[PathBuf],
    models: &Classifiers,
) -> anyhow::Result<Vec<parapet::policy::Policy>> {
    let env = CompileEnv {
        classifiers: true,
        catalog: Some(models),
    };
    let mut out = Vec::new();
    for c in check_paths(paths, env)? {
        if !c.diagnostics.is_empty() {
            eprintln!("{}", c.render());
        }
        match c.policy {
            Some(p) => out.push(p),
            None => anyhow::bail!("{} does not compile", c.path),
        }
    }
    Ok(out)
}
