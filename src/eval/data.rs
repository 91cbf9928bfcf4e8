//! Labelled data: JSONL, one `{"text": ..., "label": ...}` object per line.
//!
//! `label` is a string, a list of strings, a number (`0` or `1`) or a bool.
//! `benign`, `safe`, `0` and `false` (any case, also as strings) become the tag
//! `benign`; `1` and `true` become `positive`, which every classifier label counts
//! as a positive. Other strings are kept as tags (trimmed). Unknown fields are
//! ignored, blank lines skipped.

use std::io::BufRead;

use serde_json::Value;

use super::EvalError;

/// The tag of negative rows.
pub const BENIGN: &str = "benign";
/// The tag of rows labelled `1` / `true`: positive for every label.
pub const POSITIVE: &str = "positive";

/// One labelled text.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based line in the data file.
    pub line: usize,
    /// The text to evaluate.
    pub text: String,
    /// Normalised labels: [`BENIGN`] alone, or one or more other tags.
    pub tags: Vec<String>,
}

impl Row {
    /// Whether the row is a negative (labelled benign).
    pub fn is_benign(&self) -> bool {
        self.tags.iter().any(|t| t == BENIGN)
    }

    /// Whether the row carries `tag` (ASCII case-insensitive).
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

/// Reads JSONL rows; `path_for_errors` names the source in messages
/// (`file:line: message`). An input without any row is an error.
pub fn read_jsonl(mut reader: impl BufRead, path_for_errors: &str) -> Result<Vec<Row>, EvalError> {
    let path = path_for_errors;
    let mut rows = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| EvalError::Read {
                path: path.to_string(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line += 1;
        let fail = |message: String| EvalError::Data {
            path: path.to_string(),
            line,
            message,
        };
        let text = std::str::from_utf8(&buf).map_err(|_| fail("line is not valid UTF-8".into()))?;
        if text.trim().is_empty() {
            continue;
        }
        rows.push(parse_row(text, line).map_err(fail)?);
    }
    if rows.is_empty() {
        return Err(EvalError::Empty {
            path: path.to_string(),
        });
    }
    Ok(rows)
}

fn parse_row(text: &str, line: usize) -> Result<Row, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err(format!("expected a JSON object, found `{}`", show(&value)));
    };
    let text = match obj.get("text") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("`text` must be a string, found `{}`", show(other))),
        None => return Err("missing `text`".into()),
    };
    let mut tags = Vec::new();
    match obj.get("label") {
        None => return Err("missing `label`".into()),
        Some(Value::Array(items)) if items.is_empty() => {
            return Err("`label` is an empty list".into())
        }
        Some(Value::Array(items)) => {
            for item in items {
                push_tag(&mut tags, tag_of(item)?);
            }
        }
        Some(other) => push_tag(&mut tags, tag_of(other)?),
    }
    if tags.len() > 1 && tags.iter().any(|t| t == BENIGN) {
        let other = tags
            .iter()
            .find(|t| *t != BENIGN)
            .map_or("", String::as_str);
        return Err(format!("`label` marks the row both benign and `{other}`"));
    }
    Ok(Row { line, text, tags })
}

fn push_tag(tags: &mut Vec<String>, tag: String) {
    if !tags.contains(&tag) {
        tags.push(tag);
    }
}

fn tag_of(value: &Value) -> Result<String, String> {
    let tag = match value {
        Value::Bool(false) => BENIGN,
        Value::Bool(true) => POSITIVE,
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => BENIGN,
            Some(1.0) => POSITIVE,
            _ => return Err(format!("a numeric `label` must be 0 or 1, found `{n}`")),
        },
        Value::String(s) => {
            let s = s.trim();
            match s.to_ascii_lowercase().as_str() {
                "" => return Err("`label` is an empty string".into()),
                "benign" | "safe" | "0" | "false" => BENIGN,
                "1" | "true" => POSITIVE,
                _ => return Ok(s.to_string()),
            }
        }
        other => {
            return Err(format!(
                "`label` must be a string, a list of strings, 0/1 or a bool, found `{}`",
                show(other)
            ))
        }
    };
    Ok(tag.to_string())
}

/// A JSON value for an error message, cut to a readable length.
fn show(value: &Value) -> String {
    let s = value.to_string();
    if s.chars().count() <= 40 {
        return s;
    }
    let cut: String = s.chars().take(37).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<Vec<Row>, EvalError> {
        read_jsonl(s.as_bytes(), "data.jsonl")
    }

    fn err(s: &str) -> String {
        read(s).unwrap_err().to_string()
    }

    #[test]
    fn labels_normalise() {
        let rows = read(concat!(
            "{\"text\":\"a\",\"label\":\"benign\",\"source\":\"x\"}\n",
            "\n",
            "{\"text\":\"b\",\"label\":\"Safe\"}\n",
            "{\"text\":\"c\",\"label\":0}\r\n",
            "{\"text\":\"d\",\"label\":false}\n",
            "{\"text\":\"e\",\"label\":1}\n",
            "{\"text\":\"f\",\"label\":true}\n",
            "{\"text\":\"g\",\"label\":[\"harm\",\"cyber\",\"harm\"]}\n",
            "{\"text\":\"h\",\"label\":\" injection \"}",
        ))
        .unwrap();
        let tags: Vec<_> = rows.iter().map(|r| r.tags.join("+")).collect();
        assert_eq!(
            tags,
            [
                "benign",
                "benign",
                "benign",
                "benign",
                "positive",
                "positive",
                "harm+cyber",
                "injection"
            ]
        );
        assert_eq!(rows[1].line, 3);
        assert_eq!(rows[7].line, 9);
        assert!(rows[0].is_benign() && !rows[6].is_benign());
        assert!(rows[6].has_tag("CYBER"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let ok = "{\"text\":\"a\",\"label\":\"benign\"}\n";
        assert_eq!(
            err(&format!("{ok}\n{{\"label\":\"x\"}}")),
            "data.jsonl:3: missing `text`"
        );
        assert_eq!(
            err(&format!("{ok}{{\"text\":3,\"label\":\"x\"}}")),
            "data.jsonl:2: `text` must be a string, found `3`"
        );
        assert_eq!(
            err("{\"text\":\"a\",\"label\":0.5}"),
            "data.jsonl:1: a numeric `label` must be 0 or 1, found `0.5`"
        );
        assert_eq!(
            err("{\"text\":\"a\",\"label\":[\"benign\",\"harm\"]}"),
            "data.jsonl:1: `label` marks the row both benign and `harm`"
        );
        assert_eq!(err("{\"text\":\"a\"}"), "data.jsonl:1: missing `label`");
        assert_eq!(
            err("{\"text\":\"a\",\"label\":[]}"),
            "data.jsonl:1: `label` is an empty list"
        );
        assert_eq!(
            err("{\"text\":\"a\",\"label\":null}"),
            "data.jsonl:1: `label` must be a string, a list of strings, 0/1 or a bool, found `null`"
        );
        assert_eq!(
            err("[1,2]"),
            "data.jsonl:1: expected a JSON object, found `[1,2]`"
        );
        assert!(err(&format!("{ok}{ok}{{oops")).starts_with("data.jsonl:3: invalid JSON: "));
        assert_eq!(
            read_jsonl(&b"{\"text\":\"\xff\",\"label\":1}"[..], "d")
                .unwrap_err()
                .to_string(),
            "d:1: line is not valid UTF-8"
        );
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_eq!(err(""), "`data.jsonl` has no data rows");
        assert_eq!(err("\n  \n"), "`data.jsonl` has no data rows");
    }
}
