//! Loading: policy YAML text into a [`RawPolicy`], reporting every shape problem
//! (YAML syntax, unknown keys, wrong types, missing keys, bad enum values) with its
//! exact position. No serde: the marked node tree is walked by hand.

mod cases;
mod cond;
mod defs;
mod rules;
mod values;
mod walk;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_valid;

use std::panic::{catch_unwind, AssertUnwindSafe};

use marked_yaml::types::{MarkedMappingNode, Node};
use marked_yaml::{parse_yaml_with_options, LoadError, LoaderOptions, Marker};

use super::diag::Diagnostic;
use super::raw::{RawPolicy, Span, Spanned};
use walk::{Ctx, Entry};

/// The top-level keys.
const ROOT_KEYS: &[&str] = &[
    "version",
    "id",
    "description",
    "select",
    "defaults",
    "lists",
    "conditions",
    "topics",
    "rules",
    "tests",
];

/// Lines may not start deeper than this (leading spaces and `- `/`? `/`: `
/// indicators): it bounds the nesting depth, and the YAML parser recurses per level.
const MAX_INDENT: usize = 128;

/// Parses policy YAML into a [`RawPolicy`], collecting every shape problem rather
/// than stopping at the first: YAML syntax errors, unknown keys (with a "did you
/// mean"), wrong types, missing required keys, bad enum values, malformed condition
/// nodes, `version` other than 1, thresholds that are not numbers.
///
/// Returns `None` for the policy only if the root is unusable (YAML syntax error,
/// not a mapping, empty); otherwise the best-effort policy and all diagnostics.
/// Rules, tests and named pieces that have an error are left out of the policy.
/// Any error means the caller must not use the policy. Diagnostics are sorted by
/// position. Columns count characters, not counting a leading byte-order mark.
pub fn load(text: &str) -> (Option<RawPolicy>, Vec<Diagnostic>) {
    // Columns are counted after a byte-order mark (`render` skips it too).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut cx = Ctx::new(text);
    if let Some(d) = too_deep(text) {
        return (None, vec![d]);
    }
    let root = match parse(text, true) {
        Ok(root) => root,
        Err(Some(LoadError::DuplicateKey(dup))) => {
            let first = cx.scalar_span(&dup.prev_key);
            let help = format!(
                "first defined on line {}; a key may appear only once in a mapping",
                first.line
            );
            let message = format!("duplicate key `{}`", dup.key.as_str());
            cx.error(
                cx.scalar_span(&dup.key),
                message,
                "duplicate key",
                Some(help),
            );
            match parse(text, false) {
                Ok(root) => root,
                Err(e) => return (None, vec![yaml_error(text, e.as_ref())]),
            }
        }
        Err(e) => return (None, vec![yaml_error(text, e.as_ref())]),
    };
    let m = match root.as_mapping() {
        Some(m) if !m.is_empty() => m,
        _ => {
            let mut d = Diagnostic::error("the policy is empty", Span::default());
            d.span = None;
            let d = d.with_help("a policy needs at least `version: 1`, `id` and `rules`");
            return (None, vec![d]);
        }
    };
    cx.diags.extend(extra_document(text));
    let anchor = cx.node_span(&root);
    let policy = root_fields(&mut cx, m, anchor);
    let mut diags = cx.diags;
    diags.sort_by_key(|d| d.span.map_or((u32::MAX, 0), |s| (s.line, s.col)));
    (Some(policy), diags)
}

/// Runs the YAML parser; `Err(None)` if it panicked (it has internal assertions,
/// none known to be reachable, and must not take the process down).
fn parse(text: &str, duplicates_are_errors: bool) -> Result<Node, Option<LoadError>> {
    let options = LoaderOptions::default()
        .error_on_duplicate_keys(duplicates_are_errors)
        .prevent_coercion(true);
    match catch_unwind(AssertUnwindSafe(|| {
        parse_yaml_with_options(0, text, options)
    })) {
        Ok(parsed) => parsed.map_err(Some),
        Err(_) => Err(None),
    }
}

/// Extra help for an unknown top-level key.
fn root_hint(key: &str) -> Option<String> {
    match key {
        "mode" | "on_error" | "stream" => Some(format!("`{key}` goes inside `defaults:`")),
        "routes" | "models" | "tenants" => Some(format!("`{key}` goes inside `select:`")),
        "name" => Some("a policy is named by its `id`".into()),
        "detectors" | "matchers" => Some(
            "matchers are written in `when:` (e.g. `{pii: email}`); \
             name reusable ones in `conditions:`"
                .into(),
        ),
        _ => None,
    }
}

/// Walks the root mapping.
fn root_fields(cx: &mut Ctx, m: &MarkedMappingNode, anchor: Span) -> RawPolicy {
    let f = cx.fields(m, ROOT_KEYS, root_hint);
    let mut policy = RawPolicy {
        version: Spanned {
            value: 0,
            span: anchor,
        },
        id: Spanned {
            value: String::new(),
            span: anchor,
        },
        description: None,
        select: Default::default(),
        defaults: Default::default(),
        lists: Vec::new(),
        conditions: Vec::new(),
        topics: Vec::new(),
        rules: Vec::new(),
        tests: Vec::new(),
    };
    let help = "a policy starts with `version: 1`, `id: NAME` and `rules:`";
    cx.require(&f, "", &["version", "id", "rules"], anchor, Some(help));
    if let Some(v) = f.get("version").and_then(|e| version(cx, e)) {
        policy.version = v;
    }
    if let Some(id) = f.get("id").and_then(|e| cx.string(e)) {
        policy.id = id;
    }
    policy.description = cx.opt_string(&f, "description").map(|d| d.value);
    for e in f.iter() {
        cx.place.clear();
        match e.name() {
            "select" => policy.select = defs::select(cx, e),
            "defaults" => policy.defaults = defs::defaults(cx, e),
            "lists" => policy.lists = defs::lists(cx, e),
            "conditions" => policy.conditions = defs::conditions(cx, e),
            "topics" => policy.topics = defs::topics(cx, e),
            "rules" => policy.rules = items(cx, e, "a list of rules", rules::rule),
            "tests" => policy.tests = items(cx, e, "a list of tests", cases::test),
            _ => {}
        }
    }
    cx.place.clear();
    policy
}

/// `version:` (must be 1).
fn version(cx: &mut Ctx, e: Entry) -> Option<Spanned<u64>> {
    let v = cx.uint(e)?;
    if v.value != 1 {
        let message = format!("unsupported policy version `{}`", v.value);
        let help = "this version of Parapet reads `version: 1` policies";
        cx.error(v.span, message, "expected `1`", Some(help.into()));
    }
    Some(v)
}

/// Parses each item of a list with `one`, keeping those without errors.
fn items<T>(
    cx: &mut Ctx,
    e: Entry,
    expected: &str,
    one: fn(&mut Ctx, usize, &Node) -> Option<T>,
) -> Vec<T> {
    let Some(q) = cx.sequence(e, expected) else {
        return Vec::new();
    };
    let out = q.iter().enumerate().filter_map(|(i, n)| one(cx, i, n));
    let out: Vec<T> = out.collect();
    cx.place.clear();
    out
}

/// The span of a parser marker.
fn marker_span(m: &Marker) -> Span {
    let pos = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Span {
        line: pos(m.line()),
        col: pos(m.column()),
        len: 1,
    }
}

/// Turns a parser error (`None`: the parser crashed) into a diagnostic.
fn yaml_error(text: &str, e: Option<&LoadError>) -> Diagnostic {
    let Some(e) = e else {
        let mut d = Diagnostic::error("the YAML parser failed on this file", Span::default());
        d.span = None;
        return d.with_help("simplify the YAML (plain block mappings and lists)");
    };
    let (m, message, help): (&Marker, String, Option<&str>) = match e {
        LoadError::ScanError(m, e) => {
            let info = e.info();
            let line = text
                .split('\n')
                .nth(m.line().saturating_sub(1))
                .unwrap_or("");
            let indented_with_tab = line.trim_start_matches(' ').starts_with('\t');
            let help = if info.contains("tab") || indented_with_tab {
                Some("indent with spaces: YAML does not allow tabs for indentation")
            } else if info.contains("mapping values are not allowed") {
                Some("quote a value that contains `: `")
            } else if info.contains("did not find expected key") {
                Some("check the indentation of this line and the lines above it")
            } else if info.contains("unknown anchor") {
                Some("YAML aliases are not supported; name reusable pieces in `conditions:` or `lists:`")
            } else if info.contains("quoted scalar") {
                Some("is a quote left open?")
            } else if info.contains("end of stream") || info.contains("unexpected eof") {
                Some("is a quote or bracket left open?")
            } else {
                None
            };
            (m, format!("invalid YAML: {info}"), help)
        }
        LoadError::TopLevelMustBeMapping(m) | LoadError::TopLevelMustBeSequence(m) => (
            m,
            "a policy must be a YAML mapping".into(),
            Some("start with `version: 1`, then `id:`, `rules:`, ..."),
        ),
        LoadError::UnexpectedAnchor(m) => (
            m,
            "YAML anchors and aliases are not supported".into(),
            Some("name reusable pieces in `conditions:` or `lists:`"),
        ),
        LoadError::MappingKeyMustBeScalar(m) => {
            (m, "mapping keys must be plain strings".into(), None)
        }
        LoadError::UnexpectedTag(m) => (
            m,
            "YAML tags (`!!str`, `!name`) are not supported".into(),
            Some("quote a value to make it a string"),
        ),
        LoadError::DuplicateKey(dup) => {
            let m = dup.key.span().start();
            let at = m.copied().unwrap_or_else(|| Marker::new(0, 0, 1, 1));
            let message = format!("duplicate key `{}`", dup.key.as_str());
            return Diagnostic::error(message, marker_span(&at)).with_label("duplicate key");
        }
    };
    let mut d = Diagnostic::error(message, marker_span(m));
    d.help = help.map(String::from);
    d
}

/// Rejects absurdly deep nesting before parsing (the parser recurses per level).
fn too_deep(text: &str) -> Option<Diagnostic> {
    for (i, line) in text.split('\n').enumerate() {
        let bytes = line.as_bytes();
        let mut lead = 0;
        while let Some(&c) = bytes.get(lead) {
            match (c, bytes.get(lead + 1)) {
                (b' ' | b'\t', _) => lead += 1,
                (b'-' | b'?' | b':', Some(b' ')) => lead += 2,
                _ => break,
            }
        }
        if lead > MAX_INDENT {
            let span = Span {
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                col: 1,
                len: 1,
            };
            let message = format!("line nested too deeply (more than {MAX_INDENT} columns)");
            let help = "name parts in `conditions:` to flatten deep trees";
            return Some(Diagnostic::error(message, span).with_help(help));
        }
    }
    None
}

/// Reports a second YAML document (which the parser would silently ignore).
fn extra_document(text: &str) -> Option<Diagnostic> {
    let (mut content, mut ended) = (false, false);
    for (i, line) in text.split('\n').enumerate() {
        let marker = |m: &str| {
            line.strip_prefix(m)
                .map(|rest| (rest.is_empty() || rest.starts_with([' ', '\t', '\r']), rest))
        };
        let (start, rest) = match (marker("---"), marker("...")) {
            (Some((true, rest)), _) => (true, rest),
            (_, Some((true, _))) => {
                ended = true;
                continue;
            }
            _ => (false, line),
        };
        let has_content = {
            let t = rest.trim();
            let directive = t.starts_with('%') && !content;
            !t.is_empty() && !t.starts_with('#') && !directive
        };
        if (start && content) || (ended && has_content) {
            let span = Span {
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                col: 1,
                len: if start { 3 } else { 1 },
            };
            let d = Diagnostic::error("a policy file holds one YAML document", span)
                .with_label("second document")
                .with_help("put each policy in its own file");
            return Some(d);
        }
        content |= has_content;
    }
    None
}
