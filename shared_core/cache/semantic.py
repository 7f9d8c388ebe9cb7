"""Near-duplicate tier: one FAISS index per near key over confirmed entries.

The near key (CacheManager.near_key) digests the scope, the earlier turns, the
context and the body of a long text, so a search never crosses tenants, system
prompts, candidate sets or conversations. Small indexes use an exact flat index; past
`hnsw_from` entries the scope moves to HNSW, which keeps a lookup at 100k
entries well under a millisecond. HNSW cannot delete, so removed entries
are tombstoned and the index is rebuilt when they pile up.
"""

from __future__ import annotations

import faiss
import numpy as np

from ..config import SemanticCacheConfig
from ..vectors import VectorBuffer


class ScopeIndex:
    def __init__(self, dim: int, config: SemanticCacheConfig):
        self.dim = dim
        self.config = config
        self.ids: list[int] = []
        self._vectors = VectorBuffer(dim)
        self.dead: set[int] = set()
        self.index = self._new_index(hnsw=config.index == "hnsw")

    def _new_index(self, hnsw: bool) -> faiss.Index:
        self.is_hnsw = hnsw
        if hnsw:
            inner = faiss.IndexHNSWFlat(self.dim, 16, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 32
            inner.hnsw.efSearch = 64
        else:
            inner = faiss.IndexFlatIP(self.dim)
        return faiss.IndexIDMap2(inner)

    def add(self, entry_id: int, vector: np.ndarray) -> None:
        vec = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        self.index.add_with_ids(vec, np.array([entry_id], dtype=np.int64))
        self._vectors.append(vec)
        self.ids.append(entry_id)
        if self.config.index == "auto" and not self.is_hnsw and len(self.ids) >= self.config.hnsw_from:
            self._rebuild(hnsw=True)

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors.array

    def add_many(self, entry_ids: list[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._vectors.append(vectors)
        self.ids.extend(entry_ids)
        if self.config.index == "auto" and not self.is_hnsw and len(self.ids) >= self.config.hnsw_from:
            self._rebuild(hnsw=True)
        else:
            self.index.add_with_ids(vectors, np.asarray(entry_ids, dtype=np.int64))

    def remove(self, entry_id: int) -> None:
        self.dead.add(entry_id)
        if not self.is_hnsw:
            self.index.remove_ids(np.array([entry_id], dtype=np.int64))
        if len(self.dead) > max(64, len(self.ids) // 5):
            self._rebuild(hnsw=self.is_hnsw)

    def _rebuild(self, hnsw: bool) -> None:
        keep = [i for i, eid in enumerate(self.ids) if eid not in self.dead]
        kept = self.vectors[keep]
        self.ids = [self.ids[i] for i in keep]
        self._vectors.replace(kept)
        self.dead.clear()
        self.index = self._new_index(hnsw)
        if self.ids:
            self.index.add_with_ids(self.vectors, np.asarray(self.ids, dtype=np.int64))

    def search(self, vector: np.ndarray, k: int = 4) -> list[tuple[int, float]]:
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        want = k
        while True:  # tombstoned neighbours must not hide live ones: widen until k live or all seen
            want = min(want, self.index.ntotal)
            if want == 0:
                return []
            sims, ids = self.index.search(query, want)
            live = [(int(i), float(s)) for s, i in zip(sims[0], ids[0]) if i >= 0 and int(i) not in self.dead]
            if len(live) >= k or want >= self.index.ntotal or not self.dead:
                return live[:k]
            want *= 4

    def __len__(self) -> int:
        return len(self.ids) - len(self.dead)


class SemanticTier:
    def __init__(self, dim: int, config: SemanticCacheConfig):
        self.dim = dim
        self.config = config
        self.scopes: dict[str, ScopeIndex] = {}

    def scope(self, near_key: str) -> ScopeIndex:
        idx = self.scopes.get(near_key)
        if idx is None:
            idx = self.scopes[near_key] = ScopeIndex(self.dim, self.config)
        return idx

    def nearest(self, near_key: str, vector: np.ndarray, k: int = 4) -> list[tuple[int, float]]:
        idx = self.scopes.get(near_key)
        return idx.search(vector, k) if idx is not None else []
