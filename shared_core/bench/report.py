"""`sls report`: markdown tables and an accuracy-cost plot from bench results.

For every result file (one replay), three tables:
- every row of the run (accuracy, cost, modelled time, calls, cache hits);
- SLS (the one-call `sls` row) against each comparator, with the SLS paper's
  two figures: performance improvement, (acc_SLS - acc_B) / acc_B, and
  processing-time reduction, (time_B - time_SLS) / time_B, plus the cost
  ratio and, where the baseline has a curve, its best accuracy at no more than
  SLS's cost (the equal-cost comparison);
- the cascade row (several calls per query) against the cascade baseline and
  the best single model, kept apart from one-call routing.

The comparators are the static baselines, every single model at or below
SLS's cost (the cheap ones a user would try first, the most accurate of them
marked), the most accurate single model, random and the ablations. The plot is
`plot.py`'s.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .plot import pareto_front, plot  # noqa: F401  (pareto_front: part of this module's interface)
from .table import dominance, format_dominance, workload

ONE_CALL = ("sls",)
CASCADE = "sls-cascade"
BASELINE_ORDER = ("optllm-style", "routellm-style", "frugalgpt-cascade")
REFERENCE = ("best-single", "random", "sls-no-predictor", "sls-no-update")


def _rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["method"]: r for r in result["rows"]}


def _pct(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:+.1f}%"


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
        return str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def improvement(sls: dict[str, Any], other: dict[str, Any]) -> dict[str, float | None]:
    """The paper's two figures and the cost ratio of SLS against another method."""
    acc, t, c = other["accuracy"], other["time_s"], other["cost_usd"]
    return {"performance_improvement_pct": (sls["accuracy"] - acc) / acc * 100 if acc else None,
            "time_reduction_pct": (t - sls["time_s"]) / t * 100 if t else None,
            "cost_ratio": sls["cost_usd"] / c if c else None}


def at_cost(curve: list[dict[str, Any]], cost: float) -> dict[str, Any] | None:
    """The most accurate point of a baseline's curve costing no more than `cost`."""
    ok = [p for p in curve if p["cost_usd"] <= cost + 1e-9]
    return max(ok, key=lambda p: (p["accuracy"], -p["cost_usd"])) if ok else None


def comparisons(result: dict[str, Any], method: str = "sls") -> list[dict[str, Any]]:
    """SLS against each baseline and reference row of a result (or of one file's
    entry in `result["files"]`, which has the same `rows` and `curves`)."""
    rows = _rows(result)
    sls = rows.get(method)
    if sls is None:
        return []
    curves = result.get("curves", {})
    out = []
    cheap = sorted((r for r in rows.values() if r["method"].startswith("single:")
                    and r["cost_usd"] <= sls["cost_usd"] + 1e-9), key=lambda r: (-r["accuracy"], r["cost_usd"]))
    names = ([b for b in BASELINE_ORDER if b in rows] + [r["method"] for r in cheap]
             + [r for r in REFERENCE if r in rows and r != method])
    for name in names:
        other = rows[name]
        fig = improvement(sls, other)
        eq = at_cost(curves.get(name, []), sls["cost_usd"]) if name in curves else None
        ahead = sls["accuracy"] >= other["accuracy"] and sls["cost_usd"] <= other["cost_usd"] + 1e-9
        if eq is not None:
            ahead_eq = sls["accuracy"] >= eq["accuracy"]
        else:
            ahead_eq = None
        out.append({"method": name, "accuracy": other["accuracy"], "cost_usd": other["cost_usd"],
                    "time_s": other["time_s"], **fig, "at_sls_cost": eq, "dominates": ahead, "ahead_at_equal_cost": ahead_eq})
    return out


def _overhead(overhead: dict[str, Any]) -> str:
    """The router overhead clause, timed on the one-call sls row; empty if that row did not run."""
    if overhead.get("p50") is None:
        return ""
    return f"; router overhead p50 {overhead['p50']} us, p99 {overhead['p99']} us"


def task_markdown(result: dict[str, Any]) -> str:
    split = (f", scored on the last {1 - result['train_frac']:.0%} of each file after {result['train_queries']} "
             f"train queries" if result.get("train_frac") else "")
    lines = [f"## {result['task']}: {result['queries']} queries{split}",
             f"feedback={result['feedback']}, {workload(result)}"
             + _overhead(result.get("overhead_us") or {}), ""]
    table = [[r["method"], r["accuracy"], r["cost_usd"], r["time_s"], r["llm_calls"], r.get("cache_hits", 0)]
             for r in result["rows"]]
    lines += ["### All methods", "", _md_table(["method", "accuracy", "cost $", "time s", "LLM calls", "cache hits"], table), ""]
    lines += [f"{r['method']} also served the train part first, for ${r['warmup_cost_usd']:.4f} (not in its cost above)."
              for r in result["rows"] if "warmup_cost_usd" in r] + [""]
    lines += _ceiling_lines(result)
    lines += _versus(result, "### SLS")
    lines += _cascade_lines(result, "###")
    files = result.get("files") or {}
    if len(files) > 1:  # each file is a replay of its own
        for name, entry in files.items():
            lines += _versus(entry, f"### {name}: SLS")
            lines += _cascade_lines(entry, f"### {name}:")
    return "\n".join(lines)


def _versus(result: dict[str, Any], heading: str) -> list[str]:
    rows = _rows(result)
    if "sls" not in rows:
        return []
    s = rows["sls"]
    lines = [f"{heading} (one call per query: accuracy {s['accuracy']:.4f}, ${s['cost_usd']:.4f}, "
             f"{s['time_s']:.1f} s) against each method", ""]
    table = []
    cheap = (dominance(result["rows"]) or {}).get("best_at_or_below_cost")
    for c in comparisons(result):
        eq = c["at_sls_cost"]
        table.append([_comparator(c["method"], rows, cheap), c["accuracy"], c["cost_usd"], _pct(c["performance_improvement_pct"]),
                      _pct(c["time_reduction_pct"]),
                      "-" if c["cost_ratio"] is None else f"{c['cost_ratio']:.2f}x",
                      "-" if eq is None else f"{eq['accuracy']:.4f} (${eq['cost_usd']:.4f})",
                      "yes" if c["dominates"] else "no"])
    lines += [_md_table(["vs", "its accuracy", "its cost $", "performance improvement", "time reduction",
                         "SLS cost / its cost", "its best accuracy at <= SLS cost", "SLS ahead at <= cost"], table), ""]
    lines += [f"The user's test: {format_dominance(dominance(result['rows']))}.", ""]
    best = rows.get("best-single")
    if best and best["accuracy"] and best["cost_usd"]:
        lines += [f"Most accurate single model ({best.get('model', 'best-single')}): {best['accuracy']:.4f} for "
                  f"${best['cost_usd']:.4f}; SLS reaches {s['accuracy'] / best['accuracy']:.1%} of its accuracy "
                  f"at {s['cost_usd'] / best['cost_usd']:.1%} of its cost.", ""]
    if cheap:
        lines += [f"Best single model at or below SLS's cost ({cheap['method'][7:]}): {cheap['accuracy']:.4f} for "
                  f"${cheap['cost_usd']:.4f}; SLS is {(s['accuracy'] - cheap['accuracy']) * 100:+.1f} points "
                  f"against it at {s['cost_usd'] / cheap['cost_usd']:.2f}x its cost.", ""]
    elif rows.get("best-single"):
        lines += ["No single model costs as little as SLS.", ""]
    return lines


def _comparator(method: str, rows: dict[str, dict[str, Any]], cheap: dict[str, Any] | None) -> str:
    """A comparator's name in the table: single models by name, marked when they are the
    best at or below SLS's cost or the most accurate."""
    if method == "best-single":
        return f"most accurate single ({rows[method].get('model', '?')})"
    if method.startswith("single:"):
        tag = ", the best at <= SLS cost" if cheap and cheap["method"] == method else ""
        return f"{method[7:]} (single{tag})"
    return method


def _ceiling_lines(result: dict[str, Any]) -> list[str]:
    """`sls bench --ceiling`: per file, what any one-call router could reach, next to SLS."""
    ceiling = result.get("ceiling")
    if not ceiling:
        return []
    files = result.get("files") or {}
    table = []
    for name, c in ceiling.items():
        f, b = c["full_information"], c["bandit"]
        rows = _rows(files[name]) if name in files else _rows(result)
        sls = {m: rows[m]["accuracy"] if m in rows else None for m in ("sls", "sls-online-train")}
        table.append([name, f"{f['best_single']} {f['best_single_accuracy']:.4f} (${f['best_single_cost_usd']:.4f})",
                      f"{f['accuracy']:.4f} (${f['cost_usd']:.4f})", b["cold"]["accuracy"],
                      b["online-from-train"]["accuracy"], sls["sls"], sls["sls-online-train"]])
    head = ["file", "best single (whole file)", "full-information one-call ceiling, <= 10% of its cost",
            "bandit, cold", "bandit, online from train part", "sls", "sls-online-train"]
    return ["### What any router could reach", "",
            "Full information: per-model classifiers on the query text trained, fold by fold, on every model's "
            "label of the rest of the file, the best plan chosen in hindsight. Bandit: a context-free Thompson "
            "sampler that, like SLS, sees only the label of the answer it served (mean of 20 seeds, test part).", "",
            _md_table(head, table), ""]


def _cascade_lines(result: dict[str, Any], heading: str) -> list[str]:
    rows = _rows(result)
    if CASCADE not in rows:
        return []
    c = rows[CASCADE]
    lines = [f"{heading} cascade, SLS with a verifier before it returns ({c['llm_calls']} calls, accuracy "
             f"{c['accuracy']:.4f}, ${c['cost_usd']:.4f}): not one-call routing", ""]
    table = []
    for name in ("frugalgpt-cascade", "best-single"):
        if name in rows:
            fig = improvement(c, rows[name])
            table.append([name, rows[name]["accuracy"], rows[name]["cost_usd"], _pct(fig["performance_improvement_pct"]),
                          _pct(fig["time_reduction_pct"]),
                          "-" if fig["cost_ratio"] is None else f"{fig['cost_ratio']:.2f}x"])
    lines += [_md_table(["vs", "its accuracy", "its cost $", "performance improvement", "time reduction",
                         "cascade cost / its cost"], table), ""]
    return lines


def markdown(results: list[dict[str, Any]], plot: str | None = None) -> str:
    parts = ["# SLS replay report", "",
             "Performance improvement = (accuracy of SLS - accuracy of B) / accuracy of B; time reduction = "
             "(time of B - time of SLS) / time of B, time being the modelled processing time of all calls. "
             "Static baselines are trained on the first part of each file and, like every row, scored on the rest.", ""]
    parts += [task_markdown(r) for r in results]
    if plot:
        parts.append(f"Accuracy against cost: `{plot}`")
    return "\n".join(parts) + "\n"


def write_report(results: list[dict[str, Any]], out: str | Path | None = None, plot_path: str | Path | None = None) -> str:
    if not results:
        raise ValueError("no results to report")
    for r in results:
        if "rows" not in r or "task" not in r:
            raise ValueError("not a bench result (no rows): write one with `sls bench ... --out result.json`")
    if plot_path:
        plot(results, plot_path)
    md = markdown(results, str(plot_path) if plot_path else None)
    if out:
        Path(out).write_text(md)
    return md
