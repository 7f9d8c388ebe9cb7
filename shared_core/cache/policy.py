"""Threshold policies: whether the nearest confirmed entry may serve a query.

One small base, one strategy per rule, chosen by name (`cache.semantic.policy`),
so the bench's baselines are just policies, as in vCache's `vcache_policy/`:

- `learned`: a per-scope rule (threshold, and maybe a margin over the next
  entry with another answer) that keeps wrong hits under `target_error_rate`
  of the queries (calibration.py), and per-entry evidence: an entry once
  wrong at similarity s never serves at s or below again.
- `static`: a fixed cosine (`initial_threshold`), the classic semantic cache.
- `none`: near-duplicates never serve (exact and reuse tiers only).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..config import SemanticCacheConfig
from .calibration import CLEAR, NEVER, ThresholdCalibrator
from .entry import CacheEntry


class ThresholdPolicy(ABC):
    name: str

    def __init__(self, config: SemanticCacheConfig):
        self.config = config

    @abstractmethod
    def threshold(self, scope: str) -> float:
        """The lowest similarity that may serve in this scope now."""

    def allows(self, scope: str, entry: CacheEntry, similarity: float, margin: float = CLEAR) -> bool:
        """May `entry` serve a query this similar to it, this much closer to it than to
        the next entry with another answer?"""
        return similarity >= self.threshold(scope) and not entry.wrong_at(similarity)

    def observe(self, scope: str, entry: CacheEntry | None, similarity: float, correct: bool,
                margin: float = CLEAR) -> None:
        """Evidence: serving `entry` at `similarity` was (or would have been) right or wrong."""
        if entry is not None:
            entry.add_evidence(similarity, correct)

    def to_dict(self) -> dict[str, Any]:
        return {}

    def load(self, data: dict[str, Any]) -> None:
        pass


class LearnedPolicy(ThresholdPolicy):
    name = "learned"

    def __init__(self, config: SemanticCacheConfig):
        super().__init__(config)
        self.scopes: dict[str, ThresholdCalibrator] = {}

    def calibrator(self, scope: str) -> ThresholdCalibrator:
        cal = self.scopes.get(scope)
        if cal is None:
            c = self.config
            cal = self.scopes[scope] = ThresholdCalibrator(c.target_error_rate, c.confidence, c.floor,
                                                           c.min_evidence)
        return cal

    def threshold(self, scope: str) -> float:
        cal = self.scopes.get(scope)
        return cal.threshold if cal is not None else NEVER

    def allows(self, scope: str, entry: CacheEntry, similarity: float, margin: float = CLEAR) -> bool:
        cal = self.scopes.get(scope)
        if cal is None:
            return False
        threshold, need = cal.rule
        return similarity >= threshold and margin >= need and not entry.wrong_at(similarity)

    def observe(self, scope: str, entry: CacheEntry | None, similarity: float, correct: bool,
                margin: float = CLEAR) -> None:
        super().observe(scope, entry, similarity, correct)
        self.calibrator(scope).add(similarity, correct, margin)

    def to_dict(self) -> dict[str, Any]:
        return {s: cal.to_dict() for s, cal in self.scopes.items()}

    def load(self, data: dict[str, Any]) -> None:
        for scope, cal in data.items():
            self.calibrator(scope).load(cal)


class StaticPolicy(ThresholdPolicy):
    name = "static"

    def threshold(self, scope: str) -> float:
        return self.config.initial_threshold

    def allows(self, scope: str, entry: CacheEntry, similarity: float, margin: float = CLEAR) -> bool:
        return similarity >= self.config.initial_threshold  # the classic cache learns nothing


class NoPolicy(ThresholdPolicy):
    name = "none"

    def threshold(self, scope: str) -> float:
        return NEVER

    def allows(self, scope: str, entry: CacheEntry, similarity: float, margin: float = CLEAR) -> bool:
        return False


POLICIES: dict[str, type[ThresholdPolicy]] = {p.name: p for p in (LearnedPolicy, StaticPolicy, NoPolicy)}


def make_policy(config: SemanticCacheConfig) -> ThresholdPolicy:
    cls = POLICIES.get(config.policy)
    if cls is None:
        raise ValueError(f"unknown threshold policy '{config.policy}'; known: {', '.join(sorted(POLICIES))}")
    return cls(config)
