"""Parapet's admin listener: /healthz, /readyz, /metrics after real traffic."""

from __future__ import annotations

import re

import pytest

from conftest import http

MODEL = "mock-model"


@pytest.fixture
def admin(proxy, parapet_only):
    return proxy.admin


def test_health_and_ready(admin):
    assert http("GET", f"{admin}/healthz").status == 200
    assert http("GET", f"{admin}/readyz").status == 200


def test_metrics_after_traffic(client, admin):
    msgs = [{"role": "user", "content": "metrics traffic"}]
    client.chat.completions.create(model=MODEL, messages=msgs)
    list(client.chat.completions.create(model=MODEL, messages=msgs, stream=True))
    client.embeddings.create(model=MODEL, input="metrics")
    client.models.list()

    r = http("GET", f"{admin}/metrics")
    assert r.status == 200
    assert r.headers.get("content-type", "").startswith("text/plain")
    text = r.body.decode()

    requests = [ln for ln in text.splitlines() if ln.startswith("parapet_requests_total{")]
    assert requests, "parapet_requests_total missing:\n" + text[:2000]
    assert all("route=" in ln for ln in requests), requests
    routes = " ".join(requests)
    assert "chat" in routes and "embeddings" in routes, requests
    # A counter sample ends with a positive value.
    assert any(float(ln.rsplit(" ", 1)[1]) >= 1 for ln in requests)

    assert "parapet_overhead_seconds_bucket" in text
    assert re.search(r'^parapet_overhead_seconds_bucket\{[^}]*le="\+Inf"[^}]*\} \d', text, re.M), text[:2000]
    assert "# TYPE parapet_requests_total counter" in text
    assert "# TYPE parapet_overhead_seconds histogram" in text


def test_metrics_never_carry_prompt_text(client, admin):
    secret = "zebra-quartz-prompt-marker"
    client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": secret}])
    text = http("GET", f"{admin}/metrics").body.decode()
    assert secret not in text
    assert "sk-test" not in text
