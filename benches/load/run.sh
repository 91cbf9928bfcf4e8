#!/usr/bin/env bash
# Load benchmark: what Parapet adds on top of its upstream, measured with wrk in one run.
#
# Starts the mock upstream in --canned mode (precomputed responses: it costs next to nothing),
# Parapet in front of it, and (if installed) nginx as a plain reverse proxy in front of it, the
# floor any proxy is compared with. For non-streamed chat and streamed chat (a 20-event SSE
# stream) and chat with a new prompt every request (`novel`: every prompt is classified, no score
# comes from the cache) it measures every path:
#   - one request at a time:  wrk -t1 -c1  -d$BENCH_SECS --latency  -> p50 / p99
#   - saturation:             wrk -t$BENCH_SAT_THREADS -c$BENCH_SAT_CONNS -d$BENCH_SECS -> req/s
# and prints a Markdown table: latency added over direct at c1, throughput relative to direct
# and to nginx at saturation, and Parapet's peak resident memory (VmHWM) over the whole run. Exits non-zero if any request failed (non-2xx, socket errors) or a
# path returned a wrong body, so a 1-2 second run works as a CI smoke test.
#
# Env:
#   BENCH_SECS=10          seconds per wrk run (18 runs in all, plus 1 s warm-ups when >= 5)
#   BENCH_SAT_CONNS=32     connections for the saturation runs
#   BENCH_SAT_THREADS=1    wrk threads for the saturation runs
#   BENCH_PIN=0            1: wrk on CPU 0, the mock on CPU 1 (one worker thread), proxies free;
#                          reduces run-to-run noise on a 2-core machine (see README.md here)
#   BENCH_NGINX=auto       0 skips nginx even when installed
#   BENCH_NO_BUILD=1       use the existing release binaries
#   BENCH_PARAPET_ARGS     extra `parapet serve` arguments (e.g. "--config bench.yaml")
#   PARAPET_LOG            Parapet's log filter during the run (default: info, to a file)
#   BENCH_OUT=FILE         also write the table to FILE
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$REPO_ROOT"

SECS="${BENCH_SECS:-10}"
SAT_CONNS="${BENCH_SAT_CONNS:-32}"
SAT_THREADS="${BENCH_SAT_THREADS:-1}"
PIN="${BENCH_PIN:-0}"
LUA="$REPO_ROOT/benches/load/chat.lua"

have wrk || die "wrk is not installed (apt-get install wrk)"
have curl || die "curl is not installed"

TARGET="$(target_dir)"
if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
    log "building parapet and mock_upstream (release)"
    cargo build --release --bin parapet --example mock_upstream
fi
PARAPET="$TARGET/release/parapet"
MOCK="$TARGET/release/examples/mock_upstream"
[ -x "$PARAPET" ] || die "$PARAPET not found"
[ -x "$MOCK" ] || die "$MOCK not found"

WORK="$(mktemp -d /tmp/parapet-bench.XXXXXX)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

pin() { # pin CPU CMD...: runs CMD on CPU when BENCH_PIN=1
    local cpu="$1"
    shift
    if [ "$PIN" = 1 ] && have taskset; then
        taskset -c "$cpu" "$@"
    else
        "$@"
    fi
}

# ---- the mock (canned) -------------------------------------------------------------------------
mock_args=(--canned --listen 127.0.0.1:0)
[ "$PIN" = 1 ] && mock_args+=(--threads 1)
pin 1 "$MOCK" "${mock_args[@]}" >"$WORK/mock.out" 2>"$WORK/mock.err" &
PIDS+=($!)
for _ in $(seq 1 100); do
    grep -q '^listening on ' "$WORK/mock.out" 2>/dev/null && break
    sleep 0.05
done
MOCK_ADDR="$(sed -n 's/^listening on //p' "$WORK/mock.out")"
[ -n "$MOCK_ADDR" ] || die "mock_upstream did not start: $(cat "$WORK/mock.err")"

# ---- parapet -----------------------------------------------------------------------------------
P_PORT="$(free_port)"
A_PORT="$(free_port)"
extra=()
if [ -n "${BENCH_PARAPET_ARGS:-}" ]; then
    read -r -a extra <<<"$BENCH_PARAPET_ARGS"
fi
PARAPET_LOG="${PARAPET_LOG:-info}" PARAPET_LOG_FORMAT=json \
    "$PARAPET" serve --upstream "http://$MOCK_ADDR/v1" --listen "127.0.0.1:$P_PORT" \
    --admin-listen "127.0.0.1:$A_PORT" "${extra[@]}" >"$WORK/parapet.log" 2>&1 &
PIDS+=($!)
PARAPET_PID=$!
if ! wait_http "http://127.0.0.1:$A_PORT/readyz" 30 "${PIDS[-1]}"; then
    tail -n 20 "$WORK/parapet.log" >&2
    die "parapet did not become ready"
fi

# ---- nginx (the floor) -------------------------------------------------------------------------
NGINX_PORT=""
if [ "${BENCH_NGINX:-auto}" != 0 ] && have nginx; then
    NGINX_PORT="$(free_port)"
    mkdir -p "$WORK/nginx/tmp"
    cat >"$WORK/nginx/nginx.conf" <<EOF
# nginx as a plain reverse proxy: keep-alive to the upstream, no buffering (as for SSE).
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    upstream mock { server $MOCK_ADDR; keepalive 128; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
EOF
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2>"$WORK/nginx/stderr.log" &
    PIDS+=($!)
    if ! wait_http "http://127.0.0.1:$NGINX_PORT/v1/models" 10 "${PIDS[-1]}"; then
        cat "$WORK/nginx/stderr.log" "$WORK/nginx/error.log" >&2 2>/dev/null || true
        die "nginx did not start"
    fi
fi

# ---- targets and a correctness check -----------------------------------------------------------
NAMES=(direct)
URLS=("http://$MOCK_ADDR/v1/chat/completions")
if [ -n "$NGINX_PORT" ]; then
    NAMES+=(nginx)
    URLS+=("http://127.0.0.1:$NGINX_PORT/v1/chat/completions")
fi
NAMES+=(parapet)
URLS+=("http://127.0.0.1:$P_PORT/v1/chat/completions")

ERRORS=()
check_body() { # check_body URL STREAM
    local body out
    body='{"model":"mock-model","messages":[{"role":"user","content":"check"}],"stream":'"$2"'}'
    out="$(curl -sS --max-time 10 -H 'content-type: application/json' -d "$body" "$1")" || return 1
    if [ "$2" = true ]; then # the canned stream: 20 events (a proxy may re-frame them)
        [ "$(grep -c '^data: ' <<<"$out")" -ge 3 ] && grep -q '^data: \[DONE\]' <<<"$out"
    else
        grep -q 'echo: Hello! This canned reply' <<<"$out"
    fi
}
for i in "${!NAMES[@]}"; do
    for stream in false true; do
        check_body "${URLS[$i]}" "$stream" || ERRORS+=("${NAMES[$i]}: wrong body (stream=$stream)")
    done
done

# ---- measurements ------------------------------------------------------------------------------
# to_us VALUE: wrk's "45.00us" / "1.20ms" / "1.01s" -> microseconds
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; else if (u == "m") n *= 60000000
        printf "%.0f", n }'
}

declare -A P50 P99 RPS
BLOCKED_SERIES='parapet_requests_total{outcome="blocked",route="chat_completions"}'
NOVEL_BLOCKED=0
# parapet_metric SERIES: its value on Parapet's /metrics (0 when absent).
parapet_metric() {
    curl -fsS --max-time 5 "http://127.0.0.1:$A_PORT/metrics" 2>/dev/null |
        awk -v s="$1" '$1 == s {printf "%d", $2; found = 1} END {if (!found) print 0}'
}

run_wrk() { # run_wrk NAME URL KIND(chat|stream) MODE(c1|sat)
    local name="$1" url="$2" kind="$3" mode="$4" out stream=0 novel=0 args
    [ "$kind" = stream ] && stream=1
    [ "$kind" = novel ] && novel=1
    if [ "$mode" = c1 ]; then
        args=(-t1 -c1 "-d${SECS}s" --latency)
    else
        args=("-t$SAT_THREADS" "-c$SAT_CONNS" "-d${SECS}s")
    fi
    if [ "$SECS" -ge 5 ]; then # warm-up: connections, caches, allocator
        BENCH_STREAM=$stream BENCH_NOVEL=$novel pin 0 wrk -t1 -c4 -d1s -s "$LUA" "$url" >/dev/null 2>&1 || true
    fi
    local blocked_before blocked non2xx
    blocked_before="$(parapet_metric "$BLOCKED_SERIES")"
    out="$(BENCH_STREAM=$stream BENCH_NOVEL=$novel pin 0 wrk "${args[@]}" -s "$LUA" "$url" 2>&1)" || {
        ERRORS+=("$name $kind $mode: wrk failed: $out")
        return 0
    }
    printf '%s\n' "$out" >"$WORK/wrk-$name-$kind-$mode.txt"
    non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
    if [ -n "$non2xx" ]; then
        blocked=$(($(parapet_metric "$BLOCKED_SERIES") - blocked_before))
        # New prompts go through the classifiers: a benign prompt the model flags is blocked
        # (400). Those are counted and reported, not errors; any other non-2xx is.
        if [ "$name/$kind" = parapet/novel ] && [ "$non2xx" -le "$blocked" ]; then
            NOVEL_BLOCKED=$((NOVEL_BLOCKED + non2xx))
        else
            ERRORS+=("$name $kind $mode: $(grep 'Non-2xx' <<<"$out" | xargs)")
        fi
    fi
    if grep -q 'Socket errors' <<<"$out"; then
        ERRORS+=("$name $kind $mode: $(grep 'Socket errors' <<<"$out" | xargs)")
    fi
    local key="$name/$kind"
    if [ "$mode" = c1 ]; then
        P50[$key]="$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
        P99[$key]="$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
    else
        RPS[$key]="$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")"
    fi
    log "$name $kind $mode: $(awk '/^Requests\/sec:/ {print $2 " req/s"}' <<<"$out")"
}

log "measuring: ${NAMES[*]}; ${SECS}s per run; saturation -t$SAT_THREADS -c$SAT_CONNS; pin=$PIN"
for kind in chat stream novel; do
    for i in "${!NAMES[@]}"; do
        run_wrk "${NAMES[$i]}" "${URLS[$i]}" "$kind" c1
        run_wrk "${NAMES[$i]}" "${URLS[$i]}" "$kind" sat
    done
done

# ---- report ------------------------------------------------------------------------------------
fmt_us() { # microseconds (>= 0) -> "45 us" / "1.20 ms"
    awk -v n="$1" 'BEGIN { if (n == "") print "?"; else if (n >= 1000) printf "%.2f ms", n / 1000; else printf "%d us", n }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "?"; else printf "%.2fx", a / b }'; }
added() { # added MEASURED DIRECT -> "+12 us"
    if [ -z "$1" ] || [ -z "$2" ]; then echo "?"; return; fi
    local d=$(($1 - $2))
    if [ "$d" -ge 0 ]; then echo "+$(fmt_us "$d")"; else echo "-$(fmt_us $((-d)))"; fi
}

report() {
    echo "### Parapet load benchmark"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
    echo "wrk ${SECS}s per run; c1 = \`-t1 -c1 --latency\`; saturation = \`-t$SAT_THREADS -c$SAT_CONNS\`; mock --canned; pinning: $([ "$PIN" = 1 ] && echo 'wrk cpu0, mock cpu1' || echo none)"
    echo
    echo "| path | request | p50 c1 | p99 c1 | added p50 | added p99 | req/s sat | vs direct | vs nginx |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    local kind name key d label add50 add99 vs_nginx
    for kind in chat stream novel; do
        label="chat"
        [ "$kind" = stream ] && label="chat, 20-event stream"
        [ "$kind" = novel ] && label="chat, new prompt each time"
        d="direct/$kind"
        for name in "${NAMES[@]}"; do
            key="$name/$kind"
            add50=- add99=- vs_nginx=-
            if [ "$name" != direct ]; then
                add50="$(added "${P50[$key]:-}" "${P50[$d]:-}")"
                add99="$(added "${P99[$key]:-}" "${P99[$d]:-}")"
            fi
            if [ -n "$NGINX_PORT" ]; then
                vs_nginx="$(ratio "${RPS[$key]:-}" "${RPS[nginx/$kind]:-}")"
            fi
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
                "$name" "$label" "$(fmt_us "${P50[$key]:-}")" "$(fmt_us "${P99[$key]:-}")" \
                "$add50" "$add99" "${RPS[$key]:-?}" "$(ratio "${RPS[$key]:-}" "${RPS[$d]:-}")" "$vs_nginx"
        done
    done
    if [ -n "$NGINX_PORT" ]; then
        echo
        echo "Parapet throughput vs nginx (target >= 0.50x): chat $(ratio "${RPS[parapet/chat]:-}" "${RPS[nginx/chat]:-}"), stream $(ratio "${RPS[parapet/stream]:-}" "${RPS[nginx/stream]:-}")"
    fi
    echo
    echo "Parapet: ${RPS[parapet/novel]:-?} classified req/s at -c$SAT_CONNS (target >= 500); peak RSS $(awk '/^VmHWM:/ {printf "%.0f MiB", $2 / 1024}' "/proc/$PARAPET_PID/status" 2>/dev/null) (target < 300 MiB); classifier passes $(parapet_metric parapet_classifier_cache_misses_total); new prompts blocked by the classifiers (false positives on benign traffic) $NOVEL_BLOCKED"
}

echo
report | tee "${BENCH_OUT:-/dev/null}"
if [ "${#ERRORS[@]}" -gt 0 ]; then
    echo
    echo "ERRORS:"
    printf '  %s\n' "${ERRORS[@]}"
    log "parapet log tail:"
    tail -n 20 "$WORK/parapet.log" >&2 || true
    exit 1
fi
