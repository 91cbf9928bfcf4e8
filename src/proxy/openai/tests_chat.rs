//! Chat completions request extraction tests.

use super::tests_request::{chat, err, invalid_path, texts};
use super::*;

pub(super) const CHAT: &str = r#"{
  "model": "gpt-4o", "stream": true, "n": 2, "temperature": 0.2,
  "messages": [
    {"role": "system", "content": "be nice"},
    {"role": "user", "name": "bob", "content": [
      {"type": "text", "text": "look"},
      {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
      {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}},
      {"type": "file", "file": {"file_id": "f1"}},
      {"type": "refusal", "refusal": "no way"}
    ]},
    {"role": "assistant", "content": null, "refusal": "sorry",
     "tool_calls": [{"id": "c1", "type": "function",
                     "function": {"name": "f", "arguments": "{\"q\":1}"}},
                    {"id": "c2", "type": "custom", "custom": {"name": "g", "input": "raw in"}}],
     "function_call": {"name": "old", "arguments": "{}"}},
    {"role": "tool", "tool_call_id": "c1", "content": "result"},
    {"role": "developer", "content": "dev says"}
  ],
  "tools": [{"type": "function", "function": {"name": "f", "description": "finds",
             "parameters": {"type": "object", "properties": {"q": {"type": "string", "description": "the query"}}}}}],
  "functions": [{"name": "old", "description": "legacy fn"}]
}"#;

#[test]
fn chat_covers_every_shape() {
    let t = chat(CHAT);
    assert_eq!(t.model.as_deref(), Some("gpt-4o"));
    assert!(t.stream);
    assert_eq!(t.n, 2);
    assert_eq!(
        texts(&t),
        [
            "be nice",
            "look",
            "no way",
            "sorry",
            "{\"q\":1}",
            "raw in",
            "{}",
            "result",
            "dev says",
            "finds",
            "object",
            "string",
            "the query",
            "legacy fn"
        ]
    );
    // image, audio and file parts are opaque
    assert_eq!(t.opaque_inputs, 3);
    let s = &t.segments;
    assert_eq!(
        s[0].origin,
        Origin {
            message: Some(0),
            ..Origin::new(Role::System, Field::Content)
        }
    );
    assert_eq!(
        s[2].origin,
        Origin {
            message: Some(1),
            part: Some(4),
            ..Origin::new(Role::User, Field::Refusal)
        }
    );
    assert_eq!(
        s[3].origin,
        Origin {
            message: Some(2),
            ..Origin::new(Role::Assistant, Field::Refusal)
        }
    );
    let args = Origin {
        message: Some(2),
        ..Origin::new(Role::Assistant, Field::ToolArguments)
    };
    assert_eq!(
        s[4].origin,
        Origin {
            tool_call: Some(0),
            ..args
        }
    );
    assert_eq!(
        s[5].origin,
        Origin {
            tool_call: Some(1),
            ..args
        }
    );
    assert_eq!(s[6].origin, args);
    assert_eq!(s[7].origin.role, Role::Tool);
    assert_eq!(s[8].origin.role, Role::Developer);
    let def = Origin {
        tool_call: Some(0),
        ..Origin::new(Role::System, Field::ToolDefinition)
    };
    assert!(s[9..13].iter().all(|s| s.origin == def));
    assert_eq!(
        s[13].origin,
        Origin {
            tool_call: Some(0),
            ..def
        }
    );
}

#[test]
fn defaults_and_nulls() {
    let t = chat(
        r#"{"messages":[{"role":"user","content":null},{"role":"user","content":[]}],"stream":null,"n":null}"#,
    );
    assert_eq!(
        (t.model, t.stream, t.n, t.opaque_inputs),
        (None, false, 1, 0)
    );
    assert!(t.segments.is_empty());
    let t = chat("{}");
    assert!(t.segments.is_empty());
}

#[test]
fn escapes_and_unicode() {
    let body = r#"{"messages":[{"role":"user","content":"caf\u00e9 \"q\" \n"},{"role":"user","content":"日本語 🎉 \ud83d\ude00"}]}"#;
    let t = chat(body);
    assert_eq!(texts(&t), ["café \"q\" \n", "日本語 🎉 😀"]);
    assert_eq!(&body[t.segments[0].span.clone()], r#""caf\u00e9 \"q\" \n""#);
}

#[test]
fn unknown_fields_and_roles() {
    let body = r#"{"x":{"messages":"nope"},"messages":[
        {"role":"critic","content":"c","extra":[1,{"a":null}]},
        {"content":"no role","name":"n"},
        {"role":"function","name":"f","content":"fn result"},
        {"role":"user","content":[{"type":"text","text":"t","cache_control":{"type":"ephemeral"}},{"type":"video","video":{}}]}
    ],"metadata":{"k":"v"},"logit_bias":{"1":2}}"#;
    let t = chat(body);
    assert_eq!(texts(&t), ["c", "no role", "fn result", "t"]);
    let roles: Vec<Role> = t.segments.iter().map(|s| s.origin.role).collect();
    assert_eq!(
        roles,
        [Role::Other, Role::Other, Role::Function, Role::User]
    );
    assert_eq!(t.opaque_inputs, 1, "unknown part type is opaque");
}

#[test]
fn escaped_keys_are_decoded() {
    let t = chat(r#"{"messages":[{"r\u006fle":"\u0073ystem","con\u0074ent":"hidden"}]}"#);
    assert_eq!(texts(&t), ["hidden"]);
    assert_eq!(t.segments[0].origin.role, Role::System);
}

#[test]
fn duplicate_keys_are_rejected() {
    let e = err(
        Endpoint::ChatCompletions,
        r#"{"messages":[{"role":"user","content":"a","content":"b"}]}"#,
    );
    assert!(matches!(e, ExtractError::Json { .. }), "{e:?}");
    // also inside a content array, reported at its position in the body
    let body = "{\"messages\":[\n{\"role\":\"user\",\n \"content\":[{\"type\":\"text\",\"text\":\"a\",\"text\":\"b\"}]}]}";
    match err(Endpoint::ChatCompletions, body) {
        ExtractError::Json {
            line,
            column,
            message,
        } => {
            assert_eq!(line, 3);
            assert!(column > 30, "{column}");
            assert!(message.contains("duplicate field `text`"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_json_reports_position() {
    let body = "{\n  \"model\": \"x\",\n  \"messages\": [\n    {\"role\": \"user\", \"content\": \"hi\",}\n  ]\n}";
    let e = err(Endpoint::ChatCompletions, body);
    let ExtractError::Json {
        line,
        column,
        message,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((*line, *column), (4, 38));
    assert!(!message.contains("line"), "{message}");
    assert_eq!(
        e.to_string(),
        format!("invalid JSON at line 4 column 38: {message}")
    );
    assert_eq!(e.param(), None);
    assert!(matches!(
        err(Endpoint::Completions, ""),
        ExtractError::Json { line: 1, .. }
    ));
    assert!(matches!(
        err(Endpoint::Completions, "{} x"),
        ExtractError::Json { .. }
    ));
    assert!(matches!(
        err(Endpoint::Embeddings, "{\"input\":\"\\x\"}"),
        ExtractError::Json { .. }
    ));
    assert!(matches!(
        err(Endpoint::Embeddings, "{\"input\":\"a\u{1}\"}"),
        ExtractError::Json { .. }
    ));
}

#[test]
fn not_an_object() {
    for body in ["[1]", "\"s\"", "null", " 3 ", "true"] {
        for endpoint in [
            Endpoint::ChatCompletions,
            Endpoint::Completions,
            Endpoint::Embeddings,
            Endpoint::Responses,
        ] {
            assert_eq!(err(endpoint, body), ExtractError::NotAnObject);
        }
    }
    assert_eq!(
        ExtractError::NotAnObject.to_string(),
        "the body must be a JSON object"
    );
}

#[test]
fn wrong_types_have_paths() {
    let chat = Endpoint::ChatCompletions;
    let e = err(
        chat,
        r#"{"messages":[{"role":"user","content":"a"},{"role":"user"},{"role":"user","content":5}]}"#,
    );
    assert_eq!(
        e.to_string(),
        "`messages[2].content` must be a string, an array of content parts or null"
    );
    assert_eq!(e.param(), Some("messages"));
    let cases = [
        (r#"{"messages":"hi"}"#, "messages"),
        (r#"{"messages":[1]}"#, "messages[0]"),
        (r#"{"messages":[{"role":1}]}"#, "messages[0].role"),
        (
            r#"{"messages":[{"content":{"text":"x"}}]}"#,
            "messages[0].content",
        ),
        (
            r#"{"messages":[{"content":["x"]}]}"#,
            "messages[0].content[0]",
        ),
        (
            r#"{"messages":[{"content":[{"text":"x"}]}]}"#,
            "messages[0].content[0].type",
        ),
        (
            r#"{"messages":[{"content":[{"type":"text"}]}]}"#,
            "messages[0].content[0].text",
        ),
        (
            r#"{"messages":[{"content":[{"type":"text","text":["x"]}]}]}"#,
            "messages[0].content[0].text",
        ),
        (
            r#"{"messages":[{"content":[{"type":"refusal","refusal":1}]}]}"#,
            "messages[0].content[0].refusal",
        ),
        (r#"{"messages":[{"refusal":true}]}"#, "messages[0].refusal"),
        (
            r#"{"messages":[{"tool_calls":{}}]}"#,
            "messages[0].tool_calls",
        ),
        (
            r#"{"messages":[{"tool_calls":[7]}]}"#,
            "messages[0].tool_calls[0]",
        ),
        (
            r#"{"messages":[{"tool_calls":[{"function":"f"}]}]}"#,
            "messages[0].tool_calls[0].function",
        ),
        (
            r#"{"messages":[{"tool_calls":[{"function":{"arguments":{"q":1}}}]}]}"#,
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            r#"{"messages":[{"function_call":{"arguments":1}}]}"#,
            "messages[0].function_call.arguments",
        ),
        (r#"{"model":5}"#, "model"),
        (r#"{"stream":"yes"}"#, "stream"),
        (r#"{"n":-1}"#, "n"),
        (r#"{"n":1.5}"#, "n"),
        (r#"{"tools":{}}"#, "tools"),
        (
            r#"{"tools":[{"function":{"description":5}}]}"#,
            "tools[0].function.description",
        ),
        (
            r#"{"functions":[{"description":[]}]}"#,
            "functions[0].description",
        ),
        (
            r#"{"response_format":{"json_schema":{"description":1}}}"#,
            "response_format.json_schema.description",
        ),
        (r#"{"prediction":{"content":1}}"#, "prediction.content"),
    ];
    for (body, path) in cases {
        assert_eq!(invalid_path(chat, body), path, "{body}");
    }
}

#[test]
fn schemas_scan_values_not_keys() {
    let body = r#"{"tools":[{"type":"function","function":{"name":"f","parameters":
        {"type":"object","properties":{"ignore all":{"type":"string","enum":["a\"b",""],"default":"x\ny"}}}}}],
        "response_format":{"type":"json_schema","json_schema":{"name":"r","description":"fmt","schema":{"title":"T"}}}}"#;
    let t = chat(body);
    assert_eq!(texts(&t), ["object", "string", "a\"b", "x\ny", "fmt", "T"]);
    assert!(t
        .segments
        .iter()
        .all(|s| s.origin.field == Field::ToolDefinition));
    assert_eq!(t.segments[5].origin.tool_call, None);
}

#[test]
fn prediction_is_scanned() {
    let t = chat(r#"{"prediction":{"type":"content","content":[{"type":"text","text":"p"}]}}"#);
    assert_eq!(texts(&t), ["p"]);
    assert_eq!(t.segments[0].origin.role, Role::Assistant);
}

#[test]
fn assistant_audio_reference_is_opaque() {
    let t = chat(r#"{"messages":[{"role":"assistant","audio":{"id":"a1"}}]}"#);
    assert_eq!(t.opaque_inputs, 1);
}

#[test]
fn unknown_part_types_are_opaque_but_their_text_is_scanned() {
    let t = chat(
        r#"{"messages":[{"role":"user","content":[{"type":"text_v2","text":"new"},{"type":"x","text":5}]}]}"#,
    );
    assert_eq!(texts(&t), ["new"]);
    assert_eq!(t.segments[0].origin.part, Some(0));
    assert_eq!(t.opaque_inputs, 2);
}

#[test]
fn lone_surrogates_are_rejected_at_their_position() {
    let body = "{\"messages\":[\n  {\"role\":\"user\",\"content\":\"ok \\ud800 x\"}]}";
    match err(Endpoint::ChatCompletions, body) {
        ExtractError::Json {
            line,
            column,
            message,
        } => {
            assert_eq!(line, 2);
            // the escape starts at column 32 of line 2
            assert!((32..=40).contains(&column), "{column} {message}");
        }
        other => panic!("{other:?}"),
    }
}
