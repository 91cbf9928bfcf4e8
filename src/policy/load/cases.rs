//! `tests:`: one test case, its messages and its `expect`.

use marked_yaml::types::Node;

use super::super::raw::{Direction, RawExpect, RawMessage, RawTest, Span, Spanned};
use super::rules::peek;
use super::walk::{found, Ctx, Entry};

/// The keys of a test.
const TEST_KEYS: &[&str] = &[
    "name",
    "direction",
    "route",
    "model",
    "tenant",
    "messages",
    "scores",
    "expect",
];

/// The keys of `expect:`.
const EXPECT_KEYS: &[&str] = &["action", "rules", "not_rules", "output"];

/// Extra help for an unknown key in a test.
fn test_hint(key: &str) -> Option<String> {
    match key {
        "action" | "rules" | "not_rules" | "output" => {
            Some(format!("`{key}` goes inside `expect:`"))
        }
        "role" | "content" | "input" | "prompt" | "request" => {
            Some("write the request as `messages: [{role: user, content: \"...\"}]`".into())
        }
        _ => None,
    }
}

/// Parses test number `index` (0-based). Returns `None` if it has any error.
pub(super) fn test(cx: &mut Ctx, index: usize, node: &Node) -> Option<RawTest> {
    let span = cx.item_span(node);
    let Node::Mapping(m) = node else {
        let message = format!("expected a test (a mapping), found {}", found(node));
        let help = "a test has at least `name`, `messages` and `expect`".to_string();
        cx.error(span, message, "expected a mapping", Some(help));
        return None;
    };
    cx.place = match peek(m, "name") {
        Some(name) => format!(" in test `{name}`"),
        None => format!(" in test #{}", index + 1),
    };
    let before = cx.diags.len();
    let f = cx.fields(m, TEST_KEYS, test_hint);
    cx.require(&f, "", &["name", "messages", "expect"], span, None);
    let name = f.get("name").and_then(|e| cx.string(e));
    let direction = f.get("direction").and_then(|e| direction(cx, e));
    let route = cx.opt_string(&f, "route");
    let model = cx.opt_string(&f, "model");
    let tenant = cx.opt_string(&f, "tenant");
    let messages = f.get("messages").map(|e| messages(cx, e));
    let mut scores = Vec::new();
    if let Some(m) = f.get("scores").and_then(|e| cx.mapping(e)) {
        for (key, node) in m.iter() {
            let score = cx.number(Entry { key, node });
            let name = Spanned {
                value: key.as_str().to_string(),
                span: cx.scalar_span(key),
            };
            scores.extend(score.map(|s| (name, s)));
        }
    }
    let expect = f.get("expect").and_then(|e| expect(cx, e));
    if cx.diags.len() != before {
        return None;
    }
    Some(RawTest {
        name: name?,
        direction: direction.unwrap_or(Spanned {
            value: Direction::Input,
            span,
        }),
        route,
        model,
        tenant,
        messages: messages.unwrap_or_default(),
        scores,
        expect: expect?,
        span,
    })
}

/// A test's `direction:` (`input` or `output`).
fn direction(cx: &mut Ctx, e: Entry) -> Option<Spanned<Direction>> {
    let all = [
        ("input", Direction::Input),
        ("output", Direction::Output),
        ("both", Direction::Both),
    ];
    let d = cx.choice(e, &all)?;
    if d.value == Direction::Both {
        let message = format!("a test cannot have direction `both`{}", cx.place);
        let help = "a test checks one request or one response; write one test per direction";
        cx.error(
            d.span,
            message,
            "expected `input` or `output`",
            Some(help.into()),
        );
        return None;
    }
    Some(d)
}

/// `messages: [{role, content}, ...]` (non-empty).
fn messages(cx: &mut Ctx, e: Entry) -> Vec<RawMessage> {
    let Some(q) = cx.sequence(e, "a list of messages") else {
        return Vec::new();
    };
    if q.is_empty() {
        let message = format!("empty `messages`{}", cx.place);
        let help = "a test needs at least one message, e.g. `{role: user, content: \"...\"}`";
        cx.error(cx.value_span(e), message, "empty list", Some(help.into()));
    }
    let mut out = Vec::new();
    for item in q.iter() {
        let at = cx.item_span(item);
        let Node::Mapping(m) = item else {
            cx.type_error(at, item, "`{role, content}`", "an item of `messages`");
            continue;
        };
        let f = cx.fields(m, &["role", "content"], |_| None);
        cx.require(&f, "", &["role", "content"], at, None);
        let role = f.get("role").and_then(|e| cx.string(e));
        let content = f.get("content").and_then(|e| cx.string(e));
        if let (Some(role), Some(content)) = (role, content) {
            out.push(RawMessage { role, content });
        }
    }
    out
}

/// `expect: {action, rules, not_rules, output}`.
fn expect(cx: &mut Ctx, e: Entry) -> Option<RawExpect> {
    let Some(m) = cx.mapping(e) else {
        if let (Node::Scalar(s), Some(d)) = (e.node, cx.diags.last_mut()) {
            d.help = Some(format!("write `expect: {{action: {}}}`", s.as_str()));
        }
        return None;
    };
    let anchor: Span = cx.scalar_span(e.key);
    let f = cx.fields(m, EXPECT_KEYS, |k| {
        matches!(k, "rule" | "fires" | "fired").then(|| "did you mean `rules`?".into())
    });
    let actions = [
        ("allow", "allow"),
        ("annotate", "annotate"),
        ("redact", "redact"),
        ("block", "block"),
    ];
    let help = "a test cannot pass vacuously: say which action you expect \
                (`allow`, `annotate`, `redact` or `block`)";
    cx.require(&f, "expect.", &["action"], anchor, Some(help));
    let action = f.get("action").and_then(|e| cx.choice(e, &actions));
    let rules = f.get("rules").and_then(|e| cx.strings(e, false));
    let not_rules = f.get("not_rules").and_then(|e| cx.strings(e, false));
    let output = cx.opt_string(&f, "output");
    let action = action?;
    Some(RawExpect {
        action: Spanned {
            value: action.value.to_string(),
            span: action.span,
        },
        rules: rules.unwrap_or_default(),
        not_rules: not_rules.unwrap_or_default(),
        output,
    })
}
