//! The policy phases of the pipeline: `enforce_request` (prompts) and the output
//! side of `inspect_response` (non-streamed completions). Streams are guarded by
//! [`super::stream_guard`].

use bytes::Bytes;
use serde_json::Value;

use super::ctx::RequestCtx;
use super::error::ProxyError;
use super::openai::{self, Endpoint, Field, RequestTexts, TextSegment};
use super::scoring;
use crate::policy::eval::{apply_redactions, joins, newest_turn, Join};
use crate::policy::raw::Direction;
use crate::policy::{Decision, Policy, RequestInfo, Scores, Text, Verdict};

/// Evaluates the input rules; returns the body to forward (rewritten if redacted).
pub(crate) async fn enforce_request(
    ctx: &mut RequestCtx,
    policy: &Policy,
    texts: &RequestTexts,
    body: Bytes,
) -> Result<Bytes, ProxyError> {
    let turn = newest_turn(
        texts
            .segments
            .iter()
            .filter_map(|s| s.origin.message.map(|m| (m, s.origin.role))),
    );
    let mut inputs: Vec<Text<'_>> = texts
        .segments
        .iter()
        .map(|s| Text {
            text: &s.text,
            role: s.origin.role,
            // Tool definitions and instructions belong to every turn.
            latest: s.origin.message.is_none_or(|m| m >= turn),
            joined: false,
        })
        .collect();
    let message_index: Vec<usize> = texts
        .segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s.origin.message.is_some() && s.origin.field != Field::ToolDefinition)
        .map(|(i, _)| i)
        .collect();
    let message_texts: Vec<Text<'_>> = message_index.iter().map(|&i| inputs[i]).collect();
    let mut joined = joins(&message_texts);
    for j in &mut joined {
        for p in &mut j.parts {
            *p = message_index[*p];
        }
    }
    let first_join = inputs.len();
    inputs.extend(joined.iter().map(Join::as_text));
    let info = request_info(ctx, Direction::Input);
    let scores = scoring::score(ctx, policy, &info, &inputs, first_join, &joined).await;
    ctx.classify_time += scores.elapsed;
    let verdict = evaluate(ctx, policy, Direction::Input, &inputs, &scores);
    match verdict.decision {
        Decision::Block => Err(ProxyError::Blocked {
            rules: fired_ids(policy, &verdict),
            message: verdict.block_message.unwrap_or_default(),
        }),
        Decision::Redact => {
            let replacements = replacements(&texts.segments, &verdict);
            openai::rewrite(&body, &replacements)
                .map(Bytes::from)
                .map_err(|e| ProxyError::Internal(format!("redaction failed: {e}")))
        }
        Decision::Allow | Decision::Annotate => Ok(body),
    }
}

/// Evaluates the output rules on a non-streamed response; returns the body to send.
pub(crate) async fn enforce_response(
    ctx: &mut RequestCtx,
    policy: &Policy,
    endpoint: Endpoint,
    segments: &[TextSegment],
    body: Bytes,
) -> Bytes {
    let outputs: Vec<Text<'_>> = segments
        .iter()
        .map(|s| Text {
            text: &s.text,
            role: s.origin.role,
            latest: true,
            joined: false,
        })
        .collect();
    let info = request_info(ctx, Direction::Output);
    let scores = scoring::score(ctx, policy, &info, &outputs, outputs.len(), &[]).await;
    ctx.classify_time += scores.elapsed;
    let verdict = evaluate(ctx, policy, Direction::Output, &outputs, &scores);
    match verdict.decision {
        Decision::Block => {
            let message = verdict.block_message.unwrap_or_default();
            blocked_response(endpoint, &body, &message).unwrap_or(body)
        }
        Decision::Redact => {
            let replacements = replacements(segments, &verdict);
            match openai::rewrite(&body, &replacements) {
                Ok(new) => Bytes::from(drop_logprobs(new)),
                Err(_) => body,
            }
        }
        Decision::Allow | Decision::Annotate => body,
    }
}

/// Runs the policy and records the decision (context, metrics).
pub(crate) fn evaluate(
    ctx: &mut RequestCtx,
    policy: &Policy,
    direction: Direction,
    texts: &[Text<'_>],
    scores: &dyn Scores,
) -> Verdict {
    let info = request_info(ctx, direction);
    let verdict = policy.evaluate(&info, texts, scores);
    ctx.record_verdict(policy, direction, &verdict);
    verdict
}

/// Whether some output rule reads classifier scores of the assistant's text.
pub(crate) fn output_scored(ctx: &RequestCtx, policy: &Policy) -> bool {
    policy.uses_classifier
        && policy.scores_texts_of(
            &request_info(ctx, Direction::Output),
            openai::Role::Assistant,
            true,
        )
}

/// The request properties rules filter on.
pub(crate) fn request_info(ctx: &RequestCtx, direction: Direction) -> RequestInfo<'_> {
    RequestInfo {
        direction,
        route: ctx.route,
        model: ctx.model.as_deref(),
        tenant: ctx.tenant.as_deref(),
        opaque_inputs: if direction == Direction::Input {
            ctx.opaque_inputs
        } else {
            0
        },
        token_inputs: if direction == Direction::Input {
            ctx.token_inputs
        } else {
            0
        },
    }
}

fn fired_ids(policy: &Policy, v: &Verdict) -> Vec<String> {
    v.fired
        .iter()
        .map(|f| policy.rules[f.rule].id.clone())
        .collect()
}

/// `(span, rewritten text)` per segment that has redactions.
fn replacements(segments: &[TextSegment], v: &Verdict) -> Vec<(std::ops::Range<usize>, String)> {
    let mut out = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let mine: Vec<_> = v.redactions.iter().filter(|r| r.text == i).collect();
        if !mine.is_empty() {
            out.push((seg.span.clone(), apply_redactions(&seg.text, &mine)));
        }
    }
    out
}

/// Log-probabilities spell out the original tokens: a redacted completion loses them
/// (chat and completions choices; Responses output parts).
fn drop_logprobs(body: Vec<u8>) -> Vec<u8> {
    if memchr::memmem::find(&body, b"\"logprobs\"").is_none() {
        return body;
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let mut changed = false;
    null_logprobs(&mut v, &mut changed);
    match changed.then(|| serde_json::to_vec(&v)) {
        Some(Ok(out)) => out,
        _ => body,
    }
}

fn null_logprobs(v: &mut Value, changed: &mut bool) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let empty = child.is_null() || child.as_array().is_some_and(Vec::is_empty);
                if k == "logprobs" && !empty {
                    *child = Value::Null;
                    *changed = true;
                } else {
                    null_logprobs(child, changed);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| null_logprobs(i, changed)),
        _ => {}
    }
}

/// Rewrites a completion whose output is blocked: every choice's content becomes the
/// policy message and `finish_reason` is `content_filter` (Azure-compatible).
fn blocked_response(endpoint: Endpoint, body: &[u8], message: &str) -> Option<Bytes> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    match endpoint {
        Endpoint::ChatCompletions => {
            for c in v.get_mut("choices")?.as_array_mut()? {
                let msg = c.get_mut("message")?.as_object_mut()?;
                msg.insert("content".into(), Value::String(message.to_owned()));
                msg.remove("tool_calls");
                msg.remove("function_call");
                msg.remove("refusal");
                c["finish_reason"] = Value::String("content_filter".into());
            }
        }
        Endpoint::Completions => {
            for c in v.get_mut("choices")?.as_array_mut()? {
                c["text"] = Value::String(message.to_owned());
                c["finish_reason"] = Value::String("content_filter".into());
            }
        }
        Endpoint::Responses => {
            v["output"] = serde_json::json!([{
                "type": "message", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": message, "annotations": []}]
            }]);
            v["status"] = Value::String("incomplete".into());
            v["incomplete_details"] = serde_json::json!({"reason": "content_filter"});
        }
        Endpoint::Embeddings => return None,
    }
    serde_json::to_vec(&v).ok().map(Bytes::from)
}
