//! Splicing replacement texts into a body without re-serialising it.

use std::ops::Range;

use super::ExtractError;

/// Replaces the JSON string literal at each span with a correctly escaped
/// JSON string of the new text; every other byte is copied unchanged.
///
/// Spans are those of [`TextSegment::span`](super::TextSegment::span) for
/// this body. They may be given in any order but must not overlap
/// ([`ExtractError::Overlap`]) and must each cover a string literal, quotes
/// included ([`ExtractError::InvalidSpan`]).
pub fn rewrite(
    body: &[u8],
    replacements: &[(Range<usize>, String)],
) -> Result<Vec<u8>, ExtractError> {
    let mut order: Vec<&(Range<usize>, String)> = replacements.iter().collect();
    order.sort_unstable_by_key(|(span, _)| (span.start, span.end));
    let mut extra = 0;
    let mut prev_end = 0;
    for (span, text) in &order {
        let literal = body.get(span.clone()).unwrap_or_default();
        let valid = span.start < span.end
            && literal.len() >= 2
            && literal.first() == Some(&b'"')
            && literal.last() == Some(&b'"');
        if !valid {
            return Err(ExtractError::InvalidSpan {
                start: span.start,
                end: span.end,
            });
        }
        if span.start < prev_end {
            return Err(ExtractError::Overlap);
        }
        prev_end = span.end;
        extra += text.len() + 2;
    }
    let mut out = Vec::with_capacity(body.len() + extra + extra / 8);
    let mut copied = 0;
    for (span, text) in order {
        out.extend_from_slice(&body[copied..span.start]);
        write_json_string(&mut out, text);
        copied = span.end;
    }
    out.extend_from_slice(&body[copied..]);
    Ok(out)
}

/// Appends `text` as a JSON string literal: quotes, backslashes and control
/// characters are escaped; everything else is copied as UTF-8.
pub(crate) fn write_json_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            let hex = [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ];
            out.extend_from_slice(&hex);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}
