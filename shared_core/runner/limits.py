"""What a provider allows one candidate: calls in flight, requests and tokens
per minute. `Gate.hold(tokens)` waits until a call fits all three."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..config import CandidateLimits


class PerMinute:
    """A token bucket that refills `rate` units a minute and holds a minute's
    worth at most; waiters are served in arrival order. A call larger than the
    bucket waits for a full bucket, then takes it (it could never fit)."""

    def __init__(self, rate: float, clock=time.monotonic, sleep=asyncio.sleep):
        self.rate = float(rate)
        self.level = float(rate)
        self.clock = clock
        self.sleep = sleep
        self.stamp = clock()
        self._turn = asyncio.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.rate, self.level + (now - self.stamp) * self.rate / 60.0)
        self.stamp = now

    async def take(self, amount: float) -> None:
        amount = min(float(amount), self.rate)
        async with self._turn:
            self._refill()
            while self.level < amount:
                await self.sleep((amount - self.level) * 60.0 / self.rate)
                self._refill()
            self.level -= amount

    def give_back(self, amount: float) -> None:
        """Correct an estimate: negative `amount` charges more than was taken."""
        self._refill()
        self.level = min(self.rate, self.level + amount)


class Gate:
    def __init__(self, limits: CandidateLimits):
        self.slots = asyncio.Semaphore(limits.concurrency) if limits.concurrency else None
        self.requests = PerMinute(limits.requests_per_minute) if limits.requests_per_minute else None
        self.tokens = PerMinute(limits.tokens_per_minute) if limits.tokens_per_minute else None
        self.in_flight = 0
        self.peak = 0  # most calls in flight at once: what the concurrency limit is checked by

    @asynccontextmanager
    async def hold(self, tokens: int) -> AsyncIterator[None]:
        if self.slots is not None:
            await self.slots.acquire()
        try:
            if self.requests is not None:
                await self.requests.take(1)
            if self.tokens is not None:
                await self.tokens.take(tokens)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1
        finally:
            if self.slots is not None:
                self.slots.release()

    def used_tokens(self, estimated: int, actual: int) -> None:
        if self.tokens is not None:
            self.tokens.give_back(estimated - actual)
