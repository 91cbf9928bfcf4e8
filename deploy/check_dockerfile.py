#!/usr/bin/env python3
"""Checks deploy/Dockerfile beyond hadolint's lint (no Docker engine runs here, so the image is
never built in CI; these are the mistakes a build would reveal):

- every build-context path the Dockerfile COPYs exists in the repository and is let through by
  deploy/Dockerfile.dockerignore (an allow-list: `*`, then `!path` exceptions);
- every file the [[bench]] / [[test]] targets of Cargo.toml need is in the context too (cargo
  refuses to build even the binary without them);
- with --parapet, the image's config (deploy/parapet.yaml, what PARAPET_CONFIG points at) is
  accepted by `parapet serve` with the image's environment (listen addresses moved to free
  loopback ports, the image's policy and model directories replaced by policies/ and
  classifiers/).

  check_dockerfile.py [--parapet BIN]
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
REPO = DEPLOY.parent
DOCKERFILE = DEPLOY / "Dockerfile"
IGNORE = DEPLOY / "Dockerfile.dockerignore"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def included(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore semantics for the patterns used here: the last matching pattern
    wins; `!` re-includes; a directory pattern covers everything below it."""
    path = path.strip("/")
    keep = True
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.strip("/")
        if fnmatch.fnmatch(path, p) or path.startswith(p + "/") or p == "*":
            keep = neg
    return keep


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parapet", type=Path)
    args = ap.parse_args()
    problems: list[str] = []

    patterns = [ln.strip() for ln in IGNORE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    steps = instructions(DOCKERFILE.read_text())
    env: dict[str, str] = {}
    for word, rest in steps:
        if word == "ENV":
            env.update(dict(re.findall(r'(\w+)=("[^"]*"|\S+)', rest)))
        if word != "COPY" or "--from=" in rest:
            continue
        *sources, _dest = rest.split()
        for src in sources:
            if src.startswith("--"):
                continue
            if not (REPO / src).exists():
                problems.append(f"COPY {src}: no such path in the repository")
            root = REPO / src
            files = [f for f in root.rglob("*") if f.is_file()] if root.is_dir() else [root]
            files = [f.relative_to(REPO).as_posix() for f in files]
            files = [f for f in files if "/target/" not in f]  # build output, never copied
            for rel in files:
                if not included(rel, patterns):
                    problems.append(f"COPY {src}: {rel} is excluded from the build context by {IGNORE.name}")

    # Cargo targets whose files must exist for `cargo build --bin parapet`.
    manifest = tomllib.loads((REPO / "Cargo.toml").read_text())
    needed = [b.get("path", f"benches/{b['name']}.rs") for b in manifest.get("bench", [])]
    copied = [rest.split()[0] for word, rest in steps if word == "COPY" and "--from=" not in rest]
    for path in needed:
        if not any(path == c.rstrip("/") or path.startswith(c.rstrip("/") + "/") for c in copied):
            problems.append(f"Cargo.toml declares {path}, which the Dockerfile does not COPY before building")

    for key in ("PARAPET_CONFIG", "PARAPET_LOG_FORMAT"):
        if key not in env:
            problems.append(f"the image does not set {key}")
    if env.get("PARAPET_CONFIG") != "/etc/parapet/parapet.yaml":
        problems.append(f"PARAPET_CONFIG is {env.get('PARAPET_CONFIG')}, but deploy/parapet.yaml is copied to /etc/parapet/parapet.yaml")

    if args.parapet and not problems:
        check_config(args.parapet, env, problems)

    for p in problems:
        print(f"check_dockerfile: {p}", file=sys.stderr)
    if problems:
        return 1
    print("check_dockerfile: build context, cargo targets and the image's config are consistent")
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_config(parapet: Path, image_env: dict[str, str], problems: list[str]) -> None:
    admin = free_port()
    env = {k: v.strip('"') for k, v in image_env.items()}
    env.update({
        "PATH": "/usr/bin:/bin",
        "PARAPET_CONFIG": str(DEPLOY / "parapet.yaml"),
        "PARAPET_LISTEN": f"127.0.0.1:{free_port()}",
        "PARAPET_ADMIN_LISTEN": f"127.0.0.1:{admin}",
        "PARAPET_UPSTREAM": f"http://127.0.0.1:{free_port()}/v1",
        "PARAPET_POLICY": str(REPO / "policies"),
        "PARAPET_CLASSIFIERS": str(REPO / "classifiers"),
    })
    proc = subprocess.Popen([parapet, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        proc.terminate()
        problems.append(f"`parapet serve` refused the image's config:\n{proc.communicate(timeout=10)[1]}")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
    # Without an upstream the image must refuse to start, and say why.
    env.pop("PARAPET_UPSTREAM")
    r = subprocess.run([parapet, "serve"], env=env, capture_output=True, text=True, timeout=20)
    if r.returncode == 0 or "no upstream configured" not in r.stderr:
        problems.append(f"without PARAPET_UPSTREAM the image's config should refuse to start: {r.stderr!r}")


if __name__ == "__main__":
    sys.exit(main())
