//! Any bytes as a request body, for every endpoint. When extraction succeeds:
//! - every segment's span is a JSON string literal of the body that decodes to
//!   the segment's text, and the spans are in body order without overlap;
//! - rewriting every span (what a redaction does) gives valid JSON that extracts
//!   again to the same segments, each with its replacement text at the same index,
//!   the same origins, model, stream, n and opaque count.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parapet::proxy::openai::{extract_request, rewrite, Endpoint};
use serde::de::IgnoredAny;

const ENDPOINTS: [Endpoint; 4] = [
    Endpoint::ChatCompletions,
    Endpoint::Completions,
    Endpoint::Embeddings,
    Endpoint::Responses,
];

/// A replacement exercising escapes and non-ASCII text. Never empty: empty
/// strings inside schemas are not extracted, so the segment would vanish.
fn replacement(i: usize) -> String {
    match i % 3 {
        0 => format!("[REDACTED {i}]"),
        1 => format!("q\"b\\s\n\t\u{0}\u{1f}\u{7f}é😀\u{2028}{i}"),
        _ => "x".to_owned(),
    }
}

fuzz_target!(|data: &[u8]| {
    for endpoint in ENDPOINTS {
        let Ok(texts) = extract_request(endpoint, data) else {
            continue;
        };
        assert!(
            serde_json::from_slice::<IgnoredAny>(data).is_ok(),
            "{endpoint:?}: extraction accepted a body that is not valid JSON"
        );
        let mut prev_end = 0;
        for (i, seg) in texts.segments.iter().enumerate() {
            let literal = data
                .get(seg.span.clone())
                .unwrap_or_else(|| panic!("{endpoint:?}: span {i} out of bounds"));
            let decoded: String = serde_json::from_slice(literal)
                .unwrap_or_else(|e| panic!("{endpoint:?}: span {i} is not a string literal: {e}"));
            assert_eq!(
                decoded, seg.text,
                "{endpoint:?}: span {i} decodes differently"
            );
            assert!(
                seg.span.start >= prev_end,
                "{endpoint:?}: span {i} overlaps or precedes the previous one"
            );
            prev_end = seg.span.end;
        }

        let replacements: Vec<_> = texts
            .segments
            .iter()
            .enumerate()
            .map(|(i, seg)| (seg.span.clone(), replacement(i)))
            .collect();
        let body = rewrite(data, &replacements)
            .unwrap_or_else(|e| panic!("{endpoint:?}: rewrite of extracted spans failed: {e}"));
        assert!(
            serde_json::from_slice::<IgnoredAny>(&body).is_ok(),
            "{endpoint:?}: rewritten body is not valid JSON"
        );
        let again = extract_request(endpoint, &body)
            .unwrap_or_else(|e| panic!("{endpoint:?}: rewritten body no longer extracts: {e}"));
        assert_eq!(
            again.segments.len(),
            texts.segments.len(),
            "{endpoint:?}: segment count"
        );
        for (i, (old, new)) in texts.segments.iter().zip(&again.segments).enumerate() {
            assert_eq!(new.text, replacement(i), "{endpoint:?}: segment {i} text");
            assert_eq!(new.origin, old.origin, "{endpoint:?}: segment {i} origin");
        }
        assert_eq!(again.model, texts.model);
        assert_eq!(again.stream, texts.stream);
        assert_eq!(again.n, texts.n);
        assert_eq!(again.opaque_inputs, texts.opaque_inputs);

        // Rewriting nothing leaves the body as it was.
        assert!(rewrite(data, &[]).is_ok_and(|b| b == data));
    }
});
