"""What the router has learned and done: `router.stats()` and `sls stats`.

Per task and model: the learned quality with its uncertainty, calls, spend and
latency; cache entries and hits per tier; savings against always calling the
model the router itself rates best; the near-duplicate thresholds learned.

The quality figures come from the predictor's public `snapshot()` (its decayed
good/bad outcome counts per task and model), read here rather than by the
predictor, so that the predictor's internals can change without this report
changing. Calls, spend and hits are counted by `Usage`, which the engine keeps
and saves with its state.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

from .bench.table import format_table

TIERS = ("exact", "reuse", "semantic")


class Usage:
    """What the engine served: per (task, model) calls, USD and seconds; per
    (task, tier) cache hits."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        self.hits: dict[tuple[str, str], int] = defaultdict(int)

    def served(self, task: str, model: str, cost_usd: float | None, latency_s: float | None) -> None:
        row = self.calls[(task, model)]
        row[0] += 1
        row[1] += cost_usd or 0.0
        row[2] += latency_s or 0.0

    def hit(self, task: str, tier: str) -> None:
        self.hits[(task, tier)] += 1

    def to_dict(self) -> dict[str, Any]:
        return {"calls": [[t, m, *v] for (t, m), v in self.calls.items()],
                "hits": [[t, tier, n] for (t, tier), n in self.hits.items()]}

    def load(self, data: dict[str, Any] | None) -> None:
        for t, m, n, cost, secs in (data or {}).get("calls", []):
            self.calls[(t, m)] = [int(n), float(cost), float(secs)]
        for t, tier, n in (data or {}).get("hits", []):
            self.hits[(t, tier)] = int(n)


def quality_summary(predictor_meta: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    """(task, model) -> quality: the posterior mean of a uniform Beta prior
    updated with the predictor's decayed good/bad counts, its standard
    deviation, and the evidence (good + bad) it rests on."""
    out = {}
    for row in predictor_meta.get("stats", []):
        good, bad = float(row.get("good", 0.0)), float(row.get("bad", 0.0))
        a, b = good + 1.0, bad + 1.0
        out[(row["task"], row["model"])] = {
            "quality": a / (a + b), "sd": math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))), "evidence": good + bad,
            "latency_ratio": float(row.get("latency_ratio", 1.0))}
    return out


def live_thresholds(cache: Any) -> dict[str, dict[str, Any]]:
    """The near-duplicate threshold in force per cache scope, with the number of
    judged lookups behind it (None: cold, no near-duplicate is served yet)."""
    policy = getattr(cache, "policy", None)
    tasks = {getattr(e, "near_key", None) or e.scope: e.task for e in getattr(cache, "entries", {}).values()}
    out = {}
    for key, idx in getattr(getattr(cache, "semantic", None), "scopes", {}).items():
        cal = getattr(idx, "calibrator", None) or getattr(policy, "scopes", {}).get(key)
        if policy is not None and hasattr(policy, "threshold"):
            threshold = policy.threshold(key)
        elif cal is not None:
            threshold = cal.threshold
        else:
            continue
        out[key] = {"task": tasks.get(key, "?"), "threshold": round(threshold, 4) if threshold <= 1.0 else None,
                    "evidence": len(cal.pairs) if cal is not None else 0}
    return out


def summarize(state: dict[str, Any]) -> dict[str, Any]:
    """The report from what a state holds: `predictor` (its snapshot meta),
    `cache` (the cache's), and the engine's `usage`, `thresholds`, `spent_usd`."""
    usage = Usage()
    usage.load(state.get("usage"))
    quality = quality_summary(state.get("predictor") or {})
    models = []
    for task, model in sorted(set(usage.calls) | set(quality)):
        n, cost, secs = usage.calls.get((task, model), [0, 0.0, 0.0])
        q = quality.get((task, model), {})
        models.append({"task": task, "model": model, "quality": _r(q.get("quality")), "quality_sd": _r(q.get("sd")),
                       "evidence": _r(q.get("evidence"), 2), "calls": int(n), "cost_usd": round(cost, 8),
                       "mean_latency_s": _r(secs / n if n else None)})
    entries = (state.get("cache") or {}).get("entries", [])
    cache = {"entries": len(entries), "confirmed": sum(1 for e in entries if e.get("good", 0) > e.get("bad", 0)),
             "hits": {tier: sum(n for (t, tr), n in usage.hits.items() if tr == tier) for tier in TIERS}}
    return {"spent_usd": round(float(state.get("spent_usd", 0.0)), 8), "feedback_events": int(state.get("events", 0)),
            "models": models, "cache": cache, "savings": _savings(usage, models),
            "thresholds": sorted(state.get("thresholds", {}).values(), key=lambda r: r["task"])}


def _savings(usage: Usage, models: list[dict[str, Any]]) -> list[dict]:
    """Per task: what always calling its best-rated model (at its mean cost per
    call) would have cost for every request, cache hits included, against what
    was spent. Only models with feedback are rated, and those were called."""
    out = []
    for task in sorted({m["task"] for m in models}):
        rows = [m for m in models if m["task"] == task]
        rated = [m for m in rows if m["evidence"] and m["calls"]]
        if not rated:
            continue
        best = max(rated, key=lambda m: m["quality"])
        requests = sum(m["calls"] for m in rows) + sum(n for (t, _), n in usage.hits.items() if t == task)
        spent = sum(m["cost_usd"] for m in rows)
        always = best["cost_usd"] / best["calls"] * requests
        out.append({"task": task, "best_model": best["model"], "best_quality": best["quality"], "requests": requests,
                    "spent_usd": round(spent, 8), "always_best_usd": _r(always, 8), "saved_usd": _r(always - spent, 8),
                    "saved_share": _r(None if not always else 1 - spent / always)})
    return out


def engine_state(engine: Any) -> dict[str, Any]:
    """What `summarize` reads, from a live engine."""
    return {"predictor": engine.predictor.snapshot()[0], "cache": engine.cache.snapshot()[0],
            "usage": engine.usage.to_dict(), "thresholds": live_thresholds(engine.cache),
            "spent_usd": engine.spent_usd, "events": engine.updater.events}


def format_stats(summary: dict[str, Any]) -> str:
    usd = lambda rows: [{k: (f"{v:.6f}" if k.endswith("_usd") and v is not None else v) for k, v in r.items()}
                        for r in rows]
    summary = {**summary, "models": usd(summary["models"]), "savings": usd(summary["savings"])}
    parts = [f"spent ${summary['spent_usd']:.6f}; {summary['feedback_events']} feedback events",
             "\nmodels (quality: posterior mean of the feedback, +- its sd; evidence: decayed feedback count)",
             format_table(summary["models"], ["task", "model", "quality", "quality_sd", "evidence", "calls",
                                              "cost_usd", "mean_latency_s"]),
             f"\ncache: {summary['cache']['entries']} entries ({summary['cache']['confirmed']} confirmed); hits "
             + ", ".join(f"{t} {n}" for t, n in summary["cache"]["hits"].items())]
    if summary["savings"]:
        parts += ["\nsavings against always calling the best-rated model",
                  format_table(summary["savings"], ["task", "best_model", "best_quality", "requests", "spent_usd",
                                                    "always_best_usd", "saved_usd", "saved_share"])]
    if summary["thresholds"]:
        parts += ["\nnear-duplicate thresholds (none: not enough evidence yet, no near-duplicate served)",
                  format_table(summary["thresholds"], ["task", "threshold", "evidence"])]
    return "\n".join(parts)


def read_state(store: Any) -> dict[str, Any]:
    """The metadata of a saved state (what `UpdateManager.save` wrote)."""
    blob = store.get("state.json")
    if blob is None:
        raise FileNotFoundError("no saved state there (state.json is missing)")
    return json.loads(blob)


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)
