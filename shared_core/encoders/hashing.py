"""A dependency-free, offline encoder: hashed character n-grams.

Digits are folded to one symbol first, so "port 8080" and "port 443" land close:
queries that differ only in numbers share their shape, which is what both the
predictor's neighbours and the cache's candidates should see. The cache's
guards, not the encoder, decide whether differing numbers matter.
"""

from __future__ import annotations

import re
import threading
import zlib

import numpy as np

from .base import Encoder

_DIGITS = re.compile(r"\d+")


class HashingEncoder(Encoder):
    def __init__(self, dim: int = 256, ngrams: tuple[int, ...] = (3, 4), max_chars: int = 2000):
        self.dim = dim
        self.ngrams = ngrams
        self.max_chars = max_chars
        self.name = f"hashing-{dim}"
        self._memo: dict[str, int] = {}  # n-gram -> its signed bucket (see _code)
        # normalised text -> its vector: log lines that differ only in their numbers
        # normalise alike, and they are most of a log (bounded, oldest dropped first)
        self._vectors: dict[str, np.ndarray] = {}
        self.max_vectors = 4096
        self._lock = threading.Lock()  # engines encode from many threads

    def _code(self, gram: str) -> int:
        """The gram's bucket, plus `dim` when it counts negatively. crc32 is stable
        across processes, unlike hash(); memoised as grams repeat a lot."""
        if len(self._memo) > 500_000:
            self._memo.clear()
        h = zlib.crc32(gram.encode())
        # the top bit picks a sign so collisions cancel rather than pile up
        code = self._memo[gram] = h % self.dim + (0 if h & 0x80000000 else self.dim)
        return code

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            if len(text) > self.max_chars:  # keep both ends: a question often comes last
                half = self.max_chars // 2
                text = text[:half] + " " + text[-half:]
            norm = " " + " ".join(_DIGITS.sub("0", text.lower()).split()) + " "  # str.split's white space is re's \s
            known = self._vectors.get(norm)
            if known is None:
                known = self._vector(norm)
                with self._lock:
                    if len(self._vectors) >= self.max_vectors:
                        del self._vectors[next(iter(self._vectors))]
                    self._vectors[norm] = known
            out[row] = known
        return out

    def _vector(self, norm: str) -> np.ndarray:
        out = np.zeros(self.dim, dtype=np.float32)
        grams = [norm[i : i + n] for n in self.ngrams for i in range(len(norm) - n + 1)]
        if not grams:
            return out
        codes = list(map(self._memo.get, grams))
        if None in codes:
            codes = [self._code(g) if c is None else c for g, c in zip(grams, codes)]
        counts = np.bincount(codes, minlength=2 * self.dim)  # one pass, not one numpy write per gram
        out[:] = counts[: self.dim] - counts[self.dim :]
        length = np.linalg.norm(out)
        if length > 0:
            out /= length
        return out
