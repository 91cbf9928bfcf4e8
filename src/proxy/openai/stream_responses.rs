//! Responses API stream events.

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::de::{Obj, Scalar};
use super::error::{parse_object, ExtractError};
use super::stream::{record_arguments, tally, text, tool_call_mut, ChunkDelta, StreamAccumulator};

type Result<T> = std::result::Result<T, ExtractError>;

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    output_index: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    delta: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    item: Option<Obj<EventItem<'a>>>,
    #[serde(borrow, default)]
    response: Option<Obj<EventResponse<'a>>>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

/// `item` of `response.output_item.added`.
#[derive(Deserialize)]
struct EventItem<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    call_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    name: Option<Scalar<'a>>,
}

/// `response` of the terminal events.
#[derive(Deserialize)]
struct EventResponse<'a> {
    #[serde(borrow, default)]
    status: Option<Scalar<'a>>,
    #[serde(default)]
    usage: Option<IgnoredAny>,
}

impl StreamAccumulator {
    pub(crate) fn push_responses(
        &mut self,
        event: Option<&str>,
        data: &[u8],
    ) -> Result<ChunkDelta> {
        let ev: Event = parse_object(data)?;
        let mut out = ChunkDelta {
            error: ev.error.is_some(),
            ..ChunkDelta::default()
        };
        let kind = match &ev.kind {
            None => event.unwrap_or(""),
            Some(kind) => kind
                .as_str()
                .ok_or_else(|| ExtractError::invalid("type".into(), "a string"))?,
        };
        let index = || {
            let index = ev.output_index.as_ref().and_then(Scalar::as_u32);
            index.ok_or_else(|| {
                ExtractError::invalid("output_index".into(), "a non-negative integer")
            })
        };
        let delta = || match &ev.delta {
            Some(Scalar::Str(s)) => Ok(&**s),
            _ => Err(ExtractError::invalid("delta".into(), "a string")),
        };
        match kind {
            "response.output_text.delta" => {
                let (index, delta) = (index()?, delta()?);
                self.choice_mut(index).text.push_str(delta);
                tally(&mut out.appended, index, delta.len());
            }
            "response.refusal.delta" => {
                let (index, delta) = (index()?, delta()?);
                self.choice_mut(index).refusal.push_str(delta);
                tally(&mut out.refusal_appended, index, delta.len());
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                let (index, delta) = (index()?, delta()?);
                let call = tool_call_mut(self.choice_mut(index), 0);
                call.arguments.push_str(delta);
                record_arguments(&mut out, index, 0, delta.len());
            }
            "response.output_item.added" => {
                let Some(Obj::Value(item)) = &ev.item else {
                    return Err(ExtractError::invalid("item".into(), "an object"));
                };
                let kind = item.kind.as_ref().and_then(Scalar::as_str);
                if matches!(kind, Some("function_call" | "custom_tool_call")) {
                    let id = text(&item.call_id, &|| "item.call_id".into())?;
                    let name = text(&item.name, &|| "item.name".into())?;
                    let call = tool_call_mut(self.choice_mut(index()?), 0);
                    if call.id.is_none() && !id.is_empty() {
                        call.id = Some(id.to_owned());
                    }
                    call.name.push_str(name);
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                out.finished = true;
                out.error |= kind == "response.failed";
                let mut status = kind.trim_start_matches("response.");
                if let Some(Obj::Value(response)) = &ev.response {
                    out.usage = response.usage.is_some();
                    status = response
                        .status
                        .as_ref()
                        .and_then(Scalar::as_str)
                        .unwrap_or(status);
                }
                for choice in self.choices_mut() {
                    choice
                        .finish_reason
                        .get_or_insert_with(|| status.to_owned());
                }
            }
            "error" => out.error = true,
            _ => {}
        }
        Ok(out)
    }
}
