"""A growable float32 matrix: appends are amortised O(1) by doubling capacity."""

from __future__ import annotations

import numpy as np


class VectorBuffer:
    def __init__(self, dim: int, capacity: int = 64):
        self.dim = dim
        self._buf = np.zeros((capacity, dim), dtype=np.float32)
        self._n = 0

    @property
    def array(self) -> np.ndarray:
        return self._buf[: self._n]

    def append(self, vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        need = self._n + len(vectors)
        if need > len(self._buf):
            grown = np.zeros((max(need, 2 * len(self._buf)), self.dim), dtype=np.float32)
            grown[: self._n] = self.array
            self._buf = grown
        self._buf[self._n : need] = vectors
        self._n = need

    def replace(self, vectors: np.ndarray) -> None:
        self._buf = np.zeros((max(64, 2 * len(vectors)), self.dim), dtype=np.float32)
        self._n = 0
        self.append(vectors)

    def __len__(self) -> int:
        return self._n


def single_threaded_faiss() -> None:
    """FAISS parallelises each search with OpenMP; for the one-query searches a
    router makes, thread start-up costs milliseconds where the search costs
    microseconds. SLS_FAISS_THREADS overrides."""
    import os

    import faiss

    faiss.omp_set_num_threads(int(os.environ.get("SLS_FAISS_THREADS", "1")))


single_threaded_faiss()
