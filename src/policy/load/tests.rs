//! Snapshot tests over `tests/policy_diag/*.yaml` and robustness tests.

use std::path::{Path, PathBuf};

use super::super::diag::{render, Diagnostic};
use super::load;

/// The folder of snapshot cases: `NAME.yaml` with its rendered diagnostics in
/// `NAME.expected`. Run with `PARAPET_BLESS=1` to (re)write the `.expected` files.
fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy_diag")
}

/// Renders what `load` reports for `text`, as stored in the `.expected` files.
fn report(rel: &str, text: &str) -> String {
    let (policy, diags) = load(text);
    let mut out: Vec<String> = diags.iter().map(|d| render(d, rel, text)).collect();
    let errors = diags.iter().filter(|d| d.is_error()).count();
    out.push(format!(
        "= policy: {}, {errors} error(s), {} warning(s)\n",
        if policy.is_some() { "some" } else { "none" },
        diags.len() - errors
    ));
    out.join("\n")
}

#[test]
fn diagnostics_match_snapshots() {
    let bless = std::env::var_os("PARAPET_BLESS").is_some();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/policy_diag exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 10,
        "expected the snapshot cases in {:?}",
        cases_dir()
    );
    let mut failures = Vec::new();
    for path in &paths {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let text = std::fs::read_to_string(path).expect("readable case");
        let actual = report(&format!("tests/policy_diag/{name}"), &text);
        let expected_path = path.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &actual).expect("writable snapshot");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected.replace("\r\n", "\n") != actual {
            failures.push(format!(
                "--- {name}: expected\n{expected}\n--- {name}: actual\n{actual}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} snapshot(s) differ (PARAPET_BLESS=1 rewrites them):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The README example, also a snapshot case.
const VALID: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/policy_diag/valid_readme.yaml"
));

/// Loads `text` and checks the invariants every input must satisfy.
fn check_invariants(text: &str) {
    let (policy, diags) = load(text);
    let lines = u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX);
    for d in &diags {
        assert!(!d.message.is_empty());
        if let Some(s) = d.span {
            assert!(s.line >= 1 && s.line <= lines + 1, "{d:?} in {text:?}");
            assert!(s.col >= 1 && s.len >= 1, "{d:?} in {text:?}");
        }
        let rendered = render(d, "p.yaml", text);
        assert!(rendered.starts_with("error: ") || rendered.starts_with("warning: "));
    }
    if policy.is_none() {
        assert!(diags.iter().any(Diagnostic::is_error), "{text:?}");
    }
}

#[test]
fn truncations_never_panic() {
    for (i, _) in VALID.char_indices() {
        check_invariants(&VALID[..i]);
    }
    let lines: Vec<&str> = VALID.lines().collect();
    for n in 0..lines.len() {
        check_invariants(&lines[..n].join("\n"));
        check_invariants(&lines[n..].join("\n"));
    }
}

#[test]
fn mutations_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    const SPICE: &[u8] = b":-[]{},\"'#&*!|>?%@` \n\t\r\\~0123456789.ey";
    for _ in 0..3000 {
        let mut bytes = VALID.as_bytes().to_vec();
        for _ in 0..1 + next(4) {
            let at = next(bytes.len());
            let byte = match next(3) {
                0 => SPICE[next(SPICE.len())],
                1 => next(256) as u8,
                _ => b'a' + next(26) as u8,
            };
            match next(3) {
                0 => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => {
                    bytes.remove(at);
                }
            }
        }
        check_invariants(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let flow = format!(
        "version: 1\nid: x\nrules: {}{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    check_invariants(&flow);
    let mut block = String::from("version: 1\nid: x\nrules:\n");
    for i in 0..2000 {
        block.push_str(&format!("{}- when:\n", " ".repeat(2 * i + 2)));
    }
    check_invariants(&block);
    let mut nots =
        String::from("version: 1\nid: x\nrules:\n  - id: a\n    action: block\n    when: ");
    nots.push_str(&"{not: ".repeat(200));
    nots.push_str("{regex: x}");
    nots.push_str(&"}".repeat(200));
    check_invariants(&nots);
    let (_, diags) = load(&nots);
    assert!(diags
        .iter()
        .any(|d| d.message.contains("nested too deeply")));
}

#[test]
fn odd_inputs_never_panic() {
    for text in [
        "",
        "\n",
        "#",
        "---",
        "...",
        "--- \n...\n",
        "a",
        "[]",
        "{}",
        "~",
        "null",
        "\u{feff}version: 1",
        "version: 1\r\nid: x\r\nrules: []\r\n",
        "? [a]\n: b\n",
        "!!map {}",
        "&a {}",
        "*a",
        "version: 1\nid: x\nrules:\n- ",
        "\t",
        "version:\n\tid: x",
        "%YAML 1.2\n---\n{}",
        "a: 'x\n",
        "a: \"\\",
        "a: |\n  x\n b: 1",
        "version: 1\nid: x\nrules: []\n...\nmore: 1\n",
    ] {
        check_invariants(text);
    }
}
