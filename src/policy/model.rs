//! The compiled policy: what the evaluator runs.

use regex::{Regex, RegexSet};

use super::glob::Globs;
use super::raw::{Cmp, Direction, Mode, OnError, RawTest, Severity, StreamMode};
use crate::detect::keywords::KeywordSet;
use crate::detect::pii::PiiDetector;
use crate::proxy::openai::Role;
use crate::proxy::route::Route;

/// A compiled policy, ready to evaluate.
pub struct Policy {
    /// `id:`.
    pub id: String,
    /// Short content hash of the source file.
    pub hash: String,
    /// Which requests it serves.
    pub select: Select,
    /// Stream handling.
    pub stream: StreamSettings,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    pub(crate) keywords: KeywordSet,
    pub(crate) regexes: Vec<Regex>,
    pub(crate) regex_set: RegexSet,
    pub(crate) pii: PiiDetector,
    pub(crate) list_names: Vec<String>,
    /// Whether any rule needs classifier or topic scores.
    pub uses_classifier: bool,
    /// Every score a rule reads (`Cond::Score` indexes it).
    pub score_keys: Vec<ScoreKey>,
    /// Topics, with their example phrases embedded when a classifier runtime is loaded.
    pub topics: Vec<Topic>,
    /// The inline tests (run by `parapet test`).
    pub tests: Vec<RawTest>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("id", &self.id)
            .field("hash", &self.hash)
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl Policy {
    /// `id@hash`, as in the `x-parapet-policy` header.
    pub fn label(&self) -> String {
        format!("{}@{}", self.id, self.hash)
    }

    /// Whether any rule applies to `direction`.
    pub fn has_rules_for(&self, direction: Direction) -> bool {
        self.rules.iter().any(|r| r.applies_to(direction))
    }
}

/// Stream settings (`defaults.stream`).
#[derive(Debug, Clone, Copy)]
pub struct StreamSettings {
    /// The mode.
    pub mode: StreamMode,
    /// Characters held back in vetted mode.
    pub holdback: usize,
    /// Characters released unvetted in stream_first mode.
    pub unvetted_window: usize,
}

/// Request filters (`select`, and a rule's scope routes/models/tenants).
#[derive(Debug, Clone, Default)]
pub struct Select {
    /// Routes, if restricted.
    pub routes: Option<Vec<Route>>,
    /// Model globs, if restricted.
    pub models: Option<Globs>,
    /// Tenant globs, if restricted.
    pub tenants: Option<Globs>,
}

impl Select {
    /// Whether a request with these properties passes the filters. A missing model or
    /// tenant matches only a filter that accepts the empty name (such as `*`).
    pub fn matches(&self, route: Route, model: Option<&str>, tenant: Option<&str>) -> bool {
        self.routes.as_ref().is_none_or(|r| r.contains(&route))
            && self
                .models
                .as_ref()
                .is_none_or(|g| g.matches(model.unwrap_or("")))
            && self
                .tenants
                .as_ref()
                .is_none_or(|g| g.matches(tenant.unwrap_or("")))
    }
}

/// A set of roles (bit per [`Role`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleSet(u16);

impl RoleSet {
    /// Adds a role.
    pub fn insert(&mut self, role: Role) {
        self.0 |= 1 << role as u16;
    }

    /// Whether the set has `role`.
    pub fn contains(self, role: Role) -> bool {
        self.0 & (1 << role as u16) != 0
    }
}

/// What a rule does when it fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Refuse with this message.
    Block {
        /// The message shown to the client.
        message: String,
    },
    /// Replace matched spans with this template (`{entity}`).
    Redact {
        /// The replacement template.
        with: String,
    },
    /// Record only.
    Annotate,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `id:`.
    pub id: String,
    /// `severity:`.
    pub severity: Severity,
    /// Effective mode.
    pub mode: Mode,
    /// Effective failure policy.
    pub on_error: OnError,
    /// Which traffic it inspects.
    pub direction: Direction,
    /// Which roles' texts it inspects (None: all).
    pub roles: Option<RoleSet>,
    /// Only the newest turn.
    pub latest_only: bool,
    /// Request filters.
    pub select: Select,
    /// The condition.
    pub when: Cond,
    /// The action.
    pub action: Action,
    /// Whether `when` reads a classifier or topic score.
    pub uses_scores: bool,
}

impl Rule {
    /// Whether the rule inspects `direction`.
    pub fn applies_to(&self, direction: Direction) -> bool {
        self.direction == direction || self.direction == Direction::Both
    }
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// One of them.
    Any(Vec<Cond>),
    /// All of them.
    All(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
    /// A keyword list (index).
    Keywords(usize),
    /// A regex (index into the policy's regexes).
    Regex(usize),
    /// PII kinds (bit per `PiiKind as u32`).
    Pii(u32),
    /// Character-length comparisons.
    Length(Vec<(Cmp, usize)>),
    /// Invisible characters were removed by normalisation.
    HiddenText,
    /// The request has unreadable inputs (token ids only, or any kind).
    Opaque {
        /// Only token-id prompts count.
        tokens_only: bool,
    },
    /// A classifier or topic score >= threshold.
    Score {
        /// Index into `Policy::score_keys`.
        key: usize,
        /// Threshold.
        threshold: f64,
    },
    /// Tenant globs.
    Tenant(Globs),
    /// Model globs.
    Model(Globs),
    /// Routes.
    Route(Vec<Route>),
}

impl Cond {
    /// Whether the condition reads a classifier or topic score anywhere.
    pub fn reads_scores(&self) -> bool {
        match self {
            Cond::Any(v) | Cond::All(v) => v.iter().any(Cond::reads_scores),
            Cond::Not(c) => c.reads_scores(),
            Cond::Score { .. } => true,
            _ => false,
        }
    }

    /// Whether the condition only looks at request properties (no text matcher).
    pub fn has_only_metadata(&self) -> bool {
        match self {
            Cond::Any(v) | Cond::All(v) => v.iter().all(Cond::has_only_metadata),
            Cond::Not(c) => c.has_only_metadata(),
            Cond::Tenant(_) | Cond::Model(_) | Cond::Route(_) | Cond::Opaque { .. } => true,
            _ => false,
        }
    }
}

/// A score some rule reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreKey {
    /// As written: `label`, `model.label` or `topic.name` (what tests pin).
    pub name: String,
    /// Where the score comes from.
    pub source: ScoreSource,
}

/// The origin of a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreSource {
    /// A classifier label: its index in the loaded classifier set's label table (None
    /// when compiled without one, e.g. `parapet test` with pinned scores).
    Label(Option<usize>),
    /// A topic: index into `Policy::topics`.
    Topic(usize),
}

/// A topic defined by example phrases.
#[derive(Debug, Clone, Default)]
pub struct Topic {
    /// Its name.
    pub name: String,
    /// Unit-length embeddings of `examples` (empty when not embedded).
    pub examples: Vec<Vec<f32>>,
    /// Unit-length embeddings of `counter_examples`.
    pub counter_examples: Vec<Vec<f32>>,
}

impl Topic {
    /// How much a text belongs to the topic, from the unit-length embeddings of its
    /// windows: the highest cosine similarity between a window and an example, or 0 when
    /// some counter-example is at least as similar as that (negative similarity is 0).
    pub fn score<V: AsRef<[f32]>>(&self, windows: &[V]) -> f64 {
        let best = |set: &[Vec<f32>]| {
            let mut best = f32::NEG_INFINITY;
            for w in windows {
                for e in set {
                    best = best.max(dot(w.as_ref(), e));
                }
            }
            best
        };
        let pos = best(&self.examples);
        if !pos.is_finite() || best(&self.counter_examples) >= pos {
            return 0.0;
        }
        f64::from(pos.max(0.0))
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
