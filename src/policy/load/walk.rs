//! Shared machinery for walking the marked YAML tree: positions in the source,
//! diagnostic collection, unknown-key and missing-key checks (typed getters are in
//! `values`).

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, Marker, Node};

use super::super::diag::{did_you_mean, Diagnostic};
use super::super::raw::Span;

/// Walking state: the source (for token widths), the diagnostics so far and a
/// description of where we are, appended to messages.
pub(super) struct Ctx<'s> {
    lines: Vec<&'s str>,
    /// Everything reported so far.
    pub diags: Vec<Diagnostic>,
    /// Suffix naming the enclosing item, e.g. `` in rule `x` `` (empty at the top level).
    pub place: String,
}

/// A key of a mapping with its value.
#[derive(Clone, Copy)]
pub(super) struct Entry<'n> {
    pub key: &'n MarkedScalarNode,
    pub node: &'n Node,
}

impl Entry<'_> {
    /// The key text.
    pub fn name(&self) -> &str {
        self.key.as_str()
    }
}

/// The known entries of a mapping (unknown ones were already reported).
pub(super) struct Fields<'n> {
    entries: Vec<Entry<'n>>,
    /// Keys offered as "did you mean" for unknown keys (not reported again as missing).
    suggested: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// The entry for `name`, if present.
    pub fn get(&self, name: &str) -> Option<Entry<'n>> {
        self.entries.iter().copied().find(|e| e.name() == name)
    }

    /// All known entries, in file order.
    pub fn iter(&self) -> impl Iterator<Item = Entry<'n>> + '_ {
        self.entries.iter().copied()
    }
}

/// Extra help for an unknown key (checked before "did you mean").
pub(super) type Hint = fn(&str) -> Option<String>;

/// Converts a 1-based position to `u32`, saturating.
fn pos(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Whether a scalar is YAML null (`~`, `null`, or nothing at all).
pub(super) fn is_null(s: &MarkedScalarNode) -> bool {
    s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
}

/// Describes a node for "found ..." in messages.
pub(super) fn found(n: &Node) -> String {
    match n {
        Node::Mapping(_) => "a mapping".into(),
        Node::Sequence(_) => "a list".into(),
        Node::Scalar(s) if is_null(s) => "nothing".into(),
        Node::Scalar(s) if !s.may_coerce() => "a quoted string".into(),
        Node::Scalar(s) if s.as_str().chars().count() > 40 || s.as_str().contains('\n') => {
            "a string".into()
        }
        Node::Scalar(s) => format!("`{}`", s.as_str()),
    }
}

/// Formats names as `` `a`, `b` or `c` ``.
pub(super) fn one_of(names: &[&str]) -> String {
    join(names, "or")
}

/// Formats names as `` `a`, `b` {conj} `c` ``.
fn join(names: &[&str], conj: &str) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} {conj} {last}", rest.join(", ")),
    }
}

impl<'s> Ctx<'s> {
    /// A context over `source`.
    pub fn new(source: &'s str) -> Self {
        Self {
            lines: source.split('\n').collect(),
            diags: Vec::new(),
            place: String::new(),
        }
    }

    /// The characters of line `line` (1-based) from column `col` (1-based) on.
    fn rest_of_line(&self, line: u32, col: u32) -> impl Iterator<Item = char> + '_ {
        let text = self
            .lines
            .get((line as usize).wrapping_sub(1))
            .copied()
            .unwrap_or("");
        let text = text.strip_suffix('\r').unwrap_or(text);
        text.chars().skip((col as usize).saturating_sub(1))
    }

    /// The span at a marker, `len` wide.
    fn at(m: Option<&Marker>, len: u32) -> Span {
        m.map_or(
            Span {
                line: 1,
                col: 1,
                len,
            },
            |m| Span {
                line: pos(m.line()),
                col: pos(m.column()),
                len,
            },
        )
    }

    /// The span of a scalar token (quotes included), measured in the source.
    pub fn scalar_span(&self, s: &MarkedScalarNode) -> Span {
        let mut span = Self::at(s.span().start(), 1);
        let mut rest = self.rest_of_line(span.line, span.col);
        let available = self.rest_of_line(span.line, span.col).count();
        let first_line = s.as_str().split('\n').next().unwrap_or("");
        let len = match rest.next() {
            Some(q @ ('"' | '\'')) => {
                let mut n = 1;
                let mut escaped = false;
                let mut rest = rest.peekable();
                while let Some(c) = rest.next() {
                    n += 1;
                    if escaped {
                        escaped = false;
                    } else if q == '"' && c == '\\' {
                        escaped = true;
                    } else if c == q {
                        if q == '\'' && rest.peek() == Some(&'\'') {
                            rest.next();
                            n += 1;
                        } else {
                            break;
                        }
                    }
                }
                n
            }
            Some(_) => first_line.chars().count().min(available),
            None => 1,
        };
        span.len = pos(len.max(1));
        span
    }

    /// Where a collection or scalar starts. Flow collections are underlined up to
    /// their closing bracket when it is on the same line; a block mapping points
    /// at its first key.
    pub fn node_span(&self, n: &Node) -> Span {
        match n {
            Node::Scalar(s) => self.scalar_span(s),
            Node::Mapping(m) => {
                let start = Self::at(m.span().start(), 1);
                let flow = self.rest_of_line(start.line, start.col).next() == Some('{');
                match m.iter().next() {
                    Some((k, _)) if !flow => Span {
                        len: 1,
                        ..self.scalar_span(k)
                    },
                    _ => self.flow_span(start, m.span().end()),
                }
            }
            Node::Sequence(q) => {
                let start = Self::at(q.span().start(), 1);
                self.flow_span(start, q.span().end())
            }
        }
    }

    /// Extends a `{`/`[` start to its closing bracket if that is on the same line.
    fn flow_span(&self, start: Span, end: Option<&Marker>) -> Span {
        let opener = self.rest_of_line(start.line, start.col).next();
        match end {
            Some(e) if matches!(opener, Some('{' | '[')) && pos(e.line()) == start.line => Span {
                len: pos(e.column())
                    .saturating_sub(start.col)
                    .saturating_add(1)
                    .max(1),
                ..start
            },
            _ => start,
        }
    }

    /// Where to point for a value: the value itself, or its key when the value is
    /// empty or a block collection (which starts on a later line).
    pub fn value_span(&self, e: Entry) -> Span {
        let key = self.scalar_span(e.key);
        match e.node {
            Node::Scalar(s) if is_null(s) => key,
            Node::Scalar(_) => self.node_span(e.node),
            _ => {
                let v = self.node_span(e.node);
                if v.line == key.line {
                    v
                } else {
                    key
                }
            }
        }
    }

    /// Where a list item starts: its `-` for a block mapping, else the node.
    pub fn item_span(&self, n: &Node) -> Span {
        let span = self.node_span(n);
        if let Node::Mapping(_) = n {
            let before: Vec<char> = self
                .rest_of_line(span.line, 1)
                .take((span.col as usize).saturating_sub(1))
                .collect();
            let trimmed = before.iter().rposition(|c| !c.is_whitespace());
            if let Some(i) = trimmed.filter(|&i| before[i] == '-') {
                return Span {
                    line: span.line,
                    col: pos(i + 1),
                    len: 1,
                };
            }
            return Span { len: 1, ..span };
        }
        span
    }

    /// Reports an error.
    pub fn error(&mut self, span: Span, message: String, label: &str, help: Option<String>) {
        let mut d = Diagnostic::error(message, span).with_label(label);
        d.help = help;
        self.diags.push(d);
    }

    /// Reports a value of the wrong type (or a missing value).
    pub fn type_error(&mut self, span: Span, n: &Node, expected: &str, what: &str) {
        let message = match n {
            Node::Scalar(s) if is_null(s) => format!("missing value for {what}{}", self.place),
            _ => format!(
                "expected {expected} for {what}{}, found {}",
                self.place,
                found(n)
            ),
        };
        self.error(span, message, &format!("expected {expected}"), None);
    }

    /// Reports a wrong type for an entry's value.
    pub fn entry_type_error(&mut self, e: Entry, expected: &str) {
        let span = self.value_span(e);
        self.type_error(span, e.node, expected, &format!("`{}`", e.name()));
    }

    /// Reports keys not in `allowed` (with `hint` or a "did you mean") and returns the rest.
    pub fn fields<'n>(
        &mut self,
        m: &'n MarkedMappingNode,
        allowed: &[&'static str],
        hint: Hint,
    ) -> Fields<'n> {
        let mut entries = Vec::new();
        let mut suggested = Vec::new();
        for (key, node) in m.iter() {
            if allowed.contains(&key.as_str()) {
                entries.push(Entry { key, node });
                continue;
            }
            let help = hint(key.as_str())
                .or_else(|| {
                    let s = did_you_mean(key.as_str(), allowed.iter().copied())?;
                    suggested.push(s);
                    Some(format!("did you mean `{s}`?"))
                })
                .unwrap_or_else(|| match allowed {
                    [] => "no keys are allowed here".into(),
                    _ => format!("expected {}", one_of(allowed)),
                });
            let message = format!("unknown key `{}`{}", key.as_str(), self.place);
            self.error(self.scalar_span(key), message, "unknown key", Some(help));
        }
        Fields { entries, suggested }
    }

    /// Reports, in one diagnostic at `anchor`, the keys of `names` absent from `f`
    /// (except those already offered as "did you mean"), shown as `{prefix}{name}`.
    pub fn require(
        &mut self,
        f: &Fields,
        prefix: &str,
        names: &[&str],
        anchor: Span,
        help: Option<&str>,
    ) {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| f.get(n).is_none() && !f.suggested.contains(n))
            .map(|n| format!("{prefix}{n}"))
            .collect();
        if missing.is_empty() {
            return;
        }
        let names: Vec<&str> = missing.iter().map(String::as_str).collect();
        let list = join(&names, "and");
        let message = format!("missing {list}{}", self.place);
        self.error(
            anchor,
            message,
            &format!("missing {list}"),
            help.map(String::from),
        );
    }
}
