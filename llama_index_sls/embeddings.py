"""Offline, deterministic LlamaIndex embedding models over shared_core encoders.

`HashingEmbedding` wraps the `HashingEncoder` (hashed character n-grams, unit
vectors): nothing to install, no network, the same vector for the same text
in every process. Retrieval quality is lexical, well below a neural model's,
but real: texts that share words land close, unlike `MockEmbedding`'s
constant vectors. Use it for tests, CI and offline examples.

`EncoderEmbedding` wraps any shared_core `Encoder`, e.g. `make_encoder("minilm")`
(all-MiniLM-L6-v2 in numpy, an extra: see shared_core/encoders/minilm.py), so
retrieval and the router's cache can share one sentence encoder.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr

from shared_core.encoders import Encoder, HashingEncoder


class EncoderEmbedding(BaseEmbedding):
    embed_dim: int = Field(default=512, gt=0, description="Vector dimension.")
    _encoder: Encoder = PrivateAttr()

    def __init__(self, encoder: Encoder, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", encoder.name)
        super().__init__(embed_dim=encoder.dim, **kwargs)
        self._encoder = encoder

    @classmethod
    def class_name(cls) -> str:
        return "EncoderEmbedding"

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._encoder.encode_one(query).tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._encoder.encode_one(text).tolist()

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embedding(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._encoder.encode(list(texts)).tolist()

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._get_text_embeddings(texts)


class HashingEmbedding(EncoderEmbedding):
    def __init__(self, embed_dim: int = 512, **kwargs: Any) -> None:
        super().__init__(HashingEncoder(dim=embed_dim), model_name=f"hashing-{embed_dim}", **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "HashingEmbedding"
