"""The threshold that keeps wrong near-duplicate hits under a share of all queries.

Evidence is one (similarity, would-the-nearest-entry-have-been-right) pair per
judged lookup: feedback on a served near-duplicate hit, or a shadow check,
where a miss whose fresh answer was confirmed is compared with what the
nearest entry would have served. A threshold t would have served the pairs at
or above t; the wrong ones among them, over all pairs, estimate the share of
queries a hit at t gets wrong (vCache's error rate, arXiv 2502.03771). The
threshold is the lowest t whose upper confidence bound of that share stays
under the target. With too little evidence no t qualifies: cold, it serves
nothing.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy.stats import beta

NEVER = 1.0 + 1e-6  # above any cosine: nothing clears it


class ThresholdCalibrator:
    def __init__(self, target_error_rate: float, confidence: float, floor: float, min_evidence: int,
                 window: int = 10_000):
        self.target = target_error_rate
        self.confidence = confidence
        self.floor = floor
        self.min_evidence = min_evidence
        self.pairs: deque[tuple[float, bool]] = deque(maxlen=window)
        self._threshold = NEVER
        self._dirty = False

    def add(self, similarity: float, correct: bool) -> None:
        self.pairs.append((float(similarity), bool(correct)))
        self._dirty = True

    @property
    def threshold(self) -> float:
        if self._dirty:
            self._threshold = self._fit()
            self._dirty = False
        return self._threshold

    def _fit(self) -> float:
        total = len(self.pairs)
        if total < self.min_evidence:
            return NEVER
        sims = np.fromiter((p[0] for p in self.pairs), float, total)
        wrong = np.fromiter((not p[1] for p in self.pairs), float, total)
        order = np.argsort(-sims, kind="stable")
        sims, wrong = sims[order], np.cumsum(wrong[order])
        # upper bound of (wrong hits at or above each cut) / (all judged lookups)
        upper = beta.ppf(self.confidence, wrong + 1, total - wrong)
        ok = (upper <= self.target) & (sims >= self.floor)
        ok &= np.append(sims[1:] < sims[:-1], True)  # a cut between equal similarities is not a threshold
        if not ok.any():
            return NEVER
        return float(sims[np.nonzero(ok)[0][-1]])

    def to_dict(self) -> dict:
        return {"pairs": list(self.pairs)}

    def load(self, data: dict) -> None:
        self.pairs.extend((float(s), bool(c)) for s, c in data.get("pairs", []))
        self._dirty = True
