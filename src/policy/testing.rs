//! `parapet test`: runs the inline `tests:` of a policy against the compiled policy.
//! Classifier and topic scores come from the test's pinned `scores` (unpinned: 0.0),
//! so the tests run anywhere.

use std::fmt::Write as _;

use super::diag::{did_you_mean, Diagnostic};
use super::eval::{
    apply_redactions, joins, newest_turn, Decision, Join, RequestInfo, Scores, Text,
};
use super::model::{Policy, ScoreKey};
use super::raw::{Direction, RawPolicy, RawTest};
use crate::classify::ScoreTable;
use crate::proxy::openai::Role;
use crate::proxy::route::{Route, ALL_ROUTES};

/// The result of one test.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Test name.
    pub name: String,
    /// Failure explanations (empty: passed).
    pub failures: Vec<String>,
}

/// Validates tests against the policy's rules (unknown rule names, bad actions,
/// bad routes and roles); called by the compiler so `parapet check` reports them.
pub fn check_tests(raw: &RawPolicy, diags: &mut Vec<Diagnostic>) {
    let ids: Vec<&str> = raw.rules.iter().map(|r| r.id.value.as_str()).collect();
    for t in &raw.tests {
        let tn = &t.name.value;
        if !["allow", "annotate", "redact", "block"].contains(&t.expect.action.value.as_str()) {
            let mut d = Diagnostic::error(
                format!(
                    "unknown expected action `{}` in test `{tn}`",
                    t.expect.action.value
                ),
                t.expect.action.span,
            );
            if let Some(s) = did_you_mean(
                &t.expect.action.value,
                ["allow", "annotate", "redact", "block"],
            ) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            diags.push(d);
        }
        for r in t.expect.rules.iter().chain(&t.expect.not_rules) {
            if !ids.contains(&r.value.as_str()) {
                let mut d = Diagnostic::error(
                    format!("test `{tn}` names unknown rule `{}`", r.value),
                    r.span,
                );
                if let Some(s) = did_you_mean(&r.value, ids.iter().copied()) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                diags.push(d);
            }
        }
        if let Some(route) = &t.route {
            if parse_route(&route.value).is_none() {
                diags.push(
                    Diagnostic::error(
                        format!("unknown route `{}` in test `{tn}`", route.value),
                        route.span,
                    )
                    .with_help("routes: chat_completions, completions, embeddings, responses"),
                );
            }
        }
        for m in &t.messages {
            if parse_role(&m.role.value).is_none() {
                diags.push(Diagnostic::error(
                    format!("unknown role `{}` in test `{tn}`", m.role.value),
                    m.role.span,
                ));
            }
        }
        if t.expect.output.is_some() && t.messages.len() != 1 {
            diags.push(
                Diagnostic::error(
                    format!(
                        "test `{tn}` checks `output` but has {} messages",
                        t.messages.len()
                    ),
                    t.span,
                )
                .with_help("`expect.output` compares the rewritten text of a single-message test"),
            );
        }
    }
}

/// Runs every test of `policy`.
pub fn run(policy: &Policy) -> Vec<Outcome> {
    run_with(policy, None)
}

/// Runs the tests with scores from `scorer` (the real models) instead of the pinned ones.
pub fn run_with(policy: &Policy, scorer: Option<&dyn Scorer>) -> Vec<Outcome> {
    policy
        .tests
        .iter()
        .map(|t| run_one(policy, t, scorer))
        .collect()
}

/// Scores texts with real models (`parapet test --real-classifiers`).
pub trait Scorer {
    /// Scores for `texts`, where `texts[first_join + k]` joins the texts at
    /// `joins[k].parts`.
    fn score(
        &self,
        policy: &Policy,
        req: &RequestInfo<'_>,
        texts: &[Text<'_>],
        first_join: usize,
        joins: &[Join],
    ) -> Result<ScoreTable, String>;
}

/// Rules that no test expects to fire (`parapet test --coverage`).
pub fn uncovered(policy: &Policy) -> Vec<&str> {
    policy
        .rules
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| {
            !policy
                .tests
                .iter()
                .any(|t| t.expect.rules.iter().any(|r| r.value == *id))
        })
        .collect()
}

struct Pinned<'a>(&'a RawTest);

impl Scores for Pinned<'_> {
    fn score(&self, _: &Policy, key: &ScoreKey, _: usize, _: &str) -> Option<f64> {
        let key = key.name.as_str();
        let label = key.rsplit('.').next().unwrap_or(key);
        let found = self
            .0
            .scores
            .iter()
            .find(|(k, _)| k.value == key)
            .or_else(|| {
                self.0
                    .scores
                    .iter()
                    .find(|(k, _)| k.value == label && !key.starts_with("topic."))
            });
        Some(found.map_or(0.0, |(_, v)| v.value))
    }
}

fn run_one(policy: &Policy, t: &RawTest, scorer: Option<&dyn Scorer>) -> Outcome {
    let mut failures = Vec::new();
    let direction = t.direction.value;
    let roles: Vec<Role> = t
        .messages
        .iter()
        .map(|m| parse_role(&m.role.value).unwrap_or(Role::Other))
        .collect();
    let turn = newest_turn(roles.iter().enumerate().map(|(i, r)| (i as u32, *r)));
    let mut texts: Vec<Text<'_>> = t
        .messages
        .iter()
        .zip(&roles)
        .enumerate()
        .map(|(i, (m, role))| Text {
            text: &m.content.value,
            role: *role,
            latest: direction == Direction::Output || i as u32 >= turn,
            joined: false,
        })
        .collect();
    let joined = joins(&texts);
    let first_join = texts.len();
    texts.extend(joined.iter().map(|j| j.as_text()));
    let req = RequestInfo {
        direction,
        route: t
            .route
            .as_ref()
            .and_then(|r| parse_route(&r.value))
            .unwrap_or(Route::ChatCompletions),
        model: t.model.as_ref().map(|m| m.value.as_str()),
        tenant: t.tenant.as_ref().map(|m| m.value.as_str()),
        opaque_inputs: 0,
        token_inputs: 0,
    };
    let verdict = match scorer {
        None => policy.evaluate(&req, &texts, &Pinned(t)),
        Some(s) => match s.score(policy, &req, &texts, first_join, &joined) {
            Ok(table) => policy.evaluate(&req, &texts, &table),
            Err(e) => {
                return Outcome {
                    name: t.name.value.clone(),
                    failures: vec![format!("classification failed: {e}")],
                }
            }
        },
    };
    let fired: Vec<&str> = verdict
        .fired
        .iter()
        .map(|f| policy.rules[f.rule].id.as_str())
        .collect();
    if verdict.decision.as_str() != t.expect.action.value {
        failures.push(format!(
            "expected action `{}`, got `{}` (fired: {})",
            t.expect.action.value,
            verdict.decision.as_str(),
            list(&fired)
        ));
    }
    for r in &t.expect.rules {
        if !fired.contains(&r.value.as_str()) {
            failures.push(format!(
                "expected rule `{}` to fire (fired: {})",
                r.value,
                list(&fired)
            ));
        }
    }
    for r in &t.expect.not_rules {
        if fired.contains(&r.value.as_str()) {
            failures.push(format!("expected rule `{}` not to fire", r.value));
        }
    }
    if let (Some(expected), Some(text)) = (&t.expect.output, texts.first()) {
        let mine: Vec<_> = verdict.redactions.iter().filter(|r| r.text == 0).collect();
        let got = if verdict.decision == Decision::Redact {
            apply_redactions(text.text, &mine)
        } else {
            text.text.to_owned()
        };
        if got != expected.value {
            failures.push(format!(
                "expected output {:?}, got {:?}",
                expected.value, got
            ));
        }
    }
    Outcome {
        name: t.name.value.clone(),
        failures,
    }
}

fn list(ids: &[&str]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    let mut s = String::new();
    for (i, id) in ids.iter().enumerate() {
        let _ = write!(s, "{}`{id}`", if i > 0 { ", " } else { "" });
    }
    s
}

/// A route name as written in policies.
pub fn parse_route(name: &str) -> Option<Route> {
    ALL_ROUTES.iter().copied().find(|r| r.label() == name)
}

/// A role name as written in policies (`None` for a name the API does not define).
pub fn parse_role(name: &str) -> Option<Role> {
    Some(Role::from_name(name)).filter(|r| *r != Role::Other)
}
