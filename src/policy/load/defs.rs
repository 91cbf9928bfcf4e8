//! The top-level sections other than rules and tests: `select`, `defaults`,
//! `lists`, `conditions` and `topics`.

use marked_yaml::types::Node;

use super::super::raw::{
    Mode, OnError, RawCond, RawDefaults, RawList, RawSelect, RawTopic, Spanned, StreamMode,
    WordMatch,
};
use super::cond::{cond, CASES};
use super::walk::{Ctx, Entry, Fields};

/// `mode:` values.
pub(super) const MODES: &[(&str, Mode)] = &[("enforce", Mode::Enforce), ("monitor", Mode::Monitor)];

/// `on_error:` values.
pub(super) const ON_ERRORS: &[(&str, OnError)] = &[
    ("fail_closed", OnError::FailClosed),
    ("fail_open", OnError::FailOpen),
];

/// The request filters shared by `select:` and a rule's `scope:`.
pub(super) const SELECT_KEYS: &[&str] = &["routes", "models", "tenants"];

/// Fills the request filters from already-checked fields.
pub(super) fn select_fields(cx: &mut Ctx, f: &Fields, out: &mut RawSelect) {
    for (name, slot) in [
        ("routes", &mut out.routes),
        ("models", &mut out.models),
        ("tenants", &mut out.tenants),
    ] {
        if let Some(e) = f.get(name) {
            *slot = cx.strings(e, true);
        }
    }
}

/// `select:`.
pub(super) fn select(cx: &mut Ctx, e: Entry) -> RawSelect {
    let mut out = RawSelect::default();
    if let Some(m) = cx.mapping(e) {
        cx.place = " in `select`".into();
        let f = cx.fields(m, SELECT_KEYS, |_| None);
        select_fields(cx, &f, &mut out);
    }
    out
}

/// `defaults:` (with `stream:` flattened into it).
pub(super) fn defaults(cx: &mut Ctx, e: Entry) -> RawDefaults {
    let mut out = RawDefaults::default();
    let Some(m) = cx.mapping(e) else {
        return out;
    };
    cx.place = " in `defaults`".into();
    let f = cx.fields(m, &["mode", "on_error", "stream"], |k| {
        matches!(k, "holdback" | "unvetted_window").then(|| format!("`{k}` goes inside `stream:`"))
    });
    out.mode = f.get("mode").and_then(|e| cx.choice(e, MODES));
    out.on_error = f.get("on_error").and_then(|e| cx.choice(e, ON_ERRORS));
    let stream = f.get("stream").and_then(|e| cx.mapping(e));
    if let Some(m) = stream {
        cx.place = " in `defaults.stream`".into();
        let f = cx.fields(m, &["mode", "holdback", "unvetted_window"], |_| None);
        let modes = [
            ("vetted", StreamMode::Vetted),
            ("stream_first", StreamMode::StreamFirst),
            ("annotate_only", StreamMode::AnnotateOnly),
        ];
        out.stream_mode = f.get("mode").and_then(|e| cx.choice(e, &modes));
        out.holdback = f.get("holdback").and_then(|e| cx.uint(e));
        out.unvetted_window = f.get("unvetted_window").and_then(|e| cx.uint(e));
    }
    out
}

/// The name of a named piece, and sets the place to `` in {what} `name` ``.
fn named(cx: &mut Ctx, e: Entry, what: &str) -> Spanned<String> {
    cx.place = format!(" in {what} `{}`", e.name());
    Spanned {
        value: e.name().to_string(),
        span: cx.scalar_span(e.key),
    }
}

/// Reports an empty list at `e`'s value.
fn check_not_empty(cx: &mut Ctx, e: Entry, message: String, help: &str) {
    if matches!(e.node, Node::Sequence(q) if q.is_empty()) {
        cx.error(cx.value_span(e), message, "empty list", Some(help.into()));
    }
}

/// `lists:`: each a list of items or `{items, match, case}`.
pub(super) fn lists(cx: &mut Ctx, e: Entry) -> Vec<(Spanned<String>, RawList)> {
    let Some(m) = cx.mapping(e) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, node) in m.iter() {
        let e = Entry { key, node };
        let name = named(cx, e, "list");
        let before = cx.diags.len();
        let mut list = RawList {
            items: Vec::new(),
            word: WordMatch::Word,
            case_insensitive: true,
            span: name.span,
        };
        match node {
            Node::Sequence(_) => {
                cx.place.clear();
                list.items = cx.strings(e, false).unwrap_or_default();
                let message = format!("list `{}` is empty", name.value);
                check_not_empty(cx, e, message, "a keyword list needs at least one item");
            }
            Node::Mapping(m) => {
                let f = cx.fields(m, &["items", "match", "case"], |_| None);
                cx.require(&f, "", &["items"], name.span, None);
                if let Some(items) = f.get("items") {
                    list.items = cx.strings(items, false).unwrap_or_default();
                    let message = format!("list `{}` is empty", name.value);
                    let help = "a keyword list needs at least one item";
                    check_not_empty(cx, items, message, help);
                }
                let matches = [
                    ("word", WordMatch::Word),
                    ("substring", WordMatch::Substring),
                ];
                if let Some(w) = f.get("match").and_then(|e| cx.choice(e, &matches)) {
                    list.word = w.value;
                }
                if let Some(c) = f.get("case").and_then(|e| cx.choice(e, CASES)) {
                    list.case_insensitive = c.value;
                }
            }
            _ => {
                cx.place.clear();
                let expected = "a list of strings or a mapping with `items`";
                let what = format!("list `{}`", name.value);
                cx.type_error(cx.value_span(e), node, expected, &what);
            }
        }
        if cx.diags.len() == before {
            out.push((name, list));
        }
    }
    out
}

/// `conditions:`: named condition nodes.
pub(super) fn conditions(cx: &mut Ctx, e: Entry) -> Vec<(Spanned<String>, RawCond)> {
    let Some(m) = cx.mapping(e) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, node) in m.iter() {
        let e = Entry { key, node };
        let name = named(cx, e, "condition");
        let what = format!("condition `{}`", name.value);
        if !matches!(node, Node::Mapping(_)) {
            cx.place.clear();
        }
        if let Some(c) = cond(cx, node, cx.value_span(e), &what, 0) {
            out.push((name, c));
        }
    }
    out
}

/// `topics:`: each `{examples, counter_examples}`.
pub(super) fn topics(cx: &mut Ctx, e: Entry) -> Vec<(Spanned<String>, RawTopic)> {
    let Some(m) = cx.mapping(e) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, node) in m.iter() {
        let e = Entry { key, node };
        let name = named(cx, e, "topic");
        let before = cx.diags.len();
        let Node::Mapping(m) = node else {
            cx.place.clear();
            let what = format!("topic `{}`", name.value);
            cx.type_error(cx.value_span(e), node, "a mapping with `examples`", &what);
            if let (Node::Sequence(_), Some(d)) = (node, cx.diags.last_mut()) {
                d.help = Some("write `{examples: [...], counter_examples: [...]}`".into());
            }
            continue;
        };
        let f = cx.fields(m, &["examples", "counter_examples"], |_| None);
        let mut topic = RawTopic {
            examples: Vec::new(),
            counter_examples: Vec::new(),
            span: name.span,
        };
        cx.require(&f, "", &["examples"], name.span, None);
        if let Some(ex) = f.get("examples") {
            topic.examples = cx.strings(ex, false).unwrap_or_default();
            let message = format!("topic `{}` has no examples", name.value);
            check_not_empty(cx, ex, message, "a topic needs at least one example");
        }
        if let Some(ce) = f.get("counter_examples") {
            topic.counter_examples = cx.strings(ce, false).unwrap_or_default();
        }
        if cx.diags.len() == before {
            out.push((name, topic));
        }
    }
    out
}
