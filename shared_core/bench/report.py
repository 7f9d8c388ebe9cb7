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

The plot puts every method of every file on accuracy against cost (log
scale): SLS rows, single models, random, oracle, the baselines with their knob
swept as lines, and the Pareto front of the methods drawn as a step line.
matplotlib is imported only when a plot is asked for (`pip install sls[report]`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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
    names = [b for b in BASELINE_ORDER if b in rows] + [r for r in REFERENCE if r in rows and r != method]
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


def task_markdown(result: dict[str, Any]) -> str:
    split = (f", scored on the last {1 - result['train_frac']:.0%} of each file after {result['train_queries']} "
             f"train queries" if result.get("train_frac") else "")
    lines = [f"## {result['task']}: {result['queries']} queries{split}",
             f"feedback={result['feedback']}, {'warm' if result.get('warm') else 'cold start per file'}; "
             f"router overhead p50 {result.get('overhead_us', {}).get('p50')} us, "
             f"p99 {result.get('overhead_us', {}).get('p99')} us", ""]
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
    for c in comparisons(result):
        eq = c["at_sls_cost"]
        table.append([c["method"], c["accuracy"], c["cost_usd"], _pct(c["performance_improvement_pct"]),
                      _pct(c["time_reduction_pct"]),
                      "-" if c["cost_ratio"] is None else f"{c['cost_ratio']:.2f}x",
                      "-" if eq is None else f"{eq['accuracy']:.4f} (${eq['cost_usd']:.4f})",
                      "yes" if c["dominates"] else "no"])
    lines += [_md_table(["vs", "its accuracy", "its cost $", "performance improvement", "time reduction",
                         "SLS cost / its cost", "its best accuracy at <= SLS cost", "SLS ahead at <= cost"], table), ""]
    from .table import dominance, format_dominance

    lines += [f"The user's test: {format_dominance(dominance(result['rows']))}.", ""]
    best = rows.get("best-single")
    if best and best["accuracy"] and best["cost_usd"]:
        lines += [f"Best single model ({best.get('model', 'best-single')}): {best['accuracy']:.4f} for "
                  f"${best['cost_usd']:.4f}; SLS reaches {s['accuracy'] / best['accuracy']:.1%} of its accuracy "
                  f"at {s['cost_usd'] / best['cost_usd']:.1%} of its cost.", ""]
    return lines


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


# -- the plot ----------------------------------------------------------------------------
def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(cost, accuracy) points no other point beats on both, by increasing cost."""
    front, best = [], -math.inf
    for cost, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append((cost, acc))
            best = acc
    return front


def plot(results: list[dict[str, Any]], path: str | Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # optional extra
        raise SystemExit("sls report --plot needs matplotlib: pip install 'sls[report]'") from exc
    from matplotlib.ticker import NullFormatter

    panels = []  # (title, entry with rows and curves): one per replay file
    for result in results:
        files = result.get("files") or {}
        split = f", last {1 - result['train_frac']:.0%}" if result.get("train_frac") else ""
        if len(files) > 1:
            panels += [(f"{result['task']}: {name} ({e['queries']} queries{split})", e) for name, e in files.items()]
        else:
            panels.append((f"{result['task']} ({result['queries']} queries{split})", result))
    cols = min(3, len(panels))
    nrows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(6.2 * cols, 5.0 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (title, result) in zip(axes.flat, panels):
        rows = result["rows"]
        pts = []
        for r in rows:
            m, x, y = r["method"], max(r["cost_usd"], 1e-4), r["accuracy"]
            if m != "oracle":  # hindsight is not a method: drawn, but not on the front
                pts.append((x, y))
            if m.startswith("single:"):
                ax.scatter(x, y, s=22, color="0.6", zorder=2)
                ax.annotate(m[7:], (x, y), fontsize=6, color="0.4", xytext=(3, -6), textcoords="offset points")
            elif m == "oracle":
                ax.scatter(x, y, marker="*", s=160, color="gold", edgecolor="k", zorder=4, label="oracle")
            elif m == "sls":
                ax.scatter(x, y, marker="o", s=90, color="tab:red", edgecolor="k", zorder=5, label="sls")
            elif m == CASCADE:
                ax.scatter(x, y, marker="P", s=90, color="tab:purple", edgecolor="k", zorder=5, label="sls-cascade (several calls)")
            elif m.startswith("sls"):
                ax.scatter(x, y, marker="o", s=35, color="salmon", zorder=3)
                ax.annotate(m, (x, y), fontsize=6, color="tab:red", xytext=(3, 3), textcoords="offset points")
            elif m in BASELINE_ORDER:
                line = ax.scatter(x, y, marker="s", s=60, edgecolor="k", zorder=4, label=m)
                curve = sorted(result.get("curves", {}).get(m, []), key=lambda p: p["cost_usd"])
                if curve:
                    ax.plot([max(p["cost_usd"], 1e-4) for p in curve], [p["accuracy"] for p in curve], "-",
                            color=line.get_facecolor()[0], alpha=0.6, lw=1.2, zorder=3)
            elif m in ("random", "best-single"):
                ax.scatter(x, y, marker="D", s=30, color="tab:gray", zorder=3)
                ax.annotate(m, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        front = pareto_front(pts)
        xs = [p[0] for p in front]
        ys = [p[1] for p in front]
        ax.step(xs, ys, where="post", color="k", ls="--", lw=1, label="Pareto front (methods)", zorder=1)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("cost (USD, log scale)")
        ax.set_ylabel("accuracy")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


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
