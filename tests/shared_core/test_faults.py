"""Provider faults end to end: timeouts, streams that drop before and after the
first chunk, malformed answers, with a healthy candidate to fall back to."""

from __future__ import annotations

import pytest

from shared_core import Answer, Engine, Request, SLSConfig
from shared_core.health import RetryPolicy

NO_WAIT = RetryPolicy(attempts=2, initial_s=0.0, max_s=0.0)


def engine() -> Engine:
    return Engine(SLSConfig.from_dict({
        "candidates": [{"name": n, "price_in": p, "price_out": p, "context_window": 4000, "quality_prior": 0.5}
                       for n, p in (("flaky", 0.1), ("steady", 2.0))],
        "preferences": {"quality": 0.0, "cost": 1.0, "latency": 0.0}, "seed": 0}), retry=NO_WAIT)


def ask(text="hello") -> Request:
    return Request(messages=[{"role": "user", "content": text}])


@pytest.mark.parametrize("fault", [TimeoutError("read timed out"), ConnectionResetError("reset by peer"),
                                   ValueError("malformed response body")])
def test_a_faulty_call_falls_back_to_the_healthy_candidate(fault):
    calls = []

    def call(model, request):
        calls.append(model)
        if model == "flaky":
            raise fault
        return Answer("steady answer")

    result = engine().run(ask(), call=call)
    assert result.model == "steady" and result.attempts[0]["model"] == "flaky"
    retried = 2 if not isinstance(fault, ValueError) else 1  # a malformed body is not worth a retry
    assert calls == ["flaky"] * retried + ["steady"]


def stream_of(chunks_before_fault: int):
    def open_stream(model, request):
        if model == "steady":
            yield from ["steady ", "answer"]
            return
        for i in range(chunks_before_fault):
            yield f"part{i} "
        raise ConnectionResetError("stream dropped")
    return open_stream


def test_a_stream_dropping_before_its_first_chunk_falls_back():
    events = list(engine().stream(ask(), open_stream=stream_of(0)))
    assert "".join(e.chunk for e in events if e.kind == "chunk") == "steady answer"
    assert events[-1].result.attempts[0]["model"] == "flaky"


def test_a_stream_dropping_after_its_first_chunk_raises():
    eng = engine()
    seen = []
    with pytest.raises(ConnectionResetError, match="stream dropped"):
        for event in eng.stream(ask(), open_stream=stream_of(1)):
            seen.append(event.chunk)
    assert seen == ["part0 "]  # shown already: switching models now would splice two answers
    assert len(eng.cache) == 0
