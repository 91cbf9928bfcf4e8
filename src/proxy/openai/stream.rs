//! Accumulating the text of a streamed (server-sent events) response.

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::de::{Obj, Scalar, Seq};
use super::error::{parse_object, ExtractError};
use super::response::choice_index;
use super::Endpoint;

type Result<T> = std::result::Result<T, ExtractError>;

/// Text accumulated so far for one choice (or Responses output item).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChoiceText {
    /// Choice index (chat/completions) or Responses `output_index`.
    pub index: u32,
    /// Content text: chat `delta.content`, completions `text`, Responses
    /// `output_text` deltas.
    pub text: String,
    /// Tool calls in index order (Responses: one call, index 0, per item).
    pub tool_calls: Vec<ToolCallText>,
    /// The finish reason once sent (Responses: the final response status).
    pub finish_reason: Option<String>,
    /// Refusal text.
    pub refusal: String,
}

/// One tool call being streamed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallText {
    /// Tool-call index within the choice (legacy `function_call`: 0).
    pub index: u32,
    /// Call id, from the first chunk that carries one.
    pub id: Option<String>,
    /// Function name (concatenated if sent in pieces).
    pub name: String,
    /// JSON-encoded arguments accumulated so far.
    pub arguments: String,
}

/// What one chunk changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkDelta {
    /// Choices whose `text` grew, with the number of bytes appended (so a
    /// matcher can scan only the new text plus an overlap).
    pub appended: Vec<(u32, usize)>,
    /// Choices whose `refusal` grew, with the number of bytes appended.
    pub refusal_appended: Vec<(u32, usize)>,
    /// `(choice, tool-call index, bytes)` for tool-call arguments that grew.
    pub tool_arguments_appended: Vec<(u32, u32, usize)>,
    /// A finish reason was sent or the Responses stream ended.
    pub finished: bool,
    /// The chunk carried usage (`stream_options.include_usage`).
    pub usage: bool,
    /// The chunk is an error (`{"error": ...}`, Responses `error` or `response.failed`).
    pub error: bool,
}

/// Accumulates one response stream, chunk by chunk.
#[derive(Debug, Clone)]
pub struct StreamAccumulator {
    endpoint: Endpoint,
    choices: Vec<ChoiceText>,
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    choices: Option<Seq<Obj<ChunkChoice<'a>>>>,
    #[serde(default)]
    usage: Option<IgnoredAny>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(borrow, default)]
    index: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    delta: Option<Obj<Delta<'a>>>,
    #[serde(borrow, default)]
    text: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    refusal: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    tool_calls: Option<Seq<Obj<ToolCallDelta<'a>>>>,
    #[serde(borrow, default)]
    function_call: Option<Obj<FunctionDelta<'a>>>,
}

#[derive(Deserialize)]
struct ToolCallDelta<'a> {
    #[serde(borrow, default)]
    index: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    function: Option<Obj<FunctionDelta<'a>>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(borrow, default)]
    name: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    arguments: Option<Scalar<'a>>,
}

/// A string-or-null field of a chunk.
pub(crate) fn text<'s>(value: &'s Option<Scalar>, path: &dyn Fn() -> String) -> Result<&'s str> {
    match value {
        None => Ok(""),
        Some(s) => s
            .as_str()
            .ok_or_else(|| ExtractError::invalid(path(), "a string or null")),
    }
}

/// Adds `n` bytes for `key` to a per-key tally, skipping zeros.
pub(crate) fn tally<K: PartialEq>(list: &mut Vec<(K, usize)>, key: K, n: usize) {
    if n == 0 {
        return;
    }
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, total)) => *total += n,
        None => list.push((key, n)),
    }
}

impl StreamAccumulator {
    /// A new accumulator for a stream of `endpoint` responses.
    pub fn new(endpoint: Endpoint) -> Self {
        StreamAccumulator {
            endpoint,
            choices: Vec::new(),
        }
    }

    /// Feeds one SSE event's data payload (the caller filters out `[DONE]`).
    ///
    /// Chat and completions chunks (and embeddings, which do not stream)
    /// are read as `choices[]`; Responses events by their `type`, unknown
    /// event types being ignored. On error the chunk may have been partly
    /// applied: treat the stream as broken.
    pub fn push(&mut self, data: &[u8]) -> Result<ChunkDelta> {
        self.push_event(None, data)
    }

    /// Like [`push`](Self::push), with the SSE `event` name, which Responses
    /// streams also send; it is used only when the data has no `type`.
    pub fn push_event(&mut self, event: Option<&str>, data: &[u8]) -> Result<ChunkDelta> {
        match self.endpoint {
            Endpoint::Responses => self.push_responses(event, data),
            _ => self.push_chunk(data),
        }
    }

    /// Accumulated text so far per choice, in choice order.
    pub fn choices(&self) -> &[ChoiceText] {
        &self.choices
    }

    pub(crate) fn choices_mut(&mut self) -> &mut [ChoiceText] {
        &mut self.choices
    }

    /// The accumulated choice with this index, created on first use.
    pub(crate) fn choice_mut(&mut self, index: u32) -> &mut ChoiceText {
        let pos = match self.choices.binary_search_by_key(&index, |c| c.index) {
            Ok(pos) => pos,
            Err(pos) => {
                let choice = ChoiceText {
                    index,
                    ..ChoiceText::default()
                };
                self.choices.insert(pos, choice);
                pos
            }
        };
        &mut self.choices[pos]
    }

    fn push_chunk(&mut self, data: &[u8]) -> Result<ChunkDelta> {
        let chunk: Chunk = parse_object(data)?;
        let mut delta = ChunkDelta {
            usage: chunk.usage.is_some(),
            error: chunk.error.is_some(),
            ..ChunkDelta::default()
        };
        let choices = match chunk.choices {
            None => return Ok(delta),
            Some(Seq::Wrong) => {
                return Err(ExtractError::invalid(
                    "choices".into(),
                    "an array of choices",
                ))
            }
            Some(Seq::Items(choices)) => choices,
        };
        for (pos, c) in choices.into_iter().enumerate() {
            let path = || format!("choices[{pos}]");
            let Obj::Value(c) = c else {
                return Err(ExtractError::invalid(path(), "a choice object"));
            };
            let index = choice_index(&c.index, pos, &path)?;
            let added = text(&c.text, &|| format!("{}.text", path()))?;
            let finish = text(&c.finish_reason, &|| format!("{}.finish_reason", path()))?;
            let choice = self.choice_mut(index);
            choice.text.push_str(added);
            tally(&mut delta.appended, index, added.len());
            if c.finish_reason.is_some() {
                choice.finish_reason = Some(finish.to_owned());
                delta.finished = true;
            }
            match c.delta {
                Some(Obj::Value(d)) => apply_delta(choice, d, &mut delta, &path)?,
                Some(Obj::Wrong) => {
                    let p = format!("{}.delta", path());
                    return Err(ExtractError::invalid(p, "an object"));
                }
                None => {}
            }
        }
        Ok(delta)
    }
}

/// Applies a chat `delta` to its choice and records what grew.
fn apply_delta(
    choice: &mut ChoiceText,
    d: Delta,
    out: &mut ChunkDelta,
    path: &dyn Fn() -> String,
) -> Result<()> {
    let at = |f: &'static str| move || format!("{}.delta.{f}", path());
    let content = text(&d.content, &at("content"))?;
    let refusal = text(&d.refusal, &at("refusal"))?;
    choice.text.push_str(content);
    choice.refusal.push_str(refusal);
    tally(&mut out.appended, choice.index, content.len());
    tally(&mut out.refusal_appended, choice.index, refusal.len());
    let calls = match d.tool_calls {
        None => Vec::new(),
        Some(Seq::Items(calls)) => calls,
        Some(Seq::Wrong) => {
            return Err(ExtractError::invalid(
                at("tool_calls")(),
                "an array of tool calls",
            ))
        }
    };
    for (k, call) in calls.into_iter().enumerate() {
        let p = || format!("{}.delta.tool_calls[{k}]", path());
        let Obj::Value(call) = call else {
            return Err(ExtractError::invalid(p(), "a tool call object"));
        };
        let slot = choice_index(&call.index, k, &p)?;
        let id = text(&call.id, &|| format!("{}.id", p()))?;
        let f = match call.function {
            None => None,
            Some(Obj::Value(f)) => Some(f),
            Some(Obj::Wrong) => {
                return Err(ExtractError::invalid(
                    format!("{}.function", p()),
                    "an object",
                ))
            }
        };
        let n = apply_call(choice, slot, id, f.as_ref(), &|| {
            format!("{}.function", p())
        })?;
        record_arguments(out, choice.index, slot, n);
    }
    match d.function_call {
        None => {}
        Some(Obj::Value(f)) => {
            let n = apply_call(choice, 0, "", Some(&f), &at("function_call"))?;
            record_arguments(out, choice.index, 0, n);
        }
        Some(Obj::Wrong) => return Err(ExtractError::invalid(at("function_call")(), "an object")),
    }
    Ok(())
}

/// Records `n` argument bytes appended to a tool call.
pub(crate) fn record_arguments(out: &mut ChunkDelta, choice: u32, slot: u32, n: usize) {
    if n == 0 {
        return;
    }
    let list = &mut out.tool_arguments_appended;
    match list.iter_mut().find(|(c, s, _)| (*c, *s) == (choice, slot)) {
        Some((_, _, total)) => *total += n,
        None => list.push((choice, slot, n)),
    }
}

/// Applies one tool-call delta; returns the bytes of arguments appended.
fn apply_call(
    choice: &mut ChoiceText,
    slot: u32,
    id: &str,
    f: Option<&FunctionDelta>,
    path: &dyn Fn() -> String,
) -> Result<usize> {
    let (name, args) = match f {
        Some(f) => (
            text(&f.name, &|| format!("{}.name", path()))?,
            text(&f.arguments, &|| format!("{}.arguments", path()))?,
        ),
        None => ("", ""),
    };
    let call = tool_call_mut(choice, slot);
    if call.id.is_none() && !id.is_empty() {
        call.id = Some(id.to_owned());
    }
    call.name.push_str(name);
    call.arguments.push_str(args);
    Ok(args.len())
}

/// The tool call with this index, created on first use.
pub(crate) fn tool_call_mut(choice: &mut ChoiceText, slot: u32) -> &mut ToolCallText {
    let pos = match choice.tool_calls.binary_search_by_key(&slot, |c| c.index) {
        Ok(pos) => pos,
        Err(pos) => {
            let call = ToolCallText {
                index: slot,
                ..ToolCallText::default()
            };
            choice.tool_calls.insert(pos, call);
            pos
        }
    };
    &mut choice.tool_calls[pos]
}
