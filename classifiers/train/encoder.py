"""Tokeniser and onnxruntime session helpers shared by export, embed and parity.

The tokenizer.json is used as shipped but with the overrides Parapet applies at run time:
truncation at 256 word pieces (incl. [CLS]/[SEP]) and padding to the longest text of a batch.
"""
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[1]          # classifiers/
MINILM = ROOT / "minilm"
MAX_TOKENS = 256


def tokenizer(path: Path = MINILM / "tokenizer.json") -> Tokenizer:
    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")   # no length: pad to longest in the batch
    return tok


def session(path: Path = MINILM / "model.onnx", threads: int = 2) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def batch(tok: Tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    enc = tok.encode_batch(texts)
    return {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64)}


def ids(tok: Tokenizer, text: str) -> list[int]:
    """Unpadded word-piece ids of one text (first window)."""
    e = tok.encode(text)
    return [i for i, m in zip(e.ids, e.attention_mask) if m]


def embed(sess: ort.InferenceSession, tok: Tokenizer, texts: list[str],
          max_batch_tokens: int = 8192, max_batch: int = 64) -> np.ndarray:
    """Embed texts in batches grouped by token length; returns [n, 384] float32 in input order."""
    lengths = [len(e.ids) for e in tok.encode_batch(texts)] if texts else []
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    out = np.zeros((len(texts), 384), dtype=np.float32)
    i = 0
    while i < len(order):
        n = max(1, min(max_batch, max_batch_tokens // max(lengths[order[i]], 1)))
        # the longest in this batch is the last one (sorted ascending)
        while n > 1 and lengths[order[min(i + n, len(order)) - 1]] * n > max_batch_tokens:
            n -= 1
        idx = order[i:i + n]
        out[idx] = sess.run(["embedding"], batch(tok, [texts[j] for j in idx]))[0]
        i += n
    return out
