//! Text extraction and in-place rewriting for OpenAI-compatible JSON bodies.
//!
//! Parapet parses every request body exactly once with borrowed serde structs
//! and collects each piece of text a guardrail policy must scan as a
//! [`TextSegment`]: the decoded text, where it came from ([`Origin`]) and the
//! byte span of its JSON string literal in the body. Unknown fields are
//! skipped; fields that are scanned are type-checked strictly, so nothing the
//! upstream would read can slip past unscanned.
//!
//! When a policy redacts, [`rewrite`] splices new, correctly escaped string
//! literals into the original bytes at those spans; every other byte (key
//! order, unknown fields, whitespace) stays identical. When nothing is
//! rewritten the original body is forwarded as is.
//!
//! Responses are covered by [`extract_response`] (complete JSON bodies) and
//! [`StreamAccumulator`] (server-sent event chunks).
//!
//! What is scanned, per [`Endpoint`]:
//! - chat completions: every message `content` (string or text/refusal
//!   parts), `refusal`, assistant `tool_calls[].function.arguments` (and
//!   custom tool `input`), legacy `function_call.arguments`; `tools[]` and
//!   legacy `functions[]` descriptions plus every string value inside their
//!   `parameters` schema; `response_format.json_schema` likewise;
//!   `prediction.content`.
//! - completions: `prompt` (string or array of strings) and `suffix`.
//! - embeddings: `input` (string or array of strings).
//! - responses: `instructions`, `input` (string or items: messages,
//!   function/custom tool calls and their outputs, reasoning summaries),
//!   function/custom `tools`, `text.format` JSON schema.
//!
//! Inputs that cannot be read as text are counted in
//! [`RequestTexts::opaque_inputs`]: token-id arrays, image/audio/file (and any
//! unknown) content parts (an unknown part's `text`, if any, is still
//! scanned), assistant `audio` references, Responses items of other or
//! unknown types (item references, built-in tool calls, MCP items, ...),
//! encrypted reasoning and stored `prompt` templates.
//!
//! Not scanned: identifiers (`model`, message and tool `name`s, ids),
//! `metadata`, and object keys inside schemas (property names), although
//! every string value inside a schema is.
//!
//! Duplicate keys among the fields Parapet reads are rejected as invalid
//! JSON, so an upstream that keeps the last duplicate cannot be fed text that
//! was not scanned. Strings with lone UTF-16 surrogate escapes are rejected
//! likewise.

mod collect;
mod de;
mod error;
mod items;
mod request;
mod response;
mod rewrite;
mod shapes;
mod stream;
mod stream_responses;

#[cfg(test)]
mod tests_chat;
#[cfg(test)]
mod tests_request;
#[cfg(test)]
mod tests_response;
#[cfg(test)]
mod tests_rewrite;
#[cfg(test)]
mod tests_stream;

use std::ops::Range;

pub use error::ExtractError;
pub use request::extract_request;
pub use response::extract_response;
pub use rewrite::rewrite;
pub use stream::{ChoiceText, ChunkDelta, StreamAccumulator, ToolCallText};

/// The OpenAI-compatible API a body belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`
    ChatCompletions,
    /// `POST /v1/completions` (legacy text completions)
    Completions,
    /// `POST /v1/embeddings`
    Embeddings,
    /// `POST /v1/responses`
    Responses,
}

impl Endpoint {
    /// Maps a request path such as `/v1/chat/completions` (any prefix, no
    /// query string, trailing slash tolerated) to its endpoint.
    pub fn from_path(path: &str) -> Option<Self> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let last = |suffix: &str| {
            path.strip_suffix(suffix)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with('/'))
        };
        if last("chat/completions") {
            Some(Endpoint::ChatCompletions)
        } else if last("completions") {
            Some(Endpoint::Completions)
        } else if last("embeddings") {
            Some(Endpoint::Embeddings)
        } else if last("responses") {
            Some(Endpoint::Responses)
        } else {
            None
        }
    }

    /// A short stable name for logs and metrics, e.g. `"chat_completions"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat_completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Responses => "responses",
        }
    }
}

/// Who a text is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `system` messages, Responses `instructions` and tool/schema definitions.
    System,
    /// `developer` messages.
    Developer,
    /// `user` messages, prompts and embeddings inputs.
    User,
    /// `assistant` messages, tool calls and all model output.
    Assistant,
    /// `tool` messages and Responses tool-call outputs.
    Tool,
    /// Legacy `function` messages.
    Function,
    /// Any other or missing role; still scanned.
    Other,
}

impl Role {
    /// Maps an API role name; unknown names become [`Role::Other`].
    pub fn from_name(name: &str) -> Self {
        match name {
            "system" => Role::System,
            "developer" => Role::Developer,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            "function" => Role::Function,
            _ => Role::Other,
        }
    }

    /// The API name of the role (`"other"` for [`Role::Other`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Function => "function",
            Role::Other => "other",
        }
    }
}

/// Which kind of field a text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Message content (string or text part), completion text, output text.
    Content,
    /// JSON-encoded tool-call arguments (or custom tool input).
    ToolArguments,
    /// Tool descriptions and string values of tool/response-format schemas.
    ToolDefinition,
    /// Responses `instructions`.
    Instructions,
    /// Completions `prompt` and `suffix`.
    Prompt,
    /// Embeddings `input` and a plain-string Responses `input`.
    Input,
    /// Refusal text (`refusal` fields and refusal parts).
    Refusal,
    /// Responses tool-call outputs (`function_call_output.output`).
    Output,
}

impl Field {
    /// A short stable name for logs, e.g. `"tool_arguments"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Content => "content",
            Field::ToolArguments => "tool_arguments",
            Field::ToolDefinition => "tool_definition",
            Field::Instructions => "instructions",
            Field::Prompt => "prompt",
            Field::Input => "input",
            Field::Refusal => "refusal",
            Field::Output => "output",
        }
    }
}

/// Where a [`TextSegment`] came from. Indices are positions in the JSON arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Attributed role.
    pub role: Role,
    /// Kind of field.
    pub field: Field,
    /// Index in `messages`, Responses `input` items, or the `prompt`/`input`
    /// array of strings.
    pub message: Option<u32>,
    /// Index of the content part inside the message or item.
    pub part: Option<u32>,
    /// Index in `tool_calls`, or in `tools`/`functions` for definitions.
    pub tool_call: Option<u32>,
    /// Response choice index (chat/completions) or Responses `output` index.
    pub choice: Option<u32>,
}

impl Origin {
    /// An origin with every index unset.
    pub fn new(role: Role, field: Field) -> Self {
        Origin {
            role,
            field,
            message: None,
            part: None,
            tool_call: None,
            choice: None,
        }
    }
}

/// One piece of text to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextSegment {
    /// Where the text came from.
    pub origin: Origin,
    /// The decoded text.
    pub text: String,
    /// Byte range of the JSON string literal (with quotes) in the body it came from.
    pub span: Range<usize>,
}

/// Everything Parapet needs from a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTexts {
    /// The `model` field, if present.
    pub model: Option<String>,
    /// The `stream` field (false when absent).
    pub stream: bool,
    /// The `n` field (1 when absent; always 1 for embeddings and Responses).
    pub n: u32,
    /// Every text to scan, in document order.
    pub segments: Vec<TextSegment>,
    /// Inputs that cannot be scanned as text (token-id arrays,
    /// audio/image/file parts, ...), counted so a policy can fail closed.
    pub opaque_inputs: u32,
    /// Of `opaque_inputs`, the token-id arrays (prompts written as token ids).
    pub token_inputs: u32,
}
