# shellcheck shell=bash
# Helpers shared by the scripts in this folder. Source it; do not run it.

# Absolute path of the repository root (the parent of scripts/).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# Where cargo puts binaries (honours CARGO_TARGET_DIR, relative or absolute).
target_dir() {
    local dir="${CARGO_TARGET_DIR:-target}"
    case "$dir" in
        /*) printf '%s\n' "$dir" ;;
        *) printf '%s\n' "$REPO_ROOT/$dir" ;;
    esac
}

log() {
    printf '[%s] %s\n' "$(basename "$0")" "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

have() {
    command -v "$1" >/dev/null 2>&1
}

# apt_install PKG...: installs the Debian packages that are missing (root only).
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
        die "missing packages: ${missing[*]} (install them, e.g. sudo apt-get install ${missing[*]})"
    fi
    log "installing Debian packages: ${missing[*]}"
    # An empty package list (fresh machine) needs an update first.
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]; then
        apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# wait_http URL SECONDS [PID]: polls URL until it answers 2xx; fails after SECONDS, or at once
# when PID (if given) has exited.
wait_http() {
    local url="$1" secs="$2" pid="${3:-}" deadline
    deadline=$((SECONDS + secs))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            return 0
        fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            log "process $pid exited while waiting for $url"
            return 1
        fi
        sleep 0.2
    done
    log "timed out after ${secs}s waiting for $url"
    return 1
}

# free_port: prints a TCP port that was free on 127.0.0.1 a moment ago.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
