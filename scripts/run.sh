#!/usr/bin/env bash
# Builds Parapet (release) and runs it.
#   - PARAPET_UPSTREAM set: `parapet serve` in front of it.
#   - otherwise: starts the local demo LLM (llama.cpp + SmolLM2-135M, scripts/demo-llm.sh) in the
#     background and runs `parapet serve --upstream http://127.0.0.1:${DEMO_LLM_PORT:-8001}/v1` in
#     the foreground; the demo LLM is stopped when Parapet exits (Ctrl-C).
# Parapet listens on 127.0.0.1:8080 (admin: 127.0.0.1:9464) unless told otherwise; extra
# arguments go to `parapet serve` (e.g. --config parapet.yaml, --listen 0.0.0.0:8080).
#
# Then, from another terminal:
#   curl http://127.0.0.1:8080/v1/chat/completions -H 'content-type: application/json' \
#     -d '{"model":"smollm2","messages":[{"role":"user","content":"Hello!"}]}'
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

have cargo || die "cargo not found: install Rust (https://rustup.rs)"
# The classifiers run on ONNX Runtime, taken from its pinned PyPI wheel (cached in .cache/).
scripts/fetch-onnxruntime.sh
log "building parapet (release)"
cargo build --release --bin parapet
PARAPET="$(target_dir)/release/parapet"

if [ -n "${PARAPET_UPSTREAM:-}" ]; then
    log "parapet in front of $PARAPET_UPSTREAM"
    exec "$PARAPET" serve "$@"
fi

PORT="${DEMO_LLM_PORT:-8001}"
started_llm=0
if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/v1/models" 2>/dev/null; then
    log "reusing the LLM server already answering on 127.0.0.1:$PORT"
else
    log "starting the demo LLM (first run: installs llama-cpp-python and the model, ~10 min)"
    scripts/demo-llm.sh --background --port "$PORT"
    started_llm=1
fi
# shellcheck disable=SC2317  # invoked by the EXIT trap
stop_llm() {
    if [ "$started_llm" = 1 ]; then
        scripts/demo-llm.sh --stop || true
    fi
}
trap stop_llm EXIT

log "parapet in front of the demo LLM at http://127.0.0.1:$PORT/v1 (Ctrl-C stops both)"
status=0
"$PARAPET" serve --upstream "http://127.0.0.1:$PORT/v1" "$@" || status=$?
exit "$status"
