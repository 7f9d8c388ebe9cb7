"""Static-scheduling baselines for the replays, each written from its paper's
description (not its code): trained once on the first part of every file,
then applied unchanged to the rest, with no feedback.

- optllm-style: a success classifier per model, then a cost-aware assignment.
- routellm-style: a learned router between a strong and a cheap model.
- frugalgpt-cascade: cheap to expensive, stop when a learned scorer accepts.

Every baseline is fit per file (group), like SLS's cold start per file, and
aims at the operating point SLS is run with: the plan of highest utility,
accuracy - cost / willingness_to_pay_usd, the value of a correct answer in the
bench's SLS preferences (or, with `budget_frac`, the most accurate plan within
that share of the train part's most accurate model's cost). `curve` sweeps
its knob for the accuracy-cost plot and the report's equal-cost comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..replay import ReplayTask, row
from .common import Arrays, Baseline, Features, Objective, Plan, score_plan
from .frugalgpt import FrugalGPT, FrugalGPTConfig
from .optllm import OptLLM, OptLLMConfig
from .routellm import RouteLLM, RouteLLMConfig

BASELINES: dict[str, type[Baseline]] = {"optllm-style": OptLLM, "routellm-style": RouteLLM,
                                        "frugalgpt-cascade": FrugalGPT}

__all__ = ["BASELINES", "Baseline", "Features", "FrugalGPT", "FrugalGPTConfig", "OptLLM", "OptLLMConfig", "Objective", "Plan",
           "RouteLLM", "RouteLLMConfig", "baseline_rows", "make_baseline", "score_plan"]


def make_baseline(name: str, **config: Any) -> Baseline:
    if name not in BASELINES:
        raise ValueError(f"unknown baseline '{name}' (known: {', '.join(BASELINES)})")
    cls = BASELINES[name]
    cfg_cls = {OptLLM: OptLLMConfig, RouteLLM: RouteLLMConfig, FrugalGPT: FrugalGPTConfig}[cls]
    return cls(cfg_cls(**config))


def _total(parts: list[dict[str, Any]]) -> dict[str, Any]:
    models: dict[str, int] = {}
    for p in parts:
        for m, c in p["models"].items():
            models[m] = models.get(m, 0) + c
    return {k: sum(p[k] for p in parts) for k in ("correct", "cost", "time", "calls", "n")} | {"models": models}


def baseline_rows(train: ReplayTask, test: ReplayTask, names: tuple[str, ...] | list[str],
                  configs: dict[str, dict[str, Any]] | None = None,
                  progress: Callable[[str], None] | None = None,
                  files: dict[str, dict[str, dict[str, Any]]] | None = None
                  ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Rows of the baselines on the test part, their curves, and per-file detail.
    `files`, when given, receives each file's tallies and curve by baseline name."""
    rows, curves, detail = [], {}, {}
    models = test.models
    for name in names:
        parts, per_group, fitted = [], {}, {}
        curve_parts: list[list[tuple[dict[str, Any], dict[str, Any]]]] = []
        for g_train, g_test in zip(train.groups, test.groups):
            b = make_baseline(name, **(configs or {}).get(name, {})).fit(g_train, models)
            arr = Arrays.of(g_test, models)
            s = score_plan(arr, b.plan(g_test))
            parts.append(s)
            per_group[g_test.name] = {"accuracy": round(s["correct"] / max(s["n"], 1), 4),
                                      "cost_usd": round(s["cost"], 4), "llm_calls": s["calls"]}
            fitted[g_test.name] = b.describe()
            curve_parts.append([(knob, score_plan(arr, plan)) for knob, plan in b.curve(g_test)])
            if files is not None:
                files.setdefault(name, {})[g_test.name] = {**s, "curve": [
                    {"accuracy": round(p["correct"] / max(p["n"], 1), 4), "cost_usd": round(p["cost"], 4),
                     "time_s": round(p["time"], 2), "knob": knob} for knob, p in curve_parts[-1]]}
            if progress:
                progress(f"{name} {g_test.name}")
        t = _total(parts)
        rows.append(row(name, t["correct"], t["n"], t["cost"], t["time"], t["calls"], models_called=t["models"],
                        fitted=fitted))
        detail[name] = per_group
        # a curve point across files: the k-th knob setting of each file (files sweep alike)
        points = []
        if curve_parts and all(curve_parts):
            for k in range(max(len(c) for c in curve_parts)):
                sel = [c[min(k, len(c) - 1)] for c in curve_parts]
                tot = _total([s for _, s in sel])
                points.append({"accuracy": round(tot["correct"] / max(tot["n"], 1), 4), "cost_usd": round(tot["cost"], 4),
                               "time_s": round(tot["time"], 2), "knob": [k_ for k_, _ in sel]})
        curves[name] = points
    return rows, curves, detail
