//! Borrowed serde shapes of the JSON objects Parapet reads.
//!
//! Unknown fields are ignored. Text fields are captured as raw values so
//! their span in the body is known; structural fields use the lenient
//! wrappers of [`super::de`] so type errors carry a path.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::de::{Obj, Scalar, Seq};

/// A raw JSON value borrowed from the body (`None` when absent or null).
pub(crate) type Raw<'a> = Option<&'a RawValue>;

/// A chat message (request `messages[]` or response `choices[].message`).
#[derive(Deserialize)]
pub(crate) struct Message<'a> {
    #[serde(borrow, default)]
    pub(crate) role: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub(crate) content: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) refusal: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) tool_calls: Option<Seq<Obj<ToolCall<'a>>>>,
    #[serde(borrow, default)]
    pub(crate) function_call: Option<Obj<FunctionCall<'a>>>,
    #[serde(borrow, default)]
    pub(crate) audio: Option<Obj<Audio<'a>>>,
}

/// `tool_calls[]` entry of an assistant message.
#[derive(Deserialize)]
pub(crate) struct ToolCall<'a> {
    #[serde(borrow, default)]
    pub(crate) function: Option<Obj<FunctionCall<'a>>>,
    #[serde(borrow, default)]
    pub(crate) custom: Option<Obj<CustomCall<'a>>>,
}

/// `function` of a tool call, or a legacy `function_call`.
#[derive(Deserialize)]
pub(crate) struct FunctionCall<'a> {
    #[serde(borrow, default)]
    pub(crate) arguments: Raw<'a>,
}

/// `custom` of a custom tool call.
#[derive(Deserialize)]
pub(crate) struct CustomCall<'a> {
    #[serde(borrow, default)]
    pub(crate) input: Raw<'a>,
}

/// Assistant `audio`: a reference in requests, a transcript in responses.
#[derive(Deserialize)]
pub(crate) struct Audio<'a> {
    #[serde(borrow, default)]
    pub(crate) transcript: Raw<'a>,
}

/// A content part (chat `content[]`, Responses `content[]`, `summary[]`, ...).
#[derive(Deserialize)]
pub(crate) struct Part<'a> {
    #[serde(borrow, default, rename = "type")]
    pub(crate) kind: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub(crate) text: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) refusal: Raw<'a>,
}

/// A tool or function definition: chat `tools[]` (nested `function` or
/// `custom`), legacy `functions[]`, and Responses `tools[]` (flat).
#[derive(Deserialize)]
pub(crate) struct Tool<'a> {
    #[serde(borrow, default)]
    pub(crate) function: Option<Obj<Definition<'a>>>,
    #[serde(borrow, default)]
    pub(crate) custom: Option<Obj<Definition<'a>>>,
    #[serde(borrow, default)]
    pub(crate) description: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) parameters: Raw<'a>,
}

/// The readable parts of a definition: a description and a JSON schema.
#[derive(Deserialize)]
pub(crate) struct Definition<'a> {
    #[serde(borrow, default)]
    pub(crate) description: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) parameters: Raw<'a>,
    /// `response_format.json_schema.schema` / Responses `text.format.schema`.
    #[serde(borrow, default)]
    pub(crate) schema: Raw<'a>,
    /// Chat `response_format.json_schema` (Responses puts it inline).
    #[serde(borrow, default)]
    pub(crate) json_schema: Option<Obj<Box<Definition<'a>>>>,
}

/// A Responses item (request `input[]`, response `output[]`).
#[derive(Deserialize)]
pub(crate) struct Item<'a> {
    #[serde(borrow, default, rename = "type")]
    pub(crate) kind: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub(crate) role: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub(crate) content: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) arguments: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) input: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) output: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) summary: Raw<'a>,
    #[serde(default)]
    pub(crate) encrypted_content: Option<IgnoredAny>,
}
