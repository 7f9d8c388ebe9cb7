"""A cached answer and the evidence about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


# The `extra` of every entry stored without any: one shared dict, so it must never be
# written to (nothing does: a hit copies it, state and Redis serialise it).
NO_EXTRA: dict[str, Any] = {}


@dataclass(slots=True)  # no per-entry __dict__: a cache holds 100,000s of these
class CacheEntry:
    id: int
    scope: str
    exact_key: str
    query: str
    answer: str
    model: str
    task: str = "default"
    extra: dict[str, Any] = field(default_factory=dict)
    good: float = 0.0  # feedback that the answer is right (its own query or served hits)
    bad: float = 0.0
    hits: int = 0
    context_key: str | None = None  # see Request.context_key
    near_key: str | None = None  # what must match for a near-duplicate hit (CacheManager.near_key)
    # (similarity, right) each time it served, or would have served, a near-duplicate;
    # a shared empty tuple until the first, as most entries never get any
    evidence: list[tuple[float, bool]] | tuple = ()

    def add_evidence(self, similarity: float, correct: bool, keep: int = 32) -> None:
        self.evidence = [*self.evidence, (float(similarity), bool(correct))][-keep:]

    def wrong_at(self, similarity: float) -> bool:
        """Was it wrong for a query at least this similar? Then it is wrong here too."""
        return any(not ok and s >= similarity for s, ok in self.evidence)

    @property
    def confirmed(self) -> bool:
        return self.good > 0 and self.good > self.bad

    @property
    def rejected(self) -> bool:
        return self.bad > 0 and self.bad >= self.good

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CacheHit:
    """What the cache served and from which tier: exact, reuse or semantic."""

    tier: str
    answer: str
    entry_id: int | None
    similarity: float = 1.0
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
