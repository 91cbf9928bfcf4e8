//! Any bytes as a policy file: loading, compiling, running the inline tests and
//! rendering every diagnostic must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parapet::policy::{check_source, testing, CompileEnv};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let checked = check_source("fuzz.yaml", text, CompileEnv { classifiers: true, catalog: None });
    if let Some(policy) = &checked.policy {
        for outcome in testing::run(policy) {
            std::hint::black_box(outcome.failures.len());
        }
        assert_eq!(checked.errors(), 0, "a policy was compiled despite errors");
    }
    let report = checked.render();
    std::hint::black_box(report.len());
});
