"""Model cards: public facts about a model, and the quality prior they imply.

A card (shared_core/defaults/model_cards.yaml) holds a model's list prices,
context window, capabilities and published benchmark scores, each with its
source. A candidate names its card (`card:`), or is matched by its name or an
alias; fields the candidate sets itself win.

The prior: a task belongs to a family (code, qa, logparsing, ...) and each
family reads one benchmark (code: HumanEval, qa: MMLU, ...). A model's published
score on it is the router's first guess of its success rate on the task. A card
without that benchmark gets it predicted from the card's other benchmarks by a
least-squares line, in probit units, over the catalog's models that publish
both: figures of the catalog only, never of the user's workload.
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import ConfigError

# Which published benchmark speaks for which task family. A task is mapped to a
# family by `predictor.task_families`, else by its own name, else "general".
FAMILY_BENCHMARK = {"code": "humaneval", "qa": "mmlu", "logparsing": "mmlu", "math": "gsm8k",
                    "chat": "mmlu", "general": "mmlu"}
TASK_FAMILY = {"codegen": "code", "code": "code", "qa": "qa", "logparsing": "logparsing", "math": "math",
               "chat": "chat"}
PERCENT_BENCHMARKS = ("mmlu", "humaneval", "mbpp", "gsm8k")
MIN_PAIRS = 4  # models publishing both benchmarks before one predicts the other


@dataclass(frozen=True)
class ModelCard:
    name: str
    aliases: tuple[str, ...] = ()
    family: str | None = None
    provider: str | None = None
    price_in: float | None = None
    price_out: float | None = None
    context_window: int | None = None
    capabilities: tuple[str, ...] | None = None
    params_b: float | None = None
    benchmarks: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # benchmark -> URL


@dataclass(frozen=True)
class PriorScore:
    """A model's prior success rate on a family's benchmark, and how it was had."""

    value: float  # in (0, 1)
    how: str  # "published" | "predicted from <benchmark>" | "none"
    error_sd: float = 0.0  # probit sd of the prediction: the line's residual over the catalog


_NORMAL = NormalDist()


def probit(p: float) -> float:
    return _NORMAL.inv_cdf(min(max(p, 1e-4), 1 - 1e-4))


def normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def normal_cdf_array(z: np.ndarray) -> np.ndarray:
    """Phi(z), elementwise, within 1e-7 (Abramowitz and Stegun 7.1.26 for erf)."""
    x = np.abs(z) / math.sqrt(2)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    tail = 0.5 * poly * np.exp(-x * x)  # P(Z > |z|)
    return np.where(z >= 0, 1.0 - tail, tail)


class Catalog:
    def __init__(self, cards: dict[str, ModelCard]):
        self.cards = cards
        self._by_alias = {}
        for card in cards.values():
            for key in (card.name, *card.aliases):
                self._by_alias[key.lower()] = card

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Catalog":
        return cls.from_dict(yaml.safe_load(Path(path).read_text()), str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<catalog>") -> "Catalog":
        sources = data.get("sources") or {}
        cards = {}
        for name, spec in (data.get("models") or {}).items():
            cards[name] = _card(name, spec, sources, source)
        return cls(cards)

    def get(self, name: str | None) -> ModelCard | None:
        return self._by_alias.get(name.lower()) if name else None

    def benchmark(self, benchmarks: dict[str, float], name: str) -> PriorScore:
        """The score on `name` (a percent benchmark), published or predicted
        from the others; value 0.5 with how="none" when nothing can tell."""
        if name in benchmarks:
            return PriorScore(benchmarks[name] / 100.0, "published")
        lines = [(self._line(name, other), other) for other in PERCENT_BENCHMARKS
                 if other in benchmarks and other != name]
        lines = [(line, other) for line, other in lines if line is not None]
        if not lines:
            return PriorScore(0.5, "none")
        z = float(np.mean([a + b * probit(benchmarks[o] / 100.0) for (a, b, _), o in lines]))
        sd = min(sd for (_, _, sd), _ in lines)
        return PriorScore(normal_cdf(z), "predicted from " + ", ".join(o for _, o in lines), sd)

    @functools.lru_cache(maxsize=64)
    def _line(self, target: str, other: str) -> tuple[float, float, float] | None:
        """Intercept, slope and residual sd of target on other, in probit units."""
        pairs = [(probit(c.benchmarks[other] / 100), probit(c.benchmarks[target] / 100))
                 for c in self.cards.values() if target in c.benchmarks and other in c.benchmarks]
        if len(pairs) < MIN_PAIRS:
            return None
        x, y = np.array(pairs).T
        slope, intercept = np.polyfit(x, y, 1)
        resid = y - (intercept + slope * x)
        return float(intercept), float(slope), float(np.sqrt((resid ** 2).sum() / (len(x) - 2)))


def _card(name: str, spec: dict[str, Any], sources: dict[str, str], where: str) -> ModelCard:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: models.{name}", "expected a mapping")
    values, urls = {}, {}
    for bench, entry in (spec.get("benchmarks") or {}).items():
        if not isinstance(entry, dict) or "value" not in entry or entry.get("source") not in sources:
            raise ConfigError(f"{where}: models.{name}.benchmarks.{bench}",
                              "needs {value, source} with a source listed under `sources`")
        values[bench] = float(entry["value"])
        urls[bench] = sources[entry["source"]]
    caps = spec.get("capabilities")
    return ModelCard(
        name=name, aliases=tuple(spec.get("aliases") or ()), family=spec.get("family"),
        provider=spec.get("provider"), price_in=spec.get("price_in"), price_out=spec.get("price_out"),
        context_window=spec.get("context_window"), capabilities=None if caps is None else tuple(caps),
        params_b=spec.get("params_b"), benchmarks=values, sources=urls)


@functools.lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The catalog shipped with the package."""
    text = resources.files("shared_core.defaults").joinpath("model_cards.yaml").read_text()
    return Catalog.from_dict(yaml.safe_load(text), "model_cards.yaml")


def task_family(task: str, overrides: dict[str, str] | None = None) -> str:
    if overrides and task in overrides:
        return overrides[task]
    return TASK_FAMILY.get(task, task if task in FAMILY_BENCHMARK else "general")
