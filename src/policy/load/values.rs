//! Typed getters: a mapping entry's value as a mapping, list, string, list of
//! strings, enumerated value or number, reporting a diagnostic when it is not.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode, Node};

use super::super::diag::did_you_mean;
use super::super::raw::{Span, Spanned};
use super::walk::{is_null, one_of, Ctx, Entry, Fields};

impl Ctx<'_> {
    /// The value as a mapping.
    pub fn mapping<'n>(&mut self, e: Entry<'n>) -> Option<&'n MarkedMappingNode> {
        let m = e.node.as_mapping();
        if m.is_none() {
            self.entry_type_error(e, "a mapping");
        }
        m
    }

    /// The value as a list.
    pub fn sequence<'n>(&mut self, e: Entry<'n>, expected: &str) -> Option<&'n MarkedSequenceNode> {
        let q = e.node.as_sequence();
        if q.is_none() {
            self.entry_type_error(e, expected);
        }
        q
    }

    /// A scalar node as text (numbers and booleans are taken as written).
    pub fn text(&mut self, n: &Node, span: Span, what: &str) -> Option<Spanned<String>> {
        match n {
            Node::Scalar(s) if !is_null(s) => Some(Spanned {
                value: s.as_str().to_string(),
                span: self.scalar_span(s),
            }),
            _ => {
                self.type_error(span, n, "a string", what);
                None
            }
        }
    }

    /// The value as a string.
    pub fn string(&mut self, e: Entry) -> Option<Spanned<String>> {
        self.text(e.node, self.value_span(e), &format!("`{}`", e.name()))
    }

    /// An optional string entry.
    pub fn opt_string(&mut self, f: &Fields, name: &str) -> Option<Spanned<String>> {
        f.get(name).and_then(|e| self.string(e))
    }

    /// The value as a list of strings; a lone string is a one-item list when `single` is set.
    pub fn strings(&mut self, e: Entry, single: bool) -> Option<Vec<Spanned<String>>> {
        match e.node {
            Node::Sequence(q) => {
                let what = format!("an item of `{}`", e.name());
                let mut items = Vec::new();
                for n in q.iter() {
                    let span = self.node_span(n);
                    items.extend(self.text(n, span, &what));
                }
                Some(items)
            }
            Node::Scalar(s) if single && !is_null(s) => self.string(e).map(|s| vec![s]),
            _ => {
                self.entry_type_error(e, "a list of strings");
                if let Node::Scalar(s) = e.node {
                    if !is_null(s) {
                        let help = format!("write `[{}]` for a one-item list", s.as_str());
                        if let Some(d) = self.diags.last_mut() {
                            d.help = Some(help);
                        }
                    }
                }
                None
            }
        }
    }

    /// An enumerated value, one of `choices`.
    pub fn choice<T: Copy>(&mut self, e: Entry, choices: &[(&str, T)]) -> Option<Spanned<T>> {
        let names: Vec<&str> = choices.iter().map(|c| c.0).collect();
        let expected = format!("one of {}", one_of(&names));
        let text = self.text(e.node, self.value_span(e), &format!("`{}`", e.name()))?;
        if let Some(&(_, v)) = choices.iter().find(|c| c.0 == text.value) {
            return Some(Spanned {
                value: v,
                span: text.span,
            });
        }
        let help = did_you_mean(&text.value, names.iter().copied())
            .map(|s| format!("did you mean `{s}`?"));
        let message = format!(
            "invalid value `{}` for `{}`{}",
            text.value,
            e.name(),
            self.place
        );
        self.error(text.span, message, &format!("expected {expected}"), help);
        None
    }

    /// A plain (unquoted) scalar's text, or a type error expecting `expected`.
    fn plain<'n>(&mut self, e: Entry<'n>, expected: &str) -> Option<&'n MarkedScalarNode> {
        match e.node {
            Node::Scalar(s) if s.may_coerce() && !is_null(s) => Some(s),
            node => {
                self.entry_type_error(e, expected);
                if matches!(node, Node::Scalar(s) if !s.may_coerce() && s.parse::<f64>().is_ok()) {
                    if let Some(d) = self.diags.last_mut() {
                        d.help = Some("remove the quotes".into());
                    }
                }
                None
            }
        }
    }

    /// A non-negative integer.
    pub fn uint(&mut self, e: Entry) -> Option<Spanned<u64>> {
        let expected = "a non-negative integer";
        let s = self.plain(e, expected)?;
        match s.as_str().parse::<u64>() {
            Ok(value) => Some(Spanned {
                value,
                span: self.scalar_span(s),
            }),
            Err(_) => {
                self.type_error(
                    self.scalar_span(s),
                    e.node,
                    expected,
                    &format!("`{}`", e.name()),
                );
                None
            }
        }
    }

    /// A (finite) number.
    pub fn number(&mut self, e: Entry) -> Option<Spanned<f64>> {
        let s = self.plain(e, "a number")?;
        match s.as_str().parse::<f64>() {
            Ok(value) if value.is_finite() => Some(Spanned {
                value,
                span: self.scalar_span(s),
            }),
            _ => {
                self.type_error(
                    self.scalar_span(s),
                    e.node,
                    "a number",
                    &format!("`{}`", e.name()),
                );
                None
            }
        }
    }
}
