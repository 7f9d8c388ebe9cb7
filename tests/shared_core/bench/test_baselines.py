"""The static-scheduling baselines on synthetic replays (no shared data needed),
and on a slice of the real replays when it is there."""

from __future__ import annotations

import numpy as np
import pytest

from shared_core.bench.baselines import (BASELINES, Features, FrugalGPT, FrugalGPTConfig, Objective, OptLLM,
                                         OptLLMConfig, RouteLLM, RouteLLMConfig, baseline_rows, make_baseline,
                                         score_plan)
from shared_core.bench.baselines.common import Arrays, Classifier, budget_per_query, out_of_fold
from shared_core.bench.replay import split_task


@pytest.fixture
def parts(make_task):
    task = make_task(n=300)
    train, test = split_task(task, 0.4)
    return task, train.groups[0], test.groups[0]


def _acc(test, plan, models):
    return score_plan(Arrays.of(test, models), plan)


def test_features_are_embedding_plus_length():
    x = Features(dim=32)(["a short one", "a much, much longer query text"])
    assert x.shape == (2, 33)
    assert np.allclose(np.linalg.norm(x[:, :32], axis=1), 1.0, atol=1e-5)
    assert x[1, 32] > x[0, 32]


def test_classifier_falls_back_to_the_base_rate():
    clf = Classifier().fit(np.zeros((4, 3)), np.array([1, 1, 1, 1]))
    assert clf.predict(np.zeros((2, 3))) == pytest.approx([5 / 6, 5 / 6])
    p = out_of_fold(np.eye(6), np.array([0, 1, 0, 1, 0, 1]), c=1.0, folds=3)
    assert p.shape == (6,) and ((p >= 0) & (p <= 1)).all()


def test_objective_ranks_by_utility_within_budget():
    obj = Objective(budget=1.0, willingness_to_pay_usd=0.5)
    assert obj.value(0.9, 0.4) > obj.value(0.95, 0.6)  # 0.1 vs -0.25
    assert obj.value(1.0, 2.0)[0] == -np.inf
    assert Objective().value(0.9, 5.0) > Objective().value(0.8, 0.0)


def test_optllm_routes_each_kind_to_its_model(parts):
    task, train, test = parts
    b = OptLLM(OptLLMConfig(willingness_to_pay_usd=0.02)).fit(train, task.models)
    plan = b.plan(test)
    kinds = np.array([int(k) for k in test.truth])
    picked = np.array([p[0] for p in plan])
    assert (picked[kinds == 0] == "cheap").mean() > 0.8  # sorting: the cheap model is right
    assert (picked[kinds == 1] == "strong").mean() > 0.8  # graphs: only the strong one is
    s = _acc(test, plan, task.models)
    assert s["correct"] / s["n"] > 0.85
    assert len(b.curve(test)) >= 2


def test_optllm_budget_mode_stays_within_budget(parts):
    task, train, test = parts
    b = OptLLM(OptLLMConfig(budget_frac=0.2)).fit(train, task.models)
    s = _acc(test, b.plan(test), task.models)
    # the budget holds on predicted costs; recorded ones here equal them
    assert s["cost"] <= b.budget * len(test) * 1.0001
    with pytest.raises(ValueError):
        OptLLM(OptLLMConfig()).fit(train, task.models)


def test_routellm_picks_strong_and_weak_and_routes_by_the_router(parts):
    task, train, test = parts
    auto = RouteLLM(RouteLLMConfig(willingness_to_pay_usd=0.02)).fit(train, task.models)
    acc = {m: train.correct[m].mean() for m in ("cheap", "mid")}
    assert (auto.strong, auto.weak) == ("strong", max(acc, key=acc.get))  # both cost <= 10% of strong
    b = RouteLLM(RouteLLMConfig(willingness_to_pay_usd=0.02, weak="cheap")).fit(train, task.models)
    assert (b.strong, b.weak) == ("strong", "cheap")
    kinds = np.array([int(k) for k in test.truth])
    picked = np.array([p[0] for p in b.plan(test)])
    assert (picked[kinds == 1] == "strong").mean() > 0.8
    assert (picked[kinds == 0] == "cheap").mean() > 0.8
    assert b.describe()["strong"] == "strong"
    curve = b.curve(test)
    assert curve[0][0]["strong_share"] == 0.0 and all(p == ["cheap"] for p in curve[0][1])


def test_frugalgpt_cascade_stops_when_the_scorer_accepts(parts):
    task, train, test = parts
    b = FrugalGPT(FrugalGPTConfig(willingness_to_pay_usd=0.02)).fit(train, task.models)
    plan = b.plan(test)
    chain = b.describe()["chain"]
    assert chain[0] == "cheap" and len(chain) >= 2  # starts cheap, escalates
    assert any(len(p) == 1 for p in plan) and any(len(p) > 1 for p in plan)
    s = _acc(test, plan, task.models)
    assert s["calls"] > len(test)
    assert s["correct"] / s["n"] > 0.8


def test_make_baseline_and_rows(make_task):
    task = make_task(groups=2, n=120)
    train, test = split_task(task, 0.3)
    with pytest.raises(ValueError, match="unknown baseline"):
        make_baseline("nope")
    files: dict = {}
    rows, curves, detail = baseline_rows(train, test, tuple(BASELINES),
                                         {b: {"willingness_to_pay_usd": 0.02} for b in BASELINES}, files=files)
    assert [r["method"] for r in rows] == list(BASELINES)
    for r in rows:
        assert 0 <= r["accuracy"] <= 1 and r["llm_calls"] >= test.size
        assert set(r["fitted"]) == {"g0", "g1"}
    assert set(detail["optllm-style"]) == {"g0", "g1"}
    assert all(curves[b] for b in BASELINES)
    assert set(files["routellm-style"]) == {"g0", "g1"}


def test_budget_per_query_is_a_share_of_the_best_model(parts):
    task, train, _ = parts
    arr = Arrays.of(train, task.models)
    assert arr.models[arr.best()] == "strong"
    assert budget_per_query(arr, 0.1) == pytest.approx(0.1 * arr.cost[arr.best()].mean())
    assert budget_per_query(arr, None) == float("inf")


def test_baselines_on_a_slice_of_mbpp(need_data):
    from shared_core.bench import routerbench

    path = need_data("codegen", "mbpp.csv.gz")
    task = routerbench.load_task("codegen", [path], limit=80)
    train, test = split_task(task, 0.25)
    rows, curves, _ = baseline_rows(train, test, tuple(BASELINES),
                                    {b: {"willingness_to_pay_usd": 0.01} for b in BASELINES})
    for r in rows:
        assert 0.2 <= r["accuracy"] <= 1.0
        assert r["cost_usd"] < 0.6  # far under gpt-4 on every query (~$0.56 for 60)
