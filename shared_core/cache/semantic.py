"""Near-duplicate tier: one FAISS index per near key over confirmed entries.

The near key (CacheManager.near_key) digests the scope, the earlier turns, the
context and the body of a long text, so a search never crosses tenants, system
prompts, candidate sets or conversations.

Each distinct vector is stored once, in the FAISS index and nowhere else:
entries whose vectors are identical (under the hashing encoder, log lines that
differ only in their numbers) share one position, and a search returns a
position's entries oldest first, as an exact search over every entry would
order its ties. Small indexes use an exact flat index; past `hnsw_from`
distinct vectors the scope moves to HNSW, which keeps a lookup at 100k entries
well under a millisecond. Removed positions are tombstoned (HNSW cannot
delete) and the index is rebuilt when they pile up.
"""

from __future__ import annotations

import faiss
import numpy as np

from ..config import SemanticCacheConfig

# Chosen by recall@1 where a hit is possible, on 100k Loghub lines made distinct
# (`sls bench cache --distinct`; a one-off sweep): M=16, efConstruction 32 (the
# old setting) 0.65, efSearch 512 only 0.69; M=16/efC 64 0.90; M=32/efC 64 0.93;
# M=32/efC 128 0.974 at efSearch 64 (0.98 at 128, for +40% search time). Vectors
# are kept as float16 in the graph: half the memory, similarities within ~1e-3.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 64


class ScopeIndex:
    def __init__(self, dim: int, config: SemanticCacheConfig):
        self.dim = dim
        self.config = config
        # position -> the live entry ids with that vector, oldest first: the id itself while
        # it is the only one (most vectors have one entry, and a list costs 72 bytes)
        self.members: list[int | list[int]] = []
        self._where: dict[int, int] = {}  # entry id -> position
        self._by_hash: dict[int, int] = {}  # hash of a vector's identity -> its position (checked on use)
        self.dead: set[int] = set()  # positions with no live entry
        self.index = self._new_index(hnsw=config.index == "hnsw")

    def _new_index(self, hnsw: bool) -> faiss.Index:
        self.is_hnsw = hnsw
        if not hnsw:
            return faiss.IndexFlatIP(self.dim)
        index = faiss.IndexHNSWSQ(self.dim, faiss.ScalarQuantizer.QT_fp16, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        return index

    def __len__(self) -> int:
        return len(self._where)

    def ids(self, pos: int) -> list[int] | tuple[int]:
        """The live entry ids at a position, oldest first."""
        m = self.members[pos]
        return (m,) if isinstance(m, int) else m

    def __contains__(self, entry_id: int) -> bool:
        return entry_id in self._where

    def add(self, entry_id: int, vector: np.ndarray) -> None:
        vec = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        same = _identity(vec[0])
        key = hash(same)
        pos = self._by_hash.get(key)
        if pos is not None and _identity(self.index.reconstruct(pos)) == same:
            self.dead.discard(pos)  # a vector seen before, even if all its entries went
            m = self.members[pos]
            if isinstance(m, list):
                m.append(entry_id)
            else:
                self.members[pos] = [m, entry_id]
        else:
            pos = self.index.ntotal
            self.index.add(vec)
            self.members.append(entry_id)
            self._by_hash[key] = pos
        self._where[entry_id] = pos
        if self.config.index == "auto" and not self.is_hnsw and self.index.ntotal >= self.config.hnsw_from:
            self._rebuild(hnsw=True)

    def add_many(self, entry_ids: list[int], vectors: np.ndarray) -> None:
        for entry_id, vec in zip(entry_ids, np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)):
            self.add(int(entry_id), vec)

    def remove(self, entry_id: int) -> None:
        pos = self._where.pop(entry_id, None)
        if pos is None:
            return
        rest = [e for e in self.ids(pos) if e != entry_id]
        self.members[pos] = rest[0] if len(rest) == 1 else rest
        if not rest:
            self.dead.add(pos)
            if len(self.dead) > max(64, self.index.ntotal // 5):
                self._rebuild(hnsw=self.is_hnsw)

    def _rebuild(self, hnsw: bool) -> None:
        live = [p for p in range(self.index.ntotal) if p not in self.dead]
        kept = self.index.reconstruct_n(0, self.index.ntotal)[live] if live else np.zeros((0, self.dim), np.float32)
        self.members = [self.members[p] for p in live]
        self.dead.clear()
        self.index = self._new_index(hnsw)
        if len(kept):
            self.index.add(np.ascontiguousarray(kept))
        self._by_hash = {hash(_identity(v)): pos for pos, v in enumerate(kept)}
        self._where = {eid: pos for pos in range(len(self.members)) for eid in self.ids(pos)}

    def search(self, vector: np.ndarray, k: int = 4) -> list[tuple[int, float]]:
        """Up to k (entry id, similarity), most similar first."""
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        want = k
        while True:  # tombstoned neighbours must not hide live ones: widen until k live or all seen
            want = min(want, self.index.ntotal)
            if want == 0:
                return []
            sims, pos = self.index.search(query, want)
            found: list[tuple[int, float]] = []
            for s, p in zip(sims[0].tolist(), pos[0].tolist()):
                if p >= 0 and p not in self.dead:
                    found += [(eid, s) for eid in self.ids(p)[: k - len(found)]]
                    if len(found) >= k:
                        return found
            if want >= self.index.ntotal or not self.dead:
                return found
            want *= 4

    def export(self) -> tuple[list[int], list[int], np.ndarray]:
        """Live entry ids grouped by vector, the size of each group, and one vector per group."""
        live = [p for p in range(self.index.ntotal) if p not in self.dead]
        vectors = self.index.reconstruct_n(0, self.index.ntotal)[live] if live else np.zeros((0, self.dim), np.float32)
        return [eid for p in live for eid in self.ids(p)], [len(self.ids(p)) for p in live], vectors

    def load(self, entry_ids: list[int], sizes: list[int], vectors: np.ndarray) -> None:
        """What export() gave: each group's vector is added once."""
        start = 0
        for size, vec in zip(sizes, np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)):
            for eid in entry_ids[start : start + size]:
                self.add(int(eid), vec)
            start += size


def _identity(vector: np.ndarray) -> bytes:
    """What makes two vectors the same point: equal at float16, the HNSW graph's precision."""
    return vector.astype(np.float16).tobytes()


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
