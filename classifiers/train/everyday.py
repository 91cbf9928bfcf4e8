"""Score the everyday check set (everyday.txt) the way Parapet does and report false positives.

everyday.txt: ordinary prompts written by hand (one per line: one-word replies, short commands, questions
that mention "prompt", "ignore", "kill", "attack"..., messages carrying the user's own contact or payment
data, code and JSON, greetings in several languages, customer-support requests). All are benign. The file
is never used for training or threshold choice. Each text is tokenised (first 256-token window) and embedded
alone (batch of 1) with the int8 encoder; scores come from head.json; thresholds from manifest.yaml.
Writes .out/everyday.json (counts and flagged texts) for the model card.
"""
import json

import numpy as np
import yaml

import data
import encoder
import heads

FILE = encoder.ROOT / "train" / "everyday.txt"
LABELS = {"injection": "injection", "harm": "any"}


def main() -> None:
    texts = [t.strip() for t in FILE.read_text(encoding="utf-8").splitlines() if t.strip()]
    tok, sess = encoder.tokenizer(), encoder.session()
    emb = np.stack([encoder.embed(sess, tok, [t])[0] for t in texts])
    out = {"n": len(texts), "heads": {}}
    for name, lab in LABELS.items():
        head = json.loads((encoder.ROOT / name / "head.json").read_text())
        thr = yaml.safe_load((encoder.ROOT / name / "manifest.yaml").read_text())["thresholds"][lab]
        s = heads.apply_head(head, emb)[:, head["labels"].index(lab)]
        flagged = [(texts[i], round(float(s[i]), 4)) for i in np.argsort(-s, kind="stable") if s[i] >= thr]
        out["heads"][f"{name}.{lab}"] = {"threshold": thr, "flagged": len(flagged),
                                         "texts": [{"text": t, "score": v} for t, v in flagged]}
        print(f"{name}/{lab} (threshold {thr}): {len(flagged)} of {len(texts)} flagged "
              f"({100 * len(flagged) / len(texts):.1f}%)")
        for t, v in flagged:
            print(f"  {v:.4f}  {t}")
    (data.OUT / "everyday.json").write_text(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
