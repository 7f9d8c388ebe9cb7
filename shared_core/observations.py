"""The predictor's memory of one task: how each model did on queries near here.

The memory is bounded by a number of clusters, not by time. Each cluster has a
centre (a unit query vector), the count of observations it holds, and per
model the age-decayed sums of observations and rewards, kept as of the
cluster's last update (`stamp`) so that decaying them later is one factor.
Until the memory is full every observation is a cluster of its own, and the
neighbour search is exact kNN over observations. Once full, a new observation
joins its nearest cluster (the centre moves to the count-weighted mean), so
search cost and memory stay fixed however long the router runs, and old
evidence is kept in aggregate rather than dropped.

The search is flat (exact) over at most `capacity` centres with `faiss.knn`
on the centre matrix itself, which the merges update in place: at 2,048
centres of 256 dimensions about 50 us on one core (4,096: 65-90 us), where an
HNSW graph would need rebuilding as centres move.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from .vectors import VectorBuffer

CAPACITY = 2048  # clusters (predictor.max_observations)


class ObservationMemory:
    ARRAYS = ("centres", "count", "stamp", "weight", "reward")  # what to_state saves as arrays

    def __init__(self, dim: int, capacity: int = CAPACITY, half_life: float = 20_000.0):
        if capacity < 1:
            raise ValueError(f"an observation memory needs capacity >= 1, got {capacity}")
        self.dim = dim
        self.capacity = capacity
        self.half_life = half_life
        self.models: list[str] = []  # column of each model in `weight` and `reward`
        self._column: dict[str, int] = {}
        self._centres = VectorBuffer(dim)
        self.count = np.zeros(0)  # observations per cluster (not decayed: the kNN budget)
        self.stamp = np.zeros(0)  # the clock the cluster's sums are decayed to
        self.weight = np.zeros((0, 0))  # (cluster, model): decayed observation count
        self.reward = np.zeros((0, 0))  # (cluster, model): decayed reward sum
        self.observations = 0
        self.singles = True  # no cluster has merged yet: each holds one observation

    def __len__(self) -> int:
        return len(self._centres)

    @property
    def centres(self) -> np.ndarray:
        return self._centres.array

    def _col(self, model: str) -> int:
        col = self._column.get(model)
        if col is None:
            col = self._column[model] = len(self.models)
            self.models.append(model)
            self.weight = np.pad(self.weight, ((0, 0), (0, 1)))
            self.reward = np.pad(self.reward, ((0, 0), (0, 1)))
        return col

    def add(self, vector: np.ndarray, model: str, reward: float, t: int) -> None:
        vec = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        col = self._col(model)
        self.observations += 1
        if len(self) < self.capacity:
            self._new_cluster(vec, t)
            c = len(self) - 1
        else:
            c = self._nearest(vec)
            self.singles = False
            self._decay_to(c, t)
            n = self.count[c]
            centre = self.centres[c] * n + vec[0]
            self.centres[c] = centre / (np.linalg.norm(centre) or 1.0)
        self.count[c] += 1
        self.weight[c, col] += 1.0
        self.reward[c, col] += reward

    def _new_cluster(self, vec: np.ndarray, t: int) -> None:
        n = len(self)
        if n == len(self.count):  # grow the per-cluster arrays with the centres, by doubling
            grow = max(16, n)
            self.count = np.concatenate([self.count, np.zeros(grow)])
            self.stamp = np.concatenate([self.stamp, np.zeros(grow)])
            self.weight = np.concatenate([self.weight, np.zeros((grow, self.weight.shape[1]))])
            self.reward = np.concatenate([self.reward, np.zeros((grow, self.reward.shape[1]))])
        self._centres.append(vec)
        self.stamp[n] = t

    def _nearest(self, vec: np.ndarray) -> int:
        _, ids = faiss.knn(vec, self.centres, 1, metric=faiss.METRIC_INNER_PRODUCT)
        return int(ids[0, 0])

    def _decay_to(self, c: int, t: int) -> None:
        factor = 0.5 ** ((t - self.stamp[c]) / self.half_life)
        self.weight[c] *= factor
        self.reward[c] *= factor
        self.stamp[c] = t

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The (up to) k nearest clusters: similarities and positions, best first."""
        k = min(k, len(self))
        if k == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        sims, ids = faiss.knn(query, self.centres, k, metric=faiss.METRIC_INNER_PRODUCT)
        keep = ids[0] >= 0
        return sims[0][keep], ids[0][keep]

    def evidence(self, vector: np.ndarray, k: int, bandwidth: float, t: int) -> dict[str, tuple[float, float]]:
        """Per model, (reward sum, weight sum) over the k observations nearest the
        query, each weighted by exp((similarity - 1) / bandwidth) and by its age
        (half-life in observations). A cluster counts as its observations placed at
        its centre; the last one reached counts in part, so that k is not exceeded."""
        sims, ids = self.search(vector, k)
        if not len(ids):
            return {}
        close = np.exp((sims.astype(np.float64) - 1.0) / bandwidth)
        if not self.singles:  # (with one observation a cluster, the k nearest are the k observations)
            counts = self.count[ids]
            before = np.cumsum(counts) - counts
            used = before < k  # a cluster holds one observation at least: the rest are past k
            if not used.all():
                close, ids, counts, before = close[used], ids[used], counts[used], before[used]
            close = close * (np.minimum(k - before, counts) / counts)
        w = close * 0.5 ** ((t - self.stamp[ids]) / self.half_life)
        s, n = (w @ self.reward[ids]).tolist(), (w @ self.weight[ids]).tolist()
        return {m: (s[j], n[j]) for j, m in enumerate(self.models) if n[j] > 0.0}  # the models seen near here

    # -- persistence ----------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        n = len(self)
        meta = {"models": list(self.models), "observations": self.observations}
        arrays = {"centres": self.centres.copy(), "count": self.count[:n].copy(), "stamp": self.stamp[:n].copy(),
                  "weight": self.weight[:n].copy(), "reward": self.reward[:n].copy()}
        return meta, arrays

    @classmethod
    def from_state(cls, dim: int, meta: dict[str, Any], arrays: dict[str, np.ndarray], capacity: int = CAPACITY,
                   half_life: float = 20_000.0) -> "ObservationMemory":
        mem = cls(dim, capacity, half_life)
        for model in meta["models"]:
            mem._col(model)
        centres = np.asarray(arrays["centres"], dtype=np.float32).reshape(-1, dim)
        mem._centres.append(centres)  # a smaller capacity now: the extra clusters stay, none is added
        mem.count = np.asarray(arrays["count"], dtype=np.float64).copy()
        mem.stamp = np.asarray(arrays["stamp"], dtype=np.float64).copy()
        mem.weight = np.asarray(arrays["weight"], dtype=np.float64).reshape(len(centres), -1).copy()
        mem.reward = np.asarray(arrays["reward"], dtype=np.float64).reshape(len(centres), -1).copy()
        mem.observations = int(meta.get("observations", mem.count.sum()))
        mem.singles = not (mem.count > 1).any()
        return mem

    @classmethod
    def from_observations(cls, dim: int, vectors: np.ndarray, model: list[str], reward: list[float],
                          time: list[int], capacity: int = CAPACITY, half_life: float = 20_000.0
                          ) -> "ObservationMemory":
        """A memory from raw observations, oldest first (a state saved before clusters)."""
        mem = cls(dim, capacity, half_life)
        for vec, m, r, t in zip(np.asarray(vectors, dtype=np.float32).reshape(-1, dim), model, reward, time):
            mem.add(vec, m, float(r), int(t))
        return mem
