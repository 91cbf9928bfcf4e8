//! Rewrite tests.

use super::*;
use serde_json::Value;

const BODY: &str = "{ \"model\" : \"m\",\n  \"messages\": [\n    {\"role\":\"user\",  \"content\": \"my ssn is 123\", \"zz\": [1, 2.50, null]},\n    {\"content\" : [ {\"type\":\"text\", \"text\":\"caf\\u00e9 secret\"} ], \"role\":\"user\"}\n  ],\n  \"unknown\": {\"keep\": \"me\"}\n}\n";

fn replace_all(body: &str, texts: &[&str]) -> Vec<u8> {
    let extracted = extract_request(Endpoint::ChatCompletions, body.as_bytes()).unwrap();
    let replacements: Vec<(std::ops::Range<usize>, String)> = extracted
        .segments
        .iter()
        .zip(texts)
        .map(|(s, t)| (s.span.clone(), t.to_string()))
        .collect();
    rewrite(body.as_bytes(), &replacements).unwrap()
}

#[test]
fn keeps_every_other_byte() {
    let t = extract_request(Endpoint::ChatCompletions, BODY.as_bytes()).unwrap();
    let span = t.segments[0].span.clone();
    let out = rewrite(
        BODY.as_bytes(),
        &[(span.clone(), "my ssn is [REDACTED]".into())],
    )
    .unwrap();
    let new_literal = b"\"my ssn is [REDACTED]\"";
    assert_eq!(&out[..span.start], &BODY.as_bytes()[..span.start]);
    assert_eq!(
        &out[span.start..span.start + new_literal.len()],
        new_literal
    );
    assert_eq!(
        &out[span.start + new_literal.len()..],
        &BODY.as_bytes()[span.end..]
    );
}

#[test]
fn escapes_new_text_and_stays_valid_json() {
    let nasty = "quote \" back \\ nl \n cr \r tab \t bell \u{7} nul \u{0} esc \u{1b} \u{1f} é 🎉 \u{2028} </script>";
    let out = replace_all(BODY, &[nasty, "second \"one\""]);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["messages"][0]["content"], nasty);
    assert_eq!(v["messages"][1]["content"][0]["text"], "second \"one\"");
    assert_eq!(v["messages"][0]["zz"], serde_json::json!([1, 2.5, null]));
    assert_eq!(v["unknown"]["keep"], "me");
    // and the result can be extracted again
    let again = extract_request(Endpoint::ChatCompletions, &out).unwrap();
    let texts: Vec<&str> = again.segments.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, [nasty, "second \"one\""]);
    // untouched formatting: "zz" array keeps its original spelling
    assert!(std::str::from_utf8(&out)
        .unwrap()
        .contains("[1, 2.50, null]"));
}

#[test]
fn order_independent() {
    let t = extract_request(Endpoint::ChatCompletions, BODY.as_bytes()).unwrap();
    let (a, b) = (t.segments[0].span.clone(), t.segments[1].span.clone());
    let forward = rewrite(
        BODY.as_bytes(),
        &[(a.clone(), "A".into()), (b.clone(), "B".into())],
    )
    .unwrap();
    let backward = rewrite(BODY.as_bytes(), &[(b, "B".into()), (a, "A".into())]).unwrap();
    assert_eq!(forward, backward);
}

#[test]
fn no_replacements_is_identity() {
    assert_eq!(rewrite(BODY.as_bytes(), &[]).unwrap(), BODY.as_bytes());
    assert_eq!(rewrite(b"", &[]).unwrap(), b"");
}

#[test]
fn rejects_overlap_and_bad_spans() {
    let body = br#"{"a":"xyz","b":"q"}"#;
    let a = 5..10;
    assert_eq!(&body[a.clone()], b"\"xyz\"");
    assert_eq!(
        rewrite(body, &[(a.clone(), "1".into()), (a.clone(), "2".into())]),
        Err(ExtractError::Overlap)
    );
    assert_eq!(
        rewrite(body, &[(15..18, "2".into()), (5..18, "1".into())]),
        Err(ExtractError::Overlap)
    );
    let bad = |r: std::ops::Range<usize>| rewrite(body, &[(r, "x".into())]);
    assert_eq!(
        bad(6..9),
        Err(ExtractError::InvalidSpan { start: 6, end: 9 })
    );
    assert_eq!(
        bad(5..5),
        Err(ExtractError::InvalidSpan { start: 5, end: 5 })
    );
    assert_eq!(
        bad(5..6),
        Err(ExtractError::InvalidSpan { start: 5, end: 6 })
    );
    assert_eq!(
        bad(15..100),
        Err(ExtractError::InvalidSpan {
            start: 15,
            end: 100
        })
    );
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 9..5;
    assert_eq!(
        bad(reversed),
        Err(ExtractError::InvalidSpan { start: 9, end: 5 })
    );
    assert_eq!(
        ExtractError::Overlap.to_string(),
        "replacement spans overlap"
    );
    assert_eq!(
        rewrite(body, &[(15..18, "é".into())]).unwrap(),
        "{\"a\":\"xyz\",\"b\":\"é\"}".as_bytes()
    );
}

#[test]
fn rewrites_response_segments() {
    let body = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"the key is sk-123"}}]}"#;
    let s = extract_response(Endpoint::ChatCompletions, body).unwrap();
    let out = rewrite(body, &[(s[0].span.clone(), "the key is ***".into())]).unwrap();
    assert_eq!(
        out,
        br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"the key is ***"}}]}"#
    );
}

#[test]
fn every_ascii_and_some_unicode_round_trips() {
    let mut text: String = (0u8..=0x7f).map(char::from).collect();
    text.push_str("\u{80}\u{7ff}\u{ffff}\u{10ffff}\u{feff}");
    let body = br#"{"prompt":"x"}"#;
    let t = extract_request(Endpoint::Completions, body).unwrap();
    let out = rewrite(body, &[(t.segments[0].span.clone(), text.clone())]).unwrap();
    let again = extract_request(Endpoint::Completions, &out).unwrap();
    assert_eq!(again.segments[0].text, text);
    let literal = std::str::from_utf8(&out[again.segments[0].span.clone()]).unwrap();
    assert!(literal.contains(r#"\u0000\u0001"#) && literal.contains(r#"\b\t\n\u000b\f\r"#));
}
