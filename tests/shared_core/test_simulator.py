"""The simulator core: rules, tools, modelled usage and scripted failures."""

from __future__ import annotations

import pytest

from shared_core.config import CandidateConfig, LatencyHint
from shared_core.request import Request
from shared_core.simulator import (
    Failures,
    SimulatedCandidate,
    SimulatedRateLimitError,
    choose_tool_calls,
    keyword_answer,
    modelled_answer,
)

CFG = CandidateConfig(name="sim", price_in=1.0, price_out=2.0, latency=LatencyHint(ttft_s=0.5, tokens_per_s=10))
ASK = Request(messages=[{"role": "user", "content": "What is the capital of France?"}])


def test_keyword_rules_then_the_default():
    rules = {"CAPITAL": "Paris ({model})."}
    assert keyword_answer(rules, "[{model}] {query}", "m", "the capital?") == "Paris (m)."
    assert keyword_answer(rules, "[{model}] {query}", "m", "else") == "[m] else"


def test_tool_rules_keywords_and_forced_choice():
    schemas = {"lookup": {"properties": {"city": {"type": "string"}}}, "add": {"properties": {}}}
    rules = [{"name": "lookup", "when": "weather", "args": {"city": "Oslo"}}]
    assert choose_tool_calls(rules, schemas, None, "weather?") == [{"name": "lookup", "args": {"city": "Oslo"}}]
    assert choose_tool_calls(rules, schemas, None, "nothing") == []
    assert choose_tool_calls(rules, schemas, "add", "weather?") == [{"name": "add", "args": {}}]
    assert choose_tool_calls(rules, schemas, "required", "x") == [{"name": "lookup", "args": {"city": "simulated"}}]
    assert choose_tool_calls(rules, {}, "required", "weather?") == []


def test_scripted_failures_first_calls_and_mid_stream():
    failures = Failures(first=2, after_chunks=1, error="rate_limit")
    for _ in range(2):
        with pytest.raises(SimulatedRateLimitError, match="simulated 429 rate limit from m"):
            failures.on_call("m")
    failures.on_call("m")
    failures.on_chunk(0, "m")
    with pytest.raises(SimulatedRateLimitError):
        failures.on_chunk(1, "m")
    with pytest.raises(ValueError, match="unknown simulated error 'boom'; known: rate_limit, server"):
        Failures(error="boom")


def test_candidate_fails_a_seeded_share_and_models_its_latency():
    def outcomes(seed):
        cand = SimulatedCandidate(CFG, lambda r, rng: "Paris.", fail_rate=0.5, seed=seed)
        out = []
        for _ in range(40):
            try:
                out.append(cand.invoke(ASK).text)
            except ConnectionError as exc:
                out.append(str(exc))
        return out, cand.calls

    first, calls = outcomes(3)
    assert first == outcomes(3)[0] and calls == 40  # the same seed fails the same calls
    assert 5 < first.count("simulated provider error from sim") < 35
    answer = modelled_answer(CFG, ASK.messages, "Paris is the capital.")
    assert answer.output_tokens == 5 and answer.latency_s == pytest.approx(0.5 + 5 / 10)
