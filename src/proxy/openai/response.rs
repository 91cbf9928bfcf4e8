//! Non-streamed (complete JSON) response bodies.

use serde::Deserialize;

use super::collect::{ix, role, Sink};
use super::de::{Obj, Scalar, Seq};
use super::error::{parse_object, ExtractError};
use super::shapes::{Item, Message, Raw};
use super::{Endpoint, Field, Origin, Role, TextSegment};

type Result<T> = std::result::Result<T, ExtractError>;

#[derive(Deserialize)]
struct Completion<'a> {
    #[serde(borrow, default)]
    choices: Option<Seq<Obj<Choice<'a>>>>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    index: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    message: Option<Obj<Message<'a>>>,
    #[serde(borrow, default)]
    text: Raw<'a>,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow, default)]
    output: Option<Seq<Obj<Item<'a>>>>,
}

/// Extracts the model output of a complete 2xx JSON response body.
///
/// Chat: `choices[].message` content, refusal, tool-call arguments, audio
/// transcript. Completions: `choices[].text`. Responses: `output[]` message
/// text and refusals, function/custom tool-call arguments and reasoning
/// summaries, with `origin.choice` = output index. Embeddings: nothing (the
/// body is not parsed at all).
/// Segments are in body order and attributed to [`Role::Assistant`] unless
/// the message names another role.
pub fn extract_response(endpoint: Endpoint, body: &[u8]) -> Result<Vec<TextSegment>> {
    let mut sink = Sink::new(body);
    match endpoint {
        Endpoint::ChatCompletions | Endpoint::Completions => {
            choices(&mut sink, parse_object(body)?)?
        }
        Endpoint::Responses => output(&mut sink, parse_object(body)?)?,
        Endpoint::Embeddings => {}
    }
    Ok(sink.finish())
}

/// Reads an optional `index` field, falling back to the array position.
pub(crate) fn choice_index(
    index: &Option<Scalar>,
    pos: usize,
    path: &dyn Fn() -> String,
) -> Result<u32> {
    match index {
        None => Ok(ix(pos)),
        Some(i) => i.as_u32().ok_or_else(|| {
            ExtractError::invalid(format!("{}.index", path()), "a non-negative integer")
        }),
    }
}

fn choices(sink: &mut Sink, completion: Completion) -> Result<()> {
    let choices = match completion.choices {
        None => return Ok(()),
        Some(Seq::Wrong) => {
            return Err(ExtractError::invalid(
                "choices".into(),
                "an array of choices",
            ))
        }
        Some(Seq::Items(choices)) => choices,
    };
    for (pos, choice) in choices.into_iter().enumerate() {
        let path = || format!("choices[{pos}]");
        let Obj::Value(choice) = choice else {
            return Err(ExtractError::invalid(path(), "a choice object"));
        };
        let index = choice_index(&choice.index, pos, &path)?;
        let base = Origin {
            choice: Some(index),
            ..Origin::new(Role::Assistant, Field::Content)
        };
        sink.string(choice.text, base, &|| format!("{}.text", path()), false)?;
        match choice.message {
            Some(Obj::Value(m)) => {
                let message = || format!("{}.message", path());
                let role = role(&m.role, Role::Assistant, &|| format!("{}.role", message()))?;
                sink.message(m, Origin { role, ..base }, &message)?;
            }
            Some(Obj::Wrong) => {
                let p = format!("{}.message", path());
                return Err(ExtractError::invalid(p, "a message object"));
            }
            None => {}
        }
    }
    Ok(())
}

fn output(sink: &mut Sink, response: Response) -> Result<()> {
    let items = match response.output {
        None => return Ok(()),
        Some(Seq::Wrong) => return Err(ExtractError::invalid("output".into(), "an array")),
        Some(Seq::Items(items)) => items,
    };
    for (i, item) in items.into_iter().enumerate() {
        let path = || format!("output[{i}]");
        let Obj::Value(item) = item else {
            return Err(ExtractError::invalid(path(), "an output item object"));
        };
        let base = Origin {
            choice: Some(ix(i)),
            ..Origin::new(Role::Assistant, Field::Content)
        };
        sink.item(item, base, Role::Assistant, &path)?;
    }
    Ok(())
}
