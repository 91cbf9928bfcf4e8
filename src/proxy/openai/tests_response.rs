//! Non-streamed response extraction tests.

use super::tests_request::assert_spans;
use super::*;

fn extract(endpoint: Endpoint, body: &str) -> Vec<TextSegment> {
    let segments = extract_response(endpoint, body.as_bytes()).unwrap();
    assert_spans(body.as_bytes(), &segments);
    segments
}

fn texts(s: &[TextSegment]) -> Vec<&str> {
    s.iter().map(|s| s.text.as_str()).collect()
}

fn invalid_path(endpoint: Endpoint, body: &str) -> String {
    match extract_response(endpoint, body.as_bytes()).unwrap_err() {
        ExtractError::InvalidField { path, .. } => path,
        other => panic!("expected InvalidField, got {other:?}"),
    }
}

#[test]
fn chat_response() {
    let body = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt",
      "choices":[
        {"index":0,"message":{"role":"assistant","content":"Hi \u00e9","refusal":null,"annotations":[]},"finish_reason":"stop","logprobs":null},
        {"index":1,"message":{"role":"assistant","content":null,"refusal":"can't",
          "tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"x\":\"y\"}"}}]},"finish_reason":"tool_calls"},
        {"index":2,"message":{"role":"assistant","function_call":{"name":"g","arguments":"{}"},
          "audio":{"id":"a","data":"AAAA","transcript":"spoken","expires_at":1}}}
      ],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"system_fingerprint":"fp"}"#;
    let s = extract(Endpoint::ChatCompletions, body);
    assert_eq!(
        texts(&s),
        ["Hi é", "can't", "{\"x\":\"y\"}", "{}", "spoken"]
    );
    let base = Origin::new(Role::Assistant, Field::Content);
    assert_eq!(
        s[0].origin,
        Origin {
            choice: Some(0),
            ..base
        }
    );
    assert_eq!(
        s[1].origin,
        Origin {
            choice: Some(1),
            field: Field::Refusal,
            ..base
        }
    );
    assert_eq!(
        s[2].origin,
        Origin {
            choice: Some(1),
            tool_call: Some(0),
            field: Field::ToolArguments,
            ..base
        }
    );
    assert_eq!(
        s[3].origin,
        Origin {
            choice: Some(2),
            field: Field::ToolArguments,
            ..base
        }
    );
    assert_eq!(
        s[4].origin,
        Origin {
            choice: Some(2),
            ..base
        }
    );
}

#[test]
fn choice_index_field_wins_over_position() {
    let body =
        r#"{"choices":[{"index":3,"message":{"content":"three"}},{"message":{"content":"pos1"}}]}"#;
    let s = extract(Endpoint::ChatCompletions, body);
    assert_eq!(s[0].origin.choice, Some(3));
    assert_eq!(s[1].origin.choice, Some(1));
}

#[test]
fn completions_response() {
    let body = r#"{"object":"text_completion","choices":[{"text":"a\tb","index":0,"logprobs":null,"finish_reason":"length"},{"text":"","index":1}]}"#;
    let s = extract(Endpoint::Completions, body);
    assert_eq!(texts(&s), ["a\tb", ""]);
    assert_eq!(
        s[1].origin,
        Origin {
            choice: Some(1),
            ..Origin::new(Role::Assistant, Field::Content)
        }
    );
}

#[test]
fn responses_response() {
    let body = r#"{"id":"resp_1","object":"response","status":"completed","output":[
        {"type":"reasoning","id":"rs","summary":[{"type":"summary_text","text":"plan"}]},
        {"type":"message","id":"m","status":"completed","role":"assistant","content":[
            {"type":"output_text","text":"part one","annotations":[{"type":"url_citation","url":"u"}]},
            {"type":"refusal","refusal":"not that"},
            {"type":"output_text","text":"part two"}]},
        {"type":"function_call","id":"fc","call_id":"c","name":"f","arguments":"{\"k\":[1]}","status":"completed"},
        {"type":"web_search_call","id":"ws","status":"completed"}
    ],"usage":{"input_tokens":1}}"#;
    let s = extract(Endpoint::Responses, body);
    assert_eq!(
        texts(&s),
        ["plan", "part one", "not that", "part two", "{\"k\":[1]}"]
    );
    let o: Vec<(Field, Option<u32>, Option<u32>)> = s
        .iter()
        .map(|s| (s.origin.field, s.origin.choice, s.origin.part))
        .collect();
    assert_eq!(
        o,
        [
            (Field::Content, Some(0), Some(0)),
            (Field::Content, Some(1), Some(0)),
            (Field::Refusal, Some(1), Some(1)),
            (Field::Content, Some(1), Some(2)),
            (Field::ToolArguments, Some(2), None),
        ]
    );
    assert!(s
        .iter()
        .all(|s| s.origin.role == Role::Assistant && s.origin.message.is_none()));
}

#[test]
fn embeddings_response_is_empty() {
    let body =
        r#"{"object":"list","data":[{"object":"embedding","embedding":[0.1,0.2],"index":0}]}"#;
    assert!(extract(Endpoint::Embeddings, body).is_empty());
    // embeddings bodies (large float arrays) are not even parsed
    assert_eq!(extract_response(Endpoint::Embeddings, b"{"), Ok(Vec::new()));
}

#[test]
fn response_wrong_types() {
    let c = Endpoint::ChatCompletions;
    assert_eq!(invalid_path(c, r#"{"choices":{}}"#), "choices");
    assert_eq!(invalid_path(c, r#"{"choices":[1]}"#), "choices[0]");
    assert_eq!(
        invalid_path(c, r#"{"choices":[{"index":-1}]}"#),
        "choices[0].index"
    );
    assert_eq!(
        invalid_path(c, r#"{"choices":[{"message":[]}]}"#),
        "choices[0].message"
    );
    assert_eq!(
        invalid_path(c, r#"{"choices":[{"message":{"content":5}}]}"#),
        "choices[0].message.content"
    );
    assert_eq!(
        invalid_path(
            c,
            r#"{"choices":[{"message":{"tool_calls":[{"function":{"arguments":[]}}]}}]}"#
        ),
        "choices[0].message.tool_calls[0].function.arguments"
    );
    assert_eq!(
        invalid_path(Endpoint::Completions, r#"{"choices":[{"text":1}]}"#),
        "choices[0].text"
    );
    let r = Endpoint::Responses;
    assert_eq!(invalid_path(r, r#"{"output":"x"}"#), "output");
    assert_eq!(
        invalid_path(
            r,
            r#"{"output":[{"type":"message","content":[{"type":"output_text","text":null}]}]}"#
        ),
        "output[0].content[0].text"
    );
    assert_eq!(extract_response(c, b"[]"), Err(ExtractError::NotAnObject));
}

#[test]
fn error_bodies_yield_nothing() {
    let body =
        r#"{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}"#;
    for e in [
        Endpoint::ChatCompletions,
        Endpoint::Completions,
        Endpoint::Responses,
    ] {
        assert!(extract(e, body).is_empty());
    }
}
