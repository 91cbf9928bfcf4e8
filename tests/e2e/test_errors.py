"""Errors as the OpenAI SDK sees them: Parapet's own (400, 413, 502, 504, 503) and the upstream's
(passed through unchanged). Every error body is `{"error":{"message","type","param","code"}}`."""

from __future__ import annotations

import json
import threading
import time

import openai
import pytest

from conftest import assert_openai_error, closed_port, http

MODEL = "mock-model"
MOCK_ERROR = {"error": {"message": "mock error", "type": "mock_error", "param": None, "code": "mock"}}


def user(text):
    return [{"role": "user", "content": text}]


def test_wrong_typed_scanned_field_is_400(client, parapet_only):
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": 5}])
    e = ei.value
    assert e.status_code == 400
    err = assert_openai_error(e.response.json())
    assert err["type"] == "invalid_request_error"


def test_malformed_json_is_400(proxy, parapet_only):
    r = http(
        "POST",
        f"{proxy.base}/chat/completions",
        body=b'{"model": "mock-model", "messages": [',
        headers={"content-type": "application/json", "authorization": "Bearer sk-test"},
    )
    assert r.status == 400, r.body
    assert r.headers.get("content-type", "").startswith("application/json")
    err = assert_openai_error(r.json())
    assert err["type"] == "invalid_request_error"
    assert err["code"] == "invalid_json"


def test_malformed_json_on_every_scanned_route(proxy, parapet_only):
    for route in ("chat/completions", "completions", "embeddings", "responses"):
        r = http("POST", f"{proxy.base}/{route}", body=b"not json", headers={"content-type": "application/json"})
        assert r.status == 400, (route, r.body)
        assert_openai_error(r.json())


def test_request_too_large_is_413(client, parapet_only):
    big = "x" * (80 * 1024)  # the e2e proxy allows 64 KiB
    with pytest.raises(openai.APIStatusError) as ei:
        client.chat.completions.create(model=MODEL, messages=user(big))
    e = ei.value
    assert e.status_code == 413
    err = assert_openai_error(e.response.json())
    assert err["code"] == "request_too_large"


def test_upstream_unreachable_is_502(parapet_factory):
    p = parapet_factory(upstream_url=f"http://127.0.0.1:{closed_port()}/v1")
    with pytest.raises(openai.InternalServerError) as ei:
        p.client().chat.completions.create(model=MODEL, messages=user("anyone there?"))
    e = ei.value
    assert e.status_code == 502
    err = assert_openai_error(e.response.json())
    assert err["code"] == "upstream_unreachable"
    # Streams fail the same way (before any event, so still a status code).
    with pytest.raises(openai.InternalServerError) as ei:
        list(p.client().chat.completions.create(model=MODEL, messages=user("stream?"), stream=True))
    assert ei.value.status_code == 502


def test_upstream_slow_headers_is_504(client, parapet_only):
    # The e2e proxy's upstream.first_byte_timeout is 2s.
    start = time.monotonic()
    with pytest.raises(openai.APIStatusError) as ei:
        client.chat.completions.create(
            model=MODEL, messages=user("slow"), extra_headers={"x-mock-delay-ms": "6000"}
        )
    elapsed = time.monotonic() - start
    e = ei.value
    assert e.status_code == 504
    assert isinstance(e, openai.InternalServerError)
    err = assert_openai_error(e.response.json())
    assert err["code"] == "upstream_timeout"
    assert elapsed < 5.5, elapsed


@pytest.mark.parametrize(
    "status,exc",
    [
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
    ],
)
def test_upstream_errors_pass_through(client, status, exc):
    with pytest.raises(exc) as ei:
        client.chat.completions.create(
            model=MODEL, messages=user("fail please"), extra_headers={"x-mock-status": str(status)}
        )
    e = ei.value
    assert e.status_code == status
    assert e.response.json() == MOCK_ERROR


def test_upstream_error_on_stream_passes_through(client):
    with pytest.raises(openai.RateLimitError) as ei:
        list(
            client.chat.completions.create(
                model=MODEL, messages=user("fail"), stream=True, extra_headers={"x-mock-status": "429"}
            )
        )
    assert ei.value.response.json() == MOCK_ERROR


def test_upstream_dies_mid_stream_is_not_a_clean_finish(client):
    """The upstream aborts after 3 events: the client must not see a normal end of stream."""
    pieces, finish = [], None
    try:
        for chunk in client.chat.completions.create(
            model=MODEL,
            messages=user("this stream will be cut short by the upstream"),
            stream=True,
            extra_headers={"x-mock-die-after": "3"},
        ):
            for ch in chunk.choices:
                pieces.append(ch.delta.content or "")
                finish = ch.finish_reason or finish
    except Exception:  # noqa: BLE001 - a transport error surfaces as some exception
        return
    assert finish != "stop", f"a cut stream looked complete: {pieces!r}"


def test_overloaded_is_503_with_retry_after(parapet_factory, mock):
    p = parapet_factory({"limits": {"max_concurrency": 1}}, upstream_url=mock.base)
    slow_done = threading.Event()

    def slow():
        try:
            p.client().chat.completions.create(
                model=MODEL, messages=user("hold the slot"), extra_headers={"x-mock-delay-ms": "1500"}
            )
        finally:
            slow_done.set()

    t = threading.Thread(target=slow)
    t.start()
    body = {"model": MODEL, "messages": user("am I shed?")}
    shed = None
    try:
        while not slow_done.is_set():
            r = http(
                "POST",
                f"{p.base}/chat/completions",
                body=json.dumps(body).encode(),
                headers={"content-type": "application/json"},
            )
            if r.status == 503:
                shed = r
                break
            time.sleep(0.02)
    finally:
        t.join(10)
    assert shed is not None, "no request was shed while the only slot was taken"
    assert shed.headers.get("retry-after"), shed.headers
    err = assert_openai_error(shed.json())
    assert err["code"] == "overloaded"
    # And once the slot is free again, requests go through.
    r = p.client().chat.completions.create(model=MODEL, messages=user("after"))
    assert r.choices[0].message.content == "echo: after"
