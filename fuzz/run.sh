#!/usr/bin/env bash
# fuzz/run.sh SECONDS [TARGET...]: builds the fuzz targets (cargo-fuzz, libFuzzer) and runs
# each for SECONDS (default: every target in fuzz/fuzz_targets/). Installs the pinned
# cargo-fuzz if it is missing. Exit status non-zero if a target found a crash (or failed to
# build); every target runs regardless.
#
#   policy_load      bytes as a policy file: load, compile, inline tests, diagnostics
#   sse_stream       bytes as an SSE stream cut at chosen points: parser + accumulators
#   request_extract  bytes as a request body: extraction, rewrite by span, re-extraction
#
# The committed seeds are fuzz/corpus/TARGET/ (read only here: libFuzzer's new inputs go to
# a working corpus under the target dir, kept between local runs). A crash is written to
# fuzz/artifacts/TARGET/; minimise it with `cargo fuzz tmin TARGET FILE`, then add it to
# fuzz/corpus/TARGET/ so every later run replays it.
#
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer, sanitizer coverage); this script
# sets RUSTC_BOOTSTRAP=1 so the stable toolchain accepts them.
#
# Env: FUZZ_SANITIZER   address (default) | none. AddressSanitizer works on stable here
#                       with RUSTC_BOOTSTRAP=1 (its runtime ships with rust-std for
#                       x86_64-unknown-linux-gnu); use `none` where it does not (other
#                       targets, or a toolchain without the ASan runtime).
#      FUZZ_TARGET_DIR  build directory (default: <cargo target dir>/fuzz)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

CARGO_FUZZ_VERSION=0.13.2

if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
    die "usage: fuzz/run.sh SECONDS [TARGET...]"
fi
secs="$1"
shift
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    for f in fuzz/fuzz_targets/*.rs; do
        targets+=("$(basename "$f" .rs)")
    done
fi

for t in "${targets[@]}"; do
    [ -f "fuzz/fuzz_targets/$t.rs" ] || die "no fuzz target $t"
done

sanitizer="${FUZZ_SANITIZER:-address}"
build_dir="${FUZZ_TARGET_DIR:-$(target_dir)/fuzz}"
export RUSTC_BOOTSTRAP=1

timed() {
    local start=$SECONDS rc=0
    "$@" || rc=$?
    log "$(printf '%s ' "$@" | cut -c1-60)... took $((SECONDS - start))s"
    return "$rc"
}

installed="$(cargo fuzz --version 2>/dev/null || true)"
if [ -z "$installed" ]; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    timed cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
elif [ "$installed" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    log "note: using $installed (pinned: $CARGO_FUZZ_VERSION)"
fi

# One build for every target; `cargo fuzz run` below then finds them up to date. Debug
# assertions (-a) turn on overflow checks too.
build=(--fuzz-dir fuzz --target-dir "$build_dir" --sanitizer "$sanitizer" --debug-assertions)
timed cargo fuzz build "${build[@]}" || die "fuzz build failed"

failed=()
for t in "${targets[@]}"; do
    work="$build_dir/corpus/$t"
    mkdir -p "$work"
    log "fuzzing $t for ${secs}s (seeds: fuzz/corpus/$t, working corpus: $work)"
    if ! timed cargo fuzz run "${build[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -print_final_stats=1 2>&1 | grep -v -e '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)' -e '^"'; then
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    log "FAILED: ${failed[*]}; inputs are in fuzz/artifacts/ (reproduce: cargo fuzz run TARGET FILE)"
    exit 1
fi
log "all targets ran ${secs}s without a crash: ${targets[*]}"
