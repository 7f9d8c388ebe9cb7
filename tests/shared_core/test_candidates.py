"""Answers from candidates: usage a provider reports is checked at the boundary."""

from __future__ import annotations

import logging
import math

import pytest

from shared_core import Answer, Engine, Request, SLSConfig
from shared_core.errors import NoCandidateError

POISON = [float("nan"), float("inf"), -1.0, -5, "12", True]


def config(**over) -> SLSConfig:
    return SLSConfig.from_dict({
        "candidates": [{"name": "m", "price_in": 1000.0, "price_out": 1000.0, "context_window": 4000,
                        "quality_prior": 0.5}], "seed": 0, **over})


def ask(text: str) -> Request:
    return Request(messages=[{"role": "user", "content": text}])


@pytest.mark.parametrize("field", ["input_tokens", "output_tokens", "cost_usd", "latency_s"])
@pytest.mark.parametrize("value", POISON)
def test_unusable_usage_is_dropped_with_a_warning_and_counted(caplog, field, value):
    cfg = config()
    answer = Answer("four words of text", **{field: value})
    with caplog.at_level(logging.WARNING, logger="sls.candidates"):
        answer.complete_usage(ask("hi"), cfg.candidate("m"), elapsed_s=0.25)
    assert f"candidate m reported {field}=" in caplog.text
    for name in ("input_tokens", "output_tokens", "cost_usd", "latency_s"):
        got = getattr(answer, name)
        assert not isinstance(got, bool) and math.isfinite(got) and got >= 0
    assert answer.latency_s == (0.25 if field == "latency_s" else answer.latency_s)


@pytest.mark.parametrize("cost", [float("nan"), -1.0, float("-inf")])
def test_poisoned_costs_cannot_break_the_run_budget(cost):
    eng = Engine(config(budget={"run_budget_usd": 1.0}))
    calls = 0

    def call(model, request):
        nonlocal calls
        calls += 1
        return Answer(f"answer {calls}", cost_usd=cost, latency_s=float("nan"))

    with pytest.raises(NoCandidateError, match="run budget"):
        for i in range(400):
            eng.run(ask(f"question {i} " + "word " * 40), call=call)
    assert math.isfinite(eng.spent_usd) and 0 < eng.spent_usd <= 1.0 + 0.2
    assert calls < 400
    assert eng.stats()["spent_usd"] == pytest.approx(eng.spent_usd)


# -- bad answers: empty, or not JSON under a JSON response format --

def two(**over) -> SLSConfig:
    return SLSConfig.from_dict({
        "candidates": [{"name": n, "price_in": p, "price_out": p, "context_window": 4000, "quality_prior": 0.5}
                       for n, p in (("cheap", 0.1), ("strong", 5.0))],
        "preferences": {"quality": 0.0, "cost": 1.0, "latency": 0.0}, "seed": 0, **over})


def replying(answers: dict[str, str]):
    calls = []

    def call(model, request):
        calls.append(model)
        return Answer(answers[model])
    return call, calls


@pytest.mark.parametrize("empty", ["", "   \n"])
def test_an_empty_answer_falls_back_and_is_never_cached(empty):
    eng = Engine(two())
    call, calls = replying({"cheap": empty, "strong": "a real answer"})
    result = eng.run(ask("what is up"), call=call)
    assert result.text == "a real answer" and result.attempts[0] == {"model": "cheap", "error": "empty answer"}
    assert eng.run(ask("what is up"), call=call).tier == "exact"  # the good answer is what got cached
    assert all(e.answer.strip() for e in eng.cache.entries.values())


def test_every_candidate_empty_is_no_candidate_error():
    call, _ = replying({"cheap": "", "strong": ""})
    with pytest.raises(NoCandidateError, match="empty answer"):
        Engine(two()).run(ask("anything"), call=call)


@pytest.mark.parametrize("kind", ["json_object", "json_schema"])
def test_a_non_json_answer_under_a_json_format_falls_back(kind):
    fmt = {"type": kind, "json_schema": {"name": "x", "schema": {"type": "object"}}}
    request = Request(messages=[{"role": "user", "content": "give json"}], response_format=fmt)
    call, calls = replying({"cheap": "Sure! Here it is: {oops", "strong": '```json\n{"a": 1}\n```'})
    result = Engine(two(candidates=[
        {"name": n, "price_in": p, "price_out": p, "context_window": 4000, "quality_prior": 0.5,
         "capabilities": ["structured_output"]} for n, p in (("cheap", 0.1), ("strong", 5.0))])).run(request,
                                                                                                     call=call)
    assert calls == ["cheap", "strong"] and result.text == '```json\n{"a": 1}\n```'
    assert "not JSON" in result.attempts[0]["error"]


def test_a_tool_call_turn_with_no_text_is_fine():
    assert Answer("", extra={"tool_calls": [{"name": "f"}]}).problem(ask("x")) is None
