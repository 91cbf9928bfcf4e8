"""The mock upstream itself (no proxy): the behaviours the other tests and the load benchmark
rely on, so a broken mock shows up as such and not as a proxy bug."""

from __future__ import annotations

import base64
import http.client
import json
import struct
import time

import pytest

from conftest import http as request
from conftest import make_client, start_mock

MODEL = "mock-model"


@pytest.fixture(scope="module")
def direct(mock):
    return make_client(mock.base)


def chat_body(text: str, **kw) -> bytes:
    return json.dumps({"model": MODEL, "messages": [{"role": "user", "content": text}], **kw}).encode()


def test_stream_has_several_chunks_and_done(mock):
    r = request("POST", f"{mock.base}/chat/completions", chat_body("one two three four five", stream=True))
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [e for e in r.body.decode().split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    contents = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert len(contents) >= 3 and "".join(contents) == "echo: one two three four five"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert {"id", "created", "model", "choices"} <= c.keys()
        assert c["choices"][0]["logprobs"] is None


def test_tool_call_arguments_in_several_chunks(mock):
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    r = request("POST", f"{mock.base}/chat/completions", chat_body("call tool now", stream=True, tools=tools))
    chunks = [json.loads(e[6:]) for e in r.body.decode().split("\n\n") if e and e != "data: [DONE]"]
    args = [
        tc["function"].get("arguments", "")
        for c in chunks
        for tc in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert len([a for a in args if a]) >= 3
    assert json.loads("".join(args)) == {"query": "call tool now"}


def test_status_control(mock):
    r = request("GET", f"{mock.base}/models", headers={"x-mock-status": "503"})
    assert r.status == 503
    assert r.json() == {"error": {"message": "mock error", "type": "mock_error", "param": None, "code": "mock"}}


def test_delay_control(mock):
    start = time.monotonic()
    assert request("GET", f"{mock.base}/models", headers={"x-mock-delay-ms": "300"}).status == 200
    assert time.monotonic() - start >= 0.3


def test_chunk_delay_control(mock):
    start = time.monotonic()
    request(
        "POST",
        f"{mock.base}/chat/completions",
        chat_body("a b c d", stream=True),
        headers={"x-mock-chunk-delay-ms": "100"},
    )
    # role, 3 content chunks, finish, [DONE]: 5 gaps
    assert time.monotonic() - start >= 0.5


def test_die_after_aborts_the_body(mock):
    conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=chat_body("this stream is cut after two events", stream=True),
        headers={"x-mock-die-after": "2", "content-type": "application/json"},
    )
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead) as ei:
        resp.read()
    assert ei.value.partial.count(b"data: ") == 2


def test_embeddings_base64_matches_floats(direct, mock):
    floats = direct.embeddings.create(model=MODEL, input="same", encoding_format="float").data[0].embedding
    r = request("POST", f"{mock.base}/embeddings", json.dumps({"input": "same", "encoding_format": "base64"}).encode())
    raw = base64.b64decode(r.json()["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == pytest.approx(floats)


def test_echo_route(mock):
    r = request("PUT", f"http://127.0.0.1:{mock.port}/other/path?q=1", b"xyz", {"x-test": "1"})
    seen = r.json()
    assert (seen["method"], seen["path"], seen["query"], seen["body_len"]) == ("PUT", "/other/path", "q=1", 3)
    assert seen["headers"]["x-test"] == "1"


def test_malformed_json_is_400(mock):
    r = request("POST", f"{mock.base}/chat/completions", b"{nope")
    assert r.status == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_canned_mode(log_dir):
    m = start_mock(log_dir, "--canned")
    try:
        r = request("POST", f"{m.base}/chat/completions", chat_body("ignored"))
        assert r.json()["choices"][0]["message"]["content"].startswith("echo: Hello! This canned reply")
        s = request("POST", f"{m.base}/chat/completions", b'{"messages": [], "stream" : true}')
        events = [e for e in s.body.decode().split("\n\n") if e]
        assert len(events) == 20 and events[-1] == "data: [DONE]"
        # Other routes still work normally in canned mode.
        assert request("GET", f"{m.base}/models").json()["data"][0]["id"] == MODEL
    finally:
        m.proc.stop()
