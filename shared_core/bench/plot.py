"""The accuracy-cost plot of `sls report --plot`: one panel per replay file.

Each panel puts every method on accuracy against cost (log scale): the SLS
rows, the single models (the best one at or below SLS's cost ringed), random,
the oracle, the static baselines with their knob swept as lines, and the
Pareto front of the methods as a step line. Labels are placed where they
overlap no other label and no mark, and points that coincide share one label.
One legend, in a panel slot of its own or below the panels, names every kind
of mark and covers no point. matplotlib is imported only here (`sls[report]`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .table import dominance

BASELINES = ("optllm-style", "routellm-style", "frugalgpt-cascade")
BASELINE_COLORS = {"optllm-style": "tab:blue", "routellm-style": "tab:orange", "frugalgpt-cascade": "tab:green"}
HINDSIGHT = ("oracle", "per-system-best")  # not methods: drawn (the oracle) but never on the front
MIN_COST = 1e-4  # a free method sits here on the log axis

# kind -> (legend text, marker style); a kind appears in the legend when some panel draws it
KINDS = {
    "sls": ("sls (one call per query)", dict(marker="o", s=90, color="tab:red", edgecolor="k", zorder=6)),
    "sls-variant": ("other SLS rows (labelled)", dict(marker="o", s=35, color="salmon", zorder=4)),
    "sls-cascade": ("sls-cascade (several calls)", dict(marker="P", s=90, color="tab:purple", edgecolor="k", zorder=6)),
    "single": ("single model (labelled)", dict(marker="o", s=22, color="0.55", zorder=3)),
    "best-cheap": ("best single at or below sls's cost", dict(marker="o", s=210, facecolor="none",
                                                              edgecolor="tab:red", linewidth=1.4, zorder=5)),
    "random": ("random", dict(marker="D", s=30, color="0.3", zorder=3)),
    "oracle": ("oracle (hindsight)", dict(marker="*", s=160, color="gold", edgecolor="k", zorder=5)),
}
LABEL_COLORS = {"sls-variant": "tab:red", "single": "0.3", "random": "0.2"}


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(cost, accuracy) points no other point beats on both, by increasing cost."""
    front, best = [], -math.inf
    for cost, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append((cost, acc))
            best = acc
    return front


def panels(results: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(title, entry with rows and curves): one per replay file that has rows."""
    out = []
    for result in results:
        files = result.get("files") or {}
        split = f", last {1 - result['train_frac']:.0%}" if result.get("train_frac") else ""
        if len(files) > 1:
            out += [(f"{result['task']}: {name} ({e['queries']} queries{split})", e) for name, e in files.items()]
        else:
            out.append((f"{result['task']} ({result['queries']} queries{split})", result))
    return [(title, entry) for title, entry in out if entry.get("rows")]


def grid(n: int) -> tuple[int, int]:
    """(rows, columns) for n panels leaving at most one slot free (it holds the legend)."""
    for cols in (3, 2, 4, 1):
        if cols <= n and math.ceil(n / cols) * cols - n <= 1:
            return math.ceil(n / cols), cols
    return n, 1


def plot(results: list[dict[str, Any]], path: str | Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # optional extra
        raise SystemExit("sls report --plot needs matplotlib: pip install 'sls[report]'") from exc

    todo = panels(results)
    if not todo:
        raise ValueError("nothing to plot: no result has rows")
    nrows, cols = grid(len(todo))
    fig, axes = plt.subplots(nrows, cols, figsize=(6.0 * cols, 4.8 * nrows), squeeze=False, layout="constrained")
    kinds: dict[str, Any] = {}
    labels = []
    for ax, (title, entry) in zip(axes.flat, todo):
        labels.append((ax, _draw(ax, title, entry, kinds)))
    spare = list(axes.flat[len(todo):])
    for ax in spare:
        ax.axis("off")
    handles = _legend_handles(kinds)
    if spare:
        spare[0].legend(handles=handles, loc="center", fontsize=9, frameon=False)
    else:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(2 * cols, len(handles)), fontsize=8,
                   frameon=False)
    fig.canvas.draw()  # the layout is final: place the labels in display space
    renderer = fig.canvas.get_renderer()
    for ax, points in labels:
        place_labels(ax, points, renderer)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def _draw(ax, title: str, entry: dict[str, Any], kinds: dict[str, Any]) -> list[tuple[float, float, str, str]]:
    """Draw one panel's marks; return the points to label: (cost, accuracy, text, color)."""
    rows = entry["rows"]
    front_pts, to_label = [], []
    cheap = (dominance(rows) or {}).get("best_at_or_below_cost")
    most = (dominance(rows) or {}).get("most_accurate")

    def mark(kind: str, x: float, y: float) -> None:
        ax.scatter(x, y, **KINDS[kind][1])
        kinds[kind] = True

    for r in rows:
        m, x, y = r["method"], max(r["cost_usd"], MIN_COST), r["accuracy"]
        if m not in HINDSIGHT and m != "best-single":  # best-single is one of the single models, drawn as one
            front_pts.append((x, y))
        if m.startswith("single:"):
            mark("single", x, y)
            name = m[7:] + (" (most accurate)" if most and most["method"] == m else "")
            to_label.append((x, y, name, LABEL_COLORS["single"]))
            if cheap and cheap["method"] == m:
                mark("best-cheap", x, y)
        elif m == "oracle":
            mark("oracle", x, y)
        elif m in ("sls", "sls-cascade"):
            mark(m, x, y)
        elif m.startswith("sls"):
            mark("sls-variant", x, y)
            to_label.append((x, y, m, LABEL_COLORS["sls-variant"]))
        elif m in BASELINES:
            _baseline(ax, m, x, y, entry.get("curves", {}).get(m, []))
            kinds[m] = True
        elif m == "random":
            mark("random", x, y)
            to_label.append((x, y, "random", LABEL_COLORS["random"]))
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.margins(x=0.12, y=0.08)  # room for the labels of the outermost points
    ax.autoscale_view()
    right = ax.get_xlim()[1]
    front = pareto_front(front_pts)
    if front:  # drawn on to the right edge: one method alone on the front is a line too
        front.append((right, front[-1][1]))
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="k", ls="--", lw=1, zorder=1)
        ax.set_xlim(right=right)
        kinds["front"] = True
    ax.set_xlabel("cost (USD, log scale)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return to_label


def _baseline(ax, name: str, x: float, y: float, curve: list[dict[str, Any]]) -> None:
    color = BASELINE_COLORS[name]
    ax.scatter(x, y, marker="s", s=60, color=color, edgecolor="k", zorder=5)
    curve = sorted(curve, key=lambda p: p["cost_usd"])
    if curve:
        ax.plot([max(p["cost_usd"], MIN_COST) for p in curve], [p["accuracy"] for p in curve], "-",
                color=color, alpha=0.6, lw=1.2, zorder=2)


def _legend_handles(kinds: dict[str, Any]) -> list[Any]:
    from matplotlib.lines import Line2D

    def proxy(style: dict[str, Any], text: str, line: str = "none") -> Line2D:
        size = math.sqrt(style.get("s", 36))
        face = style.get("facecolor", style.get("color"))
        return Line2D([], [], marker=style["marker"], markersize=size, markerfacecolor=face,
                      markeredgecolor=style.get("edgecolor", face), linestyle=line,
                      color=style.get("color", "k"), label=text)

    out = [proxy(style, text) for kind, (text, style) in KINDS.items() if kind in kinds]
    for name in BASELINES:
        if name in kinds:
            out.append(Line2D([], [], marker="s", markersize=8, markerfacecolor=BASELINE_COLORS[name],
                              markeredgecolor="k", color=BASELINE_COLORS[name], alpha=0.8,
                              label=f"{name} (line: its knob swept)"))
    if "front" in kinds:
        out.append(Line2D([], [], color="k", ls="--", lw=1, label="Pareto front of the methods"))
    return out


# -- labels that overlap nothing ---------------------------------------------------------
# offsets in points from the mark, with the text's alignment: right, below, left, above, then further out
OFFSETS = [((5, 3), "left", "bottom"), ((5, -3), "left", "top"), ((-5, 3), "right", "bottom"),
           ((-5, -3), "right", "top"), ((0, 7), "center", "bottom"), ((0, -7), "center", "top"),
           ((8, 0), "left", "center"), ((-8, 0), "right", "center")]
NEAR = len(OFFSETS)  # offsets from here on are far enough from the mark to need a leader line
OFFSETS += [((2.5 * dx, 2.5 * dy), ha, va) for (dx, dy), ha, va in OFFSETS]
MERGE_PX = 5  # marks closer than this share one label
MIXED = "0.15"  # the colour of a label shared by marks of different kinds


def place_labels(ax, points: list[tuple[float, float, str, str]], renderer) -> None:
    """Annotate each point (merging coincident ones) at the first offset whose text
    overlaps no placed label, no mark and stays inside the panel; else where it overlaps least."""
    to_px = ax.transData.transform
    groups: list[list[Any]] = []  # [x_px, y_px, x, y, [texts], color]
    for x, y, text, color in points:
        px, py = to_px((x, y))
        for g in groups:
            if abs(g[0] - px) < MERGE_PX and abs(g[1] - py) < MERGE_PX:
                g[4].append(text)
                g[5] = g[5] if g[5] == color else MIXED
                break
        else:
            groups.append([px, py, x, y, [text], color])
    marks = _marks(ax)  # its own marks too: a label never hides a ring
    taken: list[Any] = []  # the labels placed so far
    panel = ax.get_window_extent(renderer)
    for px, py, x, y, texts, color in sorted(groups, key=lambda g: -len(g[4])):
        text = " / ".join(texts)
        best, best_cost = 0, math.inf
        for i, ((dx, dy), ha, va) in enumerate(OFFSETS):
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=6, ha=ha, va=va)
            box = ann.get_window_extent(renderer)
            ann.remove()
            cost = sum(_overlap(box, t) for t in taken + marks) + 10 * _outside(box, panel)
            if cost < best_cost:
                best, best_cost, best_box = i, cost, box
            if cost == 0:
                break
        (dx, dy), ha, va = OFFSETS[best]
        leader = dict(arrowstyle="-", lw=0.5, color=color, alpha=0.7, shrinkA=0, shrinkB=2)
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=6, color=color, ha=ha,
                    va=va, zorder=7, arrowprops=leader if best >= NEAR else None)
        taken.append(best_box)


def _marks(ax) -> list[Any]:
    """The box in display space of every mark of the panel, as wide as the mark."""
    from matplotlib.transforms import Bbox

    out = []
    scale = ax.figure.dpi / 72.0
    for coll in ax.collections:
        sizes = coll.get_sizes()
        for i, xy in enumerate(coll.get_offsets()):
            cx, cy = ax.transData.transform(xy)
            half = math.sqrt(sizes[i % len(sizes)] if len(sizes) else 36.0) / 2 * scale
            out.append(Bbox.from_extents(cx - half, cy - half, cx + half, cy + half))
    return out


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _outside(box, panel) -> float:
    return box.width * box.height - _overlap(box, panel)
