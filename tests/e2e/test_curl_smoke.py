"""What a person types first: curl, once plain and once streaming (`curl -N`)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def curl(*args: str, timeout: float = 30) -> str:
    out = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "--max-time", str(int(timeout)), *args],
        capture_output=True,
        timeout=timeout + 5,
        check=False,
    )
    assert out.returncode == 0, f"curl exited {out.returncode}: {out.stderr.decode()} {out.stdout.decode()}"
    return out.stdout.decode()


def body(stream: bool) -> str:
    return json.dumps(
        {"model": "mock-model", "messages": [{"role": "user", "content": "hi from curl"}], "stream": stream}
    )


def test_curl_chat(proxy):
    out = curl(
        f"{proxy.base}/chat/completions",
        "-H", "content-type: application/json",
        "-H", "authorization: Bearer sk-test",
        "-d", body(False),
    )
    assert json.loads(out)["choices"][0]["message"]["content"] == "echo: hi from curl"


def test_curl_stream(proxy):
    out = curl(
        "-N",
        f"{proxy.base}/chat/completions",
        "-H", "content-type: application/json",
        "-H", "authorization: Bearer sk-test",
        "-d", body(True),
    )
    events = [blk for blk in out.split("\n\n") if blk.strip()]
    assert events[-1].strip() == "data: [DONE]"
    text = ""
    for ev in events[:-1]:
        assert ev.startswith("data: "), ev
        chunk = json.loads(ev[len("data: "):])
        for ch in chunk["choices"]:
            text += ch["delta"].get("content") or ""
    assert text == "echo: hi from curl"
