"""What any router could reach on a replay file, measured: the bounds a
benchmark target has to be read against.

- `full_information_ceiling`: a one-call router that has every model's label on
  every other query (k-fold cross-fitting over the whole file, against SLS's
  one label per query it served, none before it starts). A per-model
  success classifier on TF-IDF character n-grams of the query, then, per query,
  the model of highest P(right) - lambda * cost at the recorded cost; the
  regularisation and lambda are chosen in hindsight, as the most accurate plan
  within the cost budget. Every
  one of those choices favours the ceiling, so no one-call router on query text
  is expected to do better.
- `bandit_reference`: a context-free Thompson bandit (Beta(1, 1) per model,
  utility P(right) - cost / willingness to pay), cold start: what exploration
  alone costs when only the served answer's label comes back. Scored on the test
  part, started either on it or on the train part before it (online, one call
  per query), averaged over seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .baselines.common import Arrays
from .replay import ReplayGroup

FOLDS = 10  # of the cross-fit of the full-information ceiling


@dataclass
class Ceiling:
    accuracy: float
    cost_usd: float
    budget_usd: float
    best_single: str
    best_single_accuracy: float
    best_single_cost_usd: float
    auc: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        out = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}
        out["auc"] = {m: round(a, 3) for m, a in self.auc.items()}
        return out


def _arrays(group: ReplayGroup, models: list[str]) -> tuple[Arrays, np.ndarray, np.ndarray]:
    """The group's outcomes, and its correctness and cost as query x model arrays."""
    arr = Arrays.of(group, models)
    return arr, arr.correct.T.astype(float), arr.cost.T


def cross_fitted_success(texts: list[str], y: np.ndarray, folds: int = 10, seed: int = 0,
                         regularisation: tuple[float, ...] = (1.0,), tick: Callable[[], None] | None = None
                         ) -> list[np.ndarray]:
    """P(model right) for every query and model, one array per regularisation
    strength, each from classifiers trained on all models' labels of the other folds."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    n, k = y.shape
    out = [np.zeros((n, k)) for _ in regularisation]
    order = np.random.default_rng(seed).permutation(n)
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
        x_train = vec.fit_transform([texts[i] for i in train])
        x_test = vec.transform([texts[i] for i in test])
        for j in range(k):
            labels = y[train, j]
            for p, strength in zip(out, regularisation):
                if 0 < labels.sum() < len(labels):
                    clf = LogisticRegression(C=strength, solver="liblinear").fit(x_train, labels)
                    p[test, j] = clf.predict_proba(x_test)[:, 1]
                else:
                    p[test, j] = (labels.sum() + 1) / (len(labels) + 2)
        if tick:
            tick()
    return out


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    if y.min() == y.max():
        return float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def full_information_ceiling(group: ReplayGroup, models: list[str], budget_frac: float = 0.1,
                             folds: int = FOLDS, seed: int = 0,
                             regularisation: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0),
                             tick: Callable[[], None] | None = None) -> Ceiling:
    """The most accurate one-call plan within `budget_frac` of the most accurate
    single model's cost, from cross-fitted full-information classifiers."""
    arr, y, c = _arrays(group, models)
    best = arr.best()
    budget = budget_frac * float(c[:, best].sum())
    rows = np.arange(len(y))
    acc, cost, auc = -1.0, 0.0, {}
    for p in cross_fitted_success(group.queries, y, folds, seed, regularisation, tick):
        for lam in np.concatenate([[0.0], np.logspace(-1, 6, 141)]):
            pick = (p - lam * c).argmax(axis=1)
            a, s = float(y[rows, pick].mean()), float(c[rows, pick].sum())
            if s <= budget and a > acc:
                acc, cost = a, s
                auc = {m: _auc(y[:, j], p[:, j]) for j, m in enumerate(models)}
    return Ceiling(max(acc, 0.0), cost, budget, models[best], float(y[:, best].mean()), float(c[:, best].sum()), auc)


def thompson_replay(y: np.ndarray, c: np.ndarray, start: int, score_from: int, wtp: float,
                    seed: int) -> tuple[float, float]:
    """One context-free Thompson run over queries [start, n); accuracy and cost
    on [score_from, n). A model's cost is predicted by its mean so far (the
    median model's mean cost before any call of it)."""
    rng = np.random.default_rng(seed)
    n, k = y.shape
    good, bad = np.zeros(k), np.zeros(k)
    spent, calls = np.zeros(k), np.zeros(k)
    prior_cost = float(np.median(c.mean(axis=0)))
    correct = cost = 0.0
    for i in range(start, n):
        expected = np.where(calls > 0, spent / np.maximum(calls, 1), prior_cost)
        j = int((rng.beta(1 + good, 1 + bad) - expected / wtp).argmax())
        good[j] += y[i, j]
        bad[j] += 1 - y[i, j]
        spent[j] += c[i, j]
        calls[j] += 1
        if i >= score_from:
            correct += y[i, j]
            cost += c[i, j]
    return correct / max(n - score_from, 1), cost


def bandit_reference(group: ReplayGroup, models: list[str], train_size: int, wtp: float,
                     seeds: int = 20, tick: Callable[[], None] | None = None) -> dict[str, dict[str, float]]:
    """Mean and spread over seeds, cold on the test part and online from the train part."""
    _, y, c = _arrays(group, models)
    out = {}
    for name, start in (("cold", train_size), ("online-from-train", 0)):
        runs = np.array([thompson_replay(y, c, start, train_size, wtp, s) for s in range(seeds)])
        out[name] = {"accuracy": round(float(runs[:, 0].mean()), 4), "accuracy_sd": round(float(runs[:, 0].std()), 4),
                     "cost_usd": round(float(runs[:, 1].mean()), 4)}
        if tick:
            tick()
    return out


CEILING_STEPS = FOLDS + 2  # what ceiling_report ticks per file: each fold of the cross-fit, each bandit start


def ceiling_report(groups: list[ReplayGroup], models: list[str], train_sizes: list[int], wtp: float,
                   budget_frac: float = 0.1, seeds: int = 20, tick: Callable[[], None] | None = None
                   ) -> dict[str, dict[str, Any]]:
    """Per file: the full-information ceiling (whole file) and the bandit reference (test part);
    `tick` is called CEILING_STEPS times a file, for a progress bar."""
    return {g.name: {"full_information": full_information_ceiling(g, models, budget_frac, tick=tick).to_dict(),
                     "bandit": bandit_reference(g, models, n, wtp, seeds, tick)}
            for g, n in zip(groups, train_sizes)}


def format_ceiling(report: dict[str, dict[str, Any]], budget_frac: float = 0.1) -> str:
    lines = [f"what any router could reach (full information: cross-fitted classifiers with every model's label, "
             f"best plan within {budget_frac:.0%} of the best single model's cost, whole file; bandit: context-free "
             f"Thompson, test part, mean of seeds)"]
    for name, r in report.items():
        f, b = r["full_information"], r["bandit"]
        lines.append(f"  {name}: best single {f['best_single']} {f['best_single_accuracy']:.4f} for "
                     f"${f['best_single_cost_usd']:.4f}; full-information one-call ceiling {f['accuracy']:.4f} for "
                     f"${f['cost_usd']:.4f} (budget ${f['budget_usd']:.4f})")
        lines.append(f"    bandit cold {b['cold']['accuracy']:.4f}±{b['cold']['accuracy_sd']:.3f} "
                     f"(${b['cold']['cost_usd']:.4f}); online from the train part "
                     f"{b['online-from-train']['accuracy']:.4f}±{b['online-from-train']['accuracy_sd']:.3f} "
                     f"(${b['online-from-train']['cost_usd']:.4f})")
        aucs = ", ".join(f"{m} {a:.2f}" for m, a in f["auc"].items())
        lines.append(f"    per-model AUC of the cross-fitted classifiers: {aucs}")
    return "\n".join(lines)
