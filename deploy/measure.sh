#!/usr/bin/env bash
# Measures what one Parapet process needs, to size its container (deploy/kubernetes/base/
# deployment.yaml resources, the HPA target; the numbers are in deploy/README.md#sizing).
#
# Runs the release binary with the image's settings (deploy/parapet.yaml, on loopback ports)
# and the default policy, in front of examples/mock_upstream, and reads the process' RSS
# (VmRSS, peak VmHWM) and CPU time (utime+stime) from /proc:
#   1. idle, after start-up and a few requests;
#   2. non-streamed chat at saturation: wrk -t1 -c32 (mock --canned, so the mock costs little);
#   3. 1 MiB prompts, 32 at a time (bodies in memory, the policy scanning every byte);
#   4. many concurrent guarded streams: wrk -c$MEASURE_STREAMS, each stream ~4 s long (200 events
#      20 ms apart, held back and vetted by the default policy's output rules);
#   and the RSS 5 s after each load (memory returned or not).
# Everything is on this machine's loopback, bounded in time. wrk, the mock and Parapet share the
# machine's cores, so req/s is a floor; CPU seconds per request is the portable number.
#
# Env: MEASURE_SECS=15 (seconds per load), MEASURE_STREAMS=512, PARAPET_BIN, MOCK_UPSTREAM_BIN.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

SECS="${MEASURE_SECS:-15}"
STREAMS="${MEASURE_STREAMS:-512}"
TARGET="$(target_dir)"
PARAPET="${PARAPET_BIN:-$TARGET/release/parapet}"
MOCK="${MOCK_UPSTREAM_BIN:-$TARGET/release/examples/mock_upstream}"
[ -x "$PARAPET" ] || die "$PARAPET not found: cargo build --release --bin parapet"
[ -x "$MOCK" ] || die "$MOCK not found: cargo build --release --example mock_upstream"
have wrk || die "wrk is not installed (apt-get install wrk)"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

start_mock() { # start_mock NAME ARGS...: starts a mock, sets MOCK_ADDR (no subshell: PIDS must see it)
    local name="$1"
    shift
    MOCK_ADDR=""
    "$MOCK" --listen 127.0.0.1:0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        MOCK_ADDR="$(sed -n 's/^listening on //p' "$WORK/$name.out" 2>/dev/null)"
        [ -n "$MOCK_ADDR" ] && break
        sleep 0.05
    done
    [ -n "$MOCK_ADDR" ] || die "mock_upstream did not start: $(cat "$WORK/$name.err")"
}

start_mock canned --canned
CANNED="$MOCK_ADDR"
start_mock slow
SLOW="$MOCK_ADDR"

# The image's config on loopback ports. Phase 2 runs Parapet in front of the canned mock, phase 3
# a fresh Parapet in front of the slow (streaming) mock: each phase is measured from a clean start.
P_PORT="$(free_port)"
A_PORT="$(free_port)"
sed -e "s/^listen: .*/listen: 127.0.0.1:$P_PORT/" \
    -e "s/^admin_listen: .*/admin_listen: 127.0.0.1:$A_PORT/" \
    -e "s|^policies: .*|policies: [$REPO_ROOT/policies/default.yaml]|" \
    deploy/parapet.yaml >"$WORK/parapet.yaml"

start_parapet() { # start_parapet UPSTREAM_ADDR: starts Parapet, sets PARAPET_PID
    PARAPET_LOG=warn PARAPET_LOG_FORMAT=json "$PARAPET" serve --config "$WORK/parapet.yaml" \
        --upstream "http://$1/v1" >"$WORK/parapet.log" 2>&1 &
    PARAPET_PID=$!
    PIDS+=("$PARAPET_PID")
    wait_http "http://127.0.0.1:$A_PORT/readyz" 30 "$PARAPET_PID" || {
        tail -n 20 "$WORK/parapet.log" >&2
        die "parapet did not become ready"
    }
}

stop_parapet() {
    kill -TERM "$PARAPET_PID" 2>/dev/null || true
    wait "$PARAPET_PID" 2>/dev/null || true
}

kib() { # kib FIELD: VmRSS / VmHWM of Parapet in KiB
    awk -v f="$1:" '$1 == f { print $2 }' "/proc/$PARAPET_PID/status"
}

cpu_ticks() { # utime + stime of Parapet, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$PARAPET_PID/stat"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

TICKS="$(getconf CLK_TCK)"
RESULTS=()
report() { RESULTS+=("$(printf '%-34s %s' "$1" "$2")"); }

# One load phase: measure_load NAME WRK_ARGS...
measure_load() {
    local name="$1" t0 c0 t1 c1 out reqs rps cpu_s
    shift
    c0="$(cpu_ticks)"
    t0="$(date +%s.%N)"
    out="$(wrk "$@" 2>&1)" || die "wrk failed: $out"
    t1="$(date +%s.%N)"
    c1="$(cpu_ticks)"
    reqs="$(awk '/requests in/ { print $1 }' <<<"$out")"
    rps="$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")"
    cpu_s="$(awk -v a="$c0" -v b="$c1" -v t="$TICKS" 'BEGIN { printf "%.2f", (b - a) / t }')"
    if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
        log "$name: wrk reported errors:"
        grep 'Non-2xx\|Socket errors' <<<"$out" >&2
    fi
    report "$name: requests" "$reqs ($rps req/s)"
    report "$name: CPU" "$(awk -v c="$cpu_s" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.2f cores (%.2f s CPU in %.1f s)", c / (t1 - t0), c, t1 - t0 }')"
    report "$name: CPU per 1000 requests" "$(awk -v c="$cpu_s" -v n="$reqs" 'BEGIN { if (n > 0) printf "%.3f s", 1000 * c / n; else print "n/a (no request completed)" }')"
    report "$name: RSS after / peak so far" "$(mib "$(kib VmRSS)") MiB / $(mib "$(kib VmHWM)") MiB"
}

# ---- 1 + 2: idle, then non-streamed saturation --------------------------------------------------
start_parapet "$CANNED"
for _ in 1 2 3; do
    curl -fsS -o /dev/null "http://127.0.0.1:$P_PORT/v1/chat/completions" \
        -H 'content-type: application/json' \
        -d '{"model":"m","messages":[{"role":"user","content":"hello"}]}'
done
sleep 1
report "idle: RSS" "$(mib "$(kib VmRSS)") MiB"
report "idle: threads" "$(awk '$1 == "Threads:" { print $2 }' "/proc/$PARAPET_PID/status")"
measure_load "chat c32" -t1 -c32 "-d${SECS}s" -s benches/load/chat.lua "http://127.0.0.1:$P_PORT/v1/chat/completions"
sleep 5
report "chat: RSS 5 s after the load" "$(mib "$(kib VmRSS)") MiB"
cat >"$WORK/large.lua" <<'EOF2'
-- A 1 MiB prompt (the policy scans all of it).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"mock-model","messages":[{"role":"user","content":"'
    .. string.rep("lorem ipsum dolor sit amet ", 38836) .. '"}]}'
EOF2
measure_load "1MiB prompts c32" -t1 -c32 "-d${SECS}s" -s "$WORK/large.lua" "http://127.0.0.1:$P_PORT/v1/chat/completions"
stop_parapet

# ---- 3: many concurrent guarded streams ---------------------------------------------------------
cat >"$WORK/streams.lua" <<'EOF'
-- A guarded stream of 200 events 20 ms apart (600 characters of reply in pieces of 3).
local reply = string.rep("The quick brown fox jumps over the lazy dog. ", 14):sub(1, 600)
local function pct(s)
    return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-mock-chunk-delay-ms"] = "20"
wrk.headers["x-mock-reply"] = pct(reply)
wrk.body = '{"model":"mock-model","stream":true,"messages":[{"role":"user","content":"Tell me a story about a fox."}]}'
EOF
start_parapet "$SLOW"
measure_load "streams c$STREAMS" -t2 "-c$STREAMS" "-d${SECS}s" --timeout 30s -s "$WORK/streams.lua" \
    "http://127.0.0.1:$P_PORT/v1/chat/completions"
sleep 5
report "streams: RSS 5 s after the load" "$(mib "$(kib VmRSS)") MiB"
stop_parapet

printf '\nParapet %s, default policy, %s s per load, %s cores (shared with wrk and the mock)\n' \
    "$("$PARAPET" --version | awk '{ print $2 }')" "$SECS" "$(nproc)"
printf '%s\n' "${RESULTS[@]}"
