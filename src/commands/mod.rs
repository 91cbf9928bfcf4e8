//! `parapet check` and `parapet test`: output for people, exit codes for CI.

use std::path::PathBuf;

use parapet::policy::{check_paths, testing, CompileEnv};

/// Prints every diagnostic of every file; returns the exit code (1 on any error).
pub fn check(paths: &[PathBuf]) -> anyhow::Result<i32> {
    let checked = check_paths(paths, CompileEnv { classifiers: true })?;
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
pub fn test(paths: &[PathBuf], coverage: bool) -> anyhow::Result<i32> {
    // Classifier and topic matchers are evaluated with the tests' pinned scores.
    let checked = check_paths(paths, CompileEnv { classifiers: true })?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for c in &checked {
        let Some(policy) = &c.policy else {
            println!("{}", c.render());
            println!("FAIL {}: the policy does not compile", c.path);
            failed += 1;
            continue;
        };
        for outcome in testing::run(policy) {
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
