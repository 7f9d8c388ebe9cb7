"""The replay harness additions: train/test split, the label verifier, the
cascade and pretrained rows, baselines and per-file rows in run_bench."""

from __future__ import annotations

import dataclasses

import json

import numpy as np
import pytest

from shared_core.bench.replay import (ReplayLabelVerifier, ReplayStream, mixed_order, replay_stream, run_bench,
                                      sls_config, sls_rows, split_task, write_warm_start)
from shared_core.config import SLSConfig
from shared_core.request import Request


def _base(task, **prefs):
    return SLSConfig.from_dict({"candidates": [dataclasses.asdict(c) for c in task.candidates],
                                "preferences": {"willingness_to_pay_usd": 0.002, **prefs},
                                "predictor": {"local_prior_strength": 30.0}, "cache": {"reuse": []}})


def test_split_task_keeps_order_and_sizes(make_task):
    task = make_task(groups=2, n=50)
    train, test = split_task(task, 0.2)
    assert [len(g) for g in train.groups] == [10, 10]
    assert [len(g) for g in test.groups] == [40, 40]
    assert test.groups[0].queries[0] == task.groups[0].queries[10]
    assert train.groups[1].extra == task.groups[1].extra[:10]
    with pytest.raises(ValueError):
        split_task(task, 1.0)


def test_label_verifier_reads_the_recorded_label(synthetic_task):
    g = synthetic_task.groups[0]
    ver = ReplayLabelVerifier(synthetic_task.judge, g)
    i = int(np.argmax(g.correct["cheap"]))
    j = int(np.argmin(g.correct["cheap"]))
    req = lambda k: Request(messages=[{"role": "user", "content": g.queries[k]}], metadata={"replay_key": k})
    assert ver.verify(req(i), g.answers["cheap"][i]) == 1.0
    assert ver.verify(req(j), g.answers["cheap"][j]) == 0.0
    assert ver.verify(req(i), "some text nobody recorded") == 0.0
    assert ver.verify(Request(messages=[{"role": "user", "content": "x"}]), "x") is None


def test_cascade_row_pays_for_every_attempt_and_beats_one_call(synthetic_task):
    base = _base(synthetic_task)
    rows, detail = sls_rows(synthetic_task, ("sls", "sls-cascade"), base=base, workers=1)
    by = {r["method"]: r for r in rows}
    one, cas = by["sls"], by["sls-cascade"]
    assert cas["llm_calls"] > len(synthetic_task.groups[0])  # rejected answers led to more calls
    assert cas["accuracy"] > one["accuracy"]
    # what the cascade was billed is at least the recorded cost of the answers it returned
    assert cas["cost_usd"] > 0 and cas["time_s"] > one["time_s"] * 0.5
    assert "_tallies" in detail


def test_worker_processes_give_the_rows_of_one_process(synthetic_task):
    # the pool's workers get the task once, at fork; each job carries only its indices
    base = _base(synthetic_task)
    one, _ = sls_rows(synthetic_task, ("sls", "sls-no-cache"), base=base, workers=1)
    two, _ = sls_rows(synthetic_task, ("sls", "sls-no-cache"), base=base, workers=2)
    assert one == two


def test_pretrained_needs_a_train_part(synthetic_task, tmp_path):
    base = _base(synthetic_task)
    with pytest.raises(ValueError, match="train"):
        run_bench(synthetic_task, ("sls-pretrained",), base=base, workers=1)
    path = tmp_path / "warm.jsonl"
    n = write_warm_start(synthetic_task, synthetic_task.groups[0].subset(0, 5), path)
    assert n == 5 * 3
    first = json.loads(path.read_text().splitlines()[0])
    assert set(first) == {"query", "model", "score", "task", "output_tokens"}


def test_online_train_serves_the_train_part_first_and_reports_its_spend(make_task):
    """sls-online-train answers the train part online (one call per query, its
    own labels only) and then the test part: scored on the test part like every
    row, with what the train part cost reported apart."""
    task = make_task(groups=1, n=200)
    base = _base(task)
    with pytest.raises(ValueError, match="train"):
        run_bench(task, ("sls-online-train",), base=base, workers=1)
    result = run_bench(task, ("sls", "sls-online-train"), base=base, workers=1, train_frac=0.5)
    by = {r["method"]: r for r in result["rows"]}
    online = by["sls-online-train"]
    assert online["llm_calls"] == 100 == by["sls"]["llm_calls"]
    assert online["warmup_cost_usd"] > 0 and "warmup_cost_usd" not in by["sls"]
    # it starts the scored part with 100 queries of its own experience
    assert online["accuracy"] >= by["sls"]["accuracy"] - 0.02


def test_run_bench_with_train_frac_scores_every_row_on_the_test_part(make_task):
    task = make_task(groups=2, n=80)
    base = _base(task)
    result = run_bench(task, ("sls", "sls-cascade", "sls-pretrained"), base=base, workers=1, train_frac=0.25,
                       baselines=("optllm-style", "routellm-style", "frugalgpt-cascade"))
    assert result["queries"] == 120 and result["train_queries"] == 40
    methods = [r["method"] for r in result["rows"]]
    for m in ("sls", "sls-cascade", "sls-pretrained", "optllm-style", "routellm-style", "frugalgpt-cascade",
              "single:cheap", "oracle", "best-single"):
        assert m in methods
    assert all(r["llm_calls"] >= 120 for r in result["rows"] if r["method"] != "sls-no-update")
    assert set(result["files"]) == {"g0", "g1"}
    assert result["files"]["g0"]["queries"] == 60
    assert set(result["curves"]) == {"optllm-style", "routellm-style", "frugalgpt-cascade"}
    json.dumps(result, default=float)  # JSON-able (numpy scalars by the CLI's default)
    with pytest.raises(ValueError, match="train_frac"):
        run_bench(task, ("sls",), base=base, workers=1, baselines=("optllm-style",))


def test_sls_config_variants_are_independent(synthetic_task):
    base = _base(synthetic_task)
    cfg = sls_config(synthetic_task, "sls-no-update", base)
    assert cfg.predictor.learn is False and base.predictor.learn is True


def test_dominance_names_the_single_models_that_beat_a_row():
    from shared_core.bench.table import dominance, format_dominance

    rows = [{"method": "sls", "accuracy": 0.60, "cost_usd": 0.08},
            {"method": "single:cheap-good", "accuracy": 0.63, "cost_usd": 0.07},
            {"method": "single:cheap-bad", "accuracy": 0.30, "cost_usd": 0.01},
            {"method": "single:dear", "accuracy": 0.70, "cost_usd": 2.0}]
    d = dominance(rows)
    assert d["dominated_by"] == ["cheap-good"] and d["best_at_or_below_cost"]["method"] == "single:cheap-good"
    assert d["most_accurate"]["method"] == "single:dear"
    assert "DOMINATED by cheap-good" in format_dominance(d)
    assert "dear 0.7000 at $2.0000 (this row: 0.857x its accuracy at 0.040x its cost)" in format_dominance(d)
    rows[0]["accuracy"] = 0.65
    assert dominance(rows)["dominated_by"] == []
    assert "not dominated" in format_dominance(dominance(rows))


def test_regret_curve_against_the_best_fixed_model():
    import numpy as np

    from shared_core.bench.replay import ReplayGroup, regret_curve

    n = 120
    group = ReplayGroup("g", ["q"] * n, ["t"] * n, {"a": [""] * n, "b": [""] * n},
                        {"a": np.ones(n, bool), "b": np.zeros(n, bool)}, {"a": np.full(n, 0.001), "b": np.zeros(n)},
                        {}, {}, {})
    curve = regret_curve(group, [True] * 60 + [False] * 60, [0.001] * n, wtp=0.01)
    assert curve["best_fixed"] == "a" and curve["at"] == [50, 100, 120]
    assert curve["regret"] == [0.0, 40.0, 60.0]


def test_a_mixed_order_interleaves_every_query_once_each_file_in_its_own_order(make_task):
    task = make_task(groups=3, n=40)
    order = mixed_order(task.groups, seed=7)
    assert sorted(order) == [(g, i) for g in range(3) for i in range(40)]
    for g in range(3):
        assert [i for gi, i in order if gi == g] == list(range(40))
    assert order != sorted(order)  # interleaved, not one file after another
    assert mixed_order(task.groups, seed=7) == order != mixed_order(task.groups, seed=8)


def test_a_mixed_run_keeps_each_files_beliefs_cold_under_one_budget(make_task):
    task = make_task(groups=2, n=60)
    base = _base(task)
    base.budget.cost_share = 0.3
    cfg = sls_config(task, "sls", base)
    stream = ReplayStream(task.groups)
    tasks = ["synthetic/g0", "synthetic/g1"]
    cfg.predictor.task_families.update({t: "synthetic" for t in tasks})
    tallies, engine = replay_stream(task, stream, mixed_order(task.groups, cfg.seed), cfg, "sls", "labels",
                                    tasks=tasks)
    assert [len(t["ok"]) for t in tallies] == [60, 60]
    assert set(engine.predictor.quality) == set(tasks)  # beliefs per file
    assert list(engine.scheduler.pacer.report()) == ["all"]  # one budget
    assert engine.scheduler.pacer.report()["all"]["requests"] == 120
    # the label verifier and the replay candidates find a query of the second file by its key
    ver = ReplayLabelVerifier(task.judge, stream)
    g1 = task.groups[1]
    req = Request(messages=[{"role": "user", "content": g1.queries[5]}], metadata={"replay_key": stream.key(1, 5)})
    assert ver.verify(req, g1.answers["strong"][5]) == float(g1.correct["strong"][5])


def test_the_mixed_rows_match_the_files_and_refuse_what_starts_per_file(make_task):
    task = make_task(groups=2, n=60)
    base = _base(task)
    result = run_bench(task, ("sls",), base=base, workers=1, mixed=True)
    by = {r["method"]: r for r in result["rows"]}
    assert result["mixed"] and by["sls"]["llm_calls"] + by["sls"]["cache_hits"] == 120
    assert set(result["per_group"]["sls"]) == {"g0", "g1"}
    with pytest.raises(ValueError, match="pick one"):
        sls_rows(task, ("sls",), base=base, warm=True, mixed=True)
    with pytest.raises(ValueError, match="--mixed"):
        run_bench(task, ("sls-online-train",), base=base, workers=1, train_frac=0.5, mixed=True)
