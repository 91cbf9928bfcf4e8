"""Hot reload under load loses no request.

Parapet runs `--policy <tmp>/p.yaml` (a small policy blocking one word) with
`policy_reload_interval: 200ms`. Worker threads send a steady mix of requests (neutral,
`alpha`, `beta`, `gamma`; some streamed) through the official SDK while the main thread
rewrites the policy file: the blocked word switches between `alpha` and `beta`, and every
third write is a BROKEN policy (an unknown key) that would block `gamma` if it were ever
loaded. Each write is followed by polling /metrics until Parapet has taken it (the new
version in `parapet_policy_info`, or one more `parapet_policy_reloads_total{result="error"}`),
so every write is really exercised; writes alternate between an in-place rewrite and an
atomic rename.

Every response must be well formed (200, or 400 `content_filter`), never a 5xx or a
connection error, and must be exactly what the version named in its `x-parapet-policy`
header decides. SIGHUP reloads on its own (with polling disabled).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import openai
import pytest

from conftest import metric_sum, scrape_metrics

MODEL = "mock-model"
WORDS = ("alpha", "beta")
STORM_SECONDS = 5.0
THREADS = 4
SETTLE_TIMEOUT = 10.0


def policy_text(word: str) -> str:
    return f"""version: 1
id: reload-{word}
description: Blocks the word {word} (hot-reload e2e test).
rules:
  - id: block-{word}
    severity: high
    when: {{regex: '(?i)\\b{word}\\b'}}
    action: block
    message: "blocked by reload-{word}"
tests:
  - name: the word is blocked
    messages: [{{role: user, content: "please say {word} now"}}]
    expect: {{action: block, rules: [block-{word}]}}
  - name: other words pass
    messages: [{{role: user, content: "please say delta now"}}]
    expect: {{action: allow}}
"""


# Would block `gamma` if it were ever (wrongly) loaded; `colour` is not a rule key.
BROKEN = policy_text("gamma").replace("    severity: high\n", "    severity: high\n    colour: red\n")


def write_in_place(path: Path, text: str) -> None:
    path.write_text(text)


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def wait_until(pred: Callable[[], bool], what: str, timeout: float = SETTLE_TIMEOUT) -> None:
    """Polls `pred` with a deadline (the only way these tests wait for Parapet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def live_policies(admin: str) -> set[tuple[str, str]]:
    """(policy id, hash) of the live versions per `parapet_policy_info`."""
    out = set()
    for (name, labels), value in scrape_metrics(admin).items():
        if name == "parapet_policy_info" and value == 1:
            d = dict(labels)
            out.add((d["policy"], d["hash"]))
    return out


def reloads(admin: str, result: str) -> float:
    return metric_sum(scrape_metrics(admin), "parapet_policy_reloads_total", result=result)


@dataclass
class Outcome:
    kind: str
    text: str
    streamed: bool
    status: int | None = None
    policy: str | None = None
    rules: str | None = None
    code: str | None = None
    content: str | None = None
    error: str | None = None


def send(client: openai.OpenAI, kind: str, text: str, streamed: bool) -> Outcome:
    out = Outcome(kind, text, streamed)
    messages = [{"role": "user", "content": text}]
    try:
        if streamed:
            with client.chat.completions.with_streaming_response.create(
                model=MODEL, messages=messages, stream=True
            ) as resp:
                out.status, headers = resp.status_code, resp.headers
                out.content = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
        else:
            raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=messages)
            out.status, headers = raw.status_code, raw.headers
            out.content = raw.parse().choices[0].message.content
    except openai.APIStatusError as e:
        out.status, headers, out.code = e.status_code, e.response.headers, e.code
    except Exception as e:  # connection errors, broken streams, ...: all failures here
        out.error = f"{type(e).__name__}: {e}"
        return out
    out.policy = headers.get("x-parapet-policy")
    out.rules = headers.get("x-parapet-rules")
    return out


def problems(o: Outcome, known: dict[str, str]) -> list[str]:
    """What is wrong with one outcome (empty: it is exactly what its policy version decides)."""
    if o.error:
        return [f"{o.kind} streamed={o.streamed}: {o.error}"]
    where = f"{o.kind} streamed={o.streamed} status={o.status} policy={o.policy} rules={o.rules}"
    if o.status not in (200, 400):
        return [f"{where}: not a 200 or a 400"]
    if not o.policy or "@" not in o.policy:
        return [f"{where}: no x-parapet-policy header"]
    pid, phash = o.policy.split("@", 1)
    if pid not in ("reload-alpha", "reload-beta"):
        return [f"{where}: served by a policy that was never a good version"]
    if known.get(pid) not in (None, phash):
        return [f"{where}: hash differs from the live one ({known.get(pid)})"]
    word = pid.removeprefix("reload-")
    blocked = o.status == 400
    if blocked != (word in o.text.split()):
        return [f"{where}: decision does not match version {pid} for {o.text!r}"]
    if blocked and (o.code != "content_filter" or o.rules != f"block-{word}"):
        return [f"{where}: blocked without content_filter / block-{word}: code={o.code}"]
    if not blocked and o.content != f"echo: {o.text}":
        return [f"{where}: reply changed: {o.content!r}"]
    return []


@pytest.fixture
def reloading(tmp_path, mock, parapet_factory):
    path = tmp_path / "p.yaml"
    path.write_text(policy_text("alpha"))

    def start(interval: str):
        p = parapet_factory({"policy_reload_interval": interval}, upstream_url=mock.base, args=["--policy", path])
        started.append(p)
        return p

    started: list = []
    yield path, start
    for p in started:
        p.stop()


def probe(client: openai.OpenAI, word: str) -> tuple[bool, str | None]:
    """(blocked?, x-parapet-policy) for a request mentioning `word`."""
    o = send(client, word, f"please say {word} now", False)
    assert o.error is None and o.status in (200, 400), o
    return o.status == 400, o.policy


def test_hot_reload_under_load_loses_no_request(reloading):
    path, start = reloading
    p = start("200ms")
    admin = p.admin
    first = live_policies(admin)
    assert {pid for pid, _ in first} == {"reload-alpha"}, first
    known = {pid: h for pid, h in first}

    stop = threading.Event()
    results: list[Outcome] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        client = p.client(timeout=15)
        kinds = ("neutral", "alpha", "beta", "gamma")
        i = 0
        while not stop.is_set():
            kind = kinds[(n + i) % len(kinds)]
            text = f"plain words {n}-{i}" if kind == "neutral" else f"please say {kind} {n}-{i}"
            o = send(client, kind, text, streamed=(i % 3 == n % 3))
            with lock:
                results.append(o)
            i += 1

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(THREADS)]
    for t in threads:
        t.start()

    writes = {"good": 0, "broken": 0}
    live = "alpha"
    goods = iter(["beta", "alpha"] * 1000)
    n = 0
    try:
        end = time.monotonic() + STORM_SECONDS
        while time.monotonic() < end:
            n += 1
            write = write_in_place if n % 2 else write_atomically
            if n % 3 == 0:
                errors = reloads(admin, "error")
                write(path, BROKEN)
                writes["broken"] += 1
                wait_until(lambda: reloads(admin, "error") > errors, f"write {n} (broken) refused")
                assert {pid for pid, _ in live_policies(admin)} == {f"reload-{live}"}
            else:
                live = next(goods)
                write(path, policy_text(live))
                writes["good"] += 1

                def taken() -> bool:
                    now = live_policies(admin)
                    return {pid for pid, _ in now} == {f"reload-{live}"}

                wait_until(taken, f"write {n} (reload-{live}) live")
                known.update(dict(live_policies(admin)))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not any(t.is_alive() for t in threads), "a worker hung"

    bad = [msg for o in results for msg in problems(o, known)]
    assert not bad, f"{len(bad)} of {len(results)} requests went wrong:\n" + "\n".join(bad[:30])
    assert len(results) > 50, f"only {len(results)} requests in {STORM_SECONDS}s"
    assert writes["good"] >= 4 and writes["broken"] >= 2, writes
    served = {o.policy.split("@")[0] for o in results}
    assert served == {"reload-alpha", "reload-beta"}, served
    assert any(o.streamed and o.status == 400 for o in results)
    assert any(o.streamed and o.status == 200 for o in results)

    # The behaviour settles on the last good policy, and a broken write does not change it.
    client = p.client()
    other = "beta" if live == "alpha" else "alpha"
    wait_until(lambda: probe(client, live)[0] and not probe(client, other)[0], f"reload-{live} behaviour")
    errors = reloads(admin, "error")
    write_atomically(path, BROKEN)
    wait_until(lambda: reloads(admin, "error") > errors, "the last broken write refused")
    assert probe(client, live) == (True, f"reload-{live}@{known[f'reload-{live}']}")
    assert probe(client, other)[0] is False
    assert probe(client, "gamma")[0] is False

    samples = scrape_metrics(admin)
    assert metric_sum(samples, "parapet_policy_reloads_total", result="ok") >= writes["good"]
    assert metric_sum(samples, "parapet_policy_reloads_total", result="error") >= writes["broken"] + 1
    assert metric_sum(samples, "parapet_requests_total", outcome="blocked") > 0
    assert p.proc.alive()


def test_sighup_reloads(reloading):
    """With file polling off (`policy_reload_interval: 0s`), SIGHUP is the only trigger: it
    reloads a changed file, reloads an unchanged one, and refuses a broken one."""
    path, start = reloading
    p = start("0s")
    admin, client = p.admin, p.client()
    assert {pid for pid, _ in live_policies(admin)} == {"reload-alpha"}
    ok = reloads(admin, "ok")

    write_atomically(path, policy_text("beta"))
    assert probe(client, "alpha")[0], "no polling: the old policy still serves"
    os.kill(p.proc.popen.pid, signal.SIGHUP)
    wait_until(lambda: reloads(admin, "ok") == ok + 1, "the SIGHUP reload")
    assert {pid for pid, _ in live_policies(admin)} == {"reload-beta"}
    assert probe(client, "beta")[0] and not probe(client, "alpha")[0]

    os.kill(p.proc.popen.pid, signal.SIGHUP)  # unchanged file: still a reload
    wait_until(lambda: reloads(admin, "ok") == ok + 2, "the second SIGHUP reload")

    errors = reloads(admin, "error")
    write_in_place(path, BROKEN)
    os.kill(p.proc.popen.pid, signal.SIGHUP)
    wait_until(lambda: reloads(admin, "error") == errors + 1, "the broken SIGHUP reload refused")
    assert {pid for pid, _ in live_policies(admin)} == {"reload-beta"}
    assert probe(client, "beta")[0] and not probe(client, "gamma")[0]
    assert p.proc.alive()
