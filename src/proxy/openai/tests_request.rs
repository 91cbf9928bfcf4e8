//! Request extraction tests: helpers, completions, embeddings, Responses, robustness.

use super::tests_chat::CHAT;
use super::*;

/// Asserts every span covers a string literal that decodes to the text.
pub(super) fn assert_spans(body: &[u8], segments: &[TextSegment]) {
    for s in segments {
        let literal = std::str::from_utf8(&body[s.span.clone()]).unwrap();
        assert!(
            literal.starts_with('"') && literal.ends_with('"'),
            "{literal}"
        );
        let decoded: String = serde_json::from_str(literal).unwrap();
        assert_eq!(decoded, s.text);
    }
}

pub(super) fn extract(endpoint: Endpoint, body: &str) -> RequestTexts {
    let texts = extract_request(endpoint, body.as_bytes()).unwrap();
    assert_spans(body.as_bytes(), &texts.segments);
    texts
}

pub(super) fn chat(body: &str) -> RequestTexts {
    extract(Endpoint::ChatCompletions, body)
}

pub(super) fn texts(t: &RequestTexts) -> Vec<&str> {
    t.segments.iter().map(|s| s.text.as_str()).collect()
}

pub(super) fn err(endpoint: Endpoint, body: &str) -> ExtractError {
    extract_request(endpoint, body.as_bytes()).unwrap_err()
}

pub(super) fn invalid_path(endpoint: Endpoint, body: &str) -> String {
    match err(endpoint, body) {
        ExtractError::InvalidField { path, .. } => path,
        other => panic!("expected InvalidField, got {other:?}"),
    }
}

#[test]
fn completions_prompts() {
    let c = Endpoint::Completions;
    let t = extract(
        c,
        r#"{"model":"m","prompt":"once","suffix":"end","n":3,"stream":false}"#,
    );
    assert_eq!(texts(&t), ["once", "end"]);
    assert_eq!((t.n, t.opaque_inputs), (3, 0));
    assert_eq!(t.segments[0].origin, Origin::new(Role::User, Field::Prompt));
    let t = extract(c, r#"{"prompt":["a","b"]}"#);
    assert_eq!(texts(&t), ["a", "b"]);
    assert_eq!(t.segments[1].origin.message, Some(1));
    let t = extract(c, r#"{"prompt":[1, 2, 3]}"#);
    assert_eq!((t.segments.len(), t.opaque_inputs), (0, 1));
    let t = extract(c, r#"{"prompt":[[1,2],[3],[]]}"#);
    assert_eq!((t.segments.len(), t.opaque_inputs), (0, 3));
    let t = extract(c, r#"{"prompt":[]}"#);
    assert_eq!((t.segments.len(), t.opaque_inputs), (0, 0));
    assert_eq!(invalid_path(c, r#"{"prompt":5}"#), "prompt");
    assert_eq!(invalid_path(c, r#"{"prompt":{"a":1}}"#), "prompt");
    assert_eq!(invalid_path(c, r#"{"prompt":["a",{}]}"#), "prompt[1]");
    assert_eq!(invalid_path(c, r#"{"prompt":[["a"]]}"#), "prompt[0]");
    assert_eq!(invalid_path(c, r#"{"prompt":"a","suffix":1}"#), "suffix");
}

#[test]
fn embeddings_inputs() {
    let e = Endpoint::Embeddings;
    let t = extract(
        e,
        r#"{"model":"emb","input":["x","y"],"n":"ignored","stream":"ignored"}"#,
    );
    assert_eq!(texts(&t), ["x", "y"]);
    assert_eq!((t.model.as_deref(), t.stream, t.n), (Some("emb"), false, 1));
    assert_eq!(
        t.segments[0].origin,
        Origin {
            message: Some(0),
            ..Origin::new(Role::User, Field::Input)
        }
    );
    let t = extract(e, r#"{"input":"one"}"#);
    assert_eq!(t.segments[0].origin.message, None);
    let t = extract(e, r#"{"input":[[1,2],[3,4]]}"#);
    assert_eq!(t.opaque_inputs, 2);
    assert_eq!(invalid_path(e, r#"{"input":[true]}"#), "input[0]");
}

const RESPONSES: &str = r#"{"model":"o4","stream":true,"instructions":"be brief","input":[
        {"role":"user","content":"hello"},
        {"type":"message","role":"user","content":[{"type":"input_text","text":"see"},{"type":"input_image","image_url":"u"},{"type":"input_file","file_id":"f"}]},
        {"type":"message","role":"assistant","content":[{"type":"output_text","text":"prev","annotations":[]}]},
        {"type":"function_call","call_id":"c","name":"f","arguments":"{\"a\":1}"},
        {"type":"function_call_output","call_id":"c","output":"out"},
        {"type":"reasoning","id":"r","summary":[{"type":"summary_text","text":"thought"}],"encrypted_content":"xyz"},
        {"type":"item_reference","id":"msg_1"},
        {"id":"msg_2"},
        {"type":"web_search_call","id":"w"},
        {"type":"custom_tool_call","call_id":"d","name":"g","input":"ci"},
        {"type":"custom_tool_call_output","call_id":"d","output":[{"type":"input_text","text":"co"}]}
    ],"tools":[{"type":"function","name":"f","description":"tool desc","parameters":{"type":"object"}},{"type":"web_search"}],
    "text":{"format":{"type":"json_schema","name":"x","description":"fmt desc","schema":{"description":"s"}}},
    "prompt":{"id":"pmpt_1"}}"#;

#[test]
fn responses_request() {
    let body = RESPONSES;
    let t = extract(Endpoint::Responses, body);
    assert_eq!(
        texts(&t),
        [
            "be brief",
            "hello",
            "see",
            "prev",
            "{\"a\":1}",
            "out",
            "thought",
            "ci",
            "co",
            "tool desc",
            "object",
            "fmt desc",
            "s"
        ]
    );
    assert_eq!((t.model.as_deref(), t.stream, t.n), (Some("o4"), true, 1));
    // image, file, encrypted reasoning, 2 item references, web_search_call, prompt template
    assert_eq!(t.opaque_inputs, 7);
    let o: Vec<(Role, Field, Option<u32>, Option<u32>)> = t
        .segments
        .iter()
        .map(|s| {
            (
                s.origin.role,
                s.origin.field,
                s.origin.message,
                s.origin.part,
            )
        })
        .collect();
    assert_eq!(o[0], (Role::System, Field::Instructions, None, None));
    assert_eq!(o[1], (Role::User, Field::Content, Some(0), None));
    assert_eq!(o[2], (Role::User, Field::Content, Some(1), Some(0)));
    assert_eq!(o[3], (Role::Assistant, Field::Content, Some(2), Some(0)));
    assert_eq!(o[4], (Role::Assistant, Field::ToolArguments, Some(3), None));
    assert_eq!(o[5], (Role::Tool, Field::Output, Some(4), None));
    assert_eq!(o[6], (Role::Assistant, Field::Content, Some(5), Some(0)));
    assert_eq!(o[8], (Role::Tool, Field::Output, Some(10), Some(0)));
    assert_eq!(t.segments[9].origin.field, Field::ToolDefinition);

    let t = extract(Endpoint::Responses, r#"{"input":"just text"}"#);
    assert_eq!(t.segments[0].origin, Origin::new(Role::User, Field::Input));
}

#[test]
fn responses_wrong_types() {
    let r = Endpoint::Responses;
    let cases = [
        (r#"{"instructions":["x"]}"#, "instructions"),
        (r#"{"input":5}"#, "input"),
        (r#"{"input":[5]}"#, "input[0]"),
        (r#"{"input":[{"type":5}]}"#, "input[0].type"),
        (
            r#"{"input":[{"role":"user","content":3}]}"#,
            "input[0].content",
        ),
        (
            r#"{"input":[{"type":"function_call","arguments":{}}]}"#,
            "input[0].arguments",
        ),
        (
            r#"{"input":[{"type":"function_call_output","output":1}]}"#,
            "input[0].output",
        ),
        (
            r#"{"input":[{"role":"user","content":[{"type":"input_text","text":1}]}]}"#,
            "input[0].content[0].text",
        ),
        (r#"{"text":{"format":"json"}}"#, "text.format"),
        (r#"{"stream":1}"#, "stream"),
    ];
    for (body, path) in cases {
        assert_eq!(invalid_path(r, body), path, "{body}");
    }
}

#[test]
fn endpoint_from_path() {
    assert_eq!(
        Endpoint::from_path("/v1/chat/completions"),
        Some(Endpoint::ChatCompletions)
    );
    assert_eq!(
        Endpoint::from_path("/openai/v1/completions/"),
        Some(Endpoint::Completions)
    );
    assert_eq!(
        Endpoint::from_path("/v1/embeddings"),
        Some(Endpoint::Embeddings)
    );
    assert_eq!(Endpoint::from_path("responses"), Some(Endpoint::Responses));
    assert_eq!(Endpoint::from_path("/v1/responses/resp_1"), None);
    assert_eq!(Endpoint::from_path("/v1/mycompletions"), None);
    assert_eq!(Endpoint::from_path("/v1/models"), None);
    assert_eq!(Role::from_name("tool").as_str(), "tool");
    assert_eq!(Field::ToolArguments.as_str(), "tool_arguments");
    assert_eq!(Endpoint::Responses.as_str(), "responses");
}

#[test]
fn never_panics_on_damaged_input() {
    let endpoints = [
        Endpoint::ChatCompletions,
        Endpoint::Completions,
        Endpoint::Embeddings,
        Endpoint::Responses,
    ];
    let chunk = r#"{"choices":[{"index":0,"delta":{"content":"a","tool_calls":[{"index":0,"id":"i","function":{"name":"f","arguments":"{"}}]},"finish_reason":null}],"usage":null}"#;
    let event = r#"{"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","call_id":"c","name":"n"}}"#;
    let mut damaged = Vec::new();
    for body in [CHAT, RESPONSES, chunk, event] {
        let body = body.as_bytes();
        for cut in 0..body.len() {
            damaged.push(body[..cut].to_vec());
        }
        for i in (0..body.len()).step_by(3) {
            for b in [b'"', b'\\', b'[', b'}', 0xff, b'1', b'-', b'n'] {
                let mut v = body.to_vec();
                v[i] = b;
                damaged.push(v);
            }
        }
    }
    for v in &damaged {
        for e in endpoints {
            if let Ok(t) = extract_request(e, v) {
                assert_spans(v, &t.segments);
            }
            let _ = extract_response(e, v);
            let mut acc = StreamAccumulator::new(e);
            let _ = acc.push(v);
        }
    }
}

#[test]
fn huge_indices_and_nesting_do_not_panic() {
    let deep = format!(
        "{{\"messages\":[{{\"role\":\"user\",\"content\":\"x\",\"extra\":{}1{}}}]}}",
        "[".repeat(100),
        "]".repeat(100)
    );
    assert_eq!(texts(&chat(&deep)), ["x"]);
    // unknown fields are skipped without recursion
    let skipped = format!("{{\"x\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
    assert!(chat(&skipped).segments.is_empty());
    // fields that are walked hit serde_json's recursion limit, not the stack
    let walked = format!(
        "{{\"response_format\":{}{{}}{}}}",
        "{\"json_schema\":".repeat(1000),
        "}".repeat(1000)
    );
    let e = err(Endpoint::ChatCompletions, &walked);
    assert!(
        matches!(&e, ExtractError::Json { message, .. } if message.contains("recursion")),
        "{e:?}"
    );
    let ok = format!(
        "{{\"response_format\":{}{{\"description\":\"d\"}}{}}}",
        "{\"json_schema\":".repeat(20),
        "}".repeat(20)
    );
    assert_eq!(texts(&chat(&ok)), ["d"]);
    let t = chat(r#"{"n":4294967295}"#);
    assert_eq!(t.n, u32::MAX);
    assert_eq!(
        invalid_path(Endpoint::ChatCompletions, r#"{"n":4294967296}"#),
        "n"
    );
}
