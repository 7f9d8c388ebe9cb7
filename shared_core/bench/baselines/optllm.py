"""OptLLM-style static scheduling (after Liu et al., 2024, "OptLLM: Optimal
Assignment of Queries to Large Language Models"), from the paper's description.

1. Prediction: for every LLM, a classifier of whether it answers a query
   correctly, from the query's features, trained on the labelled train part.
   Robustness by bagging: each model's probability is the mean over classifiers
   fit on bootstrap samples (minus `robustness` times their spread).
2. Optimisation: the queries to serve are assigned all at once to maximise the
   predicted number of correct answers within a cost budget. The paper searches
   the accuracy-cost Pareto front (a destruction and reconstruction heuristic);
   here the front is traced by a Lagrangian sweep (each query takes the model
   maximising p - lambda * predicted cost), the best sweep point within budget
   is taken, and the budget left is then spent greedily on the upgrades with the
   best predicted gain per dollar (the reconstruction step). With a
   willingness to pay instead of a budget (the bench's default, the value SLS is
   run with), the point is lambda = 1 / willingness to pay: the assignment of
   highest predicted utility.

The predicted cost of a model is its mean recorded cost on the train part.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..replay import ReplayGroup
from .common import Arrays, Baseline, Classifier, Features, Plan, budget_per_query


@dataclass
class OptLLMConfig:
    willingness_to_pay_usd: float | None = None  # the value of a correct answer: assign by p - cost / this
    budget_frac: float | None = None  # or: mean cost per query allowed, as a share of the train part's most accurate model
    bootstrap: int = 10  # bagged classifiers per model
    robustness: float = 0.0  # p = bag mean - robustness * bag std
    c: float = 1.0  # inverse L2 strength of each logistic classifier
    sweep: int = 60  # points of the Lagrangian sweep
    dim: int = 256
    seed: int = 0


class OptLLM(Baseline):
    name = "optllm-style"

    def __init__(self, config: OptLLMConfig | None = None):
        self.config = config or OptLLMConfig()
        self.features = Features(self.config.dim)

    def fit(self, train: ReplayGroup, models: list[str]) -> "OptLLM":
        cfg = self.config
        self.models = list(models)
        arr = Arrays.of(train, models)
        x = self.features(train.queries)
        rng = np.random.default_rng(cfg.seed)
        self.bags: list[list[Classifier]] = []
        for j in range(len(models)):
            bag = []
            for b in range(max(1, cfg.bootstrap)):
                pick = rng.integers(0, len(x), len(x)) if cfg.bootstrap > 1 else np.arange(len(x))
                bag.append(Classifier(cfg.c, cfg.seed + b).fit(x[pick], arr.correct[j, pick]))
            self.bags.append(bag)
        self.unit_cost = arr.cost.mean(axis=1)
        if cfg.willingness_to_pay_usd is None and cfg.budget_frac is None:
            raise ValueError("optllm-style needs willingness_to_pay_usd or budget_frac")
        self.budget = budget_per_query(arr, cfg.budget_frac)
        return self

    def probabilities(self, queries: list[str]) -> np.ndarray:
        x = self.features(queries)
        out = []
        for bag in self.bags:
            preds = np.stack([clf.predict(x) for clf in bag])
            out.append(preds.mean(axis=0) - self.config.robustness * preds.std(axis=0))
        return np.clip(np.stack(out), 0.0, 1.0)

    def _lambdas(self) -> np.ndarray:
        scale = 1.0 / max(float(np.median(self.unit_cost)), 1e-9)
        return np.concatenate([[0.0], scale * np.geomspace(1e-3, 1e2, self.config.sweep - 1)])

    def _sweep(self, p: np.ndarray) -> list[np.ndarray]:
        return [np.argmax(p - lam * self.unit_cost[:, None], axis=0) for lam in self._lambdas()]

    def assign(self, p: np.ndarray, budget_total: float) -> np.ndarray:
        c = self.unit_cost
        n = p.shape[1]
        feasible = [a for a in self._sweep(p) if c[a].sum() <= budget_total + 1e-12]
        if not feasible:
            feasible = [np.full(n, int(np.argmin(c)))]
        pick = max(feasible, key=lambda a: (p[a, np.arange(n)].sum(), -c[a].sum())).copy()
        # reconstruction: spend what is left on the best predicted gain per dollar
        left = budget_total - c[pick].sum()
        while True:
            gain = p - p[pick, np.arange(n)][None, :]
            extra = c[:, None] - c[pick][None, :]
            ok = (gain > 1e-9) & (extra <= left + 1e-12)
            if not ok.any():
                break
            ratio = np.where(ok, gain / np.maximum(extra, 1e-12), -np.inf)
            j, i = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            left -= max(extra[j, i], 0.0)
            pick[i] = j
        return pick

    def plan(self, test: ReplayGroup) -> Plan:
        p = self.probabilities(test.queries)
        wtp = self.config.willingness_to_pay_usd
        if wtp and not np.isfinite(self.budget):
            pick = np.argmax(p - self.unit_cost[:, None] / wtp, axis=0)  # the utility's optimum, query by query
        else:
            if wtp:  # a budget and a price: the utility's optimum, then cut back into the budget
                p = p - self.unit_cost[:, None] / wtp
            pick = self.assign(p, self.budget * len(test))
        return [[self.models[j]] for j in pick]

    def curve(self, test: ReplayGroup) -> list[tuple[dict[str, Any], Plan]]:
        p = self.probabilities(test.queries)
        out, seen = [], set()
        for lam, a in zip(self._lambdas(), self._sweep(p)):
            key = a.tobytes()
            if key not in seen:
                seen.add(key)
                out.append(({"lambda": float(lam)}, [[self.models[j]] for j in a]))
        return out

    def describe(self) -> dict[str, Any]:
        return {"config": asdict(self.config),
                "budget_per_query_usd": round(self.budget, 6) if np.isfinite(self.budget) else None}
