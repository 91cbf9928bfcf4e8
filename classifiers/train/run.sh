#!/usr/bin/env bash
# Reproduce Parapet's default classifiers: fetch pinned wheels, export + quantise the encoder,
# build the data, embed it, train the heads, write parity.json and MODEL_CARD.md.
# Usage: classifiers/train/run.sh [step...]   (steps: fetch export data embed heads parity verify everyday card)
# `run.sh fetch data` alone rebuilds .out/dataset.jsonl and .out/validation.jsonl (byte-identical) without training.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3

if [[ ! -x "$venv/bin/python" ]]; then
  "$python_bin" -m venv "$venv"
fi
if ! cmp -s "$here/requirements.txt" "$venv/.requirements.installed"; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/.requirements.installed"
fi

# determinism: single-threaded BLAS for the heads; onnxruntime threads are set in encoder.py
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0

steps=("$@")
if [[ ${#steps[@]} -eq 0 ]]; then
  steps=(fetch export data embed heads parity verify everyday card)
fi
cd "$here"
for step in "${steps[@]}"; do
  echo "== $step"
  start=$SECONDS
  "$venv/bin/python" "$step.py"
  echo "== $step done in $((SECONDS - start))s"
done
