#!/usr/bin/env bash
# Creates the test virtualenv .venv/ and installs the pinned e2e test dependencies
# (tests/e2e/requirements.txt). Idempotent: a second run with unchanged requirements does nothing.
#
# Env: PYTHON (default python3) picks the interpreter the venv is made from.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PYTHON="${PYTHON:-python3}"
VENV="$REPO_ROOT/.venv"
REQS="$REPO_ROOT/tests/e2e/requirements.txt"
STAMP="$VENV/.parapet-requirements.sha256"

have "$PYTHON" || apt_install python3
# Debian's python3 needs python3-venv for `-m venv` (ensurepip).
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv
fi

want="$( { sha256sum "$REQS" | cut -d' ' -f1; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
        log ".venv is up to date"
        exit 0
    fi
else
    log "creating .venv with $("$PYTHON" --version 2>&1)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi

log "installing tests/e2e/requirements.txt into .venv"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
printf '%s\n' "$want" >"$STAMP"
log "done: $("$VENV/bin/python" -c 'import openai, pytest; print("openai", openai.__version__, "pytest", pytest.__version__)')"
