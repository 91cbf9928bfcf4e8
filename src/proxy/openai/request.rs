//! Request bodies: one parse, every scannable text with its span.

use serde::Deserialize;

use super::collect::{ix, role, Sink};
use super::de::{Obj, Scalar, Seq};
use super::error::{parse_object, ExtractError};
use super::shapes::{Definition, Item, Message, Raw, Tool};
use super::{Endpoint, Field, Origin, RequestTexts, Role};

type Result<T> = std::result::Result<T, ExtractError>;

#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(borrow, default)]
    model: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    stream: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    n: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    messages: Option<Seq<Obj<Message<'a>>>>,
    #[serde(borrow, default)]
    tools: Option<Seq<Obj<Tool<'a>>>>,
    #[serde(borrow, default)]
    functions: Option<Seq<Obj<Tool<'a>>>>,
    #[serde(borrow, default)]
    response_format: Option<Obj<Definition<'a>>>,
    #[serde(borrow, default)]
    prediction: Option<Obj<Prediction<'a>>>,
}

/// Chat `prediction` (predicted output).
#[derive(Deserialize)]
struct Prediction<'a> {
    #[serde(borrow, default)]
    content: Raw<'a>,
}

/// Completions and embeddings requests.
#[derive(Deserialize)]
struct PromptRequest<'a> {
    #[serde(borrow, default)]
    model: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    stream: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    n: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    prompt: Raw<'a>,
    #[serde(borrow, default)]
    suffix: Raw<'a>,
    #[serde(borrow, default)]
    input: Raw<'a>,
}

#[derive(Deserialize)]
struct ResponsesRequest<'a> {
    #[serde(borrow, default)]
    model: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    stream: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    instructions: Raw<'a>,
    #[serde(borrow, default)]
    input: Raw<'a>,
    #[serde(borrow, default)]
    tools: Option<Seq<Obj<Tool<'a>>>>,
    #[serde(borrow, default)]
    text: Option<Obj<TextConfig<'a>>>,
    #[serde(default)]
    prompt: Option<serde::de::IgnoredAny>,
}

/// Responses `text` configuration.
#[derive(Deserialize)]
struct TextConfig<'a> {
    #[serde(borrow, default)]
    format: Option<Obj<Definition<'a>>>,
}

/// Parses a request body once and returns every text a policy must scan.
///
/// Unknown fields are ignored; scanned fields with a wrong type yield
/// [`ExtractError::InvalidField`]. Segments are in body order.
pub fn extract_request(endpoint: Endpoint, body: &[u8]) -> Result<RequestTexts> {
    let mut sink = Sink::new(body);
    let (model, stream, n) = match endpoint {
        Endpoint::ChatCompletions => chat(&mut sink, parse_object(body)?)?,
        Endpoint::Completions | Endpoint::Embeddings => {
            prompt(&mut sink, endpoint, parse_object(body)?)?
        }
        Endpoint::Responses => responses(&mut sink, parse_object(body)?)?,
    };
    let opaque_inputs = sink.opaque;
    let token_inputs = sink.tokens;
    Ok(RequestTexts {
        model,
        stream,
        n,
        segments: sink.finish(),
        opaque_inputs,
        token_inputs,
    })
}

type Header = (Option<String>, bool, u32);

/// Reads `model`, `stream` and `n`, which steer how Parapet proxies.
fn header(model: Option<Scalar>, stream: Option<Scalar>, n: Option<Scalar>) -> Result<Header> {
    let model = match model {
        None => None,
        Some(Scalar::Str(s)) => Some(s.into_owned()),
        Some(_) => return Err(ExtractError::invalid("model".into(), "a string")),
    };
    let stream = match stream {
        None => false,
        Some(Scalar::Bool(b)) => b,
        Some(_) => return Err(ExtractError::invalid("stream".into(), "a boolean")),
    };
    let n = match n {
        None => 1,
        Some(n) => n
            .as_u32()
            .ok_or_else(|| ExtractError::invalid("n".into(), "a non-negative integer"))?,
    };
    Ok((model, stream, n))
}

fn chat(sink: &mut Sink, req: ChatRequest) -> Result<Header> {
    let header = header(req.model, req.stream, req.n)?;
    match req.messages {
        None => {}
        Some(Seq::Wrong) => {
            return Err(ExtractError::invalid(
                "messages".into(),
                "an array of messages",
            ))
        }
        Some(Seq::Items(messages)) => {
            for (i, m) in messages.into_iter().enumerate() {
                let path = || format!("messages[{i}]");
                let Obj::Value(m) = m else {
                    return Err(ExtractError::invalid(path(), "a message object"));
                };
                let role = role(&m.role, Role::Other, &|| format!("{}.role", path()))?;
                let base = Origin {
                    message: Some(ix(i)),
                    ..Origin::new(role, Field::Content)
                };
                sink.message(m, base, &path)?;
            }
        }
    }
    sink.tools(req.tools, "tools")?;
    sink.tools(req.functions, "functions")?;
    let schema = Origin::new(Role::System, Field::ToolDefinition);
    match req.response_format {
        Some(Obj::Value(format)) => {
            sink.definition(&format, schema, &|| "response_format".into())?
        }
        Some(Obj::Wrong) => {
            return Err(ExtractError::invalid("response_format".into(), "an object"))
        }
        None => {}
    }
    match req.prediction {
        Some(Obj::Value(p)) => {
            let origin = Origin::new(Role::Assistant, Field::Content);
            sink.content(p.content, origin, &|| "prediction.content".into())?
        }
        Some(Obj::Wrong) => return Err(ExtractError::invalid("prediction".into(), "an object")),
        None => {}
    }
    Ok(header)
}

fn prompt(sink: &mut Sink, endpoint: Endpoint, req: PromptRequest) -> Result<Header> {
    if endpoint == Endpoint::Embeddings {
        let (model, _, _) = header(req.model, None, None)?;
        let origin = Origin::new(Role::User, Field::Input);
        sink.prompt(req.input, origin, &|| "input".into())?;
        return Ok((model, false, 1));
    }
    let header = header(req.model, req.stream, req.n)?;
    let origin = Origin::new(Role::User, Field::Prompt);
    sink.prompt(req.prompt, origin, &|| "prompt".into())?;
    sink.string(req.suffix, origin, &|| "suffix".into(), false)?;
    Ok(header)
}

fn responses(sink: &mut Sink, req: ResponsesRequest) -> Result<Header> {
    let (model, stream, _) = header(req.model, req.stream, None)?;
    let origin = Origin::new(Role::System, Field::Instructions);
    sink.string(req.instructions, origin, &|| "instructions".into(), false)?;
    if let Some(input) = req.input {
        match super::collect::first(input) {
            b'"' => {
                let origin = Origin::new(Role::User, Field::Input);
                sink.string(Some(input), origin, &|| "input".into(), true)?
            }
            b'[' => input_items(sink, input)?,
            _ => {
                let expected = "a string or an array of input items";
                return Err(ExtractError::invalid("input".into(), expected));
            }
        }
    }
    sink.tools(req.tools, "tools")?;
    match req.text {
        Some(Obj::Value(TextConfig {
            format: Some(Obj::Value(format)),
        })) => {
            let origin = Origin::new(Role::System, Field::ToolDefinition);
            sink.definition(&format, origin, &|| "text.format".into())?
        }
        Some(Obj::Value(TextConfig {
            format: Some(Obj::Wrong),
        })) => return Err(ExtractError::invalid("text.format".into(), "an object")),
        Some(Obj::Wrong) => return Err(ExtractError::invalid("text".into(), "an object")),
        _ => {}
    }
    if req.prompt.is_some() {
        // A stored prompt template: its text lives upstream.
        sink.opaque();
    }
    Ok((model, stream, 1))
}

fn input_items(sink: &mut Sink, input: &serde_json::value::RawValue) -> Result<()> {
    let items = match super::error::reparse::<Seq<Obj<Item>>>(sink.body(), input)? {
        Seq::Items(items) => items,
        Seq::Wrong => return Err(ExtractError::invalid("input".into(), "an array")),
    };
    for (i, item) in items.into_iter().enumerate() {
        let path = || format!("input[{i}]");
        let Obj::Value(item) = item else {
            return Err(ExtractError::invalid(path(), "an input item object"));
        };
        let base = Origin {
            message: Some(ix(i)),
            ..Origin::new(Role::Other, Field::Content)
        };
        sink.item(item, base, Role::Other, &path)?;
    }
    Ok(())
}
