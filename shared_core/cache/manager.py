"""The cache manager: exact, verified-reuse and near-duplicate tiers, scoped.

Lookup order is cheapest and safest first: an exact repeat of the same
conversation in the same scope; then a task-aware reuser that can check the
fit (a log template that matches the new line); then the nearest confirmed
entry with the same near key (scope, earlier turns, context and, for a long
text, everything but its last line), if the threshold policy lets it serve at
that similarity and no guard vetoes it. Entries enter the near-duplicate index
and the reusers only once feedback confirms them; feedback that an entry is
wrong evicts it everywhere.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import CacheConfig
from ..request import Request
from .calibration import CLEAR
from .entry import NO_EXTRA, CacheEntry, CacheHit
from .guards import guard_veto
from .policy import make_policy
from .reuse import Reuser
from .semantic import SemanticTier

LONG_TEXT = 1000  # characters; past this, only a text's last line is matched by meaning


def near_key(request: Request, scope: str) -> str:
    """What a near-duplicate must share exactly: the scope, the earlier turns, the
    context, and for a long text all but its last line (a document or log around a
    question is digested, not embedded, so a change anywhere in it keeps answers apart)."""
    text = request.query.rstrip()
    body = ""
    if len(text) > LONG_TEXT:
        cut = text.rfind("\n")
        body = text[:cut] if cut > 0 and len(text) - cut <= LONG_TEXT else text
    parts = [scope, request.history_key(), request.context_key or "", " ".join(body.split())]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass
class Nearest:
    """The closest confirmed entry seen at lookup, kept for shadow calibration; with no
    entry_id, the near-duplicate tier looked and found nothing it could serve."""

    entry_id: int | None
    similarity: float
    veto: str | None
    margin: float = CLEAR  # similarity minus that of the next entry with another answer


@dataclass
class Lookup:
    hit: CacheHit | None
    nearest: Nearest | None = None
    skipped: str | None = None  # why the cache was not consulted


class CacheManager:
    def __init__(self, config: CacheConfig, dim: int, reusers: list[Reuser] | None = None):
        self.config = config
        self.dim = dim
        self.reusers = list(reusers or [])
        self.entries: OrderedDict[int, CacheEntry] = OrderedDict()
        self.exact: dict[str, CacheEntry] = {}  # exact key -> its entry (one lookup for a hit, not two)
        self.semantic = SemanticTier(dim, config.semantic)
        self.policy = make_policy(config.semantic)
        self._pending_vectors: dict[int, np.ndarray] = {}
        self._keys: dict[str, str] = {}  # scopes and near keys, each string kept once
        self._next_id = 1
        self._lock = threading.RLock()

    # -- lookup ---------------------------------------------------------------
    def skip_reason(self, request: Request) -> str | None:
        if not self.config.enabled:
            return "cache disabled"
        if request.allow_cache is False:
            return "request disallows the cache"
        if request.temperature > 0 and not (self.config.allow_sampled or request.allow_cache):
            return "temperature > 0"
        return None

    def lookup(self, request: Request, scope: str, exact_key: str, vector: np.ndarray | None) -> Lookup:
        skipped = self.skip_reason(request)
        if skipped:
            return Lookup(None, skipped=skipped)
        with self._lock:
            hit = self._exact(exact_key)
            if hit or request.is_follow_up():
                return Lookup(hit)
            for reuser in self.reusers:
                if reuser.applies(request):
                    hit = reuser.find(scope, request)
                    if hit:
                        self._count_hit(hit)
                        return Lookup(hit)
            if vector is None or not self.config.semantic.enabled:
                return Lookup(None)
            return self._near(request, scope, near_key(request, scope), vector)

    def exact_hit(self, exact_key: str) -> CacheHit | None:
        """The exact tier alone, for a request skip_reason lets through: a repeat is
        answered before its query is encoded or its tokens counted."""
        with self._lock:
            return self._exact(exact_key)

    def _exact(self, exact_key: str) -> CacheHit | None:
        if not self.config.exact:
            return None
        entry = self.exact.get(exact_key)
        if entry is None or entry.rejected or not (entry.confirmed or self.config.serve_unconfirmed):
            return None
        entry.hits += 1
        return CacheHit("exact", entry.answer, entry.id, 1.0, entry.model, dict(entry.extra))

    def _near(self, request: Request, scope: str, key: str, vector: np.ndarray) -> Lookup:
        """The nearest entry no guard vetoes may serve, if the policy lets it at its
        similarity and its margin over the next entry with another answer."""
        found = [(e, sim) for eid, sim in self.semantic.nearest(key, vector)
                 if (e := self.entries.get(eid)) is not None and e.confirmed and e.near_key == key]
        if not found:
            return Lookup(None, Nearest(None, -1.0, "nothing near"))
        vetoes = [guard_veto(request.query, e.query) for e, _ in found]
        pick = next((i for i, v in enumerate(vetoes) if v is None), 0)
        entry, sim = found[pick]
        answer = self.canonical(request, entry.answer)
        rivals = [s for e, s in found if self.canonical(request, e.answer) != answer]
        nearest = Nearest(entry.id, sim, vetoes[pick], sim - max(rivals) if rivals else CLEAR)
        if nearest.veto is None and self.policy.allows(scope, entry, sim, nearest.margin):
            entry.hits += 1
            hit = CacheHit("semantic", entry.answer, entry.id, sim, entry.model, dict(entry.extra),
                           {"threshold": self.policy.threshold(scope), "margin": nearest.margin,
                            "policy": self.policy.name})
            return Lookup(hit, nearest)
        return Lookup(None, nearest)

    def _count_hit(self, hit: CacheHit) -> None:
        entry = self.entries.get(hit.entry_id) if hit.entry_id is not None else None
        if entry is not None:
            entry.hits += 1
            hit.model = entry.model

    # -- store and judge --------------------------------------------------------
    def store(self, request: Request, scope: str, exact_key: str, vector: np.ndarray | None, answer: str,
              model: str, extra: dict[str, Any] | None = None) -> int | None:
        if self.skip_reason(request):
            return None
        with self._lock:
            old = self.exact.get(exact_key)
            if old is not None and not old.rejected:
                return old.id  # keep the answer that earlier feedback may already have judged
            if len(self._keys) > 65_536:  # distinct long texts each have their own: keep the table bounded
                self._keys.clear()
            key = near_key(request, scope)
            key = self._keys.setdefault(key, key)  # one string per near key and scope, not one per entry
            entry = CacheEntry(self._next_id, self._keys.setdefault(scope, scope), exact_key, request.query, answer,
                               model, request.task, dict(extra) if extra else NO_EXTRA, context_key=request.context_key,
                               near_key=key)
            self._next_id += 1
            self.entries[entry.id] = entry
            self.exact[exact_key] = entry
            if vector is not None and not request.is_follow_up():
                self._pending_vectors[entry.id] = vector
            self._evict_overflow()
            return entry.id

    def judge_entry(self, entry_id: int, request: Request, correct: bool, weight: float = 1.0) -> None:
        """Feedback on an answer a model gave for this entry's own query."""
        with self._lock:
            entry = self.entries.get(entry_id)
            if entry is None:
                return
            was_confirmed = entry.confirmed
            if correct:
                entry.good += weight
            else:
                entry.bad += weight
            if entry.rejected:
                self._evict(entry)
            elif entry.confirmed and not was_confirmed:
                self._promote(entry, request)

    def judge_hit(self, hit: CacheHit, request: Request, scope: str, correct: bool) -> None:
        """Feedback on an answer the cache served."""
        with self._lock:
            if hit.tier == "reuse":
                for reuser in self.reusers:
                    if reuser.name == hit.detail.get("reuser"):
                        reuser.judge(scope, request, hit, correct)
                return
            entry = self.entries.get(hit.entry_id)
            if hit.tier == "semantic":
                self.policy.observe(scope, entry, hit.similarity, correct, hit.detail.get("margin", CLEAR))
                return
            if entry is not None:
                self.judge_entry(entry.id, request, correct)

    def shadow(self, request: Request, scope: str, nearest: Nearest | None, confirmed_answer: str) -> None:
        """A confirmed fresh answer tells whether the nearest entry would have been right.
        A query no entry could serve counts too: the error bound is a share of queries."""
        if nearest is None:  # the near-duplicate tier was not consulted
            return
        with self._lock:
            if nearest.entry_id is None or nearest.veto is not None:
                self.policy.observe(scope, None, -1.0, True)
                return
            entry = self.entries.get(nearest.entry_id)
            if entry is None:
                return
            same = self.canonical(request, entry.answer) == self.canonical(request, confirmed_answer)
            self.policy.observe(scope, entry, nearest.similarity, same, nearest.margin)

    def canonical(self, request: Request, answer: str) -> str:
        for reuser in self.reusers:
            if reuser.applies(request):
                return reuser.canonical(answer)
        return " ".join(answer.split()).lower()

    def _promote(self, entry: CacheEntry, request: Request) -> None:
        vector = self._pending_vectors.pop(entry.id, None)
        if vector is not None and self.config.semantic.enabled:
            self.semantic.scope(entry.near_key or entry.scope).add(entry.id, vector)
        for reuser in self.reusers:
            if reuser.applies(request):
                reuser.learn(entry.scope, request, entry.answer, entry.id)

    def _evict(self, entry: CacheEntry) -> None:
        self.entries.pop(entry.id, None)
        if self.exact.get(entry.exact_key) is entry:
            del self.exact[entry.exact_key]
        self._pending_vectors.pop(entry.id, None)
        idx = self.semantic.scopes.get(entry.near_key or entry.scope)
        if idx is not None:
            idx.remove(entry.id)

    def _evict_overflow(self) -> None:
        while len(self.entries) > self.config.max_entries:
            _, oldest = next(iter(self.entries.items()))
            self._evict(oldest)

    def __len__(self) -> int:
        return len(self.entries)

    # -- persistence --------------------------------------------------------------
    def snapshot(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        with self._lock:
            meta = {
                "next_id": self._next_id,
                "entries": [e.to_dict() for e in self.entries.values()],
                "scopes": {},
                "policy": self.policy.to_dict(),
                "reusers": {r.name: r.to_dict() for r in self.reusers},
                "pending": sorted(self._pending_vectors),
            }
            arrays = {}
            for s, idx in self.semantic.scopes.items():  # one vector per group of identical ones
                ids, sizes, arrays[f"scope_{s}"] = idx.export()
                meta["scopes"][s] = {"ids": ids, "groups": sizes}
            if self._pending_vectors:
                arrays["pending"] = np.stack([self._pending_vectors[i] for i in meta["pending"]])
            return meta, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._next_id = int(meta["next_id"])
            for row in meta["entries"]:
                entry = _entry_from(row)
                self.entries[entry.id] = entry
                self.exact[entry.exact_key] = entry
            for scope, info in meta["scopes"].items():
                idx = self.semantic.scope(scope)
                if not info["ids"]:
                    continue
                if "groups" in info:
                    idx.load(list(info["ids"]), list(info["groups"]), arrays[f"scope_{scope}"])
                else:  # saved with one vector per entry
                    idx.add_many(list(info["ids"]), arrays[f"scope_{scope}"])
            self.policy.load(meta.get("policy", {}))
            for reuser in self.reusers:
                reuser.load(meta["reusers"].get(reuser.name, {}))
            for i, entry_id in enumerate(meta.get("pending", [])):
                self._pending_vectors[int(entry_id)] = arrays["pending"][i]


def _entry_from(row: dict[str, Any]) -> CacheEntry:
    """An entry from a snapshot; one from before evidence lived on entries keeps
    its wrong-at similarity as evidence."""
    row = dict(row)
    worst = float(row.pop("min_similarity", 0.0) or 0.0)
    row["evidence"] = [(float(s), bool(c)) for s, c in row.get("evidence", [])]
    row["extra"] = row.get("extra") or NO_EXTRA
    entry = CacheEntry(**row)
    if worst > 0:
        entry.add_evidence(worst, False)
    return entry
