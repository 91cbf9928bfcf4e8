//! Condition nodes (`when:` and `conditions:`).

use marked_yaml::types::{MarkedMappingNode, Node};

use super::super::raw::{Cmp, RawCond, RawCondKind, Span, Spanned};
use super::walk::{is_null, one_of, Ctx, Entry};

/// The keys a condition node may have (exactly one of them).
pub(super) const MATCHERS: &[&str] = &[
    "any",
    "all",
    "not",
    "condition",
    "keywords",
    "regex",
    "pii",
    "length",
    "hidden_text",
    "opaque_input",
    "classifier",
    "topic",
    "tenant",
    "model",
    "route",
];

/// `case:` values (`true` = case-insensitive).
pub(super) const CASES: &[(&str, bool)] = &[("insensitive", true), ("sensitive", false)];

/// How deep `any`/`all`/`not` may nest.
const MAX_DEPTH: usize = 32;

/// Extra help for a key that is not a matcher.
fn cond_hint(key: &str) -> Option<String> {
    match key {
        "pattern" | "case" => Some("`pattern` and `case` go inside `regex: {...}`".into()),
        "threshold" | "label" => {
            Some("`label` and `threshold` go inside `classifier:` or `topic:`".into())
        }
        "gt" | "gte" | "lt" | "lte" => Some("comparisons go inside `length: {...}`".into()),
        "list" | "lists" => Some("to match a keyword list, write `keywords: NAME`".into()),
        _ => None,
    }
}

/// Parses the condition node `n`, called `what` in messages; `at` is where to point
/// if `n` itself is unusable. Returns `None` if anything in it was reported.
pub(super) fn cond(cx: &mut Ctx, n: &Node, at: Span, what: &str, depth: usize) -> Option<RawCond> {
    let Node::Mapping(m) = n else {
        cx.type_error(at, n, "a condition", what);
        let help = match n {
            Node::Scalar(s) if !is_null(s) => format!(
                "a condition is a mapping with one matcher, e.g. `{{keywords: {0}}}` or `{{condition: {0}}}`",
                s.as_str()
            ),
            Node::Sequence(_) if what == "`not`" => "write `not: {any: [...]}`".into(),
            Node::Sequence(_) => "to combine conditions, write `any: [...]` or `all: [...]`".into(),
            _ => format!("a condition is a mapping with one of {}", one_of(MATCHERS)),
        };
        if let Some(d) = cx.diags.last_mut() {
            d.help = Some(help);
        }
        return None;
    };
    if depth > MAX_DEPTH {
        let message = format!("condition nested too deeply{}", cx.place);
        let help = format!("at most {MAX_DEPTH} levels; name parts in `conditions:`");
        cx.error(cx.node_span(n), message, "too deep", Some(help));
        return None;
    }
    let before = cx.diags.len();
    let f = cx.fields(m, MATCHERS, cond_hint);
    let entries: Vec<Entry> = f.iter().collect();
    if entries.is_empty() && cx.diags.len() == before {
        let message = format!("empty condition{}", cx.place);
        let help = format!("a condition has one of {}", one_of(MATCHERS));
        cx.error(cx.node_span(n), message, "no matcher", Some(help));
    }
    if let [first, rest @ ..] = entries.as_slice() {
        for extra in rest {
            let message = format!(
                "two matchers in one condition: `{}` and `{}`{}",
                first.name(),
                extra.name(),
                cx.place
            );
            let help = "a condition node has exactly one matcher; wrap them in `all:` or `any:`";
            cx.error(
                cx.scalar_span(extra.key),
                message,
                "second matcher",
                Some(help.into()),
            );
        }
    }
    let mut result = None;
    for e in &entries {
        let kind = matcher(cx, *e, depth);
        if result.is_none() {
            result = kind.map(|kind| RawCond {
                kind,
                span: cx.scalar_span(e.key),
            });
        }
    }
    // Anything reported under this node makes it unusable.
    result.filter(|_| cx.diags.len() == before)
}

/// Parses the value of one matcher key.
fn matcher(cx: &mut Ctx, e: Entry, depth: usize) -> Option<RawCondKind> {
    match e.name() {
        "any" | "all" => {
            let q = cx.sequence(e, "a list of conditions")?;
            if q.is_empty() {
                let message = format!("empty `{}`{}", e.name(), cx.place);
                let help = format!("`{}` needs at least one condition", e.name());
                cx.error(cx.value_span(e), message, "empty list", Some(help));
                return None;
            }
            let mut items = Vec::new();
            let mut ok = true;
            let what = format!("an item of `{}`", e.name());
            for item in q.iter() {
                let at = cx.node_span(item);
                match cond(cx, item, at, &what, depth + 1) {
                    Some(c) => items.push(c),
                    None => ok = false,
                }
            }
            match (ok, e.name()) {
                (false, _) => None,
                (true, "any") => Some(RawCondKind::Any(items)),
                (true, _) => Some(RawCondKind::All(items)),
            }
        }
        "not" => {
            let at = cx.value_span(e);
            let c = cond(cx, e.node, at, "`not`", depth + 1)?;
            Some(RawCondKind::Not(Box::new(c)))
        }
        "condition" | "keywords" => {
            let name = cx.string(e);
            if name.is_none() && !matches!(e.node, Node::Scalar(_)) {
                let help = match e.name() {
                    "keywords" => "`keywords` names a list defined under `lists:`",
                    _ => "`condition` names a condition defined under `conditions:`",
                };
                if let Some(d) = cx.diags.last_mut() {
                    d.help = Some(help.into());
                }
            }
            match e.name() {
                "keywords" => name.map(RawCondKind::Keywords),
                _ => name.map(RawCondKind::Condition),
            }
        }
        "regex" => regex(cx, e),
        "pii" => names(cx, e).map(RawCondKind::Pii),
        "length" => length(cx, e),
        "opaque_input" => match e.node {
            Node::Scalar(s) if s.as_str() == "tokens" => {
                Some(RawCondKind::OpaqueInput { tokens_only: true })
            }
            Node::Scalar(s) if s.as_str() == "any" => {
                Some(RawCondKind::OpaqueInput { tokens_only: false })
            }
            _ => {
                let message = format!("`opaque_input` takes `tokens` or `any`{}", cx.place);
                let help = "`tokens`: prompts sent as token ids; `any`: also images, audio, files and stored prompts";
                cx.error(
                    cx.value_span(e),
                    message,
                    "expected `tokens` or `any`",
                    Some(help.into()),
                );
                None
            }
        },
        "hidden_text" => match e.node {
            Node::Scalar(s) if s.as_bool() == Some(true) => Some(RawCondKind::HiddenText),
            _ => {
                let message = format!("`hidden_text` only accepts `true`{}", cx.place);
                let help =
                    "to require text without hidden characters, write `not: {hidden_text: true}`";
                cx.error(
                    cx.value_span(e),
                    message,
                    "expected `true`",
                    Some(help.into()),
                );
                None
            }
        },
        "classifier" => {
            let m = cx.mapping(e)?;
            let anchor = cx.scalar_span(e.key);
            let f = cx.fields(m, &["model", "label", "threshold"], |_| None);
            let model = f.get("model").map(|e| cx.string(e).ok_or(()));
            cx.require(&f, "classifier.", &["label", "threshold"], anchor, None);
            let label = f.get("label").and_then(|e| cx.string(e));
            let threshold = f.get("threshold").and_then(|e| cx.number(e));
            Some(RawCondKind::Classifier {
                model: model.transpose().ok()?,
                label: label?,
                threshold: threshold?,
            })
        }
        "topic" => {
            let m = cx.mapping(e)?;
            let anchor = cx.scalar_span(e.key);
            let f = cx.fields(m, &["name", "threshold"], |_| None);
            cx.require(&f, "topic.", &["name", "threshold"], anchor, None);
            let name = f.get("name").and_then(|e| cx.string(e));
            let threshold = f.get("threshold").and_then(|e| cx.number(e));
            Some(RawCondKind::Topic {
                name: name?,
                threshold: threshold?,
            })
        }
        "tenant" => names(cx, e).map(RawCondKind::Tenant),
        "model" => names(cx, e).map(RawCondKind::Model),
        _ => names(cx, e).map(RawCondKind::Route),
    }
}

/// A string or a non-empty list of strings (`pii`, `tenant`, `model`, `route`).
fn names(cx: &mut Ctx, e: Entry) -> Option<Vec<Spanned<String>>> {
    let names = cx.strings(e, true)?;
    if matches!(e.node, Node::Sequence(q) if q.is_empty()) {
        let message = format!("empty `{}`{}", e.name(), cx.place);
        let help = "an empty list never matches; name at least one";
        cx.error(cx.value_span(e), message, "empty list", Some(help.into()));
        return None;
    }
    Some(names)
}

/// `regex: '...'` or `regex: {pattern, case}`.
fn regex(cx: &mut Ctx, e: Entry) -> Option<RawCondKind> {
    if let Node::Mapping(m) = e.node {
        return regex_long(cx, e, m);
    }
    let pattern = cx.string(e)?;
    Some(RawCondKind::Regex {
        pattern,
        case_insensitive: false,
    })
}

/// `regex: {pattern, case: insensitive|sensitive}`.
fn regex_long(cx: &mut Ctx, e: Entry, m: &MarkedMappingNode) -> Option<RawCondKind> {
    let anchor = cx.scalar_span(e.key);
    let f = cx.fields(m, &["pattern", "case"], |_| None);
    cx.require(&f, "regex.", &["pattern"], anchor, None);
    let pattern = f.get("pattern").and_then(|e| cx.string(e));
    let case = f.get("case").map(|c| cx.choice(c, CASES).ok_or(()));
    Some(RawCondKind::Regex {
        pattern: pattern?,
        case_insensitive: case.transpose().ok()?.is_some_and(|c| c.value),
    })
}

/// `length: {gt: N, lte: M, ...}`.
fn length(cx: &mut Ctx, e: Entry) -> Option<RawCondKind> {
    const CMPS: &[(&str, Cmp)] = &[
        ("gt", Cmp::Gt),
        ("gte", Cmp::Gte),
        ("lt", Cmp::Lt),
        ("lte", Cmp::Lte),
    ];
    let m = cx.mapping(e)?;
    let before = cx.diags.len();
    let f = cx.fields(m, &["gt", "gte", "lt", "lte"], |_| None);
    let mut cmps = Vec::new();
    for c in f.iter() {
        let op = CMPS.iter().find(|(name, _)| *name == c.name()).map(|x| x.1);
        if let (Some(op), Some(n)) = (op, cx.uint(c)) {
            cmps.push((op, n));
        }
    }
    if m.is_empty() {
        let message = format!("empty `length`{}", cx.place);
        let help = "write e.g. `length: {gt: 2000}` (also `gte`, `lt`, `lte`)";
        cx.error(
            cx.value_span(e),
            message,
            "no comparison",
            Some(help.into()),
        );
    }
    (cx.diags.len() == before).then_some(RawCondKind::Length(cmps))
}
