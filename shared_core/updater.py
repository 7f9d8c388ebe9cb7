"""The update manager: turns feedback into learning, and keeps state on disk.

Feedback on a request id (an explicit score, a verifier's verdict, a replay's
label) reaches the parts that acted on that request: the predictor learns how
the model that answered did near this query; the cache confirms or evicts the
entry, and a confirmed fresh answer calibrates the near-duplicate threshold
(shadow check). Every `autosave_every` events the whole state is written
atomically, so a restart continues where it stopped; `Autosave` also writes it
on a timer while it changes and at interpreter exit.
"""

from __future__ import annotations

import atexit
import json
import logging
import numbers
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .cache import CacheHit, CacheManager, Nearest
from .errors import FeedbackError, StateError
from .predictor import Predictor
from .request import Request
from .storage import StateStore, dump_arrays, load_arrays
from .storage.base import WAY_OUT

log = logging.getLogger("sls.updater")
STATE_VERSION = 1
MAX_PENDING = 100_000


@dataclass
class Pending:
    """What the engine did for one request, kept until feedback arrives."""

    request: Request
    scope: str
    model: str | None
    answer: str
    vector: np.ndarray | None
    entry_id: int | None = None
    hit: CacheHit | None = None
    nearest: Nearest | None = None
    feedback: list[float] = field(default_factory=list)
    # the models already learned from this request (the agreement cascade credits each
    # with what the answers say, allowing for how hard the question was): feedback then
    # judges the cached answer only, instead of counting the served model twice
    learned: bool = False

    def to_dict(self) -> dict[str, Any]:
        hit = None if self.hit is None else self.hit.__dict__
        nearest = None if self.nearest is None else self.nearest.__dict__
        return {"query": self.request.query, "task": self.request.task, "scope": self.scope, "model": self.model,
                "answer": self.answer, "entry_id": self.entry_id, "hit": hit, "nearest": nearest,
                "feedback": self.feedback, "learned": self.learned}

    @classmethod
    def from_dict(cls, row: dict[str, Any], vector: np.ndarray | None) -> "Pending":
        request = Request(messages=[{"role": "user", "content": "-"}], task=row["task"])
        request.messages[0]["content"] = str(row["query"])  # as served, even empty (a system-only prompt)
        hit = CacheHit(**row["hit"]) if row["hit"] else None
        nearest = Nearest(**row["nearest"]) if row["nearest"] else None
        return cls(request, row["scope"], row["model"], row["answer"], vector, row["entry_id"], hit, nearest,
                   list(row["feedback"]), bool(row.get("learned", False)))  # state saved before the field: False


class UpdateManager:
    def __init__(self, predictor: Predictor, cache: CacheManager, store: StateStore | None = None,
                 autosave_every: int = 500, learn: bool = True):
        self.predictor = predictor
        self.cache = cache
        self.store = store
        self.autosave_every = autosave_every
        self.learn = learn
        self.pending: OrderedDict[str, Pending] = OrderedDict()
        self.events = 0
        self._since_save = 0
        self.changes = 0  # requests tracked and feedback applied: what Autosave watches
        self._lock = threading.RLock()

    def track(self, request_id: str, pending: Pending) -> None:
        with self._lock:
            self.changes += 1
            self.pending[request_id] = pending
            while len(self.pending) > MAX_PENDING:
                self.pending.popitem(last=False)

    def feedback(self, request_id: str, score: float, weight: float = 1.0) -> bool:
        """Apply a score in [0, 1] to a request. False if the id is unknown
        (never served, or too old to be remembered)."""
        if isinstance(score, bool) or not isinstance(score, numbers.Real) or not 0.0 <= score <= 1.0:
            raise FeedbackError(f"feedback score must be a number in [0, 1] (1 good, 0 bad), got {score!r}")
        with self._lock:
            p = self.pending.get(request_id)
            if p is None:
                return False
            p.feedback.append(float(score))
            if self.learn:
                self._apply(p, float(score), weight)
            self.events += 1
            self.changes += 1
            self._since_save += 1
            if self.store is not None and self.autosave_every and self._since_save >= self.autosave_every:
                self.save()
            return True

    def _apply(self, p: Pending, score: float, weight: float) -> None:
        correct = score >= 0.5
        task = p.request.task
        if p.hit is not None:
            self.cache.judge_hit(p.hit, p.request, p.scope, correct)
            return
        if p.model is not None and not p.learned:
            self.predictor.observe(task, p.vector, p.model, score)
        if p.entry_id is not None:
            self.cache.judge_entry(p.entry_id, p.request, correct, weight)
        if correct:
            self.cache.shadow(p.request, p.scope, p.nearest, p.answer)

    # -- persistence ---------------------------------------------------------------
    def save(self, extra: dict[str, Any] | None = None) -> None:
        if self.store is None:
            return
        with self._lock:
            cache_meta, cache_arrays = self.cache.snapshot()
            pred_meta, pred_arrays = self.predictor.snapshot()
            pend = list(self.pending.items())[-10_000:]  # the most recent are the ones feedback still reaches
            vectors = [p.vector for _, p in pend if p.vector is not None]
            meta = {
                "version": STATE_VERSION,
                "cache": cache_meta,
                "predictor": pred_meta,
                "pending": [{"id": rid, "has_vector": p.vector is not None, **p.to_dict()} for rid, p in pend],
                "events": self.events,
                **(extra or {}),
            }
            arrays = {**{f"cache__{k}": v for k, v in cache_arrays.items()},
                      **{f"pred__{k}": v for k, v in pred_arrays.items()}}
            if vectors:
                arrays["pending_vectors"] = np.stack(vectors)
            self.store.put_many({"state.json": json.dumps(meta).encode(), "arrays.npz": dump_arrays(arrays)})
            self._since_save = 0

    def load(self) -> dict[str, Any] | None:
        """Restore saved state; returns its metadata, or None when there is none."""
        if self.store is None:
            return None
        blobs = self.store.get_many(["state.json", "arrays.npz"])  # both from one save
        if blobs["state.json"] is None:
            return None
        where = self.store.path or type(self.store).__name__
        try:
            meta = json.loads(blobs["state.json"])
            version = meta.get("version")
        except (ValueError, AttributeError) as exc:
            raise StateError(f"saved state at {where} is unreadable ({type(exc).__name__}: {exc}); {WAY_OUT}") \
                from exc
        if version != STATE_VERSION:
            raise StateError(f"saved state at {where} has version {version}, this SLS reads {STATE_VERSION}; "
                             f"{WAY_OUT}")
        # Restore into this (new, empty) engine; any failure is one StateError and the
        # engine is not built, so nothing half-loaded is ever served.
        try:
            arrays = load_arrays(blobs["arrays.npz"] or b"")
            with self._lock:
                self.cache.restore(meta["cache"], _sub(arrays, "cache__"))
                self.predictor.restore(meta["predictor"], _sub(arrays, "pred__"))
                vectors = iter(arrays.get("pending_vectors", []))
                for row in meta["pending"]:
                    rid = row.pop("id")
                    vec = next(vectors) if row.pop("has_vector") else None
                    self.pending[rid] = Pending.from_dict(row, vec)
                self.events = int(meta.get("events", 0))
        except Exception as exc:  # zip, npz, JSON shape, FAISS: all mean this save cannot be used
            raise StateError(f"saved state at {where} is unreadable ({type(exc).__name__}: {exc}); {WAY_OUT}") \
                from exc
        return meta


class Autosave:
    """Calls `save` every `every_s` seconds while `changes()` has moved since the
    last save, and once more at interpreter exit, so state survives a process
    that never calls save() or close(). `stop()` ends both (close() does).

    The timer thread and the exit hook hold this object only weakly: an engine
    that is dropped without close() is not kept alive by its autosave."""

    def __init__(self, save: Callable[[], None], changes: Callable[[], int], every_s: float):
        self.save = save
        self.changes = changes
        self.every_s = every_s
        self.saved_at = changes()
        self._stopped = threading.Event()
        ref = weakref.ref(self)
        self._thread = threading.Thread(target=_autosave_loop, args=(ref, self._stopped, every_s),
                                        name="sls-autosave", daemon=True)
        self._thread.start()
        self._at_exit = lambda: (ref() or _NOTHING).stop()
        atexit.register(self._at_exit)

    def save_if_changed(self) -> None:
        now = self.changes()
        if now != self.saved_at:
            self.save()
            self.saved_at = now

    def stop(self, save: bool = True) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        atexit.unregister(self._at_exit)
        if save:
            self.save_if_changed()


class _Nothing:
    def stop(self) -> None:
        pass


_NOTHING = _Nothing()


def _autosave_loop(ref: "weakref.ref[Autosave]", stopped: threading.Event, every_s: float) -> None:
    while not stopped.wait(every_s):
        autosave = ref()
        if autosave is None:
            return
        try:
            autosave.save_if_changed()
        except Exception as exc:  # a full disk must not kill the thread; the next tick retries
            log.warning("autosave failed: %s", exc)
        del autosave


def _sub(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
