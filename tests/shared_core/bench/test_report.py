"""`sls report` on synthetic results (no shared data needed)."""

from __future__ import annotations

import json

import pytest

from shared_core.bench.report import at_cost, comparisons, improvement, markdown, pareto_front, write_report
from shared_core.cli import main


def _row(method, acc, cost, time_s, calls=100, hits=0, **more):
    return {"method": method, "accuracy": acc, "cost_usd": cost, "time_s": time_s, "llm_calls": calls,
            "cache_hits": hits, **more}


def _result(task="codegen", files=True):
    rows = [_row("sls", 0.70, 0.10, 80.0), _row("sls-cascade", 0.80, 0.20, 150.0, calls=160),
            _row("sls-no-predictor", 0.55, 0.50, 120.0), _row("optllm-style", 0.60, 0.12, 100.0),
            _row("routellm-style", 0.72, 0.30, 90.0), _row("frugalgpt-cascade", 0.65, 0.10, 110.0, calls=130),
            _row("single:big", 0.75, 2.0, 300.0), _row("single:small", 0.55, 0.05, 60.0),
            _row("random", 0.6, 1.0, 180.0), _row("best-single", 0.75, 2.0, 300.0, model="big"),
            _row("oracle", 0.9, 0.08, 70.0)]
    curves = {"optllm-style": [{"accuracy": 0.5, "cost_usd": 0.05, "time_s": 1}, {"accuracy": 0.66, "cost_usd": 0.09, "time_s": 1}],
              "routellm-style": [{"accuracy": 0.55, "cost_usd": 0.05, "time_s": 1}, {"accuracy": 0.75, "cost_usd": 2.0, "time_s": 1}],
              "frugalgpt-cascade": []}
    out = {"task": task, "queries": 100, "feedback": "labels", "warm": False, "rows": rows, "curves": curves,
           "overhead_us": {"p50": 300.0, "p99": 900.0}, "train_frac": 0.2, "train_queries": 25}
    if files:
        out["files"] = {"a": {"queries": 50, "rows": rows, "curves": curves},
                        "b": {"queries": 50, "rows": rows, "curves": curves}}
    return out


def test_improvement_uses_the_papers_two_figures():
    fig = improvement(_row("sls", 0.66, 0.1, 50.0), _row("b", 0.60, 0.2, 100.0))
    assert fig["performance_improvement_pct"] == pytest.approx(10.0)
    assert fig["time_reduction_pct"] == pytest.approx(50.0)
    assert fig["cost_ratio"] == pytest.approx(0.5)


def test_at_cost_and_pareto_front():
    curve = [{"accuracy": 0.5, "cost_usd": 0.05}, {"accuracy": 0.7, "cost_usd": 0.2}]
    assert at_cost(curve, 0.1)["accuracy"] == 0.5
    assert at_cost(curve, 0.01) is None
    assert pareto_front([(1, 0.5), (2, 0.4), (0.5, 0.3), (3, 0.9)]) == [(0.5, 0.3), (1, 0.5), (3, 0.9)]


def test_comparisons_flag_where_sls_is_ahead():
    comp = {c["method"]: c for c in comparisons(_result())}
    assert comp["optllm-style"]["dominates"] and comp["optllm-style"]["at_sls_cost"]["accuracy"] == 0.66
    assert not comp["routellm-style"]["dominates"]  # more accurate, at three times the cost
    assert comp["routellm-style"]["ahead_at_equal_cost"] is True  # its curve at <= $0.10: 0.55
    assert comp["frugalgpt-cascade"]["at_sls_cost"] is None


def test_markdown_has_a_table_per_task_and_per_file():
    md = markdown([_result(), _result("qa", files=False)], plot="p.png")
    assert "## codegen: 100 queries" in md and "## qa: 100 queries" in md
    assert "### a: SLS" in md and "### b: SLS" in md
    assert "| optllm-style | 0.6000 | 0.1200 | +16.7% | +20.0% | 0.83x | 0.6600 ($0.0900) | yes |" in md
    assert "not one-call routing" in md
    assert "reaches 93.3% of its accuracy at 5.0% of its cost" in md
    assert "`p.png`" in md
    assert ("The user's test: sls 0.7000 at $0.1000: not dominated by any single model; most accurate single: "
            "big 0.7500 at $2.0000 (this row: 0.933x its accuracy at 0.050x its cost); best single at or below "
            "its cost: small 0.5500 at $0.0500.") in md


def test_markdown_gives_the_router_overhead_only_where_the_sls_row_timed_it():
    timed = _result(files=False)
    untimed = {**timed, "overhead_us": {"p50": None, "p99": None}}
    assert "router overhead p50 300.0 us, p99 900.0 us" in markdown([timed])
    assert "router overhead" not in markdown([untimed]) and "None" not in markdown([untimed])


def test_markdown_says_when_a_single_model_dominates_sls():
    result = _result(files=False)
    result["rows"].append(_row("single:cheap-good", 0.72, 0.09, 50.0))
    assert "sls 0.7000 at $0.1000: DOMINATED by cheap-good" in markdown([result])


def test_markdown_shows_the_ceiling_and_the_warm_up_spend():
    result = _result(files=False)
    result["rows"].append(_row("sls-online-train", 0.71, 0.11, 82.0, warmup_cost_usd=0.03))
    result["ceiling"] = {"mbpp": {
        "full_information": {"accuracy": 0.66, "cost_usd": 0.11, "budget_usd": 0.28, "best_single": "big",
                             "best_single_accuracy": 0.686, "best_single_cost_usd": 2.8, "auc": {"big": 0.58}},
        "bandit": {"cold": {"accuracy": 0.53, "accuracy_sd": 0.03, "cost_usd": 0.09},
                   "online-from-train": {"accuracy": 0.54, "accuracy_sd": 0.03, "cost_usd": 0.08}}}}
    md = markdown([result])
    assert "sls-online-train also served the train part first, for $0.0300" in md
    assert "### What any router could reach" in md
    assert "| mbpp | big 0.6860 ($2.8000) | 0.6600 ($0.1100) | 0.5300 | 0.5400 | 0.7000 | 0.7100 |" in md


def test_write_report_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "r.md", tmp_path / "p.png"
    write_report([_result(), _result("qa", files=False)], out, png)
    assert out.read_text().startswith("# SLS replay report")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        write_report([{"nothing": 1}])


def test_cli_report(tmp_path, capsys):
    res = tmp_path / "res.json"
    res.write_text(json.dumps(_result()))
    assert main(["report", str(res)]) == 0
    assert "# SLS replay report" in capsys.readouterr().out
    pytest.importorskip("matplotlib")
    assert main(["report", str(res), "--out", str(tmp_path / "r.md"), "--plot", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").exists()


def test_markdown_lists_the_cheap_single_models_beside_sls():
    result = _result(files=False)
    result["rows"].append(_row("single:tiny", 0.40, 0.02, 40.0))
    md = markdown([result])
    small = md.index("| small (single, the best at <= SLS cost) | 0.5500 | 0.0500 |")
    assert small < md.index("| tiny (single) | 0.4000 | 0.0200 |") < md.index("| most accurate single (big) |")
    assert ("Best single model at or below SLS's cost (small): 0.5500 for $0.0500; SLS is +15.0 points "
            "against it at 2.00x its cost.") in md
