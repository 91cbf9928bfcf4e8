//! The segment collector shared by request and response extraction.

use serde_json::value::RawValue;

use super::de::{Obj, Scalar, Seq};
use super::error::{json_error_in, reparse, ExtractError};
use super::shapes::{Definition, Message, Part, Raw, Tool};
use super::{Field, Origin, Role, TextSegment};

type Result<T> = std::result::Result<T, ExtractError>;

/// Lazily built JSON path, used only when reporting an error.
pub(crate) type Path<'p> = &'p dyn Fn() -> String;

/// Saturating conversion of an array position to an index.
pub(crate) fn ix(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// First byte of a raw value (raw values carry no surrounding whitespace).
pub(crate) fn first(raw: &RawValue) -> u8 {
    raw.get()
        .bytes()
        .find(|b| !b.is_ascii_whitespace())
        .unwrap_or(b' ')
}

/// Decodes a JSON string literal (quotes included).
fn decode(literal: &str) -> serde_json::Result<String> {
    match literal.as_bytes() {
        [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => {
            Ok(literal[1..literal.len() - 1].to_owned())
        }
        // Escapes; fails on lone surrogates (`"\ud800"`), which a Rust
        // string cannot hold: such a body is rejected.
        _ => serde_json::from_str(literal),
    }
}

/// Reads a role, `default` when absent.
pub(crate) fn role(role: &Option<Scalar>, default: Role, path: Path) -> Result<Role> {
    match role {
        None => Ok(default),
        Some(s) => s
            .as_str()
            .map(Role::from_name)
            .ok_or_else(|| ExtractError::invalid(path(), "a string")),
    }
}

/// Collects segments and the opaque-input count for one body.
pub(crate) struct Sink<'b> {
    body: &'b [u8],
    pub(crate) segments: Vec<TextSegment>,
    pub(crate) opaque: u32,
    /// Of which token-id arrays.
    pub(crate) tokens: u32,
}

impl<'b> Sink<'b> {
    pub(crate) fn new(body: &'b [u8]) -> Self {
        Sink {
            body,
            segments: Vec::with_capacity(8),
            opaque: 0,
            tokens: 0,
        }
    }

    pub(crate) fn body(&self) -> &'b [u8] {
        self.body
    }

    pub(crate) fn token_ids(&mut self) {
        self.tokens = self.tokens.saturating_add(1);
        self.opaque();
    }

    /// Counts one input Parapet cannot read as text.
    pub(crate) fn opaque(&mut self) {
        self.opaque = self.opaque.saturating_add(1);
    }

    /// Segments sorted in body order (spans of one body never overlap).
    pub(crate) fn finish(mut self) -> Vec<TextSegment> {
        self.segments.sort_by_key(|s| s.span.start);
        self.segments
    }

    /// Records a string literal borrowed from the body.
    fn push(&mut self, literal: &str, origin: Origin) -> Result<()> {
        let start = (literal.as_ptr() as usize)
            .checked_sub(self.body.as_ptr() as usize)
            .filter(|&s| s + literal.len() <= self.body.len())
            .ok_or_else(|| ExtractError::Json {
                line: 0,
                column: 0,
                message: "internal error: text outside the body".into(),
            })?;
        self.segments.push(TextSegment {
            origin,
            text: decode(literal).map_err(|e| json_error_in(self.body, start, &e))?,
            span: start..start + literal.len(),
        });
        Ok(())
    }

    /// A field that must be a string (or null/absent unless `required`).
    pub(crate) fn string(
        &mut self,
        raw: Raw,
        origin: Origin,
        path: Path,
        required: bool,
    ) -> Result<()> {
        match raw {
            Some(raw) if first(raw) == b'"' => self.push(raw.get(), origin),
            None if !required => Ok(()),
            _ => Err(ExtractError::invalid(path(), "a string")),
        }
    }

    /// A content field: string, array of content parts, or null.
    pub(crate) fn content(&mut self, raw: Raw, origin: Origin, path: Path) -> Result<()> {
        let Some(raw) = raw else { return Ok(()) };
        match first(raw) {
            b'"' => self.push(raw.get(), origin),
            b'[' => self.parts(raw, origin, path),
            _ => Err(ExtractError::invalid(
                path(),
                "a string, an array of content parts or null",
            )),
        }
    }

    /// An array of content parts; `origin.part` is set per part.
    pub(crate) fn parts(&mut self, raw: &RawValue, origin: Origin, path: Path) -> Result<()> {
        let Seq::Items(parts) = reparse::<Seq<Obj<Part>>>(self.body, raw)? else {
            return Err(ExtractError::invalid(path(), "an array of content parts"));
        };
        for (j, part) in parts.into_iter().enumerate() {
            let at = || format!("{}[{j}]", path());
            let Obj::Value(part) = part else {
                return Err(ExtractError::invalid(at(), "a content part object"));
            };
            let kind = part.kind.as_ref().and_then(Scalar::as_str);
            let origin = Origin {
                part: Some(ix(j)),
                ..origin
            };
            match kind {
                Some("text" | "input_text" | "output_text" | "summary_text" | "reasoning_text") => {
                    self.string(part.text, origin, &|| format!("{}.text", at()), true)?
                }
                Some("refusal") => {
                    let origin = Origin {
                        field: Field::Refusal,
                        ..origin
                    };
                    self.string(part.refusal, origin, &|| format!("{}.refusal", at()), true)?
                }
                Some(_) => {
                    // Unknown part types are opaque, but any text they carry is scanned.
                    self.opaque();
                    if part.text.is_some_and(|t| first(t) == b'"') {
                        self.string(part.text, origin, &at, true)?
                    }
                }
                None => return Err(ExtractError::invalid(format!("{}.type", at()), "a string")),
            }
        }
        Ok(())
    }

    /// A chat message: content, refusal, tool calls, function call, audio.
    pub(crate) fn message(&mut self, m: Message, base: Origin, path: Path) -> Result<()> {
        self.content(m.content, base, &|| format!("{}.content", path()))?;
        let refusal = Origin {
            field: Field::Refusal,
            ..base
        };
        self.string(m.refusal, refusal, &|| format!("{}.refusal", path()), false)?;
        let args = Origin {
            field: Field::ToolArguments,
            ..base
        };
        match m.tool_calls {
            None => {}
            Some(Seq::Wrong) => {
                let p = format!("{}.tool_calls", path());
                return Err(ExtractError::invalid(p, "an array of tool calls"));
            }
            Some(Seq::Items(calls)) => {
                for (k, call) in calls.into_iter().enumerate() {
                    let at = || format!("{}.tool_calls[{k}]", path());
                    let Obj::Value(call) = call else {
                        return Err(ExtractError::invalid(at(), "a tool call object"));
                    };
                    let origin = Origin {
                        tool_call: Some(ix(k)),
                        ..args
                    };
                    match call.function {
                        Some(Obj::Value(f)) => {
                            let p = || format!("{}.function.arguments", at());
                            self.string(f.arguments, origin, &p, false)?
                        }
                        Some(Obj::Wrong) => {
                            let p = format!("{}.function", at());
                            return Err(ExtractError::invalid(p, "an object"));
                        }
                        None => {}
                    }
                    match call.custom {
                        Some(Obj::Value(c)) => {
                            let p = || format!("{}.custom.input", at());
                            self.string(c.input, origin, &p, false)?
                        }
                        Some(Obj::Wrong) => {
                            let p = format!("{}.custom", at());
                            return Err(ExtractError::invalid(p, "an object"));
                        }
                        None => {}
                    }
                }
            }
        }
        match m.function_call {
            Some(Obj::Value(f)) => {
                let p = || format!("{}.function_call.arguments", path());
                self.string(f.arguments, args, &p, false)?
            }
            Some(Obj::Wrong) => {
                let p = format!("{}.function_call", path());
                return Err(ExtractError::invalid(p, "an object"));
            }
            None => {}
        }
        match m.audio {
            Some(Obj::Value(audio)) if audio.transcript.is_some() => {
                let p = || format!("{}.audio.transcript", path());
                self.string(audio.transcript, base, &p, false)
            }
            Some(_) => {
                self.opaque();
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Every string value (not key) inside a JSON schema or other JSON
    /// value, skipping empty strings. The value was validated by the parser,
    /// so a lexical scan for string literals is exact.
    pub(crate) fn schema(&mut self, raw: Raw, origin: Origin) -> Result<()> {
        let Some(raw) = raw else { return Ok(()) };
        let s = raw.get();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'"' {
                i += 1;
                continue;
            }
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
            let end = i;
            let mut k = end;
            while k < bytes.len() && bytes[k].is_ascii_whitespace() {
                k += 1;
            }
            let is_key = bytes.get(k) == Some(&b':');
            if is_key || end - start <= 2 {
                continue;
            }
            if let Some(literal) = s.get(start..end) {
                self.push(literal, origin)?;
            }
        }
        Ok(())
    }

    /// A tool/function definition: description and schema string values.
    pub(crate) fn definition(&mut self, d: &Definition, origin: Origin, path: Path) -> Result<()> {
        let p = || format!("{}.description", path());
        self.string(d.description, origin, &p, false)?;
        self.schema(d.parameters, origin)?;
        self.schema(d.schema, origin)?;
        match &d.json_schema {
            Some(Obj::Value(inner)) => {
                self.definition(inner, origin, &|| format!("{}.json_schema", path()))
            }
            Some(Obj::Wrong) => Err(ExtractError::invalid(
                format!("{}.json_schema", path()),
                "an object",
            )),
            None => Ok(()),
        }
    }

    /// `tools[]` / `functions[]`: origin.tool_call is the index.
    pub(crate) fn tools(&mut self, tools: Option<Seq<Obj<Tool>>>, name: &str) -> Result<()> {
        let tools = match tools {
            None => return Ok(()),
            Some(Seq::Wrong) => return Err(ExtractError::invalid(name.into(), "an array")),
            Some(Seq::Items(tools)) => tools,
        };
        for (k, tool) in tools.into_iter().enumerate() {
            let at = || format!("{name}[{k}]");
            let Obj::Value(tool) = tool else {
                return Err(ExtractError::invalid(at(), "an object"));
            };
            let origin = Origin {
                tool_call: Some(ix(k)),
                ..Origin::new(Role::System, Field::ToolDefinition)
            };
            let flat = Definition {
                description: tool.description,
                parameters: tool.parameters,
                schema: None,
                json_schema: None,
            };
            self.definition(&flat, origin, &at)?;
            for (key, nested) in [("function", tool.function), ("custom", tool.custom)] {
                match nested {
                    Some(Obj::Value(d)) => {
                        self.definition(&d, origin, &|| format!("{}.{key}", at()))?
                    }
                    Some(Obj::Wrong) => {
                        let p = format!("{}.{key}", at());
                        return Err(ExtractError::invalid(p, "an object"));
                    }
                    None => {}
                }
            }
        }
        Ok(())
    }
}
