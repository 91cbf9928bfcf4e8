"""Train the `injection` and `harm` heads on frozen int8 MiniLM embeddings and pick thresholds.

For each head two candidates are trained on the train split: logistic regression (one per label) and
a 1-hidden-layer MLP (relu, 256 units, sigmoid output) for the main label (`injection`, harm `any`)
with the harm categories as logistic regressions folded exactly into the same hidden layer. The MLP is
kept only if it beats logistic regression by >= 1 point of recall at <= 1% FPR on the validation
split for the head's main label.
Weights are rounded to float32 and written as head.json; every score reported is computed from the
written head.json with the same float32 math Parapet uses. Thresholds: per label, the lowest value
with FPR <= 1% on benign validation rows (midway to the next benign score, rounded to 1e-4).
Validation rows from model completions (pyrit scorer_evals) go to .out/validation_outputs.jsonl and
are reported separately at the shipped thresholds (the heads are tuned for prompts).
Writes {injection,harm}/head.json + manifest.yaml, .out/validation*.jsonl, .out/train_stats.json.
"""
import json
import os
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import data
import encoder

CATS = data.CATS
HEADS = {"injection": ["injection"], "harm": ["any"] + CATS}
DESCRIPTIONS = {"injection": "prompt injection / jailbreak detector (single label)",
                "harm": "harmful request or content, multi-label: any + 8 categories"}
HARD_NEGATIVES = {"rho-overrefusal": 5.0, "rho-refusal-benign": 5.0, "pyrit-scorer-evals": 3.0}
OUTPUT_SOURCES = data.OUTPUT_SOURCES   # model completions: reported separately, not used for thresholds
MAX_FPR = 0.01
HIDDEN = 256
SEED = 0
ENSEMBLE = 1     # >1: MLPs with seeds SEED.., averaged in logit space, folded exactly into one hidden layer


def label_matrix(rows, head):
    def has(tags, label):
        tags = [tags] if isinstance(tags, str) else tags
        return label in tags or (label == "any" and head in tags)
    return np.array([[has(r["tags"], lab) for lab in HEADS[head]] for r in rows], dtype=np.int64)


def sample_weights(rows, y_main):
    w = np.array([HARD_NEGATIVES.get(r["source"], 1.0) if r["tags"] == "benign" else 1.0 for r in rows])
    pos = y_main == 1
    w[pos] *= w[~pos].sum() / w[pos].sum()      # balance positives vs negatives
    return w / w.mean()


def f32(x) -> float:
    return float(str(np.float32(x)))


def to_head(layers, labels) -> dict:
    return {"format": "parapet-head/1", "input_dim": 384, "labels": labels,
            "layers": [{"weight": [[f32(v) for v in row] for row in np.asarray(wt)],
                        "bias": [f32(v) for v in np.asarray(b)], "activation": act}
                       for wt, b, act in layers],
            "activation": "sigmoid"}


def apply_head(head: dict, x: np.ndarray) -> np.ndarray:
    """head.json math in float32: dense layers, relu/none, final sigmoid."""
    x = x.astype(np.float32)
    for layer in head["layers"]:
        x = x @ np.array(layer["weight"], dtype=np.float32).T + np.array(layer["bias"], dtype=np.float32)
        if layer["activation"] == "relu":
            x = np.maximum(x, 0)
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def train_lr(x, y, w, first_is_main=True):
    ws, bs = [], []
    for j in range(y.shape[1]):
        wj = w.copy() if (j == 0 and first_is_main) else balance(y[:, j], w)
        m = LogisticRegression(C=4.0, max_iter=3000, tol=1e-6).fit(x, y[:, j], sample_weight=wj)
        ws.append(m.coef_[0])
        bs.append(m.intercept_[0])
    return [(np.array(ws), np.array(bs), "none")]


def balance(yj, w):
    w = w.copy()
    if yj.sum():
        w[yj == 1] *= w[yj == 0].sum() / w[yj == 1].sum() / 2      # rare categories: half-balanced
    return w


def train_mlp(x, y, w):
    """MLP for the main label (column 0); further labels (harm categories) are logistic regressions
    folded into the same hidden layer exactly: z = relu(z) - relu(-z) (2 hidden units per label)."""
    extra = y.shape[1] - 1
    w1s, b1s, w2s, b2 = [], [], [], 0.0
    for k in range(ENSEMBLE):
        m = MLPClassifier(hidden_layer_sizes=(HIDDEN - 2 * extra,), activation="relu", alpha=1e-2, batch_size=256,
                          learning_rate_init=1e-3, max_iter=150, random_state=SEED + k, shuffle=True, tol=1e-5,
                          n_iter_no_change=150)
        m.fit(x, y[:, 0], sample_weight=w)
        w1s.append(m.coefs_[0].T)
        b1s.append(m.intercepts_[0])
        w2s.append(m.coefs_[1].T / ENSEMBLE)          # mean of the members' logits: exact
        b2 = b2 + m.intercepts_[1] / ENSEMBLE
    w1, b1, w2 = np.vstack(w1s), np.concatenate(b1s), np.hstack(w2s)
    if extra:
        (wc, bc, _), = train_lr(x, y[:, 1:], w, first_is_main=False)
        eye = np.eye(extra)
        w1, b1 = np.vstack([w1, wc, -wc]), np.concatenate([b1, bc, -bc])
        top = np.hstack([w2, np.zeros((1, 2 * extra))])
        cats = np.hstack([np.zeros((extra, w2.shape[1])), eye, -eye])
        w2, b2 = np.vstack([top, cats]), np.concatenate([b2, np.zeros(extra)])
    return [(w1, b1, "relu"), (w2, b2, "none")]


def threshold_at(benign_scores: np.ndarray) -> float:
    """Lowest threshold with FPR <= MAX_FPR: midway between the highest benign score that must stay
    below it and the next higher one, rounded to the fewest significant digits that stay in between."""
    s = np.sort(benign_scores.astype(np.float64))[::-1]
    k = int(np.floor(MAX_FPR * len(s)))       # at most k benign rows may reach the threshold
    hi = s[k - 1] if k >= 1 else 1.0
    if hi <= s[k]:
        return float(np.nextafter(np.float32(s[k]), np.float32(2)))
    t = (s[k] + hi) / 2
    for digits in range(2, 10):
        r = float(f"{t:.{digits}g}")
        if s[k] < r <= hi:
            return r
    return float(t)


def metrics(scores, pos, benign, t):
    tp = int((scores[pos] >= t).sum())
    fp = int((scores[benign] >= t).sum())
    npos, nben = int(pos.sum()), int(benign.sum())
    auc = roc_auc_score(np.r_[np.ones(npos), np.zeros(nben)], np.r_[scores[pos], scores[benign]]) if npos else None
    return {"threshold": t, "precision": tp / max(tp + fp, 1), "recall": tp / max(npos, 1),
            "fpr_benign": fp / max(nben, 1), "positives": npos, "benign": nben, "tp": tp, "fp": fp, "auc": auc}


def per_source(rows, scores, t, mask):
    out = {}
    for src in sorted({r["source"] for r, m in zip(rows, mask) if m}):
        idx = np.array([m and r["source"] == src for r, m in zip(rows, mask)])
        out[src] = {"n": int(idx.sum()), "flagged": round(float((scores[idx] >= t).mean()), 4)}
    return out


def main() -> None:
    rows = [json.loads(line) for line in open(data.OUT / "dataset.jsonl", encoding="utf-8")]
    emb = np.load(data.OUT / "embeddings.npy")
    tr = np.array([r["split"] == "train" for r in rows])
    outside = np.array([r["split"] == "val" and r["source"] in OUTPUT_SOURCES for r in rows])
    va = ~tr & ~outside
    val_rows = [r for r, v in zip(rows, va) if v]
    out_rows = [r for r, o in zip(rows, outside) if o]
    benign = np.array([r["tags"] == "benign" for r in val_rows])
    out_benign = np.array([r["tags"] == "benign" for r in out_rows])
    stats = {"rows": {"train": int(tr.sum()), "validation": int(va.sum()),
                      "validation_benign": int(benign.sum()), "validation_outputs": int(outside.sum())},
             "heads": {}}
    for head, labels in HEADS.items():
        y = label_matrix(rows, head)
        w = sample_weights([r for r, t in zip(rows, tr) if t], y[tr, 0])
        cands = {}
        with threadpool_limits(1):
            for kind, fn in (("logreg", train_lr), ("mlp", train_mlp)):
                h = to_head(fn(emb[tr], y[tr], w), labels)
                s = apply_head(h, emb[va])
                pos = y[va, 0] == 1
                cands[kind] = (h, s, metrics(s[:, 0], pos, benign, threshold_at(s[benign, 0])))
                print(head, kind, {k: v for k, v in cands[kind][2].items() if k in ("threshold", "recall", "auc")})
        kind = "mlp" if cands["mlp"][2]["recall"] >= cands["logreg"][2]["recall"] + 0.01 else "logreg"
        h, s, _ = cands[kind]
        res = {"kind": kind, "candidates": {k: c[2] for k, c in cands.items()}, "labels": {}}
        s_out = apply_head(h, emb[outside])
        for j, lab in enumerate(labels):
            pos = y[va, j] == 1
            t = threshold_at(s[benign, j])
            m = metrics(s[:, j], pos, benign, t)
            m["flagged_by_source"] = per_source(val_rows, s[:, j], t, np.ones(len(val_rows), bool))
            m["outputs"] = metrics(s_out[:, j], y[outside, j] == 1, out_benign, t)
            res["labels"][lab] = m
        stats["heads"][head] = res
        folder = encoder.ROOT / head
        folder.mkdir(exist_ok=True)
        (folder / "head.json").write_text(json.dumps(h, separators=(",", ":")))
        thr = ", ".join(f"{lab}: {res['labels'][lab]['threshold']}" for lab in labels)
        (folder / "manifest.yaml").write_text(
            f"kind: head\ndescription: {json.dumps(DESCRIPTIONS[head] + f' ({kind} on minilm embeddings)')}\n"
            f"encoder: minilm\n"
            f"weights: head.json\nlabels: [{', '.join(labels)}]\nactivation: sigmoid\n"
            f"thresholds: {{{thr}}}   # chosen on the validation split: FPR <= 1% on benign rows\n")
    # validation.jsonl / validation_outputs.jsonl are written by data.py (same rows, same order)
    (data.OUT / "train_stats.json").write_text(json.dumps(stats, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.simplefilter("ignore", ConvergenceWarning)   # fixed epoch budget on purpose
    main()
