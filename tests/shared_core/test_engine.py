"""The engine end to end, with simulated candidates standing in for providers."""

from __future__ import annotations

import asyncio

import pytest

from shared_core import Answer, Engine, Request, SimulatedCandidate, SLSConfig
from shared_core.errors import NoCandidateError, RequestError, UnknownModelError
from shared_core.health import RetryPolicy
from shared_core.verifiers import Verifier


def config(**over) -> SLSConfig:
    data = {
        "candidates": [
            {"name": "cheap", "price_in": 0.1, "price_out": 0.1, "context_window": 1000, "quality_prior": 0.5},
            {"name": "strong", "price_in": 5.0, "price_out": 15.0, "context_window": 4000, "quality_prior": 0.5},
        ],
        "seed": 1,
    }
    data.update(over)
    return SLSConfig.from_dict(data)


def echo(prefix):
    return lambda request, rng: f"{prefix}: {request.query}"


def engine(cfg=None, fail=(), **kw) -> Engine:
    cfg = cfg or config()
    cands = [SimulatedCandidate(cfg.candidate(n), echo(n), fail_rate=1.0 if n in fail else 0.0)
             for n in ("cheap", "strong")]
    return Engine(cfg, cands, **kw)


def ask(text, **kw) -> Request:
    return Request(messages=[{"role": "user", "content": text}], **kw)


def test_answer_is_cached_and_an_exact_repeat_costs_nothing():
    eng = engine()
    first = eng.run(ask("what is 2+2"))
    assert first.tier is None and first.cost_usd > 0 and first.decision is not None
    again = eng.run(ask("what   is 2+2"))  # white space does not change the request
    assert again.tier == "exact" and again.cost_usd == 0 and again.text == first.text
    meta = again.metadata()
    assert meta["sls_cache_tier"] == "exact" and meta["sls_model"] == first.model


def test_an_exact_repeat_is_served_before_encoding_or_token_counting():
    from shared_core.encoders import HashingEncoder

    class CountingEncoder(HashingEncoder):  # the real encoder, counting its calls
        calls = 0

        def encode(self, texts):
            CountingEncoder.calls += 1
            return super().encode(texts)

    eng = engine(encoder=CountingEncoder())
    first = eng.run(ask("what is 3+3"))
    assert first.tier is None and CountingEncoder.calls == 1
    eng.feedback(first.request_id, 1.0)
    plan = eng.plan(ask("what is 3+3"))
    assert plan.hit is not None and plan.hit.tier == "exact" and CountingEncoder.calls == 1
    assert plan.vector is None and plan.input_tokens == 0 and plan.decision is None


def test_provider_error_falls_back_and_cools_the_model_down():
    cfg = config(preferences={"quality": 1.0, "cost": 0.0, "latency": 0.0})
    eng = engine(cfg, fail=("cheap", "strong"))
    eng.candidates["strong"].fail_rate = 0.0
    for i in range(5):  # whichever is ranked first, the answer comes from the healthy one
        result = eng.run(ask(f"question {i}"))
        assert result.model == "strong"
    assert "cheap" in eng.cooling()
    assert any(a["model"] == "cheap" and "ConnectionError" in a["error"] for a in
               eng.run(ask("one more")).attempts) or "cheap" in eng.cooling()


def test_no_candidate_error_names_every_reason():
    eng = engine()
    with pytest.raises(NoCandidateError) as err:
        eng.run(ask("word " * 5000))
    assert set(err.value.reasons) == {"cheap", "strong"}
    assert all("context window" in why for why in err.value.reasons.values())
    assert "context window" in str(err.value)


def test_all_candidates_failing_raises_with_their_errors():
    eng = engine(fail=("cheap", "strong"))
    with pytest.raises(NoCandidateError) as err:
        eng.run(ask("hello"))
    assert all("simulated provider error" in why for why in err.value.reasons.values())


def test_run_budget_excludes_candidates_once_spent():
    eng = engine(config(budget={"run_budget_usd": 0.01}))
    with pytest.raises(NoCandidateError) as err:
        for i in range(200):
            eng.run(ask(f"another question {i}", candidates=["strong"]))
    assert "run budget" in err.value.reasons["strong"]
    assert 0.0 < eng.spent_usd <= 0.01


def test_request_errors_are_clear():
    with pytest.raises(RequestError, match="empty messages"):
        ask("")
    with pytest.raises(UnknownModelError, match="unknown model 'gpt-9'"):
        engine().run(ask("hi", candidates=["gpt-9"]))


def test_capability_requirement_routes_only_to_capable_models():
    cfg = config()
    cfg.candidates[1].capabilities = ["tools", "streaming"]
    eng = engine(cfg)
    result = eng.run(ask("call a tool", tools=[{"name": "f", "parameters": {}}]))
    assert result.model == "strong"
    assert "lacks capability tools" in result.decision.excluded["cheap"]


def test_learns_which_model_is_right():
    cfg = config(preferences={"quality": 1.0, "cost": 0.1, "latency": 0.0})
    eng = engine(cfg)
    picks = []
    for i in range(120):
        result = eng.run(ask(f"translate sentence number {i} to French"))
        eng.feedback(result.request_id, 1.0 if result.model == "strong" else 0.0)
        picks.append(result.model)
    assert picks[-30:].count("strong") >= 25


def test_stream_falls_back_before_the_first_chunk_and_caches_the_answer():
    eng = engine()
    calls = []

    def open_stream(model, request):
        calls.append(model)
        if len(calls) == 1:
            raise TimeoutError("no first byte")
        yield from ["Hello", ", ", "world"]

    events = list(eng.stream(ask("greet me"), open_stream=open_stream))
    chunks = [e.chunk for e in events if e.kind == "chunk"]
    done = events[-1]
    assert chunks == ["Hello", ", ", "world"] and done.kind == "done"
    assert done.result.text == "Hello, world" and len(calls) == 2
    assert done.result.attempts[0]["error"].startswith("TimeoutError")
    cached = list(eng.stream(ask("greet me"), open_stream=open_stream))
    assert len(cached) == 1 and cached[0].result.tier == "exact" and cached[0].result.text == "Hello, world"


def test_stream_error_after_output_propagates():
    eng = engine()

    def open_stream(model, request):
        yield "partial"
        raise ConnectionError("dropped")

    seen = []
    with pytest.raises(ConnectionError):
        for event in eng.stream(ask("tell a story"), open_stream=open_stream):
            seen.append(event)
    assert [e.chunk for e in seen] == ["partial"]


def test_async_run_and_stream():
    eng = engine()

    async def go():
        result = await eng.arun(ask("async question"))
        events = [e async for e in eng.astream(ask("async stream question"))]
        return result, events

    result, events = asyncio.run(go())
    assert result.text.endswith("async question")
    assert "".join(e.chunk for e in events if e.kind == "chunk").endswith("async stream question")
    assert events[-1].result.model in ("cheap", "strong")


class RejectCheap(Verifier):
    name = "reject-cheap"

    def verify(self, request, answer):
        return 0.0 if answer.startswith("cheap") else 1.0


def test_cascade_moves_on_when_the_verifier_rejects():
    cfg = config(preferences={"quality": 1.0, "cost": 0.9, "latency": 0.0})
    eng = engine(cfg, verifiers=[RejectCheap()])
    result = eng.run(ask("a question"), cascade=True)
    assert result.model == "strong"
    if result.attempts:  # cheap was tried first: its cost is billed too
        assert "rejected by verifier" in result.attempts[0]["error"]
        assert result.cost_usd > result.answer.cost_usd


class RejectAll(Verifier):
    name = "reject-all"

    def verify(self, request, answer):
        return 0.2 if answer.startswith("strong") else 0.1


def test_cascade_with_every_answer_rejected_returns_the_best_and_bills_all():
    eng = engine(verifiers=[RejectAll()])
    result = eng.run(ask("a hard question"), cascade=True)
    assert result.model == "strong" and result.verified == pytest.approx(0.2)
    assert len(result.attempts) == 2 and all("rejected" in a["error"] for a in result.attempts)
    assert result.cost_usd == pytest.approx(eng.spent_usd)
    assert eng.run(ask("a hard question"), cascade=True).tier is None  # not cached


def test_verifiers_from_yaml_give_feedback_without_labels():
    cfg = config(verifiers=[{"type": "log_template", "tasks": ["logparsing"]}])
    cands = [SimulatedCandidate(cfg.candidate(n), lambda r, rng: "`User {name} logged in`") for n in ("cheap", "strong")]
    eng = Engine(cfg, cands)
    result = eng.run(ask("User alice logged in", task="logparsing"))
    assert result.verified == 1.0 and eng.updater.events == 1
    reused = eng.run(ask("User bob logged in", task="logparsing"))
    assert reused.tier == "reuse" and reused.text == "User <*> logged in"


@pytest.mark.parametrize("backend", ["local", "sqlite"])
def test_restart_resumes_from_persisted_state(tmp_path, backend):
    cfg = config(state={"path": str(tmp_path / "state"), "backend": backend, "autosave_every": 0})
    eng = engine(cfg)
    ids = []
    for i in range(20):
        result = eng.run(ask(f"question {i}"))
        eng.feedback(result.request_id, 1.0 if result.model == "strong" else 0.0)
        ids.append(result.request_id)
    late = eng.run(ask("answered before the restart, judged after"))
    spent = eng.spent_usd
    stats = dict(eng.predictor.stats)
    eng.close()

    cfg2 = config(state={"path": str(tmp_path / "state"), "backend": backend})
    again = engine(cfg2)
    assert again.spent_usd == pytest.approx(spent)
    # the task's traffic (the exploration horizon) and what exploration spent carry over
    assert again.scheduler.seen == {"default": 21} and again.scheduler.decisions == eng.scheduler.decisions
    assert again.scheduler.exploration_spent == pytest.approx(eng.scheduler.exploration_spent)
    for key, st in stats.items():
        assert again.predictor.stats[key].good == pytest.approx(st.good)
    assert again.run(ask("question 3")).tier == "exact"
    assert again.feedback(late.request_id, 1.0) is True
    assert again.feedback("no-such-request", 1.0) is False


def test_answers_with_explicit_usage_are_billed_as_given():
    eng = engine()
    result = eng.run(ask("billing"), call=lambda model, req: Answer("ok", input_tokens=10, output_tokens=5, cost_usd=0.5))
    assert result.cost_usd == 0.5 and eng.spent_usd == pytest.approx(0.5)


# -- the tool-loop pin ----------------------------------------------------------------------------
TOOL = {"type": "function", "function": {"name": "multiply", "parameters": {}}}


def tool_engine() -> Engine:
    """`plain` looks best but cannot call tools; `fast-tools` beats `asker` on utility."""
    cfg = config(candidates=[
        {"name": "plain", "price_in": 0.01, "price_out": 0.01, "context_window": 4000, "quality_prior": 0.99},
        {"name": "fast-tools", "price_in": 0.1, "price_out": 0.4, "context_window": 4000, "quality_prior": 0.9,
         "capabilities": ["tools"]},
        {"name": "asker", "price_in": 5.0, "price_out": 15.0, "context_window": 4000, "quality_prior": 0.2,
         "capabilities": ["tools"]},
    ])
    # fallback order is under test here, not retries (tests/shared_core/test_health.py)
    return Engine(cfg, [SimulatedCandidate(c, echo(c.name)) for c in cfg.candidates], retry=RetryPolicy(attempts=1))


def tool_result_turn(text="6 times 7?") -> Request:
    return ask(text, tools=[TOOL], pinned_model="asker")


def calling(log, failing=()):
    def call(model, request):
        log.append(model)
        if model in failing:
            raise ConnectionError(f"{model} is down")
        return Answer(f"{model}: 42")
    return call


def test_healthy_pinned_model_serves_the_tool_loop_over_a_better_one():
    result = tool_engine().run(tool_result_turn())
    assert result.model == "asker" and result.attempts == []
    d = result.decision
    assert d.ranking == ["asker", "fast-tools"] and d.utilities["fast-tools"] > d.utilities["asker"]
    assert d.excluded == {"plain": "lacks capability tools"} and d.reason.startswith("tool loop pinned to asker; ")


@pytest.mark.parametrize("mode", ["run", "arun", "stream"])
def test_pinned_model_raising_falls_back_to_another_tool_model(mode):
    eng, log = tool_engine(), []
    call = calling(log, failing={"asker"})
    if mode == "run":
        result = eng.run(tool_result_turn(), call=call)
    elif mode == "arun":
        async def acall(model, request):
            return call(model, request)
        result = asyncio.run(eng.arun(tool_result_turn(), acall=acall))
    else:
        result = list(eng.stream(tool_result_turn(), open_stream=lambda m, r: iter([call(m, r).text])))[-1].result
    assert log == ["asker", "fast-tools"]  # plain cannot call tools: never tried
    assert result.model == "fast-tools" and result.text == "fast-tools: 42"
    assert result.attempts == [{"model": "asker", "error": "ConnectionError: asker is down"}]


def test_pinned_model_cooling_down_hands_the_loop_to_another_tool_model():
    eng, log = tool_engine(), []
    eng.run(tool_result_turn("first"), call=calling(log, failing={"asker"}))
    assert "asker" in eng.cooling()
    result = eng.run(tool_result_turn("second"), call=calling(log))
    assert log[2:] == ["fast-tools"] and result.model == "fast-tools" and result.attempts == []
    d = result.decision
    assert d.excluded["asker"] == "cooling down after error: ConnectionError: asker is down"
    assert d.reason.startswith("tool loop pinned to asker could not be honoured (cooling down after error: ")


def test_unknown_pinned_model_is_a_clear_error():
    with pytest.raises(UnknownModelError, match="unknown model 'gpt-9'"):
        tool_engine().run(ask("hi", pinned_model="gpt-9"))
