//! The policy as written: every value keeps where it came from, so later phases
//! (compile, test) can point at it. Produced by [`super::load`] from YAML; nothing
//! here is validated beyond shape (types, known keys, allowed enum values).

/// A position in the policy file (1-based line and column, `len` characters wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub col: u32,
    /// Width of the token in characters (at least 1), for the `^^^` underline.
    pub len: u32,
}

/// A value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

/// `mode:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Decisions change traffic.
    Enforce,
    /// Decisions are only recorded.
    Monitor,
}

/// `on_error:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// A rule that cannot be evaluated acts as if it matched.
    FailClosed,
    /// A rule that cannot be evaluated acts as if it did not match.
    FailOpen,
}

/// `stream.mode:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamMode {
    /// No character leaves before the output rules have seen it (with a hold-back window).
    Vetted,
    /// Up to `unvetted_window` characters may leave before they are vetted.
    StreamFirst,
    /// Output rules only annotate; text is never held.
    AnnotateOnly,
}

/// `severity:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// `scope.direction:` (and a test's `direction:`, where `Both` is not allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Prompts (request bodies).
    Input,
    /// Completions (response bodies and streams).
    Output,
    /// Both.
    Both,
}

/// `scope.messages:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Messages {
    /// Every message of the request.
    All,
    /// The newest turn: the messages after the last assistant message.
    Latest,
}

/// `lists.NAME.match:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordMatch {
    /// Whole words only.
    Word,
    /// Anywhere, even inside words.
    Substring,
}

/// The root of a policy file.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPolicy {
    /// `version:` (must be 1).
    pub version: Spanned<u64>,
    /// `id:`.
    pub id: Spanned<String>,
    /// `description:`.
    pub description: Option<String>,
    /// `select:`.
    pub select: RawSelect,
    /// `defaults:`.
    pub defaults: RawDefaults,
    /// `lists:` in file order.
    pub lists: Vec<(Spanned<String>, RawList)>,
    /// `conditions:` in file order.
    pub conditions: Vec<(Spanned<String>, RawCond)>,
    /// `topics:` in file order.
    pub topics: Vec<(Spanned<String>, RawTopic)>,
    /// `rules:`.
    pub rules: Vec<RawRule>,
    /// `tests:`.
    pub tests: Vec<RawTest>,
}

/// `select:` (also the request filters of a rule's `scope`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawSelect {
    /// Route names.
    pub routes: Option<Vec<Spanned<String>>>,
    /// Model globs.
    pub models: Option<Vec<Spanned<String>>>,
    /// Tenant globs.
    pub tenants: Option<Vec<Spanned<String>>>,
}

/// `defaults:`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawDefaults {
    /// `mode:`.
    pub mode: Option<Spanned<Mode>>,
    /// `on_error:`.
    pub on_error: Option<Spanned<OnError>>,
    /// `stream.mode:`.
    pub stream_mode: Option<Spanned<StreamMode>>,
    /// `stream.holdback:`.
    pub holdback: Option<Spanned<u64>>,
    /// `stream.unvetted_window:`.
    pub unvetted_window: Option<Spanned<u64>>,
}

/// A named keyword list.
#[derive(Debug, Clone, PartialEq)]
pub struct RawList {
    /// The items.
    pub items: Vec<Spanned<String>>,
    /// `match:` (default word).
    pub word: WordMatch,
    /// `case:` insensitive (default true).
    pub case_insensitive: bool,
    /// Where the list is defined.
    pub span: Span,
}

/// A named topic.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTopic {
    /// `examples:` (non-empty).
    pub examples: Vec<Spanned<String>>,
    /// `counter_examples:`.
    pub counter_examples: Vec<Spanned<String>>,
    /// Where the topic is defined.
    pub span: Span,
}

/// A comparison in `length:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// A condition node (`when:` and `conditions:`); `span` is the node's key.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCond {
    /// What the node tests.
    pub kind: RawCondKind,
    /// Where its key is.
    pub span: Span,
}

/// The kinds of condition node.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum RawCondKind {
    Any(Vec<RawCond>),
    All(Vec<RawCond>),
    Not(Box<RawCond>),
    /// A reference to `conditions:`.
    Condition(Spanned<String>),
    /// A reference to `lists:`.
    Keywords(Spanned<String>),
    Regex {
        pattern: Spanned<String>,
        case_insensitive: bool,
    },
    /// PII kind names (validated at compile time).
    Pii(Vec<Spanned<String>>),
    /// One or more comparisons, all of which must hold.
    Length(Vec<(Cmp, Spanned<u64>)>),
    HiddenText,
    /// The request carries inputs Parapet cannot read as text (token ids only, or any).
    OpaqueInput {
        tokens_only: bool,
    },
    Classifier {
        model: Option<Spanned<String>>,
        label: Spanned<String>,
        threshold: Spanned<f64>,
    },
    Topic {
        name: Spanned<String>,
        threshold: Spanned<f64>,
    },
    Tenant(Vec<Spanned<String>>),
    Model(Vec<Spanned<String>>),
    Route(Vec<Spanned<String>>),
}

/// `action:`.
#[derive(Debug, Clone, PartialEq)]
pub enum RawAction {
    /// Refuse, with an optional message overriding the rule's `message`.
    Block {
        /// `block.message`.
        message: Option<Spanned<String>>,
    },
    /// Rewrite matched spans.
    Redact {
        /// `redact.with` (default `[{entity}]`).
        with: Option<Spanned<String>>,
    },
    /// Record only.
    Annotate,
}

/// A rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRule {
    /// `id:`.
    pub id: Spanned<String>,
    /// `description:`.
    pub description: Option<String>,
    /// `severity:` (default medium).
    pub severity: Severity,
    /// `tags:`.
    pub tags: Vec<String>,
    /// `mode:`.
    pub mode: Option<Spanned<Mode>>,
    /// `on_error:`.
    pub on_error: Option<Spanned<OnError>>,
    /// `scope:`.
    pub scope: RawScope,
    /// `when:`.
    pub when: RawCond,
    /// `action:`.
    pub action: Spanned<RawAction>,
    /// `message:`.
    pub message: Option<Spanned<String>>,
    /// Where the rule starts (its `-` item).
    pub span: Span,
}

/// `scope:`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawScope {
    /// `direction:` (default input).
    pub direction: Spanned<Direction>,
    /// `roles:` (role names; validated at compile time).
    pub roles: Option<Vec<Spanned<String>>>,
    /// `messages:` (default all).
    pub messages: Messages,
    /// `routes:`, `models:`, `tenants:`.
    pub select: RawSelect,
}

/// A message in a test.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMessage {
    /// `role:`.
    pub role: Spanned<String>,
    /// `content:`.
    pub content: Spanned<String>,
}

/// A test case.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTest {
    /// `name:`.
    pub name: Spanned<String>,
    /// `direction:` (input or output; default input).
    pub direction: Spanned<Direction>,
    /// `route:` (default chat_completions).
    pub route: Option<Spanned<String>>,
    /// `model:`.
    pub model: Option<Spanned<String>>,
    /// `tenant:`.
    pub tenant: Option<Spanned<String>>,
    /// `messages:` (non-empty).
    pub messages: Vec<RawMessage>,
    /// `scores:` pinned classifier scores (`label` or `model.label`, or a topic name).
    pub scores: Vec<(Spanned<String>, Spanned<f64>)>,
    /// `expect:`.
    pub expect: RawExpect,
    /// Where the test starts.
    pub span: Span,
}

/// A test's `expect:`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawExpect {
    /// `action:` (required): allow, annotate, redact or block.
    pub action: Spanned<String>,
    /// `rules:` that must fire.
    pub rules: Vec<Spanned<String>>,
    /// `not_rules:` that must not fire.
    pub not_rules: Vec<Spanned<String>>,
    /// `output:` the rewritten text (single-message tests).
    pub output: Option<Spanned<String>>,
}
