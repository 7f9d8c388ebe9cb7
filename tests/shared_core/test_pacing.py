"""The paced budget: a share of a reference model's cost, kept by weighing cost up."""

from __future__ import annotations

import math

import pytest

from shared_core import Answer, Engine, Request, SLSConfig
from shared_core.config import Budget, CandidateConfig, Preferences
from shared_core.pacing import MAX_LOG_WEIGHT, BudgetPacer
from shared_core.predictor import Estimate
from shared_core.scheduler import Scheduler


def est(name, p, cost):
    return Estimate(name, p, p, cost, 1.0, 100, 100.0, 0.0)


def test_the_weight_rises_while_spending_runs_above_the_share_and_falls_back_to_one():
    pacer = BudgetPacer(0.4, gain=0.1, scope="task")
    assert pacer.cost_weight("qa") == 1.0
    pacer.paid("qa", 1.0, 1.0)  # the reference's whole cost: 0.6 of it over the share
    assert pacer.cost_weight("qa") == pytest.approx(math.exp(0.06))
    pacer.paid("qa", 1.0, 1.0)  # 0.6 over again, and the 0.6 before spread over two requests
    assert pacer.cost_weight("qa") == pytest.approx(math.exp(0.06 + 0.1 * (0.6 + 0.6 / 2)))
    for _ in range(5):
        pacer.paid("qa", 1.0, 1.0)
    assert pacer.cost_weight("qa") > math.exp(0.42)  # faster than the overspend alone: it is paid back
    assert pacer.cost_weight("code") == 1.0  # each task is paced on its own
    for _ in range(100):
        pacer.paid("qa", 0.0, 1.0)
    assert pacer.cost_weight("qa") == 1.0  # never below the user's own preferences
    report = pacer.report()["qa"]
    assert report["requests"] == 107 and report["cost_share"] == pytest.approx(7 / 107)


def test_what_a_cautious_start_left_unspent_is_spent_later():
    # a router that spends 1/w of the reference at weight w keeps to 0.4 at w = 2.5; the
    # weight starts at 10, far too cautious. The overspend alone would hold the weight
    # where spending runs at the share and never spend what the start saved (log(2.5 / 10)
    # / 0.1 = 13.9 reference costs: 0.372 over 500 requests); the balance term spends it
    def run(pacer):
        pacer.start("qa", 1.0, lambda w: 4.0 / w)  # the prior's plan fits 0.4 at w = 10
        for _ in range(500):
            pacer.paid("qa", 1.0 / pacer.cost_weight("qa"), 1.0)
        return pacer.report()["all"]["cost_share"]

    assert pacer_share_without_balance(run) == pytest.approx(0.372, abs=0.005)
    assert run(BudgetPacer(0.4)) == pytest.approx(0.4, abs=0.005)


def pacer_share_without_balance(run) -> float:
    """`run` with the weight moved by each request's overspend alone (the integral
    controller), for comparison."""

    class Overspend(BudgetPacer):
        def paid(self, task, cost_usd, reference_usd):
            k = self.key(task)
            self.paced[k] = self.paced.get(k, 0) + 1
            self.spent_usd[k] = self.spent_usd.get(k, 0.0) + cost_usd
            self.reference_spent_usd[k] = self.reference_spent_usd.get(k, 0.0) + reference_usd
            self.log_weight[k] = max(0.0, self.log_weight.get(k, 0.0) + self.gain * (cost_usd - self.share * reference_usd))

    return run(Overspend(0.4))


def test_one_budget_covers_every_task_so_a_cheap_task_leaves_room_for_a_dear_one():
    pacer = BudgetPacer(0.4, gain=0.1)  # scope all, the default
    for _ in range(10):
        pacer.paid("wino", 0.7, 1.0)  # 0.3 of a reference cost over the share each
    assert pacer.cost_weight("wino") == pacer.cost_weight("arc") > math.exp(0.3)
    for _ in range(30):
        pacer.paid("arc", 0.3, 1.0)  # 0.1 under: arc's room pays wino's overspend back
    assert pacer.cost_weight("arc") == pacer.cost_weight("wino")
    assert pacer.report() == {"all": {"requests": 40, "cost_share": pytest.approx(0.4),
                                      "cost_weight": pacer.cost_weight("arc")}}
    assert not pacer.unstarted("a task never seen")  # the budget has started
    per_task = BudgetPacer(0.4, gain=0.1, scope="task")
    for task, cost in [("wino", 0.7)] * 10 + [("arc", 0.3)] * 30:
        per_task.paid(task, cost, 1.0)
    assert per_task.cost_weight("arc") == 1.0  # under its own share: its room is not wino's
    assert per_task.report()["wino"]["cost_share"] == pytest.approx(0.7)


def test_a_request_weighs_by_what_it_costs_not_as_one_ratio_among_equals():
    # the user's constraint is on sums: 1 + 0 spent of 10 + 1 that the reference would
    # cost is 0.09 of it, under 0.4, though the mean of the two ratios (0.1 and 0) is not
    pacer = BudgetPacer(0.4, gain=0.1)
    pacer.paid("qa", 1.0, 10.0)
    pacer.paid("qa", 0.0, 1.0)
    assert pacer.report()["all"]["cost_share"] == pytest.approx(1 / 11)
    # each step is the overspend plus the balance before it spread over the requests so
    # far, in mean reference costs: (1 - 4 + 0) / 10 < 0, then (0 - 0.4 - 3 / 2) / 5.5 < 0
    assert math.log(pacer.cost_weight("qa")) == 0.0
    pacer.paid("qa", 5.0, 1.0)  # (5 - 0.4 - 3.4 / 3) / 4: over
    assert math.log(pacer.cost_weight("qa")) == pytest.approx(0.1 * (4.6 - 3.4 / 3) / 4)


def test_the_reference_is_scaled_by_what_its_own_calls_billed():
    ests = {"big": est("big", 0.9, 0.02), "small": est("small", 0.7, 0.001)}
    pacer = BudgetPacer(0.4)
    assert pacer.reference_usd(ests) == 0.02
    pacer.observe_call("small", 0.001, 0.004)  # not the reference: its bills do not move it
    assert pacer.reference_usd(ests) == 0.02
    pacer.observe_call("big", 0.02, 0.019)
    pacer.observe_call("big", 0.02, 0.021)
    pacer.observe_call("big", 0.02, float("nan"))  # an unusable bill is not counted
    assert pacer.reference_usd(ests) == pytest.approx(0.02)
    pacer.observe_call("big", 0.04, 0.036)  # billed 0.076 of 0.08 predicted
    assert pacer.billed_ratio("big") == pytest.approx(0.95) and pacer.reference_usd(ests) == pytest.approx(0.019)
    again = BudgetPacer(0.4)
    again.restore(pacer.state())
    assert again.billed_ratio("big") == pytest.approx(0.95)


def test_an_engine_scales_the_reference_by_the_bills_of_its_calls():
    # the provider bills `big` at twice the list price of the tokens counted: a budget kept
    # against the list price would spend twice its share of what `big` really costs
    eng = agreement_engine(0.5)
    predicted = {}

    def call(model, request):
        return Answer(text={"c1": "A", "c2": "B", "big": "B"}[model], output_tokens=256,
                      cost_usd=None if model != "big" else 2 * predicted["big"])

    request = Request(messages=[{"role": "user", "content": QUESTION}], task="qa")
    predicted["big"] = eng.plan(request).decision.estimates["big"].cost_usd
    first = eng.agree(request, call=call)
    assert "big" in {a["model"] for a in first.attempts} | {first.model}
    assert eng.scheduler.pacer.billed_ratio("big") == pytest.approx(2.0)
    assert eng.scheduler.pacer.billed_ratio("c1") == pytest.approx(1.0)  # billed as predicted
    second = eng.plan(Request(messages=[{"role": "user", "content": QUESTION + "\n#2"}], task="qa")).decision
    assert second.reference_usd == pytest.approx(2 * second.estimates["big"].cost_usd)


def test_a_scope_is_checked_and_a_saved_budget_of_another_scope_is_not_taken():
    with pytest.raises(ValueError, match="'tenant' is not one of all, task"):
        BudgetPacer(0.4, scope="tenant")
    per_task = BudgetPacer(0.4, scope="task")
    per_task.paid("qa", 1.0, 1.0)
    overall = BudgetPacer(0.4)
    overall.restore(per_task.state())
    assert overall.report() == {} and overall.cost_weight("qa") == 1.0


def test_the_reference_is_the_named_model_or_else_the_dearest_candidate():
    ests = {"a": est("a", 0.9, 0.02), "b": est("b", 0.7, 0.001)}
    assert BudgetPacer(0.5).reference_usd(ests) == 0.02
    assert BudgetPacer(0.5, reference_model="b").reference_usd(ests) == 0.001
    named_elsewhere = BudgetPacer(0.5, reference_model="gpt-4o")
    assert named_elsewhere.reference_usd(ests) is None  # not a candidate of this request
    named_elsewhere.paid("qa", 1.0, None)
    named_elsewhere.paid("qa", 1.0, 0.0)  # a free reference: no share of it to keep
    assert named_elsewhere.report() == {} and named_elsewhere.cost_weight("qa") == 1.0


def test_the_scheduler_keeps_to_the_share_by_turning_to_the_cheaper_model():
    # worth its price to this user (a right answer is worth $1), `strong` is chosen every
    # time without a budget; a budget of 30% of its cost makes `cheap` win often enough
    cands = [CandidateConfig("strong", 1.0, 1.0), CandidateConfig("cheap", 1.0, 1.0)]
    ests = {"strong": est("strong", 0.95, 0.01), "cheap": est("cheap", 0.80, 0.001)}
    prefs = Preferences(latency=0.0, willingness_to_pay_usd=1.0)
    free = Scheduler(prefs, Budget())
    assert {free.decide(Request(messages=[{"role": "user", "content": "q"}]), cands, ests).chosen
            for _ in range(5)} == {"strong"}
    paced = Scheduler(prefs, Budget(cost_share=0.3))
    chosen, weights = [], []
    for _ in range(400):
        d = paced.decide(Request(messages=[{"role": "user", "content": "q"}]), cands, ests)
        chosen.append(d.chosen)
        weights.append(d.cost_weight)
        paced.paid("default", d, ests[d.chosen].cost_usd)
    assert set(chosen) == {"strong", "cheap"}
    # the weight starts where `cheap` wins (strong costs 10x the share's worth of 0.3), so
    # the first request keeps to the budget: the one overspend of a weight started at 1
    # was what it took to raise it (28 reference costs in this run)
    assert chosen[0] == "cheap" and weights[0] > 1.0
    # past the start, the run keeps to the share: within one reference cost of 0.3 x 400
    share = paced.pacer.report()["all"]["cost_share"]
    assert abs(share - 0.3) * 400 < 1.0
    assert d.reference_usd == 0.01 and ("paced budget" in d.reason) == (d.cost_weight > 1.0)


def test_the_weight_starts_at_the_least_that_fits_the_share():
    pacer = BudgetPacer(0.4, scope="task")

    def cost_at(w):  # a plan's cost falls as cost weighs more: within 0.4 of 1.0 from w = 5
        return 2.0 / w

    assert pacer.unstarted("qa")
    assert pacer.start("qa", 1.0, cost_at) == pytest.approx(5.0, rel=0.01)
    assert pacer.cost_weight("qa") == pytest.approx(5.0, rel=0.01) and pacer.unstarted("qa")
    pacer.paid("qa", 0.4, 1.0)  # at the share: the weight stays where it started
    assert not pacer.unstarted("qa") and pacer.cost_weight("qa") == pytest.approx(5.0, rel=0.01)
    assert pacer.start("code", 1.0, lambda w: 0.1) == 1.0  # fits without weighing cost up
    assert pacer.start("math", 1.0, lambda w: 1.0) == pytest.approx(math.exp(MAX_LOG_WEIGHT))  # nothing fits


def test_a_start_that_a_paid_request_overtook_leaves_the_weight_to_it():
    pacer = BudgetPacer(0.4)

    def cost_at(w):  # another thread's request is paid while this one bisects
        if pacer.unstarted("qa"):
            pacer.paid("qa", 0.9, 1.0)
        return 2.0 / w

    assert pacer.start("qa", 1.0, cost_at) == pytest.approx(math.exp(0.1 * 0.5))  # the paid step, not the start


def test_the_weight_is_saved_with_the_schedulers_state():
    sched = Scheduler(Preferences(), Budget(cost_share=0.2))
    sched.pacer.paid("qa", 1.0, 1.0)
    again = Scheduler(Preferences(), Budget(cost_share=0.2))
    again.restore(sched.state())
    assert again.pacer.cost_weight("qa") == sched.pacer.cost_weight("qa") > 1.0
    assert again.pacer.report() == sched.pacer.report()
    assert "pacing" not in Scheduler(Preferences(), Budget()).state()  # no budget, nothing saved


QUESTION = "Which is a gas at room temperature?\n(A) iron\n(B) oxygen\n(C) salt"


def agreement_engine(share: float, **more) -> Engine:
    cfg = SLSConfig.from_dict({**more,
        "candidates": [{"name": "c1", "price_in": 0.1, "price_out": 0.1, "quality_prior": 0.8},
                       {"name": "c2", "price_in": 0.1, "price_out": 0.1, "quality_prior": 0.8},
                       {"name": "big", "price_in": 10.0, "price_out": 30.0, "quality_prior": 0.97}],
        "agreement": {"willingness_to_pay_usd": 0.1}, "cache": {"enabled": False},
        "budget": {"cost_share": share}})
    return Engine(cfg)


def test_an_agreement_cascade_is_paced_once_per_request_on_all_its_calls():
    eng = agreement_engine(0.5)
    answers = {"c1": "A", "c2": "B", "big": "B"}  # a disagreement: the referee is called

    def call(model, request):
        return Answer(text=answers[model], output_tokens=256)  # as many as predicted

    result = eng.agree(Request(messages=[{"role": "user", "content": QUESTION}], task="qa"), call=call)
    report = eng.scheduler.pacer.report()["all"]
    assert result.calls == 3 and report["requests"] == 1
    assert report["cost_share"] == pytest.approx(result.cost_usd / result.decision.reference_usd)
    assert report["cost_share"] > 1.0 and eng.scheduler.pacer.cost_weight("qa") > 1.0
    assert eng.stats()["pacing"] == eng.scheduler.pacer.report()
    assert "pacing" not in Engine(SLSConfig.from_dict({"candidates": [{"name": "a", "price_in": 1, "price_out": 1}]})).stats()


def test_a_tight_budget_keeps_the_dear_model_to_its_share():
    # once the pair disagrees and big is right, big alone is worth its price at $0.10 a
    # right answer; with 5% of big's cost to spend, the cheap models answer instead
    answers = {"c1": "A", "c2": "B", "big": "B"}

    def run(eng):
        calls, weights = [], []

        def call(model, request):
            calls.append(model)
            return Answer(text=answers[model], output_tokens=256)

        for i in range(60):
            result = eng.agree(Request(messages=[{"role": "user", "content": f"{QUESTION}\n#{i}"}], task="qa"),
                               call=call)
            weights.append(result.decision.cost_weight)
        return calls, weights

    free = agreement_engine(2.0)  # twice what big costs: never binds
    assert run(free)[0].count("big") > 55 and free.scheduler.pacer.cost_weight("qa") == 1.0
    tight = agreement_engine(0.05)
    (calls, weights), pacer = run(tight), tight.scheduler.pacer
    share = pacer.report()["all"]["cost_share"]
    assert calls.count("big") < 10 and share < 0.12
    # the cascade's weight starts where a plan on the prior fits 5% (the scheduler's start,
    # for one call, would have left the cascade to overspend), then follows the spending
    assert weights[0] > 1.0 and "big" not in calls[:2]
    assert abs(share - 0.05) * 60 < 2.0  # within two of big's calls of the share over the run


def test_a_cascade_starts_its_own_weight_where_one_call_would_keep_to_the_share():
    # one call at a time, this user's price ($0.001 a right answer) picks a cheap model,
    # well inside 5% of big's cost; the cascade, at $0.10, would call two and then big.
    # Not learning, the router plans on its means: no exploring draw to pick a dear plan
    eng = agreement_engine(0.05, preferences={"willingness_to_pay_usd": 0.001}, predictor={"learn": False})
    calls = []

    def call(model, request):
        calls.append(model)
        return Answer(text={"c1": "A", "c2": "B", "big": "B"}[model], output_tokens=256)

    result = eng.agree(Request(messages=[{"role": "user", "content": QUESTION}], task="qa"), call=call)
    assert result.decision.cost_weight > 1.0 and "big" not in calls
    assert result.cost_usd <= 0.05 * result.decision.reference_usd


def test_an_engine_restarted_from_its_saved_state_keeps_the_weight(tmp_path):
    def build() -> Engine:
        eng = agreement_engine(0.05)
        eng.config.state.path = str(tmp_path / "state")
        return Engine(eng.config)

    answers = {"c1": "A", "c2": "B", "big": "B"}
    eng = build()
    for i in range(5):
        eng.agree(Request(messages=[{"role": "user", "content": f"{QUESTION}\n#{i}"}], task="qa"),
                  call=lambda model, request: Answer(text=answers[model], output_tokens=256))
    eng.save()
    weight = eng.scheduler.pacer.cost_weight("qa")
    assert weight > 1.0
    again = build()
    assert again.scheduler.pacer.cost_weight("qa") == weight
    assert again.stats()["pacing"] == eng.stats()["pacing"]
