"""Through Parapet in front of a real model: llama-cpp-python's server with SmolLM2-135M
(scripts/demo-llm.sh). Output is a real model's, so only its shape is checked."""

from __future__ import annotations

import pytest

from conftest import http

# The first test's setup may install the demo LLM (~8 min build) when scripts/test.sh did not.
pytestmark = [pytest.mark.llm, pytest.mark.timeout(1500)]

MODEL = "smollm2"
SHORT = {"max_tokens": 24, "temperature": 0.0, "seed": 7}


@pytest.fixture
def llm(llm_proxy):
    return llm_proxy.client(timeout=120)


def test_models(llm):
    ids = [m.id for m in llm.models.list()]
    assert ids, "no models listed"
    assert MODEL in ids


def test_chat_non_stream(llm):
    r = llm.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello to Parapet."}], **SHORT
    )
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content and r.choices[0].message.content.strip()
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.completion_tokens > 0


def test_chat_stream(llm):
    stream = llm.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Name three colours."}],
        stream=True,
        **SHORT,
    )
    deltas, finish = [], None
    for chunk in stream:
        for ch in chunk.choices:
            if ch.delta.content:
                deltas.append(ch.delta.content)
            if ch.finish_reason:
                finish = ch.finish_reason
    assert len(deltas) >= 2, deltas
    assert "".join(deltas).strip()
    assert finish in ("stop", "length")


def test_legacy_completions(llm):
    r = llm.completions.create(model=MODEL, prompt="The capital of France is", **SHORT)
    assert r.choices[0].text.strip()
    assert r.choices[0].finish_reason in ("stop", "length")


def test_raw_request_passes_through(llm_proxy):
    r = http("GET", f"{llm_proxy.base}/models", headers={"authorization": "Bearer sk-test"})
    assert r.status == 200
    assert r.json()["data"]
