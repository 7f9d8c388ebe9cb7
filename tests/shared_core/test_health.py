"""Candidate health: half-open cooldowns and retries of transient provider errors."""

from __future__ import annotations

import asyncio
import random

import pytest

from shared_core import Answer, Engine, Request, SLSConfig
from shared_core.errors import NoCandidateError
from shared_core.health import Health, RetryPolicy, is_retryable, retry_after_s

NO_WAIT = RetryPolicy(attempts=3, initial_s=0.0, max_s=0.0)


class ProviderError(Exception):
    """What an SDK raises: an HTTP status and the response headers."""

    def __init__(self, status: int, headers: dict | None = None):
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.headers = headers or {}


def config(names=("a", "b", "c"), cooldown_s=30.0) -> SLSConfig:
    return SLSConfig.from_dict({
        "candidates": [{"name": n, "price_in": 1.0 + i, "price_out": 1.0 + i, "context_window": 4000,
                        "quality_prior": 0.5} for i, n in enumerate(names)],
        "fallback": {"cooldown_s": cooldown_s}, "seed": 0})


def ask(text: str) -> Request:
    return Request(messages=[{"role": "user", "content": text}])


def test_when_every_candidate_is_cooling_the_least_recently_failed_is_tried():
    eng, calls = Engine(config(), retry=NO_WAIT), []

    def call(model, request):
        calls.append(model)
        if len(calls) <= 3:
            raise RuntimeError(f"{model} broke")  # not retryable: each fails once and cools
        return Answer(f"{model} ok")

    with pytest.raises(NoCandidateError):
        eng.run(ask("first"), call=call)
    assert set(eng.cooling()) == {"a", "b", "c"}
    first_failed = calls[0]
    result = eng.run(ask("second"), call=call)  # half-open: not refused
    assert result.model == first_failed and calls[3:] == [first_failed]
    assert first_failed not in eng.cooling()  # an answer closes its circuit


def test_health_probes_in_failure_order():
    health = Health(cooldown_s=30.0)
    for name in ("b", "a", "c"):
        health.failed(name, "boom")
    assert set(health.exclusions(["a", "b", "c"])) == {"a", "c"}
    assert health.exclusions(["a"]) == {}
    health.failed("b", "again")
    assert set(health.exclusions(["a", "b", "c"])) == {"b", "c"}
    health.succeeded("a")
    assert set(health.exclusions(["a", "b", "c"])) == {"b", "c"}


@pytest.mark.parametrize("mode", ["run", "arun"])
def test_a_503_is_retried_on_the_same_candidate(mode):
    eng, calls = Engine(config(("a",)), retry=NO_WAIT), []

    def call(model, request):
        calls.append(model)
        if len(calls) < 3:
            raise ProviderError(503)
        return Answer("fine")

    async def acall(model, request):
        return call(model, request)

    result = eng.run(ask("q"), call=call) if mode == "run" else asyncio.run(eng.arun(ask("q"), acall=acall))
    assert result.text == "fine" and calls == ["a", "a", "a"] and result.attempts == []
    assert eng.cooling() == {}


def test_a_400_is_not_retried_and_a_long_retry_after_falls_back():
    eng, calls = Engine(config(("a", "b")), retry=NO_WAIT), []

    def call(model, request):
        calls.append(model)
        if model == calls[0]:
            raise ProviderError(400) if len(calls) == 1 else ProviderError(429, {"retry-after": "120"})
        return Answer("ok")

    assert eng.run(ask("one"), call=call).model != calls[0]
    assert calls.count(calls[0]) == 1  # a 400 is the caller's fault: no retry


def test_retry_after_is_read_and_bounds_the_cooldown():
    assert retry_after_s(ProviderError(429, {"retry-after": "7"})) == 7.0
    assert retry_after_s(ProviderError(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after_s(ProviderError(429, {"retry-after": "soon"})) is None
    assert retry_after_s(ProviderError(429, {"retry-after": "nan"})) is None
    assert is_retryable(ProviderError(429)) and is_retryable(ProviderError(502)) and is_retryable(TimeoutError())
    assert not is_retryable(ProviderError(401)) and not is_retryable(ValueError("bad"))
    health = Health(cooldown_s=0.0)
    health.failed("a", "429", ProviderError(429, {"retry-after": "120"}))
    assert "a" in health.cooling()  # cooled as long as the provider asked, not cooldown_s


def flaky_engine(failing: dict[str, float], seed: int, **kw) -> tuple[Engine, callable]:
    rng = random.Random(seed)
    eng = Engine(config(tuple(failing)), **kw)

    def call(model, request):
        if rng.random() < failing[model]:
            raise ProviderError(503)
        return Answer(f"{model}: {request.query}")
    return eng, call


def answered(eng: Engine, call, n: int) -> int:
    served = 0
    for i in range(n):
        try:
            eng.run(ask(f"question {i}"), call=call)
            served += 1
        except NoCandidateError:
            pass
    return served


def test_two_of_three_failing_half_the_time_every_request_is_answered():
    eng, call = flaky_engine({"a": 0.5, "b": 0.5, "c": 0.0}, seed=1, retry=RetryPolicy(attempts=1))
    assert answered(eng, call, 100) == 100


def test_all_three_failing_half_the_time_nearly_every_request_is_answered():
    # before half-open cooldowns one error per candidate refused everything for 30 s (under 1% answered);
    # now each request tries all three, cooling or not: 1 - 0.5**3 expected without retries
    eng, call = flaky_engine({"a": 0.5, "b": 0.5, "c": 0.5}, seed=2, retry=RetryPolicy(attempts=1))
    assert answered(eng, call, 100) >= 75
    eng, call = flaky_engine({"a": 0.5, "b": 0.5, "c": 0.5}, seed=2, retry=NO_WAIT)
    assert answered(eng, call, 100) >= 95
