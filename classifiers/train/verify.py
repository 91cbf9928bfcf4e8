"""Re-score .out/validation.jsonl from scratch the way `parapet eval` does and compare with train_stats.

Each text is tokenised (truncation 256) and embedded alone with the int8 encoder; the heads are read
from their head.json and thresholds from manifest.yaml. Positives: rows tagged with the label (or with
the head's name for `any`); negatives: benign rows only. Fails if any count differs from train_stats.
"""
import json

import numpy as np
import yaml

import data
import encoder
import heads


def main() -> None:
    rows = [json.loads(line) for line in open(data.OUT / "validation.jsonl", encoding="utf-8")]
    tok, sess = encoder.tokenizer(), encoder.session()
    full = encoder.tokenizer()
    full.no_truncation()
    over = sum(len(e.ids) > encoder.MAX_TOKENS for e in full.encode_batch([r["text"] for r in rows]))
    emb = np.stack([encoder.embed(sess, tok, [r["text"]])[0] for r in rows])
    stats = json.loads((data.OUT / "train_stats.json").read_text())
    tags = [[r["label"]] if isinstance(r["label"], str) else r["label"] for r in rows]
    benign = np.array([t == ["benign"] for t in tags])
    bad = 0
    for name in heads.HEADS:
        head = json.loads((encoder.ROOT / name / "head.json").read_text())
        thr = yaml.safe_load((encoder.ROOT / name / "manifest.yaml").read_text())["thresholds"]
        s = heads.apply_head(head, emb)
        for j, lab in enumerate(head["labels"]):
            pos = np.array([lab in t or (lab == "any" and name in t) for t in tags])
            tp, fp = int((s[pos, j] >= thr[lab]).sum()), int((s[benign, j] >= thr[lab]).sum())
            want = stats["heads"][name]["labels"][lab]
            ok = (tp, fp, int(pos.sum()), int(benign.sum())) == (want["tp"], want["fp"], want["positives"],
                                                                  want["benign"])
            bad += not ok
            print(f"{name}/{lab}: tp {tp}/{int(pos.sum())} fp {fp}/{int(benign.sum())} "
                  f"{'ok' if ok else 'MISMATCH (want tp %d fp %d)' % (want['tp'], want['fp'])}")
    print(f"{len(rows)} rows, {over} longer than {encoder.MAX_TOKENS} tokens after re-tokenising")
    if bad:
        raise SystemExit(f"{bad} labels differ from train_stats.json")


if __name__ == "__main__":
    main()
