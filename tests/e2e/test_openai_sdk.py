"""The official OpenAI SDK through Parapet in front of the mock upstream: every endpoint,
streamed and not, the SDK's own assembly of streamed pieces, and headers."""

from __future__ import annotations

import json
import time

import openai
import pytest

from conftest import http

MODEL = "mock-model"
PROMPT = "Hello through Parapet, please answer in several short words"


def user(text):
    return [{"role": "user", "content": text}]


# ---------------------------------------------------------------------------------------------
# chat completions
# ---------------------------------------------------------------------------------------------


def test_chat_non_stream(client):
    r = client.chat.completions.create(model=MODEL, messages=user(PROMPT))
    assert r.object == "chat.completion"
    assert len(r.choices) == 1
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == f"echo: {PROMPT}"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None and r.usage.total_tokens > 0
    assert r.model == MODEL


def test_chat_stream(client):
    stream = client.chat.completions.create(model=MODEL, messages=user(PROMPT), stream=True)
    deltas, finish, roles = [], None, []
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        for ch in chunk.choices:
            if ch.delta.role:
                roles.append(ch.delta.role)
            if ch.delta.content:
                deltas.append(ch.delta.content)
            if ch.finish_reason:
                finish = ch.finish_reason
    assert roles == ["assistant"]
    assert deltas, "no content deltas"
    assert "".join(deltas) == f"echo: {PROMPT}"
    assert finish == "stop"


def test_chat_system_and_history_uses_last_user_message(client):
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]
    r = client.chat.completions.create(model=MODEL, messages=messages)
    assert r.choices[0].message.content == "echo: second question"


def test_chat_n2(client):
    r = client.chat.completions.create(model=MODEL, messages=user("two please"), n=2)
    assert [c.index for c in r.choices] == [0, 1]
    assert all(c.message.content == "echo: two please" for c in r.choices)


def test_chat_stream_n2(client):
    texts: dict[int, str] = {}
    finishes: dict[int, str] = {}
    for chunk in client.chat.completions.create(
        model=MODEL, messages=user("two streams of words"), n=2, stream=True
    ):
        for ch in chunk.choices:
            texts[ch.index] = texts.get(ch.index, "") + (ch.delta.content or "")
            if ch.finish_reason:
                finishes[ch.index] = ch.finish_reason
    assert texts == {0: "echo: two streams of words", 1: "echo: two streams of words"}
    assert finishes == {0: "stop", 1: "stop"}


def test_chat_stream_include_usage(client):
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=user("count my tokens please"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens > 0
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: count my tokens please"


def test_chat_content_parts(client):
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "part one, "},
                {"type": "text", "text": "part two"},
            ],
        }
    ]
    r = client.chat.completions.create(model=MODEL, messages=messages)
    assert r.choices[0].message.content == "echo: part one, part two"
    stream = client.chat.completions.create(model=MODEL, messages=messages, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "echo: part one, part two"


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search_docs",
            "description": "Search the documentation",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        },
    }
]


def test_tool_calls_non_stream(client):
    r = client.chat.completions.create(model=MODEL, messages=user("please call tool for docs"), tools=TOOLS)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "search_docs"
    assert json.loads(call.function.arguments) == {"query": "please call tool for docs"}


def test_tool_calls_stream(client):
    stream = client.chat.completions.create(
        model=MODEL, messages=user("please call tool with streamed arguments"), tools=TOOLS, stream=True
    )
    name, call_id, pieces, finish = None, None, [], None
    for chunk in stream:
        for ch in chunk.choices:
            for tc in ch.delta.tool_calls or []:
                assert tc.index == 0
                if tc.id:
                    call_id = tc.id
                if tc.function and tc.function.name:
                    name = tc.function.name
                if tc.function and tc.function.arguments:
                    pieces.append(tc.function.arguments)
            if ch.finish_reason:
                finish = ch.finish_reason
    assert call_id and name == "search_docs"
    assert pieces, "no argument pieces"
    assert json.loads("".join(pieces)) == {"query": "please call tool with streamed arguments"}
    assert finish == "tool_calls"


def test_tools_without_trigger_reply_text(client):
    r = client.chat.completions.create(model=MODEL, messages=user("just talk"), tools=TOOLS)
    assert r.choices[0].message.content == "echo: just talk"
    assert not r.choices[0].message.tool_calls


# ---------------------------------------------------------------------------------------------
# legacy completions, embeddings, responses, models
# ---------------------------------------------------------------------------------------------


def test_legacy_completions(client):
    r = client.completions.create(model=MODEL, prompt="Write a haiku about autumn leaves")
    assert r.object == "text_completion"
    assert r.choices[0].text == "echo: Write a haiku about autumn leaves"
    assert r.choices[0].finish_reason == "stop"


def test_legacy_completions_stream(client):
    stream = client.completions.create(model=MODEL, prompt="Write a limerick about a patient cat", stream=True)
    pieces, finish = [], None
    for chunk in stream:
        for ch in chunk.choices:
            if ch.text:
                pieces.append(ch.text)
            if ch.finish_reason:
                finish = ch.finish_reason
    assert "".join(pieces) == "echo: Write a limerick about a patient cat"
    assert finish == "stop"


def test_embeddings(client):
    # The SDK asks for base64 by default and decodes it; ask for floats explicitly as well.
    r = client.embeddings.create(model=MODEL, input=["alpha", "beta", "alpha"])
    assert [d.index for d in r.data] == [0, 1, 2]
    vecs = [d.embedding for d in r.data]
    assert all(len(v) == 8 for v in vecs)
    assert vecs[0] == vecs[2] and vecs[0] != vecs[1]
    assert abs(sum(x * x for x in vecs[0]) - 1.0) < 1e-4
    assert r.usage.prompt_tokens > 0
    f = client.embeddings.create(model=MODEL, input="alpha", encoding_format="float")
    assert len(f.data) == 1
    assert f.data[0].embedding == pytest.approx(vecs[0], abs=1e-6)


def test_responses_non_stream(client):
    r = client.responses.create(model=MODEL, input="responses api question")
    assert r.object == "response"
    assert r.status == "completed"
    assert r.output_text == "echo: responses api question"
    assert r.usage is not None and r.usage.total_tokens > 0


def test_responses_input_items(client):
    r = client.responses.create(
        model=MODEL,
        instructions="Be brief.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "item text"}]}],
    )
    assert r.output_text == "echo: item text"


def test_responses_stream(client):
    stream = client.responses.create(model=MODEL, input="stream the responses api answer", stream=True)
    types, deltas, final = [], [], None
    seqs = []
    for event in stream:
        types.append(event.type)
        seqs.append(event.sequence_number)
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        if event.type == "response.completed":
            final = event.response
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert deltas
    assert "".join(deltas) == "echo: stream the responses api answer"
    assert final is not None and final.output_text == "echo: stream the responses api answer"


def test_models_list(client):
    models = client.models.list()
    ids = [m.id for m in models]
    assert "mock-model" in ids


# ---------------------------------------------------------------------------------------------
# pass-through and headers
# ---------------------------------------------------------------------------------------------


def test_extra_body_and_headers_reach_upstream(client):
    """An unknown field (extra_body) and the client's Authorization reach the upstream unchanged:
    the mock echoes what it received (x-mock-echo-request) as the reply text."""
    extra = {"parapet_e2e_extra": {"nested": [1, 2, 3], "flag": True}, "metadata": {"k": "v"}}
    r = client.chat.completions.create(
        model=MODEL,
        messages=user("echo the request"),
        extra_body=extra,
        extra_headers={"x-mock-echo-request": "1"},
    )
    seen = json.loads(r.choices[0].message.content)
    assert seen["method"] == "POST"
    assert seen["path"] == "/v1/chat/completions"
    assert seen["body"]["parapet_e2e_extra"] == extra["parapet_e2e_extra"]
    assert seen["body"]["metadata"] == {"k": "v"}
    assert seen["body"]["messages"] == user("echo the request")
    assert seen["headers"]["authorization"] == "Bearer sk-test"


def test_unknown_route_passes_through(proxy):
    r = http(
        "POST",
        f"{proxy.base}/some/unknown/route?x=1&y=two",
        body=b'{"anything": true}',
        headers={"content-type": "application/json", "authorization": "Bearer sk-test", "x-custom": "kept"},
    )
    assert r.status == 200, r.body
    seen = r.json()
    assert seen["method"] == "POST"
    assert seen["path"] == "/v1/some/unknown/route"
    assert seen["query"] == "x=1&y=two"
    assert seen["headers"]["x-custom"] == "kept"
    assert seen["body_len"] == len(b'{"anything": true}')


def test_raw_response_headers(client, parapet_only):
    raw = client.with_raw_response.chat.completions.create(
        model=MODEL, messages=user("headers please"), extra_headers={"x-request-id": "e2e-req-42"}
    )
    assert raw.headers.get("x-request-id") == "e2e-req-42"
    assert raw.headers.get("server-timing"), dict(raw.headers)
    assert raw.parse().choices[0].message.content == "echo: headers please"


def test_request_id_generated(client, parapet_only):
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=user("no id sent"))
    assert raw.headers.get("x-request-id"), dict(raw.headers)
    raw2 = client.chat.completions.with_raw_response.create(model=MODEL, messages=user("no id sent"))
    assert raw2.headers.get("x-request-id") != raw.headers.get("x-request-id")


def test_stream_headers(client, parapet_only):
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=user("streamed headers"), stream=True, extra_headers={"x-request-id": "e2e-stream-7"}
    ) as resp:
        assert resp.headers.get("x-request-id") == "e2e-stream-7"
        assert resp.headers.get("content-type", "").startswith("text/event-stream")
        text = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
    assert text == "echo: streamed headers"


def test_slow_stream_is_relayed_incrementally(client):
    """Events paced 30 ms apart arrive paced, not buffered until the end. The text (~700 chars)
    is longer than any hold-back window a policy may use, so early text must be released early."""
    words = " ".join(f"word{i}" for i in range(120))
    stream = client.chat.completions.create(
        model=MODEL,
        messages=user(words),
        stream=True,
        extra_headers={"x-mock-chunk-delay-ms": "30"},
    )
    start = time.monotonic()
    arrivals, text = [], ""
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - start)
            text += chunk.choices[0].delta.content
    total = time.monotonic() - start
    assert text == f"echo: {words}"
    assert total > 1.0, total  # ~61 paced events
    assert arrivals[0] < total * 0.6, (arrivals[:5], total)


def test_sdk_is_openai_package():
    assert openai.__version__ == "3.60.0"
