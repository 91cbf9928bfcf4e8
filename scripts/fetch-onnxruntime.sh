#!/usr/bin/env bash
# Fetches the ONNX Runtime shared library the classifiers load at run time.
#
# Downloads the pinned onnxruntime wheel from PyPI (pip download, no dependencies), checks its
# sha256 and extracts only libonnxruntime.so.1.31.1 into .cache/onnxruntime/ (ignored by git),
# where parapet finds it without any variable set. Idempotent: does nothing when the library is
# already there.
#
# Env: PYTHON (default python3) runs pip; ORT_CACHE_DIR (default .cache/onnxruntime) is where the
# wheel and the library go.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ORT_VERSION="1.31.1"
WHEEL="onnxruntime-${ORT_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256="5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f"
LIB_NAME="libonnxruntime.so.${ORT_VERSION}"
MEMBER="onnxruntime/capi/${LIB_NAME}"

PYTHON="${PYTHON:-python3}"
CACHE="${ORT_CACHE_DIR:-$REPO_ROOT/.cache/onnxruntime}"
WHEEL_DIR="$CACHE/wheel"
LIB="$CACHE/$LIB_NAME"

if [ -s "$LIB" ]; then
    log "$LIB is present"
    exit 0
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) die "only Linux x86_64 is supported by this script (got $(uname -s) $(uname -m)); set PARAPET_ORT_LIB to a libonnxruntime ${ORT_VERSION} you provide" ;;
esac

have "$PYTHON" || apt_install python3
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip
fi

mkdir -p "$WHEEL_DIR"
wheel_ok() {
    [ -f "$WHEEL_DIR/$WHEEL" ] && [ "$(sha256sum "$WHEEL_DIR/$WHEEL" | cut -d' ' -f1)" = "$WHEEL_SHA256" ]
}

if ! wheel_ok; then
    rm -f "$WHEEL_DIR/$WHEEL"
    log "downloading onnxruntime==${ORT_VERSION} (wheel, no dependencies)"
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64 \
        --dest "$WHEEL_DIR" "onnxruntime==${ORT_VERSION}"
    wheel_ok || die "$WHEEL_DIR/$WHEEL is missing or its sha256 is not $WHEEL_SHA256"
fi

log "extracting $MEMBER"
# Extract to a temporary name, then rename: an interrupted run never leaves a partial library.
"$PYTHON" - "$WHEEL_DIR/$WHEEL" "$MEMBER" "$LIB.tmp" <<'EOF'
import shutil
import sys
import zipfile

wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
EOF
chmod 0644 "$LIB.tmp"
mv -f "$LIB.tmp" "$LIB"
log "done: $LIB"
