"""FrugalGPT-style LLM cascade (after Chen, Zaharia and Zou, 2023, "FrugalGPT:
How to Use Large Language Models While Reducing Cost and Improving
Performance"), from the paper's description.

A chain of models, cheap to expensive, is called in turn; after each answer a
scorer g(query, answer) in [0, 1] estimates whether the answer is right, and
the chain stops at the first answer whose score clears that stage's
threshold (the last model's answer is always returned). The scorer is learned
from the train part (the paper fine-tunes a small DistilBERT regressor; here,
one logistic classifier per model on the query's and the answer's features).
The chain (up to `max_chain` models) and its thresholds are chosen on the
train part, with cross-fitted scores, as the paper's optimisation does: the
most accurate within a budget of mean cost per query, or (the bench's default)
the one of highest utility, accuracy - cost / willingness to pay.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..replay import ReplayGroup
from .common import Arrays, Baseline, Classifier, Features, Objective, Plan, budget_per_query, out_of_fold


@dataclass
class FrugalGPTConfig:
    willingness_to_pay_usd: float | None = None  # the value of a correct answer: the chain of highest utility
    budget_frac: float | None = None  # or: mean cost per query allowed, as a share of the train part's most accurate model
    max_chain: int = 3
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    curve_budgets: list[float] = field(default_factory=lambda: [0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5])
    c: float = 1.0
    dim: int = 256
    seed: int = 0


@dataclass
class _Chain:
    models: tuple[int, ...]
    thresholds: tuple[float, ...]  # one per stage but the last
    accuracy: float
    cost: float


class FrugalGPT(Baseline):
    name = "frugalgpt-cascade"

    def __init__(self, config: FrugalGPTConfig | None = None):
        self.config = config or FrugalGPTConfig()
        self.features = Features(self.config.dim)

    def _x(self, group: ReplayGroup, model: str, q: np.ndarray) -> np.ndarray:
        return np.hstack([q, self.features(group.answers[model])])

    def fit(self, train: ReplayGroup, models: list[str]) -> "FrugalGPT":
        cfg = self.config
        self.models = list(models)
        arr = Arrays.of(train, models)
        q = self.features(train.queries)
        self.scorers, oof = [], []
        for j, m in enumerate(models):
            x = self._x(train, m, q)
            self.scorers.append(Classifier(cfg.c, cfg.seed).fit(x, arr.correct[j]))
            oof.append(out_of_fold(x, arr.correct[j], cfg.c, seed=cfg.seed))
        if cfg.willingness_to_pay_usd is None and cfg.budget_frac is None:
            raise ValueError("frugalgpt-cascade needs willingness_to_pay_usd or budget_frac")
        self.budget = budget_per_query(arr, cfg.budget_frac)
        self.best_cost = float(arr.cost[arr.best()].mean())
        self.unit = arr.cost.mean(axis=1)
        self.candidates = self._search(np.stack(oof), arr)
        self.chain = self._best(Objective(self.budget, cfg.willingness_to_pay_usd))
        return self

    def _search(self, scores: np.ndarray, arr: Arrays) -> list[_Chain]:
        """Every chain (cheap to expensive) and threshold choice, scored on the train part."""
        cfg = self.config
        order = sorted(range(len(self.models)), key=lambda j: self.unit[j])
        grids = [np.unique(np.quantile(scores[j], cfg.quantiles)) for j in range(len(self.models))]
        out = []
        n = scores.shape[1]
        for length in range(1, cfg.max_chain + 1):
            for chain in itertools.combinations(order, length):
                for ths in itertools.product(*[grids[j] for j in chain[:-1]]):
                    open_ = np.ones(n, dtype=bool)
                    right = cost = 0.0
                    for stage, j in enumerate(chain):
                        cost += arr.cost[j, open_].sum()
                        stop = open_ & (scores[j] >= ths[stage]) if stage < len(chain) - 1 else open_
                        right += arr.correct[j, stop].sum()
                        open_ &= ~stop
                    out.append(_Chain(chain, tuple(float(t) for t in ths), right / n, cost / n))
        return out

    def _best(self, objective: Objective) -> _Chain:
        ok = [c for c in self.candidates if c.cost <= objective.budget + 1e-12]
        if not ok:
            return min(self.candidates, key=lambda c: c.cost)
        return max(ok, key=lambda c: objective.value(c.accuracy, c.cost))

    def _run(self, chain: _Chain, test: ReplayGroup) -> Plan:
        q = self.features(test.queries)
        scores = {j: self.scorers[j].predict(self._x(test, self.models[j], q)) for j in chain.models[:-1]}
        plan = []
        for i in range(len(test)):
            called = []
            for stage, j in enumerate(chain.models):
                called.append(self.models[j])
                if stage < len(chain.models) - 1 and scores[j][i] >= chain.thresholds[stage]:
                    break
            plan.append(called)
        return plan

    def plan(self, test: ReplayGroup) -> Plan:
        return self._run(self.chain, test)

    def curve(self, test: ReplayGroup) -> list[tuple[dict[str, Any], Plan]]:
        out, seen = [], set()
        for b in self.config.curve_budgets:
            chain = self._best(Objective(b * self.best_cost))
            key = (chain.models, chain.thresholds)
            if key not in seen:
                seen.add(key)
                out.append(({"budget_frac": b, "chain": [self.models[j] for j in chain.models]}, self._run(chain, test)))
        return out

    def describe(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "chain": [self.models[j] for j in self.chain.models],
                "thresholds": [round(t, 4) for t in self.chain.thresholds],
                "train_accuracy": round(float(self.chain.accuracy), 4),
                "train_cost_per_query_usd": round(float(self.chain.cost), 6),
                "budget_per_query_usd": round(self.budget, 6) if np.isfinite(self.budget) else None}
