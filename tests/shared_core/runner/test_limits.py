"""Per-minute buckets, on a clock the test moves (no wall-clock assertions)."""

from __future__ import annotations

import asyncio

from shared_core.config import CandidateLimits
from shared_core.runner.limits import Gate, PerMinute


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def test_requests_per_minute_spreads_calls_past_the_first_minute():
    t = FakeTime()
    bucket = PerMinute(60, clock=t.clock, sleep=t.sleep)

    async def go():
        for _ in range(120):
            await bucket.take(1)

    asyncio.run(go())
    # a full bucket serves the first 60 at once, then one a second
    assert 59.0 <= t.now <= 61.0


def test_tokens_per_minute_waits_for_the_tokens_a_call_needs_and_corrections_count():
    t = FakeTime()
    bucket = PerMinute(1000, clock=t.clock, sleep=t.sleep)

    async def go():
        await bucket.take(800)
        bucket.give_back(-400)  # the call used 400 tokens more than estimated
        await bucket.take(500)  # needs 700 more: 42 s of refill at 1000/min

    asyncio.run(go())
    assert 41.0 <= t.now <= 43.0


def test_a_call_larger_than_the_bucket_waits_for_a_full_bucket_instead_of_forever():
    t = FakeTime()
    bucket = PerMinute(100, clock=t.clock, sleep=t.sleep)

    async def go():
        await bucket.take(50)
        await bucket.take(10_000)

    asyncio.run(go())
    assert 29.0 <= t.now <= 31.0


def test_gate_keeps_calls_in_flight_to_its_concurrency():
    gate = Gate(CandidateLimits(concurrency=3))

    async def call():
        async with gate.hold(10):
            await asyncio.sleep(0.001)

    async def go():
        await asyncio.gather(*(call() for _ in range(30)))

    asyncio.run(go())
    assert gate.peak == 3 and gate.in_flight == 0
