"""Candidate health: a circuit breaker per model and retries of transient errors.

A model that raised is cooled down for `cooldown_s` (its circuit is open) and
the scheduler skips it. One error must not black out the router, so when
every candidate of a request is cooling, the one that failed longest ago is
tried anyway (half-open), and when the ranked candidates of a request fail, the
cooling ones are tried after them; an answer closes its circuit at once.

Before a failure counts, the call is retried where the provider says that a
retry can succeed (429, 5xx, timeouts, dropped connections), with exponential
backoff and jitter (tenacity). A `Retry-After` longer than the policy's
longest wait is not slept through: the engine falls back to the next model
and keeps this one cooling at least that long.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity import wait_random_exponential

T = TypeVar("T")
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
# what provider SDKs call these errors when they carry no status code
RETRYABLE_NAMES = ("RateLimit", "Timeout", "APIConnectionError", "ServiceUnavailable", "Overloaded",
                   "InternalServerError")


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an SDK error carries (openai, anthropic, httpx, requests)."""
    for obj in (exc, getattr(exc, "response", None)):
        for attr in ("status_code", "status", "http_status"):
            value = getattr(obj, attr, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds the provider asked to wait (`Retry-After`: seconds or an HTTP date)."""
    headers = getattr(exc, "headers", None) or getattr(getattr(exc, "response", None), "headers", None)
    value = getattr(exc, "retry_after", None)
    if value is None and headers is not None:
        try:
            value = headers.get("retry-after") or headers.get("Retry-After")
        except Exception:  # headers of an unknown shape: no advice
            return None
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        try:
            seconds = email.utils.parsedate_to_datetime(str(value)).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    return max(seconds, 0.0) if seconds == seconds and seconds != float("inf") else None


def is_retryable(exc: BaseException) -> bool:
    status = status_of(exc)
    if status is not None:
        return status in RETRYABLE_STATUS
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return any(name in type(exc).__name__ for name in RETRYABLE_NAMES)


@dataclass
class RetryPolicy:
    """Tries of one candidate call (the first included) before it counts as failed.
    Provider SDKs often retry on their own as well, so one retry is the default."""

    attempts: int = 2
    initial_s: float = 0.25
    max_s: float = 4.0

    def _should_retry(self, exc: BaseException) -> bool:
        after = retry_after_s(exc)
        return is_retryable(exc) and (after is None or after <= self.max_s)

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=self.initial_s, max=self.max_s)(state)
        after = retry_after_s(state.outcome.exception()) if state.outcome else None
        return max(backoff, after or 0.0)

    def _kwargs(self) -> dict:
        return {"stop": stop_after_attempt(max(self.attempts, 1)), "wait": self._wait,
                "retry": retry_if_exception(self._should_retry), "reraise": True}

    def call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()  # most calls succeed: they skip the retry machinery (~100 us a call)
        except Exception as exc:
            if self.attempts <= 1 or not self._should_retry(exc):
                raise
            first = exc
        return Retrying(**self._kwargs())(_replaying(first, fn))

    async def acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except Exception as exc:
            if self.attempts <= 1 or not self._should_retry(exc):
                raise
            first = exc
        replayed = False

        async def attempt() -> T:  # as _replaying, a coroutine function for tenacity
            nonlocal replayed
            if not replayed:
                replayed = True
                raise first
            return await fn()

        return await AsyncRetrying(**self._kwargs())(attempt)


def _replaying(first: Exception, fn: Callable[[], T]) -> Callable[[], T]:
    """`fn`, whose first try is the one already made: it raises `first` again, so
    that the retries wait and stop as if tenacity had made it."""
    replayed = False

    def attempt() -> T:
        nonlocal replayed
        if not replayed:
            replayed = True
            raise first
        return fn()

    return attempt


class Health:
    """Which models are cooling down after an error, and until when."""

    def __init__(self, cooldown_s: float):
        self.cooldown_s = cooldown_s
        self._open: dict[str, tuple[float, float, str]] = {}  # model -> (failed at, cooling until, why)
        self._lock = threading.Lock()

    def failed(self, model: str, why: str, exc: BaseException | None = None) -> None:
        now = time.monotonic()
        cool = max(self.cooldown_s, (retry_after_s(exc) or 0.0) if exc is not None else 0.0)
        with self._lock:
            self._open[model] = (now, now + cool, why)

    def succeeded(self, model: str) -> None:
        with self._lock:
            self._open.pop(model, None)

    def cooling(self) -> dict[str, str]:
        if not self._open:  # the usual case, asked on every request: no clock, no lock
            return {}
        now = time.monotonic()
        with self._lock:
            return {m: why for m, (_, until, why) in self._open.items() if until > now}

    def probe_order(self, excluded: dict[str, str]) -> list[str]:
        """Models `excluded` only because they are cooling, the longest-failed first:
        tried (half-open) when the ranked ones have failed too."""
        if not excluded:
            return []
        cooling = self.cooling()
        names = [m for m, why in excluded.items() if m in cooling and why.endswith(cooling[m])]
        with self._lock:
            return sorted(names, key=lambda m: self._open[m][0] if m in self._open else float("-inf"))

    def exclusions(self, names: list[str]) -> dict[str, str]:
        """The cooling models among `names`, less the half-open one when that is all of them."""
        cooling = {n: why for n, why in self.cooling().items() if n in names}
        if cooling and len(cooling) == len(set(names)):  # (none cooling, the usual case: no set built)
            with self._lock:
                probe = min(names, key=lambda n: self._open[n][0] if n in self._open else float("-inf"))
            cooling.pop(probe, None)
        return cooling
