"""Plain-text tables for the terminal."""

from __future__ import annotations

from typing import Any


def format_table(rows: list[dict[str, Any]], columns: list[str], headers: list[str] | None = None) -> str:
    headers = headers or columns
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda vals: "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths)))
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def single_models(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["method"].startswith("single:")]


def dominance(rows: list[dict[str, Any]], method: str = "sls") -> dict[str, Any] | None:
    """The user's test for one row: the most accurate single model, the best single
    model at or below the row's cost, and every single model that beats the row
    on both accuracy and cost (strictly on one, at least level on the other)."""
    row = next((r for r in rows if r["method"] == method), None)
    singles = single_models(rows)
    if row is None or not singles:
        return None
    acc, cost = row["accuracy"], row["cost_usd"]
    cheaper = [r for r in singles if r["cost_usd"] <= cost + 1e-9]
    beaters = [r for r in singles if r["accuracy"] >= acc and r["cost_usd"] <= cost + 1e-9
               and (r["accuracy"] > acc or r["cost_usd"] < cost - 1e-9)]
    pick = lambda rs: max(rs, key=lambda r: (r["accuracy"], -r["cost_usd"])) if rs else None
    return {"method": method, "accuracy": acc, "cost_usd": cost, "most_accurate": pick(singles),
            "best_at_or_below_cost": pick(cheaper), "dominated_by": sorted(r["method"][7:] for r in beaters)}


def format_dominance(d: dict[str, Any] | None, label: str = "") -> str:
    if d is None:
        return ""
    name = lambda r: "none" if r is None else f"{r['method'][7:]} {r['accuracy']:.4f} at ${r['cost_usd']:.4f}"
    verdict = (f"DOMINATED by {', '.join(d['dominated_by'])}" if d["dominated_by"]
               else "not dominated by any single model")
    return (f"{label}{d['method']} {d['accuracy']:.4f} at ${d['cost_usd']:.4f}: {verdict}; most accurate single: "
            f"{name(d['most_accurate'])}{_ratios(d)}; best single at or below its cost: "
            f"{name(d['best_at_or_below_cost'])}")


def _ratios(d: dict[str, Any]) -> str:
    """The row against the most accurate single model, in the terms targets are set in."""
    top = d["most_accurate"]
    if not top["accuracy"] or not top["cost_usd"]:
        return ""
    return (f" (this row: {d['accuracy'] / top['accuracy']:.3f}x its accuracy at "
            f"{d['cost_usd'] / top['cost_usd']:.3f}x its cost)")


def workload(result: dict[str, Any]) -> str:
    """How the SLS rows met the files: cold per file, one engine carried through them, or mixed."""
    if result.get("mixed"):
        return "files interleaved through one engine, each cold, one budget"
    return "warm" if result.get("warm") else "cold start per file"
