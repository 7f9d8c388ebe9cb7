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
    with caplog.at_level(logging.WARNING, logger="shared_core.candidates"):
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
