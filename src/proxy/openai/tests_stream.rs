//! Stream accumulator tests.

use super::*;

fn feed(acc: &mut StreamAccumulator, chunks: &[&str]) -> Vec<ChunkDelta> {
    chunks
        .iter()
        .map(|c| acc.push(c.as_bytes()).unwrap())
        .collect()
}

fn chunk(choices: &str) -> String {
    format!(
        r#"{{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":null,"choices":{choices}}}"#
    )
}

#[test]
fn chat_content_pieces() {
    let mut acc = StreamAccumulator::new(Endpoint::ChatCompletions);
    let chunks = [
        chunk(r#"[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]"#),
        chunk(r#"[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]"#),
        chunk(r#"[{"index":0,"delta":{"content":"lo \u00e9"},"finish_reason":null}]"#),
        chunk(r#"[{"index":0,"delta":{},"finish_reason":"stop"}]"#),
        r#"{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#.to_string(),
    ];
    let deltas: Vec<ChunkDelta> = chunks
        .iter()
        .map(|c| acc.push(c.as_bytes()).unwrap())
        .collect();
    assert_eq!(deltas[0], ChunkDelta::default());
    assert_eq!(deltas[1].appended, [(0, 3)]);
    assert_eq!(deltas[2].appended, [(0, "lo é".len())]);
    assert!(!deltas[2].finished);
    assert!(deltas[3].finished && deltas[3].appended.is_empty());
    assert!(deltas[4].usage && !deltas[4].finished);
    assert!(!deltas[1].usage);
    let c = &acc.choices()[0];
    assert_eq!(
        (c.index, c.text.as_str(), c.finish_reason.as_deref()),
        (0, "Hello é", Some("stop"))
    );
}

#[test]
fn null_usage_is_not_usage() {
    let mut acc = StreamAccumulator::new(Endpoint::ChatCompletions);
    let d = acc
        .push(br#"{"choices":[{"index":0,"delta":{"content":"x"}}],"usage":null}"#)
        .unwrap();
    assert!(!d.usage);
}

#[test]
fn tool_call_arguments_in_pieces() {
    let mut acc = StreamAccumulator::new(Endpoint::ChatCompletions);
    let chunks = [
        chunk(
            r#"[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]"#,
        ),
        chunk(
            r#"[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]}}]"#,
        ),
        chunk(
            r#"[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]}}]"#,
        ),
        chunk(
            r#"[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Paris\"}"}}]}}]"#,
        ),
        chunk(r#"[{"index":0,"delta":{},"finish_reason":"tool_calls"}]"#),
    ];
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let d = feed(&mut acc, &refs);
    assert!(d[0].tool_arguments_appended.is_empty());
    assert_eq!(d[1].tool_arguments_appended, [(0, 0, 4)]);
    assert_eq!(d[2].tool_arguments_appended, [(0, 1, 2)]);
    assert_eq!(
        d[3].tool_arguments_appended,
        [(0, 0, "ty\":\"Paris\"}".len())]
    );
    assert!(d.iter().all(|d| d.appended.is_empty()));
    let calls = &acc.choices()[0].tool_calls;
    assert_eq!(
        calls,
        &[
            ToolCallText {
                index: 0,
                id: Some("call_a".into()),
                name: "get_weather".into(),
                arguments: "{\"city\":\"Paris\"}".into()
            },
            ToolCallText {
                index: 1,
                id: Some("call_b".into()),
                name: "get_time".into(),
                arguments: "{}".into()
            },
        ]
    );
    assert_eq!(
        acc.choices()[0].finish_reason.as_deref(),
        Some("tool_calls")
    );
}

#[test]
fn legacy_function_call_delta() {
    let mut acc = StreamAccumulator::new(Endpoint::ChatCompletions);
    feed(
        &mut acc,
        &[
            r#"{"choices":[{"index":0,"delta":{"function_call":{"name":"f","arguments":""}}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"function_call":{"arguments":"{\"a\""}}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"function_call":{"arguments":":1}"}}}]}"#,
        ],
    );
    let call = &acc.choices()[0].tool_calls[0];
    assert_eq!(
        (
            call.name.as_str(),
            call.arguments.as_str(),
            call.id.as_deref()
        ),
        ("f", "{\"a\":1}", None)
    );
}

#[test]
fn interleaved_choices_and_refusals() {
    let mut acc = StreamAccumulator::new(Endpoint::ChatCompletions);
    let d = feed(
        &mut acc,
        &[
            r#"{"choices":[{"index":1,"delta":{"content":"B1"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"A1"}},{"index":2,"delta":{"refusal":"no"}}]}"#,
            r#"{"choices":[{"index":1,"delta":{"content":"B2"},"finish_reason":"length"},{"index":0,"delta":{"content":"A2"}}]}"#,
            r#"{"choices":[{"index":2,"delta":{"refusal":"pe"},"finish_reason":"stop"},{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        ],
    );
    assert_eq!(d[1].appended, [(0, 2)]);
    assert_eq!(d[1].refusal_appended, [(2, 2)]);
    assert_eq!(d[2].appended, [(1, 2), (0, 2)]);
    assert!(d[2].finished);
    let got: Vec<(u32, &str, &str, Option<&str>)> = acc
        .choices()
        .iter()
        .map(|c| {
            (
                c.index,
                c.text.as_str(),
                c.refusal.as_str(),
                c.finish_reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, "A1A2", "", Some("stop")),
            (1, "B1B2", "", Some("length")),
            (2, "", "nope", Some("stop"))
        ]
    );
}

#[test]
fn error_chunk() {
    let mut acc = StreamAccumulator::new(Endpoint::ChatCompletions);
    let d = acc
        .push(br#"{"error":{"message":"overloaded","type":"server_error","code":null}}"#)
        .unwrap();
    assert!(d.error && !d.finished);
    assert!(acc.choices().is_empty());
    let d = acc.push(br#"{"error":null,"choices":[]}"#).unwrap();
    assert!(!d.error);
}

#[test]
fn completions_stream() {
    let mut acc = StreamAccumulator::new(Endpoint::Completions);
    let d = feed(
        &mut acc,
        &[
            r#"{"object":"text_completion","choices":[{"text":"Once","index":0,"logprobs":null,"finish_reason":null}]}"#,
            r#"{"choices":[{"text":" upon","index":0,"finish_reason":null},{"text":"x","index":1}]}"#,
            r#"{"choices":[{"text":"","index":0,"finish_reason":"length"}]}"#,
        ],
    );
    assert_eq!(d[1].appended, [(0, 5), (1, 1)]);
    assert!(d[2].finished && d[2].appended.is_empty());
    assert_eq!(acc.choices()[0].text, "Once upon");
    assert_eq!(acc.choices()[1].text, "x");
}

#[test]
fn responses_stream() {
    let mut acc = StreamAccumulator::new(Endpoint::Responses);
    let d = feed(
        &mut acc,
        &[
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"r","status":"in_progress","output":[],"usage":null}}"#,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"reasoning","id":"rs","summary":[]}}"#,
            r#"{"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc","call_id":"call_1","name":"lookup","arguments":""}}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc","output_index":1,"delta":"{\"q\":"}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc","output_index":1,"delta":"\"x\"}"}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":2,"content_index":0,"delta":"Hi"}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":2,"content_index":0,"delta":" there"}"#,
            r#"{"type":"response.refusal.delta","item_id":"m","output_index":2,"content_index":1,"delta":"nah"}"#,
            r#"{"type":"response.output_text.done","output_index":2,"content_index":0,"text":"Hi there"}"#,
            r#"{"type":"response.completed","response":{"id":"r","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"Hi there"}]}],"usage":{"input_tokens":5}}}"#,
        ],
    );
    assert_eq!(d[0], ChunkDelta::default());
    assert_eq!(d[3].tool_arguments_appended, [(1, 0, 5)]);
    assert_eq!(d[5].appended, [(2, 2)]);
    assert_eq!(d[6].appended, [(2, 6)]);
    assert_eq!(d[7].refusal_appended, [(2, 3)]);
    assert!(d[8] == ChunkDelta::default());
    assert!(d[9].finished && d[9].usage && !d[9].error);
    let c = acc.choices();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].index, 1);
    assert_eq!(c[0].tool_calls[0].id.as_deref(), Some("call_1"));
    assert_eq!(c[0].tool_calls[0].name, "lookup");
    assert_eq!(c[0].tool_calls[0].arguments, "{\"q\":\"x\"}");
    assert_eq!(
        (c[1].index, c[1].text.as_str(), c[1].refusal.as_str()),
        (2, "Hi there", "nah")
    );
    assert!(c
        .iter()
        .all(|c| c.finish_reason.as_deref() == Some("completed")));
}

#[test]
fn responses_terminal_and_error_events() {
    let mut acc = StreamAccumulator::new(Endpoint::Responses);
    let d = acc
        .push(br#"{"type":"error","code":"rate_limit","message":"slow down","param":null}"#)
        .unwrap();
    assert!(d.error && !d.finished);
    acc.push(br#"{"type":"response.output_text.delta","output_index":0,"delta":"x"}"#)
        .unwrap();
    let d = acc
        .push(br#"{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error"},"usage":null}}"#)
        .unwrap();
    assert!(d.error && d.finished && !d.usage);
    assert_eq!(acc.choices()[0].finish_reason.as_deref(), Some("failed"));
    let mut acc = StreamAccumulator::new(Endpoint::Responses);
    let d = acc
        .push(br#"{"type":"response.incomplete","response":{"status":"incomplete"}}"#)
        .unwrap();
    assert!(d.finished && !d.error);
}

#[test]
fn responses_event_name_fallback() {
    let mut acc = StreamAccumulator::new(Endpoint::Responses);
    let d = acc
        .push_event(
            Some("response.output_text.delta"),
            br#"{"output_index":0,"delta":"hi"}"#,
        )
        .unwrap();
    assert_eq!(d.appended, [(0, 2)]);
    // the data's own type wins
    let d = acc
        .push_event(
            Some("response.output_text.delta"),
            br#"{"type":"response.in_progress","output_index":0,"delta":"x"}"#,
        )
        .unwrap();
    assert!(d.appended.is_empty());
    assert_eq!(acc.choices()[0].text, "hi");
}

#[test]
fn stream_errors() {
    let mut acc = StreamAccumulator::new(Endpoint::ChatCompletions);
    let path =
        |acc: &mut StreamAccumulator, data: &str| match acc.push(data.as_bytes()).unwrap_err() {
            ExtractError::InvalidField { path, .. } => path,
            other => panic!("{other:?}"),
        };
    assert_eq!(
        path(
            &mut acc,
            r#"{"choices":[{"index":0,"delta":{"content":5}}]}"#
        ),
        "choices[0].delta.content"
    );
    assert_eq!(path(&mut acc, r#"{"choices":{}}"#), "choices");
    assert_eq!(
        path(&mut acc, r#"{"choices":[{"index":"0"}]}"#),
        "choices[0].index"
    );
    assert_eq!(
        path(&mut acc, r#"{"choices":[{"finish_reason":1}]}"#),
        "choices[0].finish_reason"
    );
    assert_eq!(
        path(
            &mut acc,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":{}}}]}}]}"#
        ),
        "choices[0].delta.tool_calls[0].function.arguments"
    );
    assert_eq!(
        path(
            &mut acc,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":-2}]}}]}"#
        ),
        "choices[0].delta.tool_calls[0].index"
    );
    assert!(matches!(
        acc.push(b"{\"choices\":["),
        Err(ExtractError::Json { .. })
    ));
    assert_eq!(
        acc.push(b"[DONE]")
            .unwrap_err()
            .to_string()
            .split(':')
            .next(),
        Some("invalid JSON at line 1 column 2")
    );
    assert_eq!(acc.push(b"42"), Err(ExtractError::NotAnObject));
    let mut acc = StreamAccumulator::new(Endpoint::Responses);
    let e = acc
        .push(br#"{"type":"response.output_text.delta","delta":"x"}"#)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "`output_index` must be a non-negative integer"
    );
    let e = acc
        .push(br#"{"type":"response.output_text.delta","output_index":0,"delta":1}"#)
        .unwrap_err();
    assert_eq!(e.param(), Some("delta"));
}
