//! Output rules on streams: a hold-back window so that, in `vetted` mode, no
//! character reaches the client before the output rules have seen it with at least
//! `holdback` characters of following context (or the end of the choice).
//!
//! Events are the unit of release. Each event's text is known per choice (from the
//! accumulator), so after every event the guard re-evaluates the output rules over
//! the unreleased text plus `holdback` characters of already-released context, then
//! releases, in order, every event whose text lies before the frontier
//! (`len - holdback`, pulled back to the start of any redaction still growing).
//! An event that overlaps a redaction is rewritten (its delta text re-serialised);
//! other events go out byte for byte. A block drops everything held and ends the
//! stream with a `content_filter` finish and `[DONE]`. Tool-call arguments are held
//! until their choice finishes and are then judged whole (a redaction there blocks).

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde_json::Value;

use super::ctx::RequestCtx;
use super::guard::evaluate;
use super::openai::{ChunkDelta, Endpoint, Role, StreamAccumulator};
use super::sse::{data_event, typed_data_event, SseEvent, DONE_EVENT};
use super::stream_scores::StreamScores;
use crate::policy::raw::{Direction, StreamMode};
use crate::policy::{Decision, Policy, Text};

/// Least text (bytes) worth a re-evaluation before the choice is final.
const MIN_RELEASE: usize = 32;

/// Least text (bytes) worth a re-evaluation when output rules read classifier scores:
/// each costs a classification, so text is vetted and released in larger steps.
const MIN_SCORED_RELEASE: usize = 192;

/// Longest whitespace-free run held whole at the frontier (bytes).
const MAX_TOKEN_HOLD: usize = 16 * 1024;

struct Held {
    raw: Bytes,
    data: Option<Bytes>,
    event: Option<Bytes>,
    /// Text this event appended, per choice (byte ranges of the choice's text).
    ranges: Vec<(u32, Range<usize>)>,
    /// Carries tool-call argument pieces for this choice.
    tools: Option<u32>,
    arrived: Instant,
}

/// Per-choice progress.
#[derive(Default, Clone)]
struct ChoiceState {
    released: usize,
    /// How far the last evaluation vetted the text (nothing past it is released).
    vetted: usize,
    finished: bool,
    /// The finished choice's tool-call arguments have been judged (they are released
    /// only then: their scores may arrive later than the finish).
    tools_vetted: bool,
    redactions: Vec<(Range<usize>, String)>,
}

/// Guards one stream.
pub(crate) struct StreamGuard {
    policy: Arc<Policy>,
    endpoint: Endpoint,
    mode: StreamMode,
    holdback: usize,
    held: VecDeque<Held>,
    /// Per-choice state, keyed by choice index (sparse: an upstream choosing index
    /// 4294967295 costs one entry, not four billion).
    choices: Vec<(u32, ChoiceState)>,
    ids: Option<(Value, Value)>,
    blocked: bool,
    ended: bool,
    /// Classifier scores of the texts judged (see [`StreamScores`]).
    pub(crate) scores: StreamScores,
}

impl StreamGuard {
    /// A guard for `policy`'s output rules; `scored`: some of them read classifier
    /// scores of the assistant's text.
    pub(crate) fn new(policy: Arc<Policy>, endpoint: Endpoint, scored: bool) -> Self {
        let s = policy.stream;
        Self {
            policy,
            endpoint,
            mode: s.mode,
            holdback: if s.mode == StreamMode::Vetted {
                s.holdback
            } else {
                0
            },
            held: VecDeque::new(),
            choices: Vec::new(),
            ids: None,
            blocked: false,
            ended: false,
            scores: StreamScores::new(scored),
        }
    }

    /// Whether the stream was blocked (nothing more may be relayed).
    pub(crate) fn blocked(&self) -> bool {
        self.blocked
    }

    fn choice(&mut self, c: u32) -> &mut ChoiceState {
        let i = match self.choices.iter().position(|(k, _)| *k == c) {
            Some(i) => i,
            None => {
                self.choices.push((c, ChoiceState::default()));
                self.choices.len() - 1
            }
        };
        &mut self.choices[i].1
    }

    fn state(&self, c: u32) -> Option<&ChoiceState> {
        self.choices.iter().find(|(k, _)| *k == c).map(|(_, s)| s)
    }

    /// Takes one event (already fed to `acc`, which returned `delta`); appends what may
    /// be released now to `out`.
    pub(crate) fn on_event(
        &mut self,
        ev: SseEvent,
        delta: Option<&ChunkDelta>,
        acc: &StreamAccumulator,
    ) {
        if self.blocked {
            return;
        }
        if self.ids.is_none() {
            self.ids = ev.data.as_ref().and_then(|d| ids_of(d));
        }
        let mut ranges = Vec::new();
        let mut tools = None;
        if let Some(d) = delta {
            for &(c, n) in &d.appended {
                let len = text_of(acc, c).len();
                ranges.push((c, len.saturating_sub(n)..len));
            }
            if let Some(&(c, _, _)) = d.tool_arguments_appended.first() {
                tools = Some(c);
            }
            if d.finished {
                for ch in acc.choices() {
                    if ch.finish_reason.is_some() {
                        self.choice(ch.index).finished = true;
                    }
                }
            }
        }
        if ev.is_done() {
            self.ended = true;
        }
        self.held.push_back(Held {
            raw: ev.raw,
            data: ev.data,
            event: ev.event,
            ranges,
            tools,
            arrived: Instant::now(),
        });
    }

    /// Vets what arrived since the last call and releases what may go: called once
    /// per upstream read, so events that arrive together are judged together.
    pub(crate) fn flush(
        &mut self,
        acc: &StreamAccumulator,
        ctx: &mut RequestCtx,
        out: &mut VecDeque<Bytes>,
    ) {
        if !self.blocked {
            self.vet(acc, ctx, out);
        }
    }

    /// A chunk could not be read, so its text cannot be vetted: block.
    pub(crate) fn fail_closed(&mut self, out: &mut VecDeque<Bytes>) {
        if !self.blocked && self.mode != StreamMode::AnnotateOnly {
            self.block(out);
        }
    }

    /// The upstream ended: everything is final.
    pub(crate) fn on_end(
        &mut self,
        acc: &StreamAccumulator,
        ctx: &mut RequestCtx,
        out: &mut VecDeque<Bytes>,
    ) {
        self.ended = true;
        if !self.blocked {
            self.vet(acc, ctx, out);
        }
    }

    fn is_final(&self, c: u32) -> bool {
        self.ended || self.state(c).is_some_and(|s| s.finished)
    }

    fn vet(&mut self, acc: &StreamAccumulator, ctx: &mut RequestCtx, out: &mut VecDeque<Bytes>) {
        let judge = self.mode != StreamMode::AnnotateOnly;
        for ch in acc.choices() {
            let c = ch.index;
            let released = self.choice(c).released;
            // Judge only when enough text could be released (or the choice is final):
            // nothing leaves before it is judged, and short replies are judged once.
            let releasable = self.frontier(acc, c).saturating_sub(released);
            let step = if self.scores.enabled() {
                MIN_SCORED_RELEASE
            } else {
                MIN_RELEASE
            };
            let due = releasable >= step || (self.is_final(c) && released < ch.text.len());
            if due {
                let start = floor(&ch.text, released.saturating_sub(self.holdback.max(64)));
                let window = &ch.text[start..];
                if !self.scores.ready(window) {
                    // Judged once its scores are in; nothing past `vetted` leaves before.
                    continue;
                }
                let verdict = evaluate(
                    ctx,
                    &self.policy,
                    Direction::Output,
                    &[Text {
                        text: window,
                        role: Role::Assistant,
                        latest: true,
                        joined: false,
                    }],
                    &self.scores,
                );
                if judge && verdict.decision == Decision::Block {
                    return self.block(out);
                }
                if judge && verdict.decision == Decision::Redact {
                    let st = self.choice(c);
                    for r in &verdict.redactions {
                        let range = r.range.start + start..r.range.end + start;
                        // A match found again as more text arrived (an email growing
                        // from `bob@exa` to `bob@example.com`) widens the first one.
                        match st
                            .redactions
                            .iter_mut()
                            .find(|(x, _)| x.start < range.end && range.start < x.end)
                        {
                            Some((x, _)) => *x = x.start.min(range.start)..x.end.max(range.end),
                            None => st.redactions.push((range, r.with.clone())),
                        }
                    }
                }
            }
            if due {
                let vetted = self.frontier(acc, c);
                self.choice(c).vetted = vetted;
            }
            if self.is_final(c) && !ch.tool_calls.is_empty() {
                let args: Vec<Text<'_>> = ch
                    .tool_calls
                    .iter()
                    .map(|t| Text {
                        text: &t.arguments,
                        role: Role::Assistant,
                        latest: true,
                        joined: false,
                    })
                    .collect();
                let mut all_ready = true;
                for a in &args {
                    all_ready &= self.scores.ready(a.text);
                }
                if !all_ready {
                    continue;
                }
                let v = evaluate(ctx, &self.policy, Direction::Output, &args, &self.scores);
                if judge && v.decision >= Decision::Redact {
                    return self.block(out);
                }
                self.choice(c).tools_vetted = true;
            }
        }
        self.release(acc, ctx, out);
    }

    fn frontier(&self, acc: &StreamAccumulator, c: u32) -> usize {
        let text = text_of(acc, c);
        if self.is_final(c) {
            return text.len();
        }
        let mut f = floor(text, text.len().saturating_sub(self.holdback));
        // A token longer than the window (a JWT, a key, a URL) is held whole until the
        // whitespace after it arrives, so a detector sees it complete; up to a cap, so
        // whitespace-free output cannot be held forever.
        if let Some(run_start) = text[..f].rfind(char::is_whitespace).map(|i| i + 1) {
            let run_is_open = !text[f..].contains(char::is_whitespace);
            if run_is_open && text.len() - run_start <= MAX_TOKEN_HOLD {
                f = run_start;
            }
        } else if !text[f..].contains(char::is_whitespace) && text.len() <= MAX_TOKEN_HOLD {
            f = 0;
        }
        if let Some(st) = self.state(c) {
            for (r, _) in &st.redactions {
                if r.end > f && r.start < f {
                    f = r.start;
                }
            }
        }
        f
    }

    fn release(
        &mut self,
        acc: &StreamAccumulator,
        ctx: &mut RequestCtx,
        out: &mut VecDeque<Bytes>,
    ) {
        while let Some(front) = self.held.front() {
            let ready = front
                .ranges
                .iter()
                .all(|(c, r)| r.end <= self.state(*c).map_or(0, |st| st.vetted))
                && front.tools.is_none_or(|c| {
                    self.is_final(c) && self.state(c).is_some_and(|s| s.tools_vetted)
                });
            if !ready {
                break;
            }
            let Some(ev) = self.held.pop_front() else {
                break;
            };
            ctx.shared_metrics()
                .stream_holdback
                .observe(ev.arrived.elapsed().as_secs_f64());
            if self.mode == StreamMode::StreamFirst {
                let unvetted: usize = ev
                    .ranges
                    .iter()
                    .map(|(c, r)| {
                        let len = text_of(acc, *c).len();
                        r.end.saturating_sub(
                            r.start.max(len.saturating_sub(self.policy.stream.holdback)),
                        )
                    })
                    .sum();
                ctx.shared_metrics().stream_unvetted.inc_by(unvetted as u64);
            }
            let mut rewritten = None;
            if ev.ranges.is_empty() && self.endpoint == Endpoint::Responses {
                // `*.done` and `response.completed` events repeat the whole text.
                rewritten = ev
                    .data
                    .as_ref()
                    .and_then(|d| self.rewrite_summary(d, ev.event.as_ref(), acc));
            }
            let mut pieces: Vec<(u32, String)> = Vec::new();
            for (c, r) in &ev.ranges {
                let st = self.choice(*c);
                st.released = r.end;
                if st
                    .redactions
                    .iter()
                    .any(|(x, _)| x.start < r.end && r.start < x.end)
                {
                    pieces.push((
                        *c,
                        redact_piece(text_of(acc, *c), r.clone(), &st.redactions),
                    ));
                }
            }
            if !pieces.is_empty() {
                rewritten = ev
                    .data
                    .as_ref()
                    .and_then(|d| self.rewrite_event(d, ev.event.as_ref(), &pieces));
                if rewritten.is_none() {
                    // The redaction cannot be applied to this chunk's shape: fail closed.
                    return self.block(out);
                }
            }
            out.push_back(rewritten.unwrap_or(ev.raw));
        }
    }

    /// Replaces every string equal to a choice's full text with its redacted form.
    fn rewrite_summary(
        &self,
        data: &[u8],
        event: Option<&Bytes>,
        acc: &StreamAccumulator,
    ) -> Option<Bytes> {
        let redacted: Vec<(&str, String)> = acc
            .choices()
            .iter()
            .filter_map(|ch| {
                let st = self.state(ch.index)?;
                (!st.redactions.is_empty() && !ch.text.is_empty()).then(|| {
                    let all = redact_piece(&ch.text, 0..ch.text.len(), &st.redactions);
                    (ch.text.as_str(), all)
                })
            })
            .collect();
        if redacted.is_empty() {
            return None;
        }
        let mut v: Value = serde_json::from_slice(data).ok()?;
        if !replace_strings(&mut v, &redacted) {
            return None;
        }
        let json = serde_json::to_vec(&v).ok()?;
        Some(match event {
            Some(name) => typed_data_event(name, &json),
            None => data_event(&json),
        })
    }

    /// Rewrites the text of every listed choice in one chunk; None if any of them
    /// cannot be found or has no text field to rewrite.
    fn rewrite_event(
        &self,
        data: &[u8],
        event: Option<&Bytes>,
        pieces: &[(u32, String)],
    ) -> Option<Bytes> {
        let mut v: Value = serde_json::from_slice(data).ok()?;
        match self.endpoint {
            Endpoint::ChatCompletions | Endpoint::Completions => {
                let choices = v.get_mut("choices")?.as_array_mut()?;
                for (c, text) in pieces {
                    // The accumulator keys a choice by its `index`, or by position when absent.
                    let pos = choices
                        .iter()
                        .position(|ch| {
                            ch.get("index").and_then(Value::as_u64) == Some(u64::from(*c))
                        })
                        .or_else(|| {
                            let at = *c as usize;
                            choices
                                .get(at)
                                .filter(|ch| ch.get("index").is_none())
                                .map(|_| at)
                        })?;
                    let ch = &mut choices[pos];
                    let new = Value::String(text.clone());
                    if let Some(slot) = ch
                        .get_mut("delta")
                        .and_then(|d| d.get_mut("content"))
                        .filter(|x| x.is_string())
                    {
                        *slot = new;
                    } else if let Some(slot) = ch.get_mut("text").filter(|x| x.is_string()) {
                        *slot = new;
                    } else {
                        return None;
                    }
                    // Log-probabilities spell the original tokens out.
                    if ch.get("logprobs").is_some_and(|l| !l.is_null()) {
                        ch["logprobs"] = Value::Null;
                    }
                }
            }
            Endpoint::Responses => {
                let [(_, text)] = pieces else { return None };
                if !v.get("delta").is_some_and(Value::is_string) {
                    return None;
                }
                v["delta"] = Value::String(text.clone());
                if v.get("logprobs").is_some_and(|l| !l.is_null()) {
                    v["logprobs"] = Value::Null;
                }
            }
            Endpoint::Embeddings => return None,
        }
        let json = serde_json::to_vec(&v).ok()?;
        Some(match event {
            Some(name) => typed_data_event(name, &json),
            None => data_event(&json),
        })
    }

    fn block(&mut self, out: &mut VecDeque<Bytes>) {
        self.blocked = true;
        self.held.clear();
        let (id, model) = self.ids.clone().unwrap_or((Value::Null, Value::Null));
        let mut indices: Vec<u32> = self.choices.iter().map(|(k, _)| *k).collect();
        if indices.is_empty() {
            indices.push(0);
        }
        match self.endpoint {
            Endpoint::Responses => {
                let body = serde_json::json!({"type": "response.incomplete", "response": {"id": id, "model": model, "status": "incomplete", "incomplete_details": {"reason": "content_filter"}}});
                out.push_back(typed_data_event(
                    b"response.incomplete",
                    body.to_string().as_bytes(),
                ));
            }
            _ => {
                let object = if self.endpoint == Endpoint::Completions {
                    "text_completion"
                } else {
                    "chat.completion.chunk"
                };
                let choices: Vec<Value> = indices
                    .iter()
                    .map(|i| {
                        if self.endpoint == Endpoint::Completions {
                            serde_json::json!({"index": i, "text": "", "finish_reason": "content_filter"})
                        } else {
                            serde_json::json!({"index": i, "delta": {}, "finish_reason": "content_filter"})
                        }
                    })
                    .collect();
                let body = serde_json::json!({"id": id, "object": object, "created": 0, "model": model, "choices": choices});
                out.push_back(data_event(body.to_string().as_bytes()));
                out.push_back(Bytes::from_static(DONE_EVENT));
            }
        }
    }
}

fn text_of(acc: &StreamAccumulator, c: u32) -> &str {
    acc.choices()
        .iter()
        .find(|ch| ch.index == c)
        .map_or("", |ch| ch.text.as_str())
}

/// Largest char boundary <= i.
fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The text of `range` with every overlapping redaction applied: the replacement goes
/// where the redaction starts, the rest of the redacted text is dropped.
fn redact_piece(text: &str, range: Range<usize>, redactions: &[(Range<usize>, String)]) -> String {
    let mut out = String::new();
    let mut at = range.start;
    let mut rs: Vec<&(Range<usize>, String)> = redactions
        .iter()
        .filter(|(r, _)| r.start < range.end && range.start < r.end)
        .collect();
    rs.sort_by_key(|(r, _)| r.start);
    for (r, with) in rs {
        let s = r.start.max(at);
        out.push_str(text.get(at..s).unwrap_or(""));
        if r.start >= range.start {
            out.push_str(with);
        }
        at = r.end.min(range.end).max(at);
    }
    out.push_str(text.get(at..range.end).unwrap_or(""));
    out
}

/// Replaces, anywhere in `v`, strings equal to an original text; true if any was.
fn replace_strings(v: &mut Value, texts: &[(&str, String)]) -> bool {
    match v {
        Value::String(s) => match texts.iter().find(|(orig, _)| *orig == s.as_str()) {
            Some((_, new)) => {
                *s = new.clone();
                true
            }
            None => false,
        },
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |acc, i| replace_strings(i, texts) | acc),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |acc, i| replace_strings(i, texts) | acc),
        _ => false,
    }
}

fn ids_of(data: &[u8]) -> Option<(Value, Value)> {
    let v: Value = serde_json::from_slice(data).ok()?;
    let src = v.get("response").unwrap_or(&v);
    Some((
        src.get("id").cloned().unwrap_or(Value::Null),
        src.get("model").cloned().unwrap_or(Value::Null),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_piece_places_the_replacement_where_the_match_starts() {
        let text = "mail me at bob@example.com now";
        let reds = vec![(11..26, "[EMAIL]".to_owned())];
        // The match spans three events: "mail me at bo", "b@exam", "ple.com now".
        assert_eq!(redact_piece(text, 0..13, &reds), "mail me at [EMAIL]");
        assert_eq!(redact_piece(text, 13..19, &reds), "");
        assert_eq!(redact_piece(text, 19..30, &reds), " now");
    }
}
