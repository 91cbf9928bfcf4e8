//! Collectors for Responses items and prompt-like inputs.

use serde_json::value::RawValue;

use super::collect::{first, ix, role, Path, Sink};
use super::de::Seq;
use super::error::{reparse, ExtractError};
use super::shapes::{Item, Raw};
use super::{Field, Origin, Role};

type Result<T> = std::result::Result<T, ExtractError>;

impl Sink<'_> {
    /// A Responses item. `base` carries the item's index (`message` for
    /// request input, `choice` for response output); `default_role` applies
    /// to message items without a role.
    pub(crate) fn item(
        &mut self,
        item: Item,
        base: Origin,
        default_role: Role,
        path: Path,
    ) -> Result<()> {
        let kind = match &item.kind {
            None => None,
            Some(kind) => match kind.as_str() {
                Some(kind) => Some(kind),
                None => {
                    return Err(ExtractError::invalid(
                        format!("{}.type", path()),
                        "a string",
                    ))
                }
            },
        };
        let at = |field: &'static str| move || format!("{}.{field}", path());
        let as_field = |role: Role, field: Field| Origin {
            role,
            field,
            ..base
        };
        match kind {
            // An item reference may omit its type: nothing to read here.
            None if item.role.is_none() && item.content.is_none() => self.opaque(),
            None | Some("message") => {
                let role = role(&item.role, default_role, &at("role"))?;
                self.content(item.content, as_field(role, Field::Content), &at("content"))?
            }
            Some("function_call") => {
                let origin = as_field(Role::Assistant, Field::ToolArguments);
                self.string(item.arguments, origin, &at("arguments"), false)?
            }
            Some("custom_tool_call") => {
                let origin = as_field(Role::Assistant, Field::ToolArguments);
                self.string(item.input, origin, &at("input"), false)?
            }
            Some("function_call_output" | "custom_tool_call_output") => {
                let origin = as_field(Role::Tool, Field::Output);
                self.content(item.output, origin, &at("output"))?
            }
            Some("reasoning") => {
                let origin = as_field(Role::Assistant, Field::Content);
                self.content(item.summary, origin, &at("summary"))?;
                self.content(item.content, origin, &at("content"))?;
                if item.encrypted_content.is_some() {
                    self.opaque();
                }
            }
            Some(_) => self.opaque(),
        }
        Ok(())
    }

    /// Completions `prompt` / embeddings `input`: a string, an array of
    /// strings (`origin.message` = position), or token ids (opaque: one per
    /// token array).
    pub(crate) fn prompt(&mut self, raw: Raw, origin: Origin, path: Path) -> Result<()> {
        const EXPECTED: &str = "a string, an array of strings or an array of token ids";
        let Some(raw) = raw else { return Ok(()) };
        match first(raw) {
            b'"' => return self.string(Some(raw), origin, path, true),
            b'[' => {}
            _ => return Err(ExtractError::invalid(path(), EXPECTED)),
        }
        let Seq::Items(items) = reparse::<Seq<&RawValue>>(self.body(), raw)? else {
            return Err(ExtractError::invalid(path(), EXPECTED));
        };
        let mut tokens = false;
        for (j, item) in items.into_iter().enumerate() {
            let at = || format!("{}[{j}]", path());
            match first(item) {
                b'"' => {
                    let origin = Origin {
                        message: Some(ix(j)),
                        ..origin
                    };
                    self.string(Some(item), origin, &at, true)?
                }
                b'-' | b'0'..=b'9' => tokens = true,
                b'[' if self.token_array(item)? => self.token_ids(),
                _ => {
                    return Err(ExtractError::invalid(
                        at(),
                        "a string or an array of token ids",
                    ))
                }
            }
        }
        if tokens {
            self.token_ids();
        }
        Ok(())
    }

    /// Whether an array holds only numbers.
    fn token_array(&self, raw: &RawValue) -> Result<bool> {
        Ok(match reparse::<Seq<&RawValue>>(self.body(), raw)? {
            Seq::Items(items) => items.iter().all(|t| matches!(first(t), b'-' | b'0'..=b'9')),
            Seq::Wrong => false,
        })
    }
}
