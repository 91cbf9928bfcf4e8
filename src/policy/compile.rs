//! Raw policy -> compiled policy: every reference resolved, every regex compiled
//! into one set, every keyword list into one automaton, the PII detector built for
//! exactly the kinds used. All problems are collected as diagnostics; nothing on the
//! request path parses YAML, compiles a regex or builds an automaton.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder, RegexSet};

use super::diag::{did_you_mean, Diagnostic};
use super::glob::Globs;
use super::model::*;
use super::raw::{self, RawCond, RawCondKind, RawPolicy, Span, Spanned};
use crate::detect::keywords::{KeywordSetBuilder, WordMode};
use crate::detect::pii::{PiiDetector, PiiKind};
use crate::proxy::route::{Route, ALL_ROUTES};

/// What the compiler may rely on.
#[derive(Clone, Copy, Default)]
pub struct CompileEnv<'a> {
    /// Classifier and topic matchers can be evaluated (a classifier runtime is loaded,
    /// or scores are pinned by tests).
    pub classifiers: bool,
    /// The classifier set, when one is known: `classifier:` references are checked
    /// against its labels and topic examples are embedded with its encoder.
    pub catalog: Option<&'a dyn ClassifierCatalog>,
}

/// What the compiler needs from a classifier set.
pub trait ClassifierCatalog: Sync {
    /// Every model with its labels (for diagnostics).
    fn models(&self) -> Vec<(String, Vec<String>)>;
    /// The index of `label` (of `model`, or of the only model having it) in the set's
    /// score table; None when unknown or ambiguous.
    fn label_index(&self, model: Option<&str>, label: &str) -> Option<usize>;
    /// Embeds topic phrases with the default encoder (unit length), or None when this
    /// catalog cannot run models (manifests only, as in `parapet check`).
    fn embed(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>, String>>;
}

/// Compiles a loaded policy; returns it only if there is no error (warnings may remain).
pub fn compile(
    raw: &RawPolicy,
    source: &str,
    env: CompileEnv<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Policy> {
    let mut c = Compiler {
        raw,
        env,
        diags,
        lists: HashMap::new(),
        list_used: vec![false; raw.lists.len()],
        regexes: Vec::new(),
        pii_kinds: Vec::new(),
        cond_state: vec![CondState::Pending; raw.conditions.len()],
        compiled_conds: vec![None; raw.conditions.len()],
        uses_classifier: false,
        score_keys: Vec::new(),
        models: env.catalog.map(|c| c.models()),
    };
    let errors_before = c.diags.iter().filter(|d| d.is_error()).count();
    if raw.version.value != 1 {
        c.diags.push(
            Diagnostic::error(
                format!("unsupported policy version `{}`", raw.version.value),
                raw.version.span,
            )
            .with_help("this parapet reads `version: 1`"),
        );
    }
    let topics = c.topics();
    let keywords = c.build_keywords();
    let select = c.select(&raw.select);
    let defaults = c.defaults();
    let mut rules = Vec::with_capacity(raw.rules.len());
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for r in &raw.rules {
        if let Some(first) = seen.get(r.id.value.as_str()) {
            c.diags.push(
                Diagnostic::error(format!("duplicate rule id `{}`", r.id.value), r.id.span)
                    .with_label("defined again here")
                    .with_help(format!(
                        "the first definition is at line {}; rule ids must be unique",
                        first.line
                    )),
            );
        } else {
            seen.insert(&r.id.value, r.id.span);
        }
        if let Some(rule) = c.rule(r, &defaults) {
            rules.push(rule);
        }
    }
    c.warn_unused_lists();
    super::testing::check_tests(raw, c.diags);
    let errors_after = c.diags.iter().filter(|d| d.is_error()).count();
    if errors_after > errors_before {
        return None;
    }
    let keywords = keywords?;
    let regex_set = RegexSet::new(c.regexes.iter().map(|r| r.as_str())).ok()?;
    let pii = PiiDetector::new(&c.pii_kinds);
    Some(Policy {
        id: raw.id.value.clone(),
        hash: content_hash(source),
        select,
        stream: defaults.stream,
        rules,
        keywords,
        regexes: c.regexes,
        regex_set,
        pii,
        list_names: raw.lists.iter().map(|(n, _)| n.value.clone()).collect(),
        uses_classifier: c.uses_classifier,
        score_keys: c.score_keys,
        topics,
        tests: raw.tests.clone(),
    })
}

/// Stable short hash of the policy source (FNV-1a 64, hex), for `x-parapet-policy`.
pub fn content_hash(source: &str) -> String {
    format!("{:016x}", fnv1a(FNV_OFFSET, source.as_bytes()))[..12].to_owned()
}

/// FNV-1a 64 offset basis.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Continues an FNV-1a 64 hash over `bytes` (stable across processes, unlike `DefaultHasher`).
pub(crate) fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[derive(Clone, Copy, PartialEq)]
enum CondState {
    Pending,
    InProgress,
    Done,
}

struct Defaults {
    mode: raw::Mode,
    /// Explicit `defaults.on_error`; without it block rules fail closed, others open.
    on_error: Option<raw::OnError>,
    stream: StreamSettings,
}

struct Compiler<'a> {
    raw: &'a RawPolicy,
    env: CompileEnv<'a>,
    diags: &'a mut Vec<Diagnostic>,
    lists: HashMap<&'a str, usize>,
    list_used: Vec<bool>,
    regexes: Vec<Regex>,
    pii_kinds: Vec<PiiKind>,
    cond_state: Vec<CondState>,
    compiled_conds: Vec<Option<Cond>>,
    uses_classifier: bool,
    score_keys: Vec<ScoreKey>,
    /// The catalog's models and labels (read once).
    models: Option<Vec<(String, Vec<String>)>>,
}

impl<'a> Compiler<'a> {
    fn build_keywords(&mut self) -> Option<crate::detect::keywords::KeywordSet> {
        let mut b = KeywordSetBuilder::new();
        for (i, (name, list)) in self.raw.lists.iter().enumerate() {
            if self.lists.insert(&name.value, i).is_some() {
                self.diags.push(Diagnostic::error(
                    format!("duplicate list `{}`", name.value),
                    name.span,
                ));
            }
            if list.items.is_empty() {
                self.diags.push(
                    Diagnostic::error(format!("list `{}` is empty", name.value), name.span)
                        .with_help("an empty list never matches; add items or remove it"),
                );
                continue;
            }
            let items: Vec<String> = list.items.iter().map(|s| s.value.clone()).collect();
            let mode = match list.word {
                raw::WordMatch::Word => WordMode::Word,
                raw::WordMatch::Substring => WordMode::Substring,
            };
            if let Err(e) = b.add_list(i, &items, mode, list.case_insensitive) {
                self.diags.push(Diagnostic::error(
                    format!("in list `{}`: {e}", name.value),
                    list.span,
                ));
            }
        }
        match b.build() {
            Ok(set) => Some(set),
            Err(e) => {
                self.diags.push(Diagnostic {
                    level: super::diag::Level::Error,
                    message: format!("keyword lists cannot be compiled: {e}"),
                    span: None,
                    label: None,
                    help: None,
                });
                None
            }
        }
    }

    fn defaults(&mut self) -> Defaults {
        let d = &self.raw.defaults;
        let holdback = self.bounded(d.holdback.as_ref(), 128, 16, 4096, "stream.holdback");
        let window = self.bounded(
            d.unvetted_window.as_ref(),
            256,
            1,
            65536,
            "stream.unvetted_window",
        );
        Defaults {
            mode: d.mode.as_ref().map_or(raw::Mode::Enforce, |m| m.value),
            on_error: d.on_error.as_ref().map(|m| m.value),
            stream: StreamSettings {
                mode: d
                    .stream_mode
                    .as_ref()
                    .map_or(raw::StreamMode::Vetted, |m| m.value),
                holdback: holdback as usize,
                unvetted_window: window as usize,
            },
        }
    }

    fn bounded(
        &mut self,
        v: Option<&Spanned<u64>>,
        default: u64,
        lo: u64,
        hi: u64,
        key: &str,
    ) -> u64 {
        match v {
            None => default,
            Some(s) if (lo..=hi).contains(&s.value) => s.value,
            Some(s) => {
                self.diags.push(
                    Diagnostic::error(
                        format!("`{key}` is {}, expected {lo}..={hi}", s.value),
                        s.span,
                    )
                    .with_label("out of range"),
                );
                default
            }
        }
    }

    fn select(&mut self, s: &raw::RawSelect) -> Select {
        Select {
            routes: s.routes.as_ref().map(|r| self.routes(r)),
            models: s.models.as_ref().map(|m| self.globs(m)),
            tenants: s.tenants.as_ref().map(|t| self.globs(t)),
        }
    }

    fn routes(&mut self, names: &[Spanned<String>]) -> Vec<Route> {
        let mut out = Vec::new();
        for n in names {
            match ALL_ROUTES.iter().find(|r| r.label() == n.value) {
                Some(r) => out.push(*r),
                None => {
                    let labels = ALL_ROUTES.iter().map(|r| r.label());
                    let mut d = Diagnostic::error(format!("unknown route `{}`", n.value), n.span);
                    if let Some(s) = did_you_mean(&n.value, labels) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    } else {
                        d = d.with_help("routes: chat_completions, completions, embeddings, responses, models, other");
                    }
                    self.diags.push(d);
                }
            }
        }
        out
    }

    fn globs(&mut self, pats: &[Spanned<String>]) -> Globs {
        Globs::new(pats.iter().map(|p| p.value.as_str()))
    }

    fn rule(&mut self, r: &raw::RawRule, d: &Defaults) -> Option<Rule> {
        let rid = &r.id.value;
        let mode = r.mode.as_ref().map_or(d.mode, |m| m.value);
        let is_block = matches!(r.action.value, raw::RawAction::Block { .. });
        let on_error = r
            .on_error
            .as_ref()
            .map(|m| m.value)
            .or(d.on_error)
            .unwrap_or(if is_block {
                raw::OnError::FailClosed
            } else {
                raw::OnError::FailOpen
            });
        let roles = r.scope.roles.as_ref().map(|roles| self.roles(roles, rid));
        let select = self.select(&r.scope.select);
        self.check_scope_reachable(r, &select);
        let when = self.cond(&r.when, rid)?;
        let action = match &r.action.value {
            raw::RawAction::Block { message } => Action::Block {
                message: message
                    .as_ref()
                    .or(r.message.as_ref())
                    .map_or_else(
                        || format!("Request blocked by policy rule {rid}."),
                        |m| m.value.clone(),
                    )
                    .replace("{rule_id}", rid),
            },
            raw::RawAction::Redact { with } => Action::Redact {
                with: with
                    .as_ref()
                    .map_or_else(|| "[{entity}]".to_owned(), |w| w.value.clone())
                    .replace("{rule_id}", rid),
            },
            raw::RawAction::Annotate => Action::Annotate,
        };
        if matches!(action, Action::Redact { .. }) && when.has_only_metadata() {
            self.diags.push(
                Diagnostic::error(
                    format!("rule `{rid}` redacts but its `when` matches no text"),
                    r.action.span,
                )
                .with_help(
                    "redact needs a text matcher (keywords, regex, pii); use `block` or `annotate`",
                ),
            );
        }
        Some(Rule {
            id: rid.clone(),
            severity: r.severity,
            mode,
            on_error,
            direction: r.scope.direction.value,
            roles,
            latest_only: r.scope.messages == raw::Messages::Latest,
            select,
            uses_scores: when.reads_scores(),
            when,
            action,
        })
    }

    fn check_scope_reachable(&mut self, r: &raw::RawRule, sel: &Select) {
        if let (Some(routes), Some(policy_routes)) = (&sel.routes, &self.raw.select.routes) {
            let allowed: Vec<&str> = policy_routes.iter().map(|s| s.value.as_str()).collect();
            if routes.iter().all(|rt| !allowed.contains(&rt.label())) {
                self.diags.push(
                    Diagnostic::warning(
                        format!("rule `{}` can never match: its routes are outside the policy's `select.routes`", r.id.value),
                        r.id.span,
                    )
                    .with_help("widen `select.routes` or fix the rule's `scope.routes`"),
                );
            }
        }
        if r.scope.direction.value == raw::Direction::Output {
            if let Some(routes) = &sel.routes {
                if routes.iter().all(|rt| !rt.inspects_response()) {
                    self.diags.push(Diagnostic::warning(
                        format!("rule `{}` can never match: output rules apply to chat_completions, completions and responses", r.id.value),
                        r.id.span,
                    ));
                }
            }
        }
    }

    fn roles(&mut self, roles: &[Spanned<String>], rid: &str) -> RoleSet {
        let mut set = RoleSet::default();
        for r in roles {
            let Some(role) = super::testing::parse_role(&r.value) else {
                let names = [
                    "system",
                    "developer",
                    "user",
                    "assistant",
                    "tool",
                    "function",
                ];
                let mut d = Diagnostic::error(
                    format!("unknown role `{}` in rule `{rid}`", r.value),
                    r.span,
                );
                if let Some(s) = did_you_mean(&r.value, names) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
                continue;
            };
            set.insert(role);
        }
        set
    }

    fn cond(&mut self, c: &RawCond, rid: &str) -> Option<Cond> {
        Some(match &c.kind {
            RawCondKind::Any(items) => Cond::Any(self.conds(items, rid)?),
            RawCondKind::All(items) => Cond::All(self.conds(items, rid)?),
            RawCondKind::Not(inner) => Cond::Not(Box::new(self.cond(inner, rid)?)),
            RawCondKind::Condition(name) => self.named_condition(name, rid)?,
            RawCondKind::Keywords(name) => match self.lists.get(name.value.as_str()) {
                Some(&i) => {
                    self.list_used[i] = true;
                    Cond::Keywords(i)
                }
                None => {
                    let names: Vec<&str> = self
                        .raw
                        .lists
                        .iter()
                        .map(|(n, _)| n.value.as_str())
                        .collect();
                    let mut d = Diagnostic::error(
                        format!("undefined list `{}` in rule `{rid}`", name.value),
                        name.span,
                    );
                    d = match did_you_mean(&name.value, names.iter().copied()) {
                        Some(s) => d.with_help(format!(
                            "did you mean `{s}`? defined lists: {}",
                            backticked(&names)
                        )),
                        None if names.is_empty() => {
                            d.with_help("no lists are defined; add one under `lists:`")
                        }
                        None => d.with_help(format!("defined lists: {}", backticked(&names))),
                    };
                    self.diags.push(d);
                    return None;
                }
            },
            RawCondKind::Regex {
                pattern,
                case_insensitive,
            } => self.regex(pattern, *case_insensitive, rid)?,
            RawCondKind::Pii(kinds) => {
                let mut mask = 0u32;
                for k in kinds {
                    if k.value == "any" {
                        for kind in PiiKind::ALL {
                            mask |= 1 << kind as u32;
                            self.need_pii(kind);
                        }
                        continue;
                    }
                    match PiiKind::from_name(&k.value) {
                        Some(kind) => {
                            mask |= 1 << kind as u32;
                            self.need_pii(kind);
                        }
                        None => {
                            let names: Vec<&str> = PiiKind::ALL.iter().map(|k| k.name()).collect();
                            let mut d = Diagnostic::error(
                                format!("unknown pii kind `{}` in rule `{rid}`", k.value),
                                k.span,
                            );
                            d = match did_you_mean(&k.value, names.iter().copied()) {
                                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                                None => {
                                    d.with_help(format!("pii kinds: {}, `any`", backticked(&names)))
                                }
                            };
                            self.diags.push(d);
                        }
                    }
                }
                Cond::Pii(mask)
            }
            RawCondKind::Length(cmps) => {
                Cond::Length(cmps.iter().map(|(c, n)| (*c, n.value as usize)).collect())
            }
            RawCondKind::HiddenText => Cond::HiddenText,
            RawCondKind::OpaqueInput { tokens_only } => Cond::Opaque {
                tokens_only: *tokens_only,
            },
            RawCondKind::Classifier {
                model,
                label,
                threshold,
            } => {
                self.threshold(threshold, rid)?;
                self.classifier_available(c.span, rid)?;
                let index = self.resolve_label(model.as_ref(), label)?;
                let name = match model {
                    Some(m) => format!("{}.{}", m.value, label.value),
                    None => label.value.clone(),
                };
                Cond::Score {
                    key: self.score_key(name, ScoreSource::Label(index)),
                    threshold: threshold.value,
                }
            }
            RawCondKind::Topic { name, threshold } => {
                self.threshold(threshold, rid)?;
                let Some(topic) = self
                    .raw
                    .topics
                    .iter()
                    .position(|(n, _)| n.value == name.value)
                else {
                    let names: Vec<&str> = self
                        .raw
                        .topics
                        .iter()
                        .map(|(n, _)| n.value.as_str())
                        .collect();
                    let mut d = Diagnostic::error(
                        format!("undefined topic `{}` in rule `{rid}`", name.value),
                        name.span,
                    );
                    if let Some(s) = did_you_mean(&name.value, names.iter().copied()) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.diags.push(d);
                    return None;
                };
                self.classifier_available(c.span, rid)?;
                Cond::Score {
                    key: self.score_key(format!("topic.{}", name.value), ScoreSource::Topic(topic)),
                    threshold: threshold.value,
                }
            }
            RawCondKind::Tenant(g) => Cond::Tenant(self.globs(g)),
            RawCondKind::Model(g) => Cond::Model(self.globs(g)),
            RawCondKind::Route(r) => Cond::Route(self.routes(r)),
        })
    }

    fn conds(&mut self, items: &[RawCond], rid: &str) -> Option<Vec<Cond>> {
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for i in items {
            match self.cond(i, rid) {
                Some(c) => out.push(c),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn named_condition(&mut self, name: &Spanned<String>, rid: &str) -> Option<Cond> {
        let Some(idx) = self
            .raw
            .conditions
            .iter()
            .position(|(n, _)| n.value == name.value)
        else {
            let names: Vec<&str> = self
                .raw
                .conditions
                .iter()
                .map(|(n, _)| n.value.as_str())
                .collect();
            let mut d = Diagnostic::error(
                format!("undefined condition `{}` in rule `{rid}`", name.value),
                name.span,
            );
            if let Some(s) = did_you_mean(&name.value, names.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.diags.push(d);
            return None;
        };
        match self.cond_state[idx] {
            CondState::Done => self.compiled_conds[idx].clone(),
            CondState::InProgress => {
                self.diags.push(
                    Diagnostic::error(
                        format!(
                            "condition `{}` refers to itself (a cycle between named conditions)",
                            name.value
                        ),
                        name.span,
                    )
                    .with_help("named conditions must form a tree; inline one of them"),
                );
                None
            }
            CondState::Pending => {
                self.cond_state[idx] = CondState::InProgress;
                let raw = &self.raw.conditions[idx].1;
                let compiled = self.cond(raw, rid);
                self.cond_state[idx] = CondState::Done;
                self.compiled_conds[idx] = compiled.clone();
                compiled
            }
        }
    }

    fn regex(&mut self, pattern: &Spanned<String>, ci: bool, rid: &str) -> Option<Cond> {
        for (needle, what) in [
            ("(?=", "look-ahead"),
            ("(?!", "look-ahead"),
            ("(?<=", "look-behind"),
            ("(?<!", "look-behind"),
        ] {
            if pattern.value.contains(needle) {
                self.diags.push(
                    Diagnostic::error(
                        format!("{what} `{needle}` is not supported in rule `{rid}` (regexes run in linear time)"),
                        pattern.span,
                    )
                    .with_help("express exclusions with `not:`"),
                );
                return None;
            }
        }
        match RegexBuilder::new(&pattern.value)
            .case_insensitive(ci)
            .size_limit(1 << 22)
            .build()
        {
            Ok(re) => {
                if re.is_match("") {
                    self.diags.push(
                        Diagnostic::warning(
                            format!("regex in rule `{rid}` matches the empty string, so it matches every text"),
                            pattern.span,
                        )
                        .with_help("use `+` instead of `*`, or anchor the pattern"),
                    );
                }
                self.regexes.push(re);
                Some(Cond::Regex(self.regexes.len() - 1))
            }
            Err(e) => {
                let msg = e.to_string();
                let detail = msg
                    .lines()
                    .last()
                    .unwrap_or("invalid regex")
                    .trim()
                    .to_owned();
                self.diags.push(
                    Diagnostic::error(format!("invalid regex in rule `{rid}`: {detail}"), pattern.span)
                        .with_help(if msg.contains("backreference") || msg.contains("look-around") {
                            "regexes run in linear time: no look-around or back-references; use `not:` or two rules".to_owned()
                        } else {
                            "see https://docs.rs/regex for the syntax".to_owned()
                        }),
                );
                None
            }
        }
    }

    fn threshold(&mut self, t: &Spanned<f64>, rid: &str) -> Option<()> {
        if (0.0..=1.0).contains(&t.value) {
            return Some(());
        }
        let mut d = Diagnostic::error(
            format!(
                "threshold out of range in rule `{rid}`: `{}`, expected 0.0..=1.0",
                t.value
            ),
            t.span,
        );
        if t.value > 1.0 && t.value <= 100.0 {
            d = d.with_help(format!(
                "scores are probabilities; did you mean {}?",
                t.value / 100.0
            ));
        }
        self.diags.push(d);
        None
    }

    fn classifier_available(&mut self, span: Span, rid: &str) -> Option<()> {
        self.uses_classifier = true;
        if self.env.classifiers {
            return Some(());
        }
        self.diags.push(
            Diagnostic::error(
                format!("rule `{rid}` uses a classifier, but no classifier runtime is loaded"),
                span,
            )
            .with_help("classifier and topic matchers run in `parapet test` with pinned `scores`; serving them needs the classifier runtime"),
        );
        None
    }

    /// The index of `key` in the policy's score table (added on first use).
    fn score_key(&mut self, name: String, source: ScoreSource) -> usize {
        if let Some(i) = self.score_keys.iter().position(|k| k.name == name) {
            return i;
        }
        self.score_keys.push(ScoreKey { name, source });
        self.score_keys.len() - 1
    }

    /// Resolves `model.label` (or a bare label) against the catalog; Some(None) when
    /// there is no catalog to check against.
    fn resolve_label(
        &mut self,
        model: Option<&Spanned<String>>,
        label: &Spanned<String>,
    ) -> Option<Option<usize>> {
        let (Some(models), Some(catalog)) = (&self.models, self.env.catalog) else {
            return Some(None);
        };
        let want = model.map(|m| m.value.as_str());
        if let Some(i) = catalog.label_index(want, &label.value) {
            return Some(Some(i));
        }
        // Why not: the models (of those asked for) that have the label.
        let having: Vec<&str> = models
            .iter()
            .filter(|(m, labels)| want.is_none_or(|w| w == m) && labels.contains(&label.value))
            .map(|(m, _)| m.as_str())
            .collect();
        let d = match (model, having.as_slice()) {
            (Some(m), []) if !models.iter().any(|(n, _)| *n == m.value) => {
                let names: Vec<&str> = models.iter().map(|(n, _)| n.as_str()).collect();
                let d =
                    Diagnostic::error(format!("unknown classifier model `{}`", m.value), m.span);
                match did_you_mean(&m.value, names.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("loaded models: {}", backticked(&names))),
                }
            }
            (Some(m), []) => {
                let labels: Vec<&str> = models
                    .iter()
                    .filter(|(n, _)| *n == m.value)
                    .flat_map(|(_, l)| l.iter().map(String::as_str))
                    .collect();
                let d = Diagnostic::error(
                    format!("model `{}` has no label `{}`", m.value, label.value),
                    label.span,
                );
                match did_you_mean(&label.value, labels.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("its labels: {}", backticked(&labels))),
                }
            }
            (None, []) => {
                let all: Vec<&str> = models
                    .iter()
                    .flat_map(|(_, l)| l.iter().map(String::as_str))
                    .collect();
                let d = Diagnostic::error(
                    format!("no loaded classifier has a label `{}`", label.value),
                    label.span,
                );
                match did_you_mean(&label.value, all.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("known labels: {}", backticked(&all))),
                }
            }
            (_, names) => {
                Diagnostic::error(format!("label `{}` is ambiguous", label.value), label.span)
                    .with_help(format!(
                        "models {} all have it; say which with `model:`",
                        backticked(names)
                    ))
            }
        };
        self.diags.push(d);
        None
    }

    /// The policy's topics, with examples embedded when the catalog can run models.
    fn topics(&mut self) -> Vec<Topic> {
        let mut out = Vec::with_capacity(self.raw.topics.len());
        for (name, t) in &self.raw.topics {
            let mut topic = Topic {
                name: name.value.clone(),
                ..Topic::default()
            };
            if let Some(catalog) = self.env.catalog {
                let phrases: Vec<&str> = t
                    .examples
                    .iter()
                    .chain(&t.counter_examples)
                    .map(|e| e.value.as_str())
                    .collect();
                match catalog.embed(&phrases) {
                    Some(Ok(mut vecs)) if vecs.len() == phrases.len() => {
                        topic.counter_examples = vecs.split_off(t.examples.len());
                        topic.examples = vecs;
                    }
                    Some(Ok(_)) => self.diags.push(Diagnostic::error(
                        format!(
                            "cannot embed topic `{}`: wrong number of embeddings",
                            name.value
                        ),
                        name.span,
                    )),
                    Some(Err(e)) => self.diags.push(Diagnostic::error(
                        format!("cannot embed topic `{}`: {e}", name.value),
                        name.span,
                    )),
                    None => {}
                }
            }
            out.push(topic);
        }
        out
    }

    fn need_pii(&mut self, kind: PiiKind) {
        if !self.pii_kinds.contains(&kind) {
            self.pii_kinds.push(kind);
        }
    }

    fn warn_unused_lists(&mut self) {
        for (i, (name, _)) in self.raw.lists.iter().enumerate() {
            if !self.list_used[i] {
                self.diags.push(
                    Diagnostic::warning(format!("list `{}` is never used", name.value), name.span)
                        .with_help("reference it with `keywords:` or remove it"),
                );
            }
        }
    }
}

fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
