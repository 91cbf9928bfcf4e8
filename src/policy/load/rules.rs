//! `rules:`: one rule, its `scope` and its `action`.

use marked_yaml::types::{MarkedMappingNode, Node};

use super::super::raw::{
    Direction, Messages, RawAction, RawRule, RawScope, RawSelect, Severity, Span, Spanned,
};
use super::cond::{cond, MATCHERS};
use super::defs::{select_fields, MODES, ON_ERRORS};
use super::walk::{found, is_null, one_of, Ctx, Entry, Hint};

/// The keys of a rule.
const RULE_KEYS: &[&str] = &[
    "id",
    "description",
    "severity",
    "tags",
    "mode",
    "on_error",
    "scope",
    "when",
    "action",
    "message",
];

/// The keys of a rule's `scope:`.
const SCOPE_KEYS: &[&str] = &[
    "direction",
    "roles",
    "messages",
    "routes",
    "models",
    "tenants",
];

/// The action kinds.
const KINDS: &[&str] = &["block", "redact", "annotate"];

/// Extra help for an unknown key in a rule.
fn rule_hint(key: &str) -> Option<String> {
    if SCOPE_KEYS.contains(&key) {
        Some(format!("`{key}` goes inside `scope:`"))
    } else if MATCHERS.contains(&key) || matches!(key, "if" | "match" | "conditions") {
        Some("the condition of a rule goes inside `when:`".into())
    } else if matches!(key, "name" | "rule") {
        Some("a rule is named by its `id`".into())
    } else if matches!(key, "then" | "do" | "actions") {
        Some("did you mean `action`?".into())
    } else {
        None
    }
}

/// Whether `id` matches `[a-z0-9][a-z0-9_.-]*`.
fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
}

/// The plain text of `key` in `m`, if it is a scalar.
pub(super) fn peek<'n>(m: &'n MarkedMappingNode, key: &str) -> Option<&'n str> {
    let s = m.get_scalar(key)?;
    (!is_null(s)).then(|| s.as_str())
}

/// Parses rule number `index` (0-based). Returns `None` if it has any error.
pub(super) fn rule(cx: &mut Ctx, index: usize, node: &Node) -> Option<RawRule> {
    let span = cx.item_span(node);
    let Node::Mapping(m) = node else {
        let message = format!("expected a rule (a mapping), found {}", found(node));
        let help = "a rule has at least `id`, `when` and `action`".to_string();
        cx.error(span, message, "expected a mapping", Some(help));
        return None;
    };
    cx.place = match peek(m, "id") {
        Some(id) => format!(" in rule `{id}`"),
        None => format!(" in rule #{}", index + 1),
    };
    let before = cx.diags.len();
    let f = cx.fields(m, RULE_KEYS, rule_hint);
    cx.require(&f, "", &["id", "when", "action"], span, None);
    let id = f.get("id").and_then(|e| cx.string(e));
    if let Some(id) = id.as_ref().filter(|id| !valid_id(&id.value)) {
        let fixed: String = id.value.trim().to_lowercase().replace([' ', '/'], "-");
        let help = if valid_id(&fixed) {
            format!("did you mean `{fixed}`?")
        } else {
            "a rule id matches `[a-z0-9][a-z0-9_.-]*`".into()
        };
        let label = "lowercase letters, digits, `_`, `.` and `-` only";
        let message = format!("invalid rule id `{}`", id.value);
        cx.error(id.span, message, label, Some(help));
    }
    let description = cx.opt_string(&f, "description").map(|d| d.value);
    let severities = [
        ("info", Severity::Info),
        ("low", Severity::Low),
        ("medium", Severity::Medium),
        ("high", Severity::High),
        ("critical", Severity::Critical),
    ];
    let severity = f.get("severity").and_then(|e| cx.choice(e, &severities));
    let tags = f.get("tags").and_then(|e| cx.strings(e, false));
    let mode = f.get("mode").and_then(|e| cx.choice(e, MODES));
    let on_error = f.get("on_error").and_then(|e| cx.choice(e, ON_ERRORS));
    let scope = match f.get("scope") {
        Some(e) => scope(cx, e, span),
        None => default_scope(span),
    };
    let when = f
        .get("when")
        .and_then(|e| cond(cx, e.node, cx.value_span(e), "`when`", 0));
    let action = f.get("action").and_then(|e| action(cx, e));
    let message = cx.opt_string(&f, "message");
    if cx.diags.len() != before {
        return None;
    }
    Some(RawRule {
        id: id?,
        description,
        severity: severity.map_or(Severity::Medium, |s| s.value),
        tags: tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.value)
            .collect(),
        mode,
        on_error,
        scope,
        when: when?,
        action: action?,
        message,
        span,
    })
}

/// The scope of a rule without `scope:` (or with a broken one).
fn default_scope(span: Span) -> RawScope {
    RawScope {
        direction: Spanned {
            value: Direction::Input,
            span,
        },
        roles: None,
        messages: Messages::All,
        select: RawSelect::default(),
    }
}

/// `scope:`.
fn scope(cx: &mut Ctx, e: Entry, span: Span) -> RawScope {
    let mut out = default_scope(span);
    let Some(m) = cx.mapping(e) else {
        return out;
    };
    let f = cx.fields(m, SCOPE_KEYS, |_| None);
    let directions = [
        ("input", Direction::Input),
        ("output", Direction::Output),
        ("both", Direction::Both),
    ];
    if let Some(d) = f.get("direction").and_then(|e| cx.choice(e, &directions)) {
        out.direction = d;
    }
    out.roles = f.get("roles").and_then(|e| cx.strings(e, false));
    let messages = [("latest", Messages::Latest), ("all", Messages::All)];
    if let Some(m) = f.get("messages").and_then(|e| cx.choice(e, &messages)) {
        out.messages = m.value;
    }
    select_fields(cx, &f, &mut out.select);
    out
}

/// `action:`: a kind, or a one-key mapping from a kind to its options.
fn action(cx: &mut Ctx, e: Entry) -> Option<Spanned<RawAction>> {
    let m = match e.node {
        Node::Mapping(m) => m,
        Node::Scalar(s) if !is_null(s) => {
            let kinds = [("block", 0u8), ("redact", 1), ("annotate", 2)];
            let kind = cx.choice(e, &kinds)?;
            let value = match kind.value {
                0 => RawAction::Block { message: None },
                1 => RawAction::Redact { with: None },
                _ => RawAction::Annotate,
            };
            return Some(Spanned {
                value,
                span: kind.span,
            });
        }
        _ => {
            cx.entry_type_error(e, &format!("{} (or a mapping)", one_of(KINDS)));
            return None;
        }
    };
    let before = cx.diags.len();
    let f = cx.fields(m, KINDS, |_| None);
    let kinds: Vec<Entry> = f.iter().collect();
    if kinds.is_empty() && cx.diags.len() == before {
        let message = format!("empty action{}", cx.place);
        let help = format!("expected one of {}", one_of(KINDS));
        cx.error(cx.value_span(e), message, "no action", Some(help));
    }
    for extra in kinds.iter().skip(1) {
        let message = format!("more than one action{}", cx.place);
        let help = "a rule has exactly one action; split it into two rules".to_string();
        cx.error(
            cx.scalar_span(extra.key),
            message,
            "second action",
            Some(help),
        );
    }
    let kind = *kinds.first()?;
    let options = match kind.node {
        Node::Scalar(s) if is_null(s) => None,
        Node::Mapping(o) => Some(o),
        _ => {
            cx.entry_type_error(kind, "a mapping of options (or nothing)");
            let help = match (kind.name(), kind.node) {
                ("block", Node::Scalar(s)) => {
                    Some(format!("write `{{block: {{message: {:?}}}}}`", s.as_str()))
                }
                ("redact", Node::Scalar(s)) => {
                    Some(format!("write `{{redact: {{with: {:?}}}}}`", s.as_str()))
                }
                _ => None,
            };
            if let Some(d) = cx.diags.last_mut() {
                d.help = help;
            }
            None
        }
    };
    let (allowed, hint): (&[&str], Hint) = match kind.name() {
        "block" => (&["message"], |_| None),
        "redact" => (&["with"], |_| None),
        _ => (&[], |_| Some("`annotate` takes no options".into())),
    };
    let f = options.map(|o| cx.fields(o, allowed, hint));
    let option = |cx: &mut Ctx, name: &str| f.as_ref().and_then(|f| cx.opt_string(f, name));
    let value = match kind.name() {
        "block" => RawAction::Block {
            message: option(cx, "message"),
        },
        "redact" => RawAction::Redact {
            with: option(cx, "with"),
        },
        _ => RawAction::Annotate,
    };
    (cx.diags.len() == before).then(|| Spanned {
        value,
        span: cx.scalar_span(kind.key),
    })
}
