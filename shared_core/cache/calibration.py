"""Learns the similarity threshold that meets a target rate of wrong hits.

Evidence is (similarity, was the cached answer right) pairs from two sources:
feedback on served near-duplicate hits, and shadow checks, where a miss whose
fresh answer was confirmed is compared with what the nearest cached entry
would have served. The threshold is the lowest similarity above which the
upper confidence bound of the error rate stays under the target; with too
little evidence it stays at the conservative initial value.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy.stats import beta


class ThresholdCalibrator:
    def __init__(self, target_error_rate: float, confidence: float, initial: float, floor: float,
                 min_evidence: int, window: int = 4000):
        self.target = target_error_rate
        self.confidence = confidence
        self.initial = initial
        self.floor = floor
        self.min_evidence = min_evidence
        self.pairs: deque[tuple[float, bool]] = deque(maxlen=window)
        self._threshold = initial
        self._dirty = False

    def add(self, similarity: float, correct: bool) -> None:
        if similarity >= self.floor:
            self.pairs.append((float(similarity), bool(correct)))
            self._dirty = True

    @property
    def threshold(self) -> float:
        if self._dirty:
            self._threshold = self._fit()
            self._dirty = False
        return self._threshold

    def _fit(self) -> float:
        if len(self.pairs) < self.min_evidence:
            return self.initial
        sims = np.array([p[0] for p in self.pairs])
        wrong = np.array([not p[1] for p in self.pairs], dtype=float)
        order = np.argsort(-sims)
        sims, wrong = sims[order], wrong[order]
        n = np.arange(1, len(sims) + 1)
        errors = np.cumsum(wrong)
        # upper bound of the error rate among pairs at or above each similarity
        upper = beta.ppf(self.confidence, errors + 1, n - errors + 1)
        ok = (upper <= self.target) & (n >= self.min_evidence)
        # keep ties together: a cut between equal similarities is not a threshold
        ok &= np.append(sims[1:] < sims[:-1], True)
        if not ok.any():
            # not enough evidence to prove the target anywhere: stay at the initial
            # threshold, unless hits at or above it were seen to be wrong
            return 1.0 + 1e-6 if wrong[sims >= self.initial].any() else self.initial
        best = float(sims[np.nonzero(ok)[0][-1]])
        return max(self.floor, best)

    def to_dict(self) -> dict:
        return {"pairs": list(self.pairs)}

    def load(self, data: dict) -> None:
        self.pairs.extend((float(s), bool(c)) for s, c in data.get("pairs", []))
        self._dirty = True
