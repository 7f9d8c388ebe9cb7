"""Scheduler: hard limits with reasons, utility ranking, willingness to pay, round robin."""

from __future__ import annotations

import re

import numpy as np
import pytest

from shared_core.config import Budget, CandidateConfig, Preferences, PredictorConfig
from shared_core.predictor import Estimate, Predictor
from shared_core.request import Request
from shared_core.scheduler import RoundRobinScheduler, Scheduler

TOOL = {"type": "function", "function": {"name": "f", "parameters": {}}}


def cand(name, caps=("streaming",), window=8192, **kw):
    return CandidateConfig(name, price_in=kw.pop("price_in", 1.0), price_out=kw.pop("price_out", 1.0),
                           context_window=window, capabilities=list(caps), **kw)


def est(name, p=0.7, cost=0.001, latency=1.0, input_tokens=100):
    return Estimate(name, p, p, cost, latency, input_tokens, 100.0, 0.0)


def request(**kw):
    return Request(messages=[{"role": "user", "content": "hello"}], **kw)


def decide(cands, ests, req=None, prefs=None, budget=None, **kw):
    sched = Scheduler(prefs or Preferences(), budget or Budget())
    return sched.decide(req or request(), cands, {e.model: e for e in ests}, **kw)


# -- hard limits ------------------------------------------------------------------------------

def test_pinned_model_ranks_first_and_the_rest_stay_as_fallbacks():
    d = decide([cand("a"), cand("b"), cand("c")], [est("a", p=0.99), est("b", p=0.1), est("c", p=0.5)],
               request(pinned_model="b"))
    assert d.chosen == "b" and d.ranking == ["b", "a", "c"] and d.excluded == {}
    assert d.utilities["a"] > d.utilities["b"]
    assert d.reason.startswith("tool loop pinned to b; b: utility") and "next a" in d.reason


def test_pin_does_not_lift_hard_limits_from_the_fallbacks():
    tools = ("streaming", "tools")
    d = decide([cand("a"), cand("b", caps=tools), cand("c", caps=tools)], [est("a", p=0.99), est("b"), est("c", p=0.1)],
               request(tools=[TOOL], pinned_model="c"))
    assert d.ranking == ["c", "b"] and d.excluded == {"a": "lacks capability tools"}


def test_pin_that_cannot_be_honoured_says_why():
    d = decide([cand("a"), cand("b")], [est("a", p=0.1), est("b", p=0.99)], request(pinned_model="b"),
               cooling={"b": "RateLimitError"})
    assert d.chosen == "a" and d.ranking == ["a"]
    assert d.excluded == {"b": "cooling down after error: RateLimitError"}
    assert d.reason.startswith("tool loop pinned to b could not be honoured "
                               "(cooling down after error: RateLimitError); a: utility")
    d = decide([cand("a")], [est("a")], request(pinned_model="b"))  # the request's candidates leave it out
    assert d.chosen == "a" and "pinned to b could not be honoured (not among the request's candidates)" in d.reason
    d = decide([cand("b")], [est("b")], request(pinned_model="b"), cooling={"b": "x"})
    assert d.chosen is None and d.reason.endswith("; no eligible candidate")


def test_missing_capability():
    d = decide([cand("a"), cand("b", caps=("streaming", "tools"))], [est("a", p=0.99), est("b")],
               request(tools=[TOOL]))
    assert d.chosen == "b" and d.excluded == {"a": "lacks capability tools"}
    d = decide([cand("a")], [est("a")], request(response_format={"type": "json_schema", "json_schema": {}}))
    assert d.chosen is None and d.excluded["a"] == "lacks capability structured_output"


def test_context_window():
    d = decide([cand("a", window=4096), cand("b", window=128000)], [est("a", p=0.99, input_tokens=5000),
                                                                      est("b", input_tokens=5000)])
    assert d.chosen == "b"
    assert d.excluded["a"] == "context window: request needs 5000 tokens, window is 4096"
    # the requested output counts too
    d = decide([cand("a", window=4096)], [est("a", input_tokens=4000)], request(max_output_tokens=200))
    assert d.chosen is None and "needs 4200 tokens" in d.excluded["a"]
    assert decide([cand("a", window=4096)], [est("a", input_tokens=4000)]).chosen == "a"


def test_per_request_cap():
    ests = [est("a", p=0.99, cost=0.02), est("b", cost=0.005)]
    d = decide([cand("a"), cand("b")], ests, budget=Budget(max_cost_per_request_usd=0.01))
    assert d.chosen == "b" and "b" not in d.excluded
    assert re.match(r"predicted cost \$0\.020*\b.*per-request cap \$0\.010*\b", d.excluded["a"])
    # a request's own cap overrides the budget's
    d = decide([cand("a"), cand("b")], ests, request(metadata={"max_cost_usd": 0.001}),
               budget=Budget(max_cost_per_request_usd=0.01))
    assert d.chosen is None and set(d.excluded) == {"a", "b"} and d.reason == "no eligible candidate"


def test_run_budget():
    ests = [est("a", p=0.99, cost=0.1), est("b", cost=0.01)]
    d = decide([cand("a"), cand("b")], ests, budget=Budget(run_budget_usd=1.0), spent_usd=0.95)
    assert d.chosen == "b" and "b" not in d.excluded
    assert re.match(r"run budget: \$0\.950*\b spent of \$1(\.0+)?\b", d.excluded["a"])
    assert decide([cand("a"), cand("b")], ests, budget=Budget(run_budget_usd=1.0), spent_usd=0.5).chosen == "a"


def test_cooldown():
    d = decide([cand("a"), cand("b")], [est("a", p=0.99), est("b")], cooling={"a": "RateLimitError"})
    assert d.chosen == "b" and d.excluded == {"a": "cooling down after error: RateLimitError"}


def test_excluded_candidates_are_not_ranked():
    d = decide([cand("a"), cand("b"), cand("c")], [est("a"), est("b"), est("c")], cooling={"b": "x"})
    assert sorted(d.ranking) == ["a", "c"] and "b" not in d.utilities
    assert d.to_dict()["excluded"] == {"b": "cooling down after error: x"}


# -- utility ------------------------------------------------------------------------------------

def test_prefers_higher_quality_at_similar_cost():
    d = decide([cand("a"), cand("b")], [est("a", p=0.6, cost=0.0010), est("b", p=0.9, cost=0.0011)])
    assert d.ranking == ["b", "a"] and d.utilities["b"] > d.utilities["a"]
    assert d.reason.startswith("b: utility") and "next a" in d.reason


def test_prefers_cheaper_at_similar_quality():
    d = decide([cand("a"), cand("b")], [est("a", p=0.80, cost=0.01), est("b", p=0.81, cost=0.001)])
    assert d.chosen == "b"


def test_equal_utility_ties_go_to_the_cheaper():
    d = decide([cand("a"), cand("b")], [est("a", p=0.8, cost=0.002, latency=0.5),
                                        est("b", p=0.8, cost=0.002, latency=0.5)])
    assert d.utilities["a"] == d.utilities["b"] and d.chosen == "a"


def test_price_takes_away_at_most_the_cost_weight():
    # 100x the price, but far better: the bounded cost term lets quality win
    d = decide([cand("cheap"), cand("premium")], [est("cheap", p=0.3, cost=0.001), est("premium", p=0.95, cost=0.1)])
    assert d.chosen == "premium"
    ref = (0.001 + 0.1) / 2
    assert d.utilities["premium"] == pytest.approx(0.95 - 0.3 * 0.1 / (0.1 + ref) - 0.05 * 0.5)
    # with cost weighted heavily, the cheap one wins
    d = decide([cand("cheap"), cand("premium")], [est("cheap", p=0.3, cost=0.001), est("premium", p=0.95, cost=0.1)],
               prefs=Preferences(cost=2.0))
    assert d.chosen == "cheap"


def test_latency_weight():
    ests = [est("fast", p=0.8, latency=0.2), est("slow", p=0.8, latency=20.0)]
    assert decide([cand("fast"), cand("slow")], ests).chosen == "fast"
    assert decide([cand("fast"), cand("slow")], ests, prefs=Preferences(latency=0.0)).utilities["slow"] == \
        pytest.approx(0.8 - 0.3 * 0.5)


def test_willingness_to_pay():
    ests = [est("cheap", p=0.6, cost=0.0001, latency=1.0), est("premium", p=0.9, cost=0.005, latency=1.0)]
    tight = decide([cand("cheap"), cand("premium")], ests, prefs=Preferences(willingness_to_pay_usd=0.01))
    assert tight.chosen == "cheap"
    assert tight.utilities["premium"] == pytest.approx(0.9 - 0.005 / 0.01 - 0.05 * 0.5)
    generous = decide([cand("cheap"), cand("premium")], ests, prefs=Preferences(willingness_to_pay_usd=1.0))
    assert generous.chosen == "premium"
    assert generous.utilities["cheap"] == pytest.approx(0.6 - 0.0001 - 0.025)


def test_with_real_predictions():
    cands = [CandidateConfig("small", 0.15, 0.6, quality_prior=0.55),
             CandidateConfig("large", 2.5, 10.0, quality_prior=0.9, capabilities=["streaming", "tools"])]
    pred = Predictor(cands, PredictorConfig(exploration="greedy"), dim=8)
    ests = {e.model: e for e in pred.predict("default", None, 500, ["small", "large"])}
    d = Scheduler(Preferences(), Budget()).decide(request(), cands, ests)
    assert d.chosen == "large" and d.ranking == ["large", "small"]
    d = Scheduler(Preferences(), Budget(max_cost_per_request_usd=0.001)).decide(request(), cands, ests)
    assert d.chosen == "small" and "per-request cap" in d.excluded["large"]
    out = d.to_dict()
    assert out["chosen"] == "small" and out["candidates"]["small"]["p_good"] == pytest.approx(0.55)


# -- round robin ----------------------------------------------------------------------------------

def test_round_robin_rotates():
    sched = RoundRobinScheduler(Preferences(), Budget())
    cands = [cand("a"), cand("b"), cand("c")]
    ests = {"a": est("a", p=0.99), "b": est("b", p=0.1), "c": est("c", p=0.5)}
    chosen = [sched.decide(request(), cands, ests).chosen for _ in range(4)]
    assert chosen == ["a", "b", "c", "a"]
    d = sched.decide(request(), cands, ests)
    assert d.ranking == ["b", "c", "a"] and d.reason == "b: round robin"


def test_round_robin_skips_excluded():
    sched = RoundRobinScheduler(Preferences(), Budget())
    cands = [cand("a"), cand("b"), cand("c")]
    ests = {m: est(m) for m in "abc"}
    chosen = [sched.decide(request(), cands, ests, cooling={"b": "x"}).chosen for _ in range(4)]
    assert chosen == ["a", "c", "a", "c"]
    assert sched.decide(request(), cands, ests, cooling=dict.fromkeys("abc", "x")).chosen is None


def test_round_robin_honours_a_pin():
    sched = RoundRobinScheduler(Preferences(), Budget())
    cands = [cand("a"), cand("b"), cand("c")]
    ests = {m: est(m) for m in "abc"}
    rankings = [sched.decide(request(pinned_model="c"), cands, ests).ranking for _ in range(2)]
    assert rankings == [["c", "a", "b"], ["c", "b", "a"]]


# -- exploration that pays for itself ---------------------------------------------------------

def ranged(name, p, low, high, sample=None, cost=0.001):
    e = Estimate(name, p, p if sample is None else sample, cost, 1.0, 100, 100.0, 0.0)
    e.p_low, e.p_high = low, high
    return e


def test_a_dominated_model_is_ranked_last_but_stays_a_fallback():
    d = decide([cand("a"), cand("b"), cand("c")],
               [ranged("a", 0.9, 0.85, 0.95), ranged("b", 0.5, 0.3, 0.6, sample=0.99), ranged("c", 0.8, 0.6, 0.9)])
    assert d.ranking == ["c", "a", "b"] or d.ranking[-1] == "b"
    assert d.ranking[-1] == "b" and "dominated: b" in d.reason  # its lucky draw does not lift it


def test_exploration_stops_when_its_expected_cost_exceeds_the_budget():
    sched = Scheduler(Preferences(), Budget(), exploration_budget=0.01, eliminate=False)
    cands = [cand("best"), cand("other")]
    # the draw favours `other`, whose mean is 0.1 below: each exploration costs about 0.1 utility
    ests = {"best": ranged("best", 0.8, 0.5, 0.95, sample=0.5), "other": ranged("other", 0.7, 0.4, 0.95, sample=0.9)}
    decisions = [sched.decide(request(), cands, ests) for _ in range(100)]
    explored = [d.chosen for d in decisions].count("other")
    assert 5 <= explored <= 11  # about budget x requests / cost = 0.01 x 100 / 0.1 = 10
    assert sched.exploration_spent <= 0.01 * 100 + 1e-9
    assert all("exploration budget spent" in d.reason for d in decisions if d.chosen == "best")


def test_no_budget_follows_the_draw():
    sched = Scheduler(Preferences(), Budget(), exploration_budget=None, eliminate=False)
    ests = {"best": ranged("best", 0.8, 0.5, 0.95, sample=0.5), "other": ranged("other", 0.7, 0.4, 0.95, sample=0.9)}
    assert all(sched.decide(request(), [cand("best"), cand("other")], ests).chosen == "other" for _ in range(20))


def test_schedulers_are_chosen_by_name_and_an_unknown_name_lists_the_known():
    from shared_core.config import SLSConfig
    from shared_core.errors import ConfigError
    from shared_core.scheduler import make_scheduler

    base = {"candidates": [{"name": "a", "price_in": 1, "price_out": 1}]}
    assert type(make_scheduler(SLSConfig.from_dict(base))) is Scheduler
    assert type(make_scheduler(SLSConfig.from_dict({**base, "scheduler": "round_robin"}))) is RoundRobinScheduler
    with pytest.raises(ConfigError, match="'fastest' is not one of round_robin, utility") as info:
        SLSConfig.from_dict({**base, "scheduler": "fastest"})
    assert info.value.field == "scheduler"


def drawn(name, p, draws, cost=0.001):
    e = ranged(name, p, float(np.min(draws)), float(np.max(draws)), sample=float(draws[0]), cost=cost)
    e.draws = draws
    return e


def test_a_draw_far_below_the_best_is_followed_only_where_the_run_can_repay_it():
    rng = np.random.default_rng(0)
    best, far = rng.normal(0.8, 0.02, 256), rng.normal(0.6, 0.16, 256)
    far[0], best[0] = 0.99, 0.5  # this request's draw favours `far`
    ests = {"best": drawn("best", 0.8, best), "far": drawn("far", 0.6, far)}
    short = Scheduler(Preferences(), Budget(), exploration_budget=1.0, eliminate=False, exploration_horizon=100)
    d = short.decide(request(), [cand("best"), cand("far")], ests)
    assert d.chosen == "best" and "would not repay itself" in d.reason
    long = Scheduler(Preferences(), Budget(), exploration_budget=1.0, eliminate=False, exploration_horizon=100_000)
    assert long.decide(request(), [cand("best"), cand("far")], ests).chosen == "far"


def test_the_horizon_is_the_tasks_traffic_cache_hits_included():
    sched = Scheduler(Preferences(), Budget())
    for _ in range(3):
        sched.count_request("logs")
    sched.decide(request(task="logs"), [cand("a")], {"a": est("a")})
    assert sched.horizon("logs") == 4 and sched.horizon("code") == 0
