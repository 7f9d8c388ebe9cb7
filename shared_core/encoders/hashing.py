"""A dependency-free, offline encoder: hashed character n-grams.

Digits are folded to one symbol first, so "port 8080" and "port 443" land close:
queries that differ only in numbers share their shape, which is what both the
predictor's neighbours and the cache's candidates should see. The cache's
guards, not the encoder, decide whether differing numbers matter.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

from .base import Encoder

_DIGITS = re.compile(r"\d+")
_WS = re.compile(r"\s+")


class HashingEncoder(Encoder):
    def __init__(self, dim: int = 256, ngrams: tuple[int, ...] = (3, 4), max_chars: int = 2000):
        self.dim = dim
        self.ngrams = ngrams
        self.max_chars = max_chars
        self.name = f"hashing-{dim}"
        self._memo: dict[str, int] = {}

    def _bucket(self, gram: str) -> int:
        # crc32 is stable across processes, unlike hash(); memoised as grams repeat a lot
        b = self._memo.get(gram)
        if b is None:
            if len(self._memo) > 500_000:
                self._memo.clear()
            b = zlib.crc32(gram.encode())
            self._memo[gram] = b
        return b

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            if len(text) > self.max_chars:  # keep both ends: a question often comes last
                half = self.max_chars // 2
                text = text[:half] + " " + text[-half:]
            norm = " " + _WS.sub(" ", _DIGITS.sub("0", text.lower())).strip() + " "
            for n in self.ngrams:
                for i in range(len(norm) - n + 1):
                    h = self._bucket(norm[i : i + n])
                    # the top bit picks a sign so collisions cancel rather than pile up
                    out[row, h % self.dim] += 1.0 if h & 0x80000000 else -1.0
            length = np.linalg.norm(out[row])
            if length > 0:
                out[row] /= length
        return out
