"""What the static-scheduling baselines share: query features, a small
probabilistic classifier, the train-part budget, and scoring of a plan.

A *plan* says, for every query of a group, which models are called, in order;
the last one's answer is the one returned. Every call is billed its recorded
cost and its modelled time (calls of a cascade run one after another).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...encoders import HashingEncoder
from ..replay import ReplayGroup

Plan = list[list[str]]


class Features:
    """The engine's own query embedding (hashed character n-grams) plus the
    text's length, the features every baseline learns from."""

    def __init__(self, dim: int = 256):
        self.encoder = HashingEncoder(dim=dim)

    def __call__(self, texts: list[str]) -> np.ndarray:
        emb = self.encoder.encode(list(texts))
        length = np.log1p(np.array([len(t) for t in texts], dtype=np.float32))[:, None] / 8.0
        return np.hstack([emb, length]).astype(np.float64)


class Classifier:
    """P(label) from features: an L2 logistic regression, or the smoothed base
    rate when the train labels are all alike (a few dozen queries often are)."""

    def __init__(self, c: float = 1.0, seed: int = 0):
        self.c = c
        self.seed = seed
        self.model = None
        self.rate = 0.5

    def fit(self, x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> "Classifier":
        y = np.asarray(y).astype(int)
        self.rate = (y.sum() + 1.0) / (len(y) + 2.0)
        self.model = None
        if 0 < y.sum() < len(y):
            from sklearn.linear_model import LogisticRegression

            self.model = LogisticRegression(C=self.c, max_iter=2000, random_state=self.seed)
            self.model.fit(x, y, sample_weight=weight)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.full(len(x), self.rate)
        return self.model.predict_proba(x)[:, 1]


def out_of_fold(x: np.ndarray, y: np.ndarray, c: float, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Cross-fitted probabilities on the train part: what the classifier says of
    queries it did not learn from, for choosing thresholds without overfitting."""
    n = len(y)
    out = np.zeros(n)
    folds = max(2, min(folds, n))
    order = np.random.default_rng(seed).permutation(n)
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        out[test] = Classifier(c, seed).fit(x[train], y[train]).predict(x[test])
    return out


@dataclass
class Arrays:
    """A group's recorded outcomes as model x query arrays."""

    models: list[str]
    correct: np.ndarray
    cost: np.ndarray
    time: np.ndarray

    @classmethod
    def of(cls, group: ReplayGroup, models: list[str]) -> "Arrays":
        return cls(list(models), np.stack([np.asarray(group.correct[m], dtype=bool) for m in models]),
                   np.stack([np.asarray(group.cost[m], dtype=float) for m in models]),
                   np.stack([np.asarray(group.time[m], dtype=float) for m in models]))

    def best(self) -> int:
        """The most accurate model (cheaper on ties)."""
        acc = self.correct.mean(axis=1)
        return int(min(range(len(self.models)), key=lambda j: (-acc[j], self.cost[j].mean())))


def budget_per_query(train: Arrays, budget_frac: float | None) -> float:
    """The mean cost per query a baseline may spend: a share of what the most
    accurate model of the train part cost there (unlimited without a share)."""
    if budget_frac is None:
        return float("inf")
    return budget_frac * float(train.cost[train.best()].mean())


@dataclass
class Objective:
    """How a baseline picks its operating point on the train part: the most
    accurate plan whose mean cost per query stays within `budget`, and among
    those the one of highest utility `accuracy - cost / willingness_to_pay_usd`
    when a willingness to pay is set (the preference SLS is run with, so that
    every method aims at the same trade-off)."""

    budget: float = float("inf")
    willingness_to_pay_usd: float | None = None

    def value(self, accuracy: float, cost: float) -> tuple[float, float]:
        """Sort key, higher is better; -inf outside the budget."""
        if cost > self.budget + 1e-12:
            return (-np.inf, -cost)
        if self.willingness_to_pay_usd:
            return (accuracy - cost / self.willingness_to_pay_usd, -cost)
        return (accuracy, -cost)


def score_plan(arr: Arrays, plan: Plan) -> dict[str, Any]:
    idx = {m: j for j, m in enumerate(arr.models)}
    correct = cost = tm = 0.0
    calls = 0
    models: dict[str, int] = {}
    for i, chain in enumerate(plan):
        for m in chain:
            cost += arr.cost[idx[m], i]
            tm += arr.time[idx[m], i]
            calls += 1
            models[m] = models.get(m, 0) + 1
        correct += bool(arr.correct[idx[chain[-1]], i])
    return {"correct": correct, "cost": cost, "time": tm, "calls": calls, "models": models, "n": len(plan)}


class Baseline:
    """Fit on a group's train part, then plan its test part. `curve` gives the
    plans of the method's own knob swept, for the accuracy-cost plot."""

    name = "baseline"

    def fit(self, train: ReplayGroup, models: list[str]) -> "Baseline":
        raise NotImplementedError

    def plan(self, test: ReplayGroup) -> Plan:
        raise NotImplementedError

    def curve(self, test: ReplayGroup) -> list[tuple[dict[str, Any], Plan]]:
        return []

    def describe(self) -> dict[str, Any]:
        return {}
