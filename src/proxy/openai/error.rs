//! The error type and serde error conversion.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::de::Obj;

/// Why a body could not be inspected or rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The body is not valid JSON (or repeats a key Parapet reads).
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// Column of the error on that line, in bytes.
        column: usize,
        /// serde_json's description, without the position.
        message: String,
    },
    /// The body is valid JSON but not an object.
    #[error("the body must be a JSON object")]
    NotAnObject,
    /// A field Parapet must scan has a type it cannot inspect.
    #[error("`{path}` must be {expected}")]
    InvalidField {
        /// JSON path of the field, e.g. `messages[2].content`.
        path: String,
        /// What was expected, e.g. `"a string or null"`.
        expected: &'static str,
    },
    /// Two replacement spans passed to [`rewrite`](super::rewrite) overlap.
    #[error("replacement spans overlap")]
    Overlap,
    /// A replacement span is out of bounds or not a JSON string literal.
    #[error("replacement span {start}..{end} is not a JSON string literal of the body")]
    InvalidSpan {
        /// Start of the rejected span.
        start: usize,
        /// End of the rejected span.
        end: usize,
    },
}

impl ExtractError {
    /// The top-level request parameter at fault (e.g. `"messages"` for
    /// `messages[2].content`), for the `param` field of an OpenAI error body.
    pub fn param(&self) -> Option<&str> {
        match self {
            ExtractError::InvalidField { path, .. } => {
                let end = path.find(['.', '[']).unwrap_or(path.len());
                path.get(..end).filter(|p| !p.is_empty())
            }
            _ => None,
        }
    }

    pub(crate) fn invalid(path: String, expected: &'static str) -> Self {
        ExtractError::InvalidField { path, expected }
    }
}

/// Converts a serde_json error reported at its own position.
pub(crate) fn json_error(err: &serde_json::Error) -> ExtractError {
    json_error_at(err, err.line(), err.column())
}

fn json_error_at(err: &serde_json::Error, line: usize, column: usize) -> ExtractError {
    let mut message = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    if message.ends_with(&suffix) {
        message.truncate(message.len() - suffix.len());
    }
    ExtractError::Json {
        line,
        column,
        message,
    }
}

/// Parses a whole body that must be a JSON object.
pub(crate) fn parse_object<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ExtractError> {
    match serde_json::from_slice::<Obj<T>>(body) {
        Ok(Obj::Value(value)) => Ok(value),
        Ok(Obj::Wrong) => Err(ExtractError::NotAnObject),
        Err(err) => Err(json_error(&err)),
    }
}

/// Parses an already captured raw value again as `T`, reporting errors at
/// their position in `body` (the buffer `raw` borrows from).
pub(crate) fn reparse<'a, T: Deserialize<'a>>(
    body: &[u8],
    raw: &'a RawValue,
) -> Result<T, ExtractError> {
    serde_json::from_str(raw.get()).map_err(|err| {
        let offset = (raw.get().as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
        json_error_in(body, offset, &err)
    })
}

/// Converts an error from parsing the slice of `body` that starts at
/// `offset`, reporting the position in `body`.
pub(crate) fn json_error_in(body: &[u8], offset: usize, err: &serde_json::Error) -> ExtractError {
    let offset = offset.min(body.len());
    let before = &body[..offset];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let line0 = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let (line, column) = if err.line() <= 1 {
        (line0, offset - line_start + err.column())
    } else {
        (line0 + err.line() - 1, err.column())
    };
    json_error_at(err, line, column)
}
