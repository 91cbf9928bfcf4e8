//! Evaluation: texts in, [`Verdict`] out.
//!
//! Each text is normalised once and every matcher kind the policy uses runs over it
//! once (one keyword automaton, one regex set, one PII pass); rules then read those
//! facts. Text conditions hold per text; request properties (tenant, model, route)
//! are the same for every text. Matches map back to the original text for redaction.

use std::cell::OnceCell;
use std::ops::Range;

use regex::SetMatches;

use super::model::{Action, Cond, Policy, Rule, ScoreKey};
use super::raw::{Cmp, Direction, Mode, OnError};
use crate::detect::keywords::KeywordMatch;
use crate::detect::normalize::Normalized;
use crate::detect::pii::PiiMatch;
use crate::proxy::openai::Role;
use crate::proxy::route::Route;

/// Request properties rules may filter on.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// Prompt or completion.
    pub direction: Direction,
    /// The route.
    pub route: Route,
    /// The requested model.
    pub model: Option<&'a str>,
    /// The tenant.
    pub tenant: Option<&'a str>,
    /// Inputs Parapet cannot read as text (token ids, media, stored prompts).
    pub opaque_inputs: u32,
    /// Of which prompts written as token ids.
    pub token_inputs: u32,
}

/// One text to inspect.
#[derive(Debug, Clone, Copy)]
pub struct Text<'a> {
    /// The text as sent.
    pub text: &'a str,
    /// Who wrote it.
    pub role: Role,
    /// Part of the newest turn (see [`newest_turn`]).
    pub latest: bool,
    /// A join of several texts of one role (see [`joins`]): block and annotate rules
    /// see it, redact rules do not (its spans belong to no single text).
    pub joined: bool,
}

/// Index of the first message of the newest turn: everything after the last assistant
/// message that precedes the last non-assistant message. A trailing assistant message
/// (a prefill) is part of the newest turn.
pub fn newest_turn(messages: impl Iterator<Item = (u32, Role)> + Clone) -> u32 {
    let last_other = messages
        .clone()
        .filter(|(_, r)| *r != Role::Assistant)
        .map(|(m, _)| m)
        .max();
    let Some(last_other) = last_other else {
        return 0;
    };
    messages
        .filter(|(m, r)| *r == Role::Assistant && *m < last_other)
        .map(|(m, _)| m + 1)
        .max()
        .unwrap_or(0)
}

/// Texts of the same role and turn (history or newest) joined with newlines, for every
/// group of two or more: an instruction split across content parts or consecutive
/// messages is judged whole, as the model reads it.
pub fn joins(texts: &[Text<'_>]) -> Vec<Join> {
    let mut groups: Vec<Join> = Vec::new();
    for (i, t) in texts.iter().enumerate().filter(|(_, t)| !t.joined) {
        match groups
            .iter_mut()
            .find(|g| g.role == t.role && g.latest == t.latest)
        {
            Some(g) => {
                g.text.push('\n');
                g.text.push_str(t.text);
                g.parts.push(i);
            }
            None => groups.push(Join {
                role: t.role,
                latest: t.latest,
                text: t.text.to_owned(),
                parts: vec![i],
            }),
        }
    }
    groups.retain(|g| g.parts.len() > 1);
    groups
}

/// Texts of one role and turn joined (see [`joins`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// Their role.
    pub role: Role,
    /// Whether they are part of the newest turn.
    pub latest: bool,
    /// The texts joined with newlines.
    pub text: String,
    /// Their indices in the slice given to [`joins`].
    pub parts: Vec<usize>,
}

impl Join {
    /// The joined text as a [`Text`].
    pub fn as_text(&self) -> Text<'_> {
        Text {
            text: &self.text,
            role: self.role,
            latest: self.latest,
            joined: true,
        }
    }
}

/// Where classifier and topic scores come from.
pub trait Scores {
    /// The score of `key` for the text at `index` of the evaluated slice (`text` is its
    /// content); None when it cannot be had (the rule's `on_error` decides).
    fn score(&self, policy: &Policy, key: &ScoreKey, index: usize, text: &str) -> Option<f64>;
}

/// The outcome, ordered by precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decision {
    /// Nothing fired (or only monitor rules).
    Allow,
    /// Only annotate rules fired.
    Annotate,
    /// Text is rewritten.
    Redact,
    /// The request or completion is refused.
    Block,
}

impl Decision {
    /// Header and metric value.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Annotate => "annotate",
            Decision::Redact => "redact",
            Decision::Block => "block",
        }
    }
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    /// Index into `Policy::rules`.
    pub rule: usize,
    /// What it did (monitor rules report the action they would have taken).
    pub action: Decision,
    /// Monitor mode: recorded only.
    pub monitor: bool,
}

/// A rewrite of one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Redaction {
    /// Index of the text.
    pub text: usize,
    /// Byte range in the original text.
    pub range: Range<usize>,
    /// Replacement.
    pub with: String,
}

/// The result of evaluating a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The decision (enforcing rules only).
    pub decision: Decision,
    /// Every rule that fired, monitor ones included, in rule order.
    pub fired: Vec<Fired>,
    /// Rewrites, sorted and non-overlapping (empty unless the decision is redact).
    pub redactions: Vec<Redaction>,
    /// The message of the first blocking rule.
    pub block_message: Option<String>,
}

/// Per-text facts: normalised once; each matcher kind runs at most once, and only
/// if a rule in scope asks for it (output rules need not pay for input regexes).
struct Facts<'t> {
    index: usize,
    original: &'t str,
    norm: Normalized,
    keywords: OnceCell<Vec<KeywordMatch>>,
    regex: OnceCell<SetMatches>,
    pii: OnceCell<Vec<PiiMatch>>,
}

/// A matched span (normalised coordinates) and its entity name.
type Hit = (Range<usize>, String);

impl Policy {
    /// Evaluates every applicable rule over `texts`.
    pub fn evaluate(
        &self,
        req: &RequestInfo<'_>,
        texts: &[Text<'_>],
        scores: &dyn Scores,
    ) -> Verdict {
        // Request-level conditions (tenant, model, opaque inputs) must still be judged
        // when the request has no text at all (a prompt sent as token ids).
        let nothing = [Text {
            text: "",
            role: Role::User,
            latest: true,
            joined: true,
        }];
        let texts = if texts.is_empty() {
            &nothing[..]
        } else {
            texts
        };
        let rules: Vec<(usize, &Rule)> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.applies_to(req.direction) && r.select.matches(req.route, req.model, req.tenant)
            })
            .collect();
        let mut fired: Vec<Fired> = Vec::new();
        let mut redactions: Vec<Redaction> = Vec::new();
        let mut fired_flags = vec![false; self.rules.len()];
        if !rules.is_empty() {
            for (ti, text) in texts.iter().enumerate() {
                let applicable: Vec<&(usize, &Rule)> =
                    rules.iter().filter(|(_, r)| in_scope(r, text)).collect();
                if applicable.is_empty() {
                    continue;
                }
                let facts = self.facts(ti, text.text);
                for (ri, rule) in applicable {
                    let mut hits = Vec::new();
                    let matched = match self.eval(&rule.when, req, &facts, scores, &mut hits) {
                        Ok(m) => m,
                        Err(Unavailable) => rule.on_error == OnError::FailClosed,
                    };
                    if !matched {
                        continue;
                    }
                    let mut action = action_of(rule);
                    if action == Decision::Redact && hits.is_empty() {
                        // Fail-closed redact rule that could not say what to rewrite.
                        action = Decision::Block;
                    }
                    if !fired_flags[*ri] {
                        fired_flags[*ri] = true;
                        fired.push(Fired {
                            rule: *ri,
                            action,
                            monitor: rule.mode == Mode::Monitor,
                        });
                    }
                    if action == Decision::Redact && rule.mode == Mode::Enforce {
                        if let Action::Redact { with } = &rule.action {
                            for (range, entity) in hits {
                                redactions.push(Redaction {
                                    text: ti,
                                    range: facts.norm.to_original(range),
                                    with: with
                                        .replace("{entity}", &entity)
                                        .replace("{ENTITY}", &entity.to_uppercase()),
                                });
                            }
                        }
                    }
                }
            }
        }
        fired.sort_by_key(|f| f.rule);
        let decision = fired
            .iter()
            .filter(|f| !f.monitor)
            .map(|f| f.action)
            .max()
            .unwrap_or(Decision::Allow);
        let block_message = fired
            .iter()
            .filter(|f| !f.monitor && f.action == Decision::Block)
            .map(|f| match &self.rules[f.rule].action {
                Action::Block { message } => message.clone(),
                _ => format!("Request blocked by policy rule {}.", self.rules[f.rule].id),
            })
            .next();
        if decision != Decision::Redact {
            redactions.clear();
        }
        Verdict {
            decision,
            fired,
            redactions: merge(redactions),
            block_message,
        }
    }

    /// The indices of the `texts` some rule would read a classifier or topic score of
    /// (for `req`): the texts to classify. A joined text's score is the highest of its
    /// parts', so only unjoined texts are ever classified (their joins share their role
    /// and turn, hence their scope); an empty text scores 0 without a model.
    pub fn texts_to_score(&self, req: &RequestInfo<'_>, texts: &[Text<'_>]) -> Vec<usize> {
        let rules = self.score_rules(req);
        texts
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                !t.joined && !t.text.is_empty() && rules.iter().any(|r| in_scope(r, t))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Whether some rule reads scores of texts by `role` (in the newest turn or not).
    pub fn scores_texts_of(&self, req: &RequestInfo<'_>, role: Role, latest: bool) -> bool {
        let probe = Text {
            text: "",
            role,
            latest,
            joined: false,
        };
        self.score_rules(req).iter().any(|r| in_scope(r, &probe))
    }

    /// The rules that read scores and apply to `req`.
    fn score_rules(&self, req: &RequestInfo<'_>) -> Vec<&Rule> {
        self.rules
            .iter()
            .filter(|r| {
                r.uses_scores
                    && r.applies_to(req.direction)
                    && r.select.matches(req.route, req.model, req.tenant)
            })
            .collect()
    }

    fn facts<'t>(&self, index: usize, text: &'t str) -> Facts<'t> {
        Facts {
            index,
            original: text,
            norm: Normalized::new(text),
            keywords: OnceCell::new(),
            regex: OnceCell::new(),
            pii: OnceCell::new(),
        }
    }

    fn eval(
        &self,
        cond: &Cond,
        req: &RequestInfo<'_>,
        f: &Facts<'_>,
        scores: &dyn Scores,
        hits: &mut Vec<Hit>,
    ) -> Result<bool, Unavailable> {
        Ok(match cond {
            Cond::Any(items) => {
                let mut any = false;
                let mut err = false;
                for c in items {
                    match self.eval(c, req, f, scores, hits) {
                        Ok(true) => any = true,
                        Ok(false) => {}
                        Err(_) => err = true,
                    }
                }
                if !any && err {
                    return Err(Unavailable);
                }
                any
            }
            Cond::All(items) => {
                let mark = hits.len();
                for c in items {
                    if !self.eval(c, req, f, scores, hits)? {
                        hits.truncate(mark);
                        return Ok(false);
                    }
                }
                true
            }
            Cond::Not(inner) => {
                let mut scratch = Vec::new();
                !self.eval(inner, req, f, scores, &mut scratch)?
            }
            Cond::Keywords(list) => {
                let before = hits.len();
                let all = f.keywords.get_or_init(|| {
                    let mut v = Vec::new();
                    self.keywords.find_all(&f.norm.text, &mut v);
                    v
                });
                for m in all.iter().filter(|m| m.list_id == *list) {
                    hits.push((m.span.clone(), self.list_name(*list)));
                }
                hits.len() > before
            }
            Cond::Regex(i) => {
                let set = f.regex.get_or_init(|| self.regex_set.matches(&f.norm.text));
                if !set.matched(*i) {
                    return Ok(false);
                }
                for m in self.regexes[*i].find_iter(&f.norm.text) {
                    if !m.is_empty() {
                        hits.push((m.range(), "match".to_owned()));
                    }
                }
                true
            }
            Cond::Pii(mask) => {
                let before = hits.len();
                let all = f.pii.get_or_init(|| {
                    let mut v = Vec::new();
                    self.pii.find_all(&f.norm.text, &mut v);
                    v
                });
                for m in all.iter().filter(|m| mask & (1 << m.kind as u32) != 0) {
                    hits.push((m.span.clone(), m.kind.name().to_owned()));
                }
                hits.len() > before
            }
            Cond::Length(cmps) => {
                let n = f.original.chars().count();
                cmps.iter().all(|(c, v)| match c {
                    Cmp::Gt => n > *v,
                    Cmp::Gte => n >= *v,
                    Cmp::Lt => n < *v,
                    Cmp::Lte => n <= *v,
                })
            }
            Cond::HiddenText => f.norm.had_hidden_chars(),
            Cond::Opaque { tokens_only: true } => req.token_inputs > 0,
            Cond::Opaque { tokens_only: false } => req.opaque_inputs > 0,
            // No text, nothing to score (a request of token ids only, or an empty message).
            Cond::Score { threshold, .. } if f.original.is_empty() => 0.0 >= *threshold,
            Cond::Score { key, threshold } => {
                match scores.score(self, &self.score_keys[*key], f.index, f.original) {
                    Some(s) => s >= *threshold,
                    None => return Err(Unavailable),
                }
            }
            Cond::Tenant(g) => g.matches(req.tenant.unwrap_or("")),
            Cond::Model(g) => g.matches(req.model.unwrap_or("")),
            Cond::Route(r) => r.contains(&req.route),
        })
    }

    fn list_name(&self, list: usize) -> String {
        self.list_names.get(list).cloned().unwrap_or_default()
    }
}

/// A score could not be had.
struct Unavailable;

fn in_scope(rule: &Rule, text: &Text<'_>) -> bool {
    rule.roles.is_none_or(|r| r.contains(text.role))
        && (!rule.latest_only || text.latest)
        && !(text.joined && matches!(rule.action, Action::Redact { .. }))
}

fn action_of(rule: &Rule) -> Decision {
    match rule.action {
        Action::Block { .. } => Decision::Block,
        Action::Redact { .. } => Decision::Redact,
        Action::Annotate => Decision::Annotate,
    }
}

/// Sorts redactions and merges overlapping ones of the same text (first one's replacement wins).
fn merge(mut v: Vec<Redaction>) -> Vec<Redaction> {
    v.sort_by_key(|r| (r.text, r.range.start));
    let mut out: Vec<Redaction> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(last) if last.text == r.text && r.range.start < last.range.end => {
                last.range.end = last.range.end.max(r.range.end);
            }
            _ => out.push(r),
        }
    }
    out
}

/// Applies a text's redactions (sorted, non-overlapping, original coordinates).
pub fn apply_redactions(text: &str, redactions: &[&Redaction]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in redactions {
        if r.range.start < at || r.range.end > text.len() {
            continue;
        }
        out.push_str(&text[at..r.range.start]);
        out.push_str(&r.with);
        at = r.range.end;
    }
    out.push_str(&text[at..]);
    out
}
