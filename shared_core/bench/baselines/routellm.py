"""RouteLLM-style routing (after Ong et al., 2024, "RouteLLM: Learning to Route
LLMs with Preference Data"), from the paper's description.

Two models: a strong one and a cheap weak one. A router learned from
preference data scores each query with the probability that the strong
model's answer beats the weak one's, and sends it to the strong model when the
score clears a threshold; the threshold sets the share of strong calls, and so
the cost. Here the preference labels come from the train part (the strong
model wins a query when it is right and the weak one is wrong; a tie goes to
the weak, cheaper model), the router is a logistic classifier on the query
features (the paper's classifier routers use BERT or an LLM; its matrix
factorisation and similarity ranking need more data than a train part holds),
and the threshold is calibrated on cross-fitted train scores: the one of highest
utility (accuracy - cost / willingness to pay), or the most accurate within a
budget of mean cost per query.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..replay import ReplayGroup
from .common import Arrays, Baseline, Classifier, Features, Objective, Plan, budget_per_query, out_of_fold


@dataclass
class RouteLLMConfig:
    strong: str | None = None  # default: the most accurate model on the train part
    weak: str | None = None  # default: the most accurate model costing <= weak_cost_frac of the strong one
    weak_cost_frac: float = 0.1
    willingness_to_pay_usd: float | None = None  # the value of a correct answer: the threshold of highest utility
    budget_frac: float | None = None  # or: mean cost per query allowed, as a share of the train part's most accurate model
    c: float = 1.0
    dim: int = 256
    seed: int = 0


class RouteLLM(Baseline):
    name = "routellm-style"

    def __init__(self, config: RouteLLMConfig | None = None):
        self.config = config or RouteLLMConfig()
        self.features = Features(self.config.dim)

    def fit(self, train: ReplayGroup, models: list[str]) -> "RouteLLM":
        cfg = self.config
        arr = Arrays.of(train, models)
        acc, unit = arr.correct.mean(axis=1), arr.cost.mean(axis=1)
        s = models.index(cfg.strong) if cfg.strong else arr.best()
        if cfg.weak:
            w = models.index(cfg.weak)
        else:
            cheap = [j for j in range(len(models)) if j != s and unit[j] <= cfg.weak_cost_frac * unit[s]]
            cheap = cheap or [int(np.argmin(unit))]
            w = max(cheap, key=lambda j: (acc[j], -unit[j]))
        self.strong, self.weak = models[s], models[w]
        y = arr.correct[s] & ~arr.correct[w]
        x = self.features(train.queries)
        self.router = Classifier(cfg.c, cfg.seed).fit(x, y)
        if cfg.willingness_to_pay_usd is None and cfg.budget_frac is None:
            raise ValueError("routellm-style needs willingness_to_pay_usd or budget_frac")
        self.budget = budget_per_query(arr, cfg.budget_frac)
        # threshold: on cross-fitted scores of the train queries, the one of best
        # utility (or accuracy) within the budget
        scores = out_of_fold(x, y, cfg.c, seed=cfg.seed)
        objective = Objective(self.budget, cfg.willingness_to_pay_usd)
        best = (-np.inf, -np.inf)
        self.threshold = np.inf
        for t in np.concatenate([[np.inf], np.unique(scores)[::-1]]):
            strong = scores >= t
            right = np.where(strong, arr.correct[s], arr.correct[w]).mean()
            cost = np.where(strong, arr.cost[s], arr.cost[w]).mean()
            value = objective.value(right, cost)
            if value > best:
                best, self.threshold = value, float(t)
        self.strong_share_train = float((scores >= self.threshold).mean())
        return self

    def _route(self, scores: np.ndarray, threshold: float) -> Plan:
        return [[self.strong] if sc >= threshold else [self.weak] for sc in scores]

    def plan(self, test: ReplayGroup) -> Plan:
        return self._route(self.router.predict(self.features(test.queries)), self.threshold)

    def curve(self, test: ReplayGroup) -> list[tuple[dict[str, Any], Plan]]:
        scores = self.router.predict(self.features(test.queries))
        out = []
        for q in np.linspace(0.0, 1.0, 21):
            t = np.inf if q == 0 else float(np.quantile(scores, 1 - q))
            out.append(({"strong_share": round(float(q), 2)}, self._route(scores, t)))
        return out

    def describe(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "strong": self.strong, "weak": self.weak,
                "threshold": None if not np.isfinite(self.threshold) else round(self.threshold, 4),
                "strong_share_train": round(self.strong_share_train, 3),
                "budget_per_query_usd": round(self.budget, 6) if np.isfinite(self.budget) else None}
