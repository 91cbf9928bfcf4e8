"""Embed every dataset row with the int8 encoder through onnxruntime (what Parapet serves).

Reads .out/dataset.jsonl, writes .out/embeddings.npy (float32 [rows, 384], same order).
Training rows are embedded in batches grouped by token length (capped in tokens to bound memory).
Validation rows are embedded one text at a time (batch of 1, unpadded), like Parapet scores a
window: the int8 model quantises activations per tensor, so batching shifts scores slightly.
Embeddings are cached by text in .cache/embeddings.npz (keyed by model hash + mode).
"""
import hashlib
import json
import time

import numpy as np

import data
import encoder

CACHE = encoder.ROOT / "train" / ".cache" / "embeddings.npz"


def main() -> None:
    rows = [json.loads(line) for line in open(data.OUT / "dataset.jsonl", encoding="utf-8")]
    model = hashlib.sha256((encoder.MINILM / "model.onnx").read_bytes()).hexdigest()[:16]
    keys = [hashlib.sha256(f"{model}|{r['split'] == 'val'}|{r['text']}".encode()).hexdigest() for r in rows]
    cache = {}
    if CACHE.exists():
        with np.load(CACHE) as z:
            cache = dict(zip(z["keys"].tolist(), z["vectors"]))
    todo = [i for i, k in enumerate(keys) if k not in cache]
    tok, sess = encoder.tokenizer(), encoder.session()
    t0 = time.time()
    batched = [i for i in todo if rows[i]["split"] != "val"]
    for i, v in zip(batched, encoder.embed(sess, tok, [rows[i]["text"] for i in batched])):
        cache[keys[i]] = v
    for i in (i for i in todo if rows[i]["split"] == "val"):
        cache[keys[i]] = encoder.embed(sess, tok, [rows[i]["text"]])[0]
    dt = time.time() - t0
    emb = np.stack([cache[k] for k in keys]).astype(np.float32)
    np.save(data.OUT / "embeddings.npy", emb)
    np.savez(CACHE, keys=np.array(keys), vectors=emb)
    print(f"embedded {len(todo)} new texts ({len(rows) - len(todo)} cached) in {dt:.0f}s")


if __name__ == "__main__":
    main()
