"""Fixtures for Parapet's end-to-end tests.

Processes run on free loopback ports:
- the mock upstream (`target/release/examples/mock_upstream`), session-scoped;
- `target/release/parapet serve --config <tmp yaml>` in front of it, session-scoped (`proxy`),
  plus `start_parapet(...)` for tests that need their own configuration;
- the llama.cpp demo LLM (scripts/demo-llm.sh), session-scoped, only for tests marked `llm`.

Readiness is always a polling loop with a deadline (parapet: admin `/readyz`; mock: its
`listening on` line; llama.cpp: `/v1/models`).

Env:
- PARAPET_BIN, MOCK_UPSTREAM_BIN: binaries (default: $CARGO_TARGET_DIR or target/, release).
- PARAPET_SKIP_LLM=1: skip the llama.cpp tests (quick local runs only; CI never sets it).
- PARAPET_E2E_DIRECT=1: point the "through Parapet" tests straight at the mock (to check the
  suite and the mock without a proxy); tests of Parapet's own behaviour are skipped.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import openai
import pytest

REPO = Path(__file__).resolve().parents[2]
DIRECT = os.environ.get("PARAPET_E2E_DIRECT") == "1"
SKIP_LLM = os.environ.get("PARAPET_SKIP_LLM") == "1"


def _target_dir() -> Path:
    d = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    return d if d.is_absolute() else REPO / d


PARAPET_BIN = Path(os.environ.get("PARAPET_BIN", _target_dir() / "release" / "parapet"))
MOCK_BIN = Path(
    os.environ.get("MOCK_UPSTREAM_BIN", _target_dir() / "release" / "examples" / "mock_upstream")
)


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port with nothing listening (bound and released; nothing else binds it in between)."""
    return free_port()


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> HttpResult:
    """A raw HTTP request (urllib); returns the status whatever it is."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return HttpResult(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return HttpResult(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def to_yaml(value: Any, indent: int = 0) -> str:
    """A tiny YAML emitter for nested dicts of scalars (the config files)."""
    lines = []
    pad = "  " * indent
    for key, v in value.items():
        if isinstance(v, dict):
            lines.append(f"{pad}{key}:")
            lines.append(to_yaml(v, indent + 1))
        else:
            lines.append(f"{pad}{key}: {_scalar(v)}")
    return "\n".join(lines)


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))


def assert_openai_error(body: Any, status: int | None = None) -> dict:
    """Checks the OpenAI error shape `{"error":{"message","type","param","code"}}`."""
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    err = body["error"]
    for key in ("message", "type", "param", "code"):
        assert key in err, f"error body lacks {key!r}: {body}"
    assert isinstance(err["message"], str) and err["message"], body
    assert isinstance(err["type"], str) and err["type"], body
    return err


# ------------------------------------------------------------------------------------------
# processes
# ------------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    info: dict[str, Any] = field(default_factory=dict)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10) -> None:
        if self.popen.poll() is not None:
            return
        try:
            # Each managed process runs in its own session: signal its whole group.
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)


_RUNNING: list[Proc] = []


def inherited_env() -> dict[str, str]:
    """The environment for child processes, less PARAPET_* settings (env beats the config file,
    so a PARAPET_UPSTREAM left in the caller's shell would silently redirect the proxy)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PARAPET_")}


def spawn(name: str, argv: list[str], log_dir: Path, env: dict | None = None, stdout_pipe=False) -> Proc:
    log_path = log_dir / f"{name}-{len(_RUNNING)}.log"
    log = open(log_path, "wb")
    popen = subprocess.Popen(
        [str(a) for a in argv],
        stdout=subprocess.PIPE if stdout_pipe else log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        env={**inherited_env(), **(env or {})},
        cwd=REPO,
        start_new_session=True,
    )
    log.close()
    proc = Proc(name, popen, log_path)
    _RUNNING.append(proc)
    return proc


def wait_ready(proc: Proc, url: str, deadline_s: float) -> None:
    """Polls `url` until it answers 200; fails at once if the process exits."""
    deadline = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(
                f"{proc.name} exited with {proc.popen.returncode} before {url} answered:\n"
                + proc.log_tail()
            )
        try:
            if http("GET", url, timeout=2).status == 200:
                return
        except OSError as e:  # connection refused, reset, timeout
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"{proc.name}: {url} not ready after {deadline_s}s ({last}):\n" + proc.log_tail())


def pytest_runtest_makereport(item, call):
    """On failure, attach the logs of the processes that are running."""
    if call.excinfo is None or call.excinfo.errisinstance(pytest.skip.Exception):
        return
    for proc in _RUNNING:
        if proc.log_path.exists():
            item.add_report_section(call.when, f"log {proc.name} ({proc.log_path})", proc.log_tail(80))


# ------------------------------------------------------------------------------------------
# mock upstream
# ------------------------------------------------------------------------------------------


@dataclass
class Mock:
    port: int
    proc: Proc

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def start_mock(log_dir: Path, *args: str) -> Mock:
    if not MOCK_BIN.exists():
        pytest.fail(f"{MOCK_BIN} not found: build it with `cargo build --release --example mock_upstream`")
    proc = spawn("mock_upstream", [MOCK_BIN, "--listen", "127.0.0.1:0", *args], log_dir, stdout_pipe=True)
    out = proc.popen.stdout
    assert out is not None
    deadline = time.monotonic() + 10
    line = b""
    while time.monotonic() < deadline and not line.endswith(b"\n"):
        ready, _, _ = select.select([out], [], [], 0.1)
        if ready:
            chunk = os.read(out.fileno(), 256)
            if not chunk:
                break
            line += chunk
    text = line.decode(errors="replace").strip()
    if not text.startswith("listening on "):
        proc.stop()
        raise RuntimeError(f"mock_upstream did not report its address (got {text!r}):\n{proc.log_tail()}")
    port = int(text.rsplit(":", 1)[1])
    return Mock(port, proc)


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def mock(log_dir) -> Iterator[Mock]:
    m = start_mock(log_dir)
    yield m
    m.proc.stop()


@pytest.fixture(scope="session")
def recording_mock(log_dir) -> Iterator[Mock]:
    """A second mock that logs what it receives (`--record`): `upstream_log(recording_mock)`."""
    m = start_mock(log_dir, "--record", "4096")
    yield m
    m.proc.stop()


def upstream_log(m: Mock) -> dict:
    """The recording mock's log: {"total": requests received, "requests": [...] oldest first}."""
    r = http("GET", f"http://127.0.0.1:{m.port}/__mock/requests")
    assert r.status == 200, r.body
    return r.json()


def scrape_metrics(admin_url: str) -> dict[tuple[str, frozenset], float]:
    """Parapet's /metrics as {(name, frozenset of (label, value) pairs): value}."""
    r = http("GET", f"{admin_url}/metrics")
    assert r.status == 200, r.body
    out: dict[tuple[str, frozenset], float] = {}
    for line in r.body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        pairs = []
        for part in _split_labels(labels.rstrip("}")):
            k, _, v = part.partition("=")
            pairs.append((k, json.loads(v)))
        out[(name, frozenset(pairs))] = float(value)
    return out


def _split_labels(text: str) -> list[str]:
    """Splits `a="x",b="y,z"` on the commas between labels (values may contain commas)."""
    parts, cur, quoted, escaped = [], "", False, False
    for ch in text:
        if escaped:
            cur, escaped = cur + ch, False
        elif ch == "\\":
            cur, escaped = cur + ch, True
        elif ch == '"':
            cur, quoted = cur + ch, not quoted
        elif ch == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def metric_sum(samples: dict, name: str, **labels: str) -> float:
    """The sum of `name` over the samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


# ------------------------------------------------------------------------------------------
# parapet
# ------------------------------------------------------------------------------------------


@dataclass
class Parapet:
    port: int
    admin_port: int
    proc: Proc | None
    config_path: Path | None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def client(self, **kw) -> openai.OpenAI:
        return make_client(self.base, **kw)

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()


def make_client(base_url: str, **kw) -> openai.OpenAI:
    kw.setdefault("timeout", 30)
    return openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0, **kw)


def default_config(upstream_url: str) -> dict:
    return {
        "upstream": {
            "url": upstream_url,
            "connect_timeout": "2s",
            "first_byte_timeout": "2s",
            "total_timeout": "30s",
            "first_token_timeout": "10s",
            "idle_timeout": "10s",
        },
        "limits": {
            "max_request_bytes": "64KiB",
            "max_response_bytes": "32MiB",
            "max_concurrency": 1024,
        },
        "shutdown_grace": "1s",
    }


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def start_parapet(
    log_dir: Path, config: dict, env: dict | None = None, attempts: int = 3, args: list | None = None
) -> Parapet:
    """`parapet serve --config <config as yaml> [args...]` on free ports, ready."""
    if not PARAPET_BIN.exists():
        pytest.fail(f"{PARAPET_BIN} not found: build it with `cargo build --release`")
    last_err: Exception | None = None
    for _ in range(attempts):  # a picked free port can be taken in between: retry
        port, admin_port = free_port(), free_port()
        cfg = merge(config, {"listen": f"127.0.0.1:{port}", "admin_listen": f"127.0.0.1:{admin_port}"})
        path = log_dir / f"parapet-{port}.yaml"
        path.write_text(to_yaml(cfg) + "\n")
        proc = spawn(
            "parapet",
            [PARAPET_BIN, "serve", "--config", path, *(args or [])],
            log_dir,
            env={"PARAPET_LOG": "info", "PARAPET_LOG_FORMAT": "text", **(env or {})},
        )
        try:
            wait_ready(proc, f"http://127.0.0.1:{admin_port}/readyz", 30)
        except RuntimeError as e:
            proc.stop()
            last_err = e
            if "in use" in str(e).lower():
                continue
            raise
        return Parapet(port, admin_port, proc, path)
    raise RuntimeError(f"parapet did not start: {last_err}")


@pytest.fixture(scope="session")
def parapet_factory(log_dir):
    """start_parapet(config_overrides, upstream_url=..., args=[extra serve flags]) -> Parapet;
    stopped at session end."""
    started: list[Parapet] = []

    def factory(
        overrides: dict | None = None,
        upstream_url: str | None = None,
        env: dict | None = None,
        args: list | None = None,
    ):
        if DIRECT:
            pytest.skip("PARAPET_E2E_DIRECT=1: needs Parapet itself")
        assert upstream_url is not None
        p = start_parapet(log_dir, merge(default_config(upstream_url), overrides or {}), env, args=args)
        started.append(p)
        return p

    yield factory
    for p in started:
        p.stop()


@pytest.fixture(scope="session")
def proxy(mock, parapet_factory) -> Parapet:
    """Parapet in front of the mock (or, with PARAPET_E2E_DIRECT=1, the mock itself)."""
    if DIRECT:
        return Parapet(mock.port, 0, None, None)
    return parapet_factory(upstream_url=mock.base)


@pytest.fixture
def client(proxy) -> openai.OpenAI:
    return proxy.client()


@pytest.fixture
def parapet_only():
    if DIRECT:
        pytest.skip("PARAPET_E2E_DIRECT=1: checks Parapet's own behaviour")


# ------------------------------------------------------------------------------------------
# llama.cpp demo LLM
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_llm(log_dir) -> Iterator[str]:
    """The llama.cpp demo server (scripts/demo-llm.sh, foreground, on a free port): base URL."""
    if SKIP_LLM:
        pytest.skip("PARAPET_SKIP_LLM=1")
    port = free_port()
    proc = spawn(
        "demo-llm",
        ["bash", REPO / "scripts" / "demo-llm.sh", "--foreground", "--port", str(port)],
        log_dir,
    )
    # Setup is normally done beforehand (scripts/test.sh); if not, it builds here (~8 min).
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}/v1/models", 1200)
    except RuntimeError:
        proc.stop()
        raise
    yield f"http://127.0.0.1:{port}/v1"
    proc.stop()


@pytest.fixture(scope="session")
def llm_proxy(demo_llm, parapet_factory) -> Parapet:
    if DIRECT:
        return Parapet(int(demo_llm.rsplit(":", 1)[1].split("/")[0]), 0, None, None)
    return parapet_factory(
        {"upstream": {"first_byte_timeout": "120s", "total_timeout": "300s", "first_token_timeout": "120s"}},
        upstream_url=demo_llm,
    )


def pytest_collection_modifyitems(config, items):
    if SKIP_LLM:
        skip = pytest.mark.skip(reason="PARAPET_SKIP_LLM=1")
        for item in items:
            if "llm" in item.keywords:
                item.add_marker(skip)


def pytest_report_header(config):
    return [
        f"parapet: {PARAPET_BIN}",
        f"mock_upstream: {MOCK_BIN}",
        f"python: {sys.version.split()[0]}, openai {openai.__version__}",
        "mode: " + ("DIRECT (mock only)" if DIRECT else "through Parapet") + (", no llama.cpp" if SKIP_LLM else ""),
    ]


def default_policy_without_classifiers() -> str:
    """policies/default.yaml without its classifier rules (tagged `classifier`) and the inline
    tests naming them: for suites that pin exact decision counts of the regex and PII rules,
    which must not move when the models are retrained (test_classifiers.py covers the models)."""
    import yaml

    policy = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    dropped = {r["id"] for r in policy["rules"] if "classifier" in r.get("tags", [])}
    assert dropped, "the default policy has no classifier rules any more"
    policy["rules"] = [r for r in policy["rules"] if r["id"] not in dropped]
    policy["tests"] = [
        t
        for t in policy.get("tests", [])
        if not dropped & set(t["expect"].get("rules", []) + t["expect"].get("not_rules", []))
    ]
    return yaml.safe_dump(policy, sort_keys=False, allow_unicode=True)
