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

A region of the space is told apart by the margin: how much closer the query
is to its nearest entry than to the next entry with another answer. A query
halfway between two stored questions is where near-duplicates go wrong, so the
rule may also ask for a margin (one of MARGINS), when that lets more hits
through under the same bound.
"""

from __future__ import annotations

from collections import deque

import numpy as np

NEVER = 1.0 + 1e-6  # above any cosine: nothing clears it
CLEAR = 1.0  # the margin of a query with no rival entry in sight
MARGINS = (-np.inf, 0.01, 0.02, 0.04)  # the margins a rule may ask for; -inf: none


class ThresholdCalibrator:
    def __init__(self, target_error_rate: float, confidence: float, floor: float, min_evidence: int,
                 window: int = 10_000):
        self.target = target_error_rate
        self.confidence = confidence
        self.floor = floor
        self.min_evidence = min_evidence
        self.pairs: deque[tuple[float, bool, float]] = deque(maxlen=window)  # (similarity, right, margin)
        self._rule = (NEVER, MARGINS[0])
        self._stale = 0  # pairs added since the last fit

    def add(self, similarity: float, correct: bool, margin: float = CLEAR) -> None:
        self.pairs.append((float(similarity), bool(correct), float(margin)))
        self._stale += 1

    @property
    def rule(self) -> tuple[float, float]:
        """(threshold, margin): serve a query at least this similar, with at least this margin."""
        # a fit sorts the window: redo it once 1/64 of the evidence is new, not per lookup
        if self._stale and (self._stale >= len(self.pairs) // 64 or self._rule[0] == NEVER):
            self._rule = self._fit()
            self._stale = 0
        return self._rule

    @property
    def threshold(self) -> float:
        return self.rule[0]

    def _fit(self) -> tuple[float, float]:
        total = len(self.pairs)
        if total < self.min_evidence:
            return NEVER, MARGINS[0]
        sims, right, margins = (np.fromiter((p[i] for p in self.pairs), float, total) for i in range(3))
        allowed = self._allowed_wrong(total)
        best, served = (NEVER, MARGINS[0]), 0
        for margin in MARGINS:
            cut, n = self._cut(np.where(margins >= margin, sims, -np.inf), 1.0 - right, allowed)
            if n > served:
                best, served = (cut, margin), n
        return best

    def _cut(self, sims: np.ndarray, wrong: np.ndarray, allowed: int) -> tuple[float, int]:
        """The lowest similarity with at most `allowed` wrong pairs at or above it, and
        how many pairs it serves."""
        order = np.argsort(-sims, kind="stable")
        sims, wrong = sims[order], np.cumsum(wrong[order])
        ok = (wrong <= allowed) & (sims >= self.floor)
        ok &= np.append(sims[1:] < sims[:-1], True)  # a cut between equal similarities is not a threshold
        if not ok.any():
            return NEVER, 0
        last = int(np.nonzero(ok)[0][-1])
        return float(sims[last]), last + 1

    def _allowed_wrong(self, total: int) -> int:
        """The most wrong hits among `total` judged lookups whose upper confidence bound
        of the wrong share (Clopper-Pearson) stays under the target; -1 if none does."""
        # w wrong may be served while P(X >= w + 2) >= confidence, X ~ Binomial(total, target):
        # the regularised incomplete beta I_target(w + 2, total - w - 1) of Clopper-Pearson
        tail = binomial_tail(total, self.target)
        return int(np.count_nonzero(tail[1:] >= self.confidence)) - 1

    def to_dict(self) -> dict:
        return {"pairs": list(self.pairs)}

    def load(self, data: dict) -> None:
        self.pairs.extend((float(p[0]), bool(p[1]), float(p[2]) if len(p) > 2 else CLEAR)
                          for p in data.get("pairs", []))
        self._stale = len(self.pairs)


def binomial_tail(n: int, p: float) -> np.ndarray:
    """P(X >= k) for k = 0..n, X ~ Binomial(n, p), 0 < p < 1 (summed from the top in
    log space, so it holds for n in the tens of thousands)."""
    k = np.arange(n + 1)
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])
    log_pmf = log_fact[n] - log_fact[k] - log_fact[n - k] + k * np.log(p) + (n - k) * np.log1p(-p)
    return np.cumsum(np.exp(log_pmf)[::-1])[::-1]
