"""Agreement cascade: normalizers, plan choice by expected utility, the truth posterior, and Engine.agree."""

from __future__ import annotations

import numpy as np
import pytest

from shared_core.agreement import (AgreementPlan, ChoiceNormalizer, NumberNormalizer, Outcome, ShortAnswerNormalizer,
                                   Difficulty, best_plan, make_normalizer, plan_values, pseudo_labels,
                                   question_difficulty, run_plan, truth_posterior, worth_its_exploration)
from shared_core.candidates import Answer
from shared_core.config import SLSConfig
from shared_core.engine import Engine
from shared_core.errors import ConfigError
from shared_core.request import Request

QUESTION = "Which is a mammal?\nA) shark\nB) whale\nC) trout\nD) eel\nAnswer:"


@pytest.mark.parametrize("text,key", [("B", "B"), ("B\n", "B"), ("(b)", "B"), ("B) whale", "B"),
                                      ("The answer is C.", "C"), ("I do not know", None), ("", None)])
def test_choice_normalizer(text, key):
    assert ChoiceNormalizer()(text) == key


def test_other_normalizers_and_registry():
    assert NumberNormalizer()("so it is 1,200.0 apples") == NumberNormalizer()("1200") == "1200.0"
    assert ShortAnswerNormalizer()("The Eiffel Tower!") == "eiffel tower"
    assert ChoiceNormalizer().coincidence(Request(messages=[{"role": "user", "content": QUESTION}])) == pytest.approx(1 / 3)
    with pytest.raises(ConfigError, match="agreement.normalizer"):
        make_normalizer("vibes")


def test_plan_escalates_only_where_it_pays():
    p = {"cheap1": 0.8, "cheap2": 0.8, "strong": 0.97}
    cost = {"cheap1": 0.0003, "cheap2": 0.0004, "strong": 0.005}
    pricey = best_plan(p, cost, q=1 / 3, wtp=0.001)  # a right answer worth little: one cheap call
    assert pricey.models == ("cheap1",)
    dear = best_plan(p, cost, q=1 / 3, wtp=0.1)  # worth a lot: the pair, and the strong model as referee
    assert dear.models == ("cheap1", "cheap2", "strong")
    assert dear.accuracy > 0.95 and dear.cost_usd < cost["strong"]


def test_a_lone_call_competes_at_its_mean_not_its_exploring_draw():
    draw = {"cheap1": 0.99, "cheap2": 0.8, "strong": 0.97}  # a lucky draw for cheap1
    mean = {"cheap1": 0.6, "cheap2": 0.8, "strong": 0.97}
    cost = {"cheap1": 0.0003, "cheap2": 0.0004, "strong": 0.005}
    assert best_plan(draw, cost, q=1 / 3, wtp=0.1).models == ("cheap1",)
    valued = best_plan(draw, cost, q=1 / 3, wtp=0.1, alone=mean)
    assert valued.models != ("cheap1",) and len(valued.models) == 3  # the draw still explores the cascades


def test_plan_values_are_best_plans_utilities_draw_by_draw():
    p = {"cheap1": 0.8, "cheap2": 0.8, "strong": 0.97}
    cost = {"cheap1": 0.0003, "cheap2": 0.0004, "strong": 0.005}
    for sd in (0.0, 1.0):
        plan = best_plan(p, cost, q=1 / 3, wtp=0.1, difficulty_sd=sd)
        assert len(plan.models) == 3
        draws = {m: np.array([v, v - 0.1]) for m, v in p.items()}
        values = plan_values(plan, draws, cost, 1 / 3, 0.1, sd)
        assert values[0] == pytest.approx(plan.utility) and values[1] < values[0]
    lone = AgreementPlan("strong")
    assert plan_values(lone, {"strong": np.array([0.9])}, cost, 1.0, 0.1)[0] == pytest.approx(0.9 - 0.05)


@pytest.mark.parametrize("sd,q", [(0.0, 1 / 3), (1.0, 1.0)])
def test_best_plan_is_the_best_of_every_plan_valued_one_by_one(sd, q):
    import itertools

    rng = np.random.default_rng(7)
    p = {f"m{i}": float(v) for i, v in enumerate(rng.uniform(0.5, 0.95, 6))}
    cost = {m: float(c) for m, c in zip(p, rng.choice([1e-4, 5e-4, 2e-3, 6e-3], 6))}
    scalar = {m: np.array([v]) for m, v in p.items()}
    plans = [AgreementPlan(m) for m in p] + [AgreementPlan(a, b, c) for a, b in itertools.combinations(p, 2)
                                             for c in p if c not in (a, b)]
    values = {pl.models: float(plan_values(pl, scalar, cost, q, 0.05, sd)[0]) for pl in plans}
    best = best_plan(p, cost, q, 0.05, sd)
    assert best.utility == pytest.approx(max(values.values()))
    assert values[best.models] == pytest.approx(best.utility)


def test_a_drawn_plan_is_run_only_where_what_it_teaches_can_repay_it():
    mean = {"cheap1": 0.6, "cheap2": 0.62, "strong": 0.9, "odd": 0.55}
    cost = {"cheap1": 0.0003, "cheap2": 0.0004, "strong": 0.004, "odd": 0.0003}
    greedy = best_plan(mean, cost, 1.0, 0.05, 1.0)
    drawn = AgreementPlan("cheap1", "odd", "strong")  # what a lucky draw of `odd` would pick
    assert greedy.models != drawn.models
    rng = np.random.default_rng(0)
    known = lambda m: np.clip(mean[m] + 0.005 * rng.standard_normal(256), 0.01, 0.99)  # hundreds of calls' worth
    unknown = lambda m: rng.beta(2 * mean[m], 2 * (1 - mean[m]), 256)  # a cold belief
    assert worth_its_exploration(drawn, mean, known, cost, 1.0, 0.05, 1.0, horizon=1000) == greedy
    assert worth_its_exploration(drawn, mean, unknown, cost, 1.0, 0.05, 1.0, horizon=100_000) == drawn
    assert worth_its_exploration(drawn, mean, lambda m: None, cost, 1.0, 0.05, 1.0, 1000) == drawn  # nothing to weigh
    assert worth_its_exploration(greedy, mean, known, cost, 1.0, 0.05, 1.0, 1000) == greedy


def test_a_lone_answer_is_not_evidence_but_a_missing_one_is():
    p = {"a": 0.8, "b": 0.8, "c": 0.95}
    alone = Outcome(AgreementPlan("a"), {"a": Answer(text="B")}, {"a": "B"}, "a")
    assert pseudo_labels(alone, p, 1 / 3) == {}  # its posterior would be its own prior
    blank = Outcome(AgreementPlan("a"), {"a": Answer(text="?")}, {"a": None}, "a")
    assert pseudo_labels(blank, p, 1 / 3) == {"a": 0.0}
    half = Outcome(AgreementPlan("a", "b"), {"a": Answer(text="B"), "b": Answer(text="?")}, {"a": "B", "b": None}, "a")
    assert pseudo_labels(half, p, 1 / 3) == {"b": 0.0}


def test_truth_posterior_and_pseudo_labels():
    p = {"a": 0.8, "b": 0.8, "c": 0.95}
    agreed = truth_posterior({"a": "B", "b": "B"}, p, q=1 / 3)
    assert agreed["B"] > 0.95
    split = truth_posterior({"a": "A", "b": "B", "c": "B"}, p, q=1 / 3)
    assert split["B"] > 0.9 and split["A"] < 0.1
    plan = AgreementPlan("a", "b", "c")
    out = Outcome(plan, {m: Answer(text=k) for m, k in {"a": "A", "b": "B", "c": "B"}.items()},
                  {"a": "A", "b": "B", "c": "B"}, "c")
    labels = pseudo_labels(out, p, 1 / 3)
    assert labels["a"] < 0.1 and labels["b"] > 0.9 and labels["c"] > 0.9
    # binary options: two wrong answers always coincide, so agreement proves less
    assert truth_posterior({"a": "A", "b": "A"}, p, q=1.0)["A"] < agreed["B"]


def test_difficulty_keeps_each_models_average_and_makes_errors_go_together():
    p = {"a": 0.8, "b": 0.7}
    d = Difficulty(p, sd=1.0)
    assert d.mean(d.of("a")) == pytest.approx(0.8, abs=1e-3) and d.mean(d.of("b")) == pytest.approx(0.7, abs=1e-3)
    assert d.mean(d.of("a") * d.of("b")) > 0.8 * 0.7 + 0.02  # right together (and wrong together) more often
    assert Difficulty(p, sd=0.0).mean(Difficulty(p, sd=0.0).of("a")) == pytest.approx(0.8, abs=1e-3)


def test_correlated_errors_make_agreement_prove_less_and_the_referee_worth_more():
    p = {"a": 0.8, "b": 0.8, "c": 0.95}
    assert truth_posterior({"a": "B", "b": "B"}, p, 1 / 3, difficulty_sd=1.0)["B"] < \
        truth_posterior({"a": "B", "b": "B"}, p, 1 / 3)["B"]
    # the cascade is right less often than independence says: the referee is called on hard questions
    cost = {"a": 0.0003, "b": 0.0004, "c": 0.005}
    independent, together = best_plan(p, cost, 1 / 3, 0.1), best_plan(p, cost, 1 / 3, 0.1, difficulty_sd=1.0)
    assert independent.models == together.models == ("a", "b", "c")
    assert together.accuracy < independent.accuracy - 0.01


def test_question_difficulty_from_the_answers():
    p = {"a": 0.8, "b": 0.8, "c": 0.95}
    easy_offset, easy_noise = question_difficulty({"a": "B", "b": "B"}, p, 1 / 3, 1.0)
    hard_offset, _ = question_difficulty({"a": "A", "b": "B", "c": "C"}, p, 1 / 3, 1.0)
    assert easy_offset < 0 < hard_offset  # agreement says easy, three answers say hard
    assert easy_noise < 1.0  # what is learned of the question is no longer noise
    offset, noise = question_difficulty({"a": "B"}, p, 1 / 3, 1.0)  # one answer says little
    assert abs(offset) < 0.15 and noise == pytest.approx(1.0, abs=0.05)
    assert question_difficulty({"a": "A", "b": "B"}, p, 1 / 3, 0.0) == (0.0, 1.0)  # the one-coin model


def test_run_plan_calls_the_referee_only_on_disagreement():
    plan, calls = AgreementPlan("a", "b", "c"), []

    def call(texts):
        def one(model):
            calls.append(model)
            return Answer(text=texts[model])
        return one

    assert run_plan(plan, call({"a": "B", "b": "B\n", "c": "A"}), ChoiceNormalizer()).served == "a"
    assert calls == ["a", "b"]
    calls.clear()
    out = run_plan(plan, call({"a": "A", "b": "B", "c": "B"}), ChoiceNormalizer())
    assert calls == ["a", "b", "c"] and out.served == "c" and not out.agreed


def test_a_failing_model_is_a_missing_vote():
    def call(model):
        if model == "a":
            raise ConnectionError("down")
        return Answer(text="B")
    out = run_plan(AgreementPlan("a", "b", "c"), call, ChoiceNormalizer())
    assert out.served == "c" and set(out.answers) == {"b", "c"}


def engine() -> Engine:
    cfg = SLSConfig.from_dict({
        "candidates": [{"name": "c1", "price_in": 0.1, "price_out": 0.1, "quality_prior": 0.8},
                       {"name": "c2", "price_in": 0.1, "price_out": 0.1, "quality_prior": 0.8},
                       {"name": "big", "price_in": 10.0, "price_out": 30.0, "quality_prior": 0.97}],
        # a right answer worth $0.10: on the means, the pair with big as referee is best (big
        # alone, about $0.008 a call, costs more than it adds; c1 alone is right 0.8 of the time)
        "agreement": {"willingness_to_pay_usd": 0.1}, "cache": {"enabled": False}})
    return Engine(cfg)


def test_engine_agree_bills_every_call_and_learns_without_labels():
    eng, calls = engine(), []
    answers = {"c1": "A", "c2": "B", "big": "B"}

    def call(model, request):
        calls.append(model)
        return Answer(text=answers[model], input_tokens=100, output_tokens=1)

    request = Request(messages=[{"role": "user", "content": QUESTION}], task="qa")
    before = eng.predictor.quality_model("qa").mean("c1")
    result = eng.agree(request, call=call)
    assert sorted(calls) == ["big", "c1", "c2"] and result.calls == 3
    assert result.text == "B" and result.model == "big"
    assert result.cost_usd == pytest.approx(eng.spent_usd) and result.cost_usd > 0
    assert [a["model"] for a in result.attempts] == ["c1", "c2"]
    assert eng.predictor.quality_model("qa").mean("c1") < before  # outvoted, with no label given


def test_run_serves_the_configured_tasks_by_agreement_sync_and_async():
    import asyncio

    def fresh():  # each its own cold engine: what one run learns changes the next plan
        eng = engine()
        eng.config.agreement.tasks = ["qa"]
        return eng

    answers = {"c1": "A", "c2": "B", "big": "B"}

    def call(model, request):
        return Answer(text=answers[model], input_tokens=100, output_tokens=1)

    async def acall(model, request):
        return call(model, request)

    qa = Request(messages=[{"role": "user", "content": QUESTION}], task="qa")
    assert fresh().run(qa, call=call).calls == 3
    assert asyncio.run(fresh().arun(qa, acall=acall)).calls == 3
    chat = Request(messages=[{"role": "user", "content": "hi"}], task="chat")
    assert fresh().run(chat, call=call).calls == 1  # other tasks: one call
    forced = Request(messages=[{"role": "user", "content": QUESTION}], task="chat", metadata={"agreement": True})
    assert fresh().run(forced, call=call).calls == 3


def test_a_failed_call_in_the_cascade_cools_its_model_and_is_reported():
    eng = engine()

    def call(model, request):
        if model == "c1":
            raise ConnectionError("c1 is down")
        return Answer(text="B", input_tokens=100, output_tokens=1)

    result = eng.agree(Request(messages=[{"role": "user", "content": QUESTION}], task="qa"), call=call)
    assert result.text == "B" and "c1" in eng.cooling()
    assert any(a["model"] == "c1" and "ConnectionError" in a["error"] for a in result.attempts)


def test_a_model_asked_alone_in_the_cascade_is_not_credited_its_own_answer():
    eng = engine()
    eng.config.agreement.willingness_to_pay_usd = 1e-6  # a right answer worth little: one cheap call
    calls = []

    def call(model, request):
        calls.append(model)
        return Answer(text="B", input_tokens=100, output_tokens=1)

    request = Request(messages=[{"role": "user", "content": QUESTION}], task="qa")
    quality = eng.predictor.quality_model("qa")
    before = {m: (quality.mean(m), quality.interval(m)) for m in ("c1", "c2")}
    for _ in range(5):
        assert eng.agree(Request(messages=request.messages, task="qa"), call=call).calls == 1
    assert set(calls) <= {"c1", "c2"}
    assert {m: (quality.mean(m), quality.interval(m)) for m in ("c1", "c2")} == before  # no evidence, no narrower belief


def test_a_label_of_a_cascade_answer_does_not_count_its_model_twice_but_teaches_one_asked_alone():
    answers = {"c1": "A", "c2": "B", "big": "B"}

    def call(model, request):
        return Answer(text=answers[model], input_tokens=100, output_tokens=1)

    eng = engine()
    quality = eng.predictor.quality_model("qa")
    result = eng.agree(Request(messages=[{"role": "user", "content": QUESTION}], task="qa"), call=call)
    assert result.calls == 3 and result.model == "big"
    credited = (quality.mean("big"), quality.interval("big"))
    assert eng.feedback(result.request_id, 0.0)  # judged: the cached answer, not big's record again
    assert (quality.mean("big"), quality.interval("big")) == credited

    alone = engine()
    alone.config.agreement.willingness_to_pay_usd = 1e-6  # one cheap call, credited nothing
    quality = alone.predictor.quality_model("qa")
    result = alone.agree(Request(messages=[{"role": "user", "content": QUESTION}], task="qa"), call=call)
    assert result.calls == 1
    before = quality.interval(result.model)
    assert alone.feedback(result.request_id, 1.0)
    low, high = quality.interval(result.model)
    assert high - low < before[1] - before[0]  # the label is what it learns from


def test_a_model_that_always_gives_the_same_letter_is_not_evidence():
    p = {"always_a": 0.75, "b": 0.75, "c": 0.75}
    keys = {"always_a": "A", "b": "B", "c": "A"}
    plain = truth_posterior(keys, p, q=1.0)
    biased = {"always_a": {"A": 1.0, "B": 0.0}, "b": {"A": 0.5, "B": 0.5}, "c": {"A": 0.5, "B": 0.5}}
    assert plain["A"] == pytest.approx(0.75)  # two votes to one
    # right 0.75 of the time, it knows half the time (r = 0.5); its guesses are all A, so
    # its A is twice as likely where A is right, not three times
    assert truth_posterior(keys, p, q=1.0, shares=biased)["A"] == pytest.approx(2 / 3)
    at_chance = {**p, "always_a": 0.5}  # what it is learned to be: its A says nothing
    assert truth_posterior(keys, at_chance, q=1.0, shares=biased)["A"] == pytest.approx(0.5, abs=1e-3)
    # every share at 1/n is the symmetric model, where questions do not differ in difficulty
    even = {m: {"A": 0.5, "B": 0.5} for m in p}
    assert truth_posterior(keys, p, q=1.0, shares=even)["A"] == pytest.approx(plain["A"], abs=1e-6)
    out = Outcome(AgreementPlan("always_a", "b", "c"), {m: Answer(text=k) for m, k in keys.items()}, keys, "c")
    assert pseudo_labels(out, p, 1.0, shares=biased)["always_a"] < pseudo_labels(out, p, 1.0)["always_a"]


def test_two_models_leaning_to_the_same_letter_prove_less_when_they_agree_on_it():
    p = {"a": 0.7, "b": 0.7}
    lean = {"a": {"A": 0.8, "B": 0.2}, "b": {"A": 0.8, "B": 0.2}}
    assert truth_posterior({"a": "A", "b": "A"}, p, 1.0, shares=lean)["A"] < truth_posterior(
        {"a": "A", "b": "A"}, p, 1.0)["A"]
    # and more when they agree on the letter they seldom give
    assert truth_posterior({"a": "B", "b": "B"}, p, 1.0, shares=lean)["B"] > truth_posterior(
        {"a": "B", "b": "B"}, p, 1.0)["B"]


def test_engine_agree_learns_each_models_letters_and_keeps_them_across_a_restart(tmp_path):
    cfg = SLSConfig.from_dict({
        "candidates": [{"name": "c1", "price_in": 0.1, "price_out": 0.1, "quality_prior": 0.8},
                       {"name": "c2", "price_in": 0.1, "price_out": 0.1, "quality_prior": 0.8},
                       {"name": "big", "price_in": 10.0, "price_out": 30.0, "quality_prior": 0.97}],
        "agreement": {"willingness_to_pay_usd": 0.1}, "cache": {"enabled": False},
        "state": {"path": str(tmp_path / "state"), "autosave_every": 0}})
    eng = Engine(cfg)
    request = Request(messages=[{"role": "user", "content": QUESTION}], task="qa")
    result = eng.agree(request, call=lambda m, r: Answer(text={"c1": "A", "c2": "B", "big": "B"}[m],
                                                         input_tokens=100, output_tokens=1))
    counted = eng.answer_shares.shares("qa", ["c1", "big"], ("A", "B", "C", "D"))
    assert counted["c1"]["A"] > 0.25 and counted["big"]["B"] > 0.25 and result.calls == 3
    eng.close()
    again = Engine(cfg)
    assert again.answer_shares.shares("qa", ["c1", "big"], ("A", "B", "C", "D")) == counted
    again.close()


def test_guess_share_sd_is_checked():
    with pytest.raises(ConfigError, match="guess_share_sd"):
        SLSConfig.from_dict({"candidates": [{"name": "m", "price_in": 1.0, "price_out": 1.0}],
                             "agreement": {"guess_share_sd": 0.7}})
