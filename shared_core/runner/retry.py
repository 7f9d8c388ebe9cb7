"""Retries of one candidate call that a provider refused for now (429, 5xx,
connection and timeout errors), with exponential backoff and jitter by tenacity.
Anything else (a 400, a bad key) is raised at once: the engine falls back.

Where the engine retries calls itself (`Engine.retry`, a `health.RetryPolicy`),
`sls run` hands it the `run:` settings instead and does not retry a second time
(`engine_policy`); these helpers serve an engine without one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from ..config import RunConfig

T = TypeVar("T")
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
# what provider SDKs name these errors when they carry no status code
RETRYABLE_NAMES = ("RateLimit", "Timeout", "APIConnectionError", "ServiceUnavailable", "Overloaded",
                   "InternalServerError")


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an SDK error carries (openai, anthropic, httpx, requests)."""
    for obj in (exc, getattr(exc, "response", None)):
        for attr in ("status_code", "status", "http_status"):
            value = getattr(obj, attr, None)
            if isinstance(value, int):
                return value
    return None


def is_retryable(exc: BaseException) -> bool:
    status = status_of(exc)
    if status is not None:
        return status in RETRYABLE_STATUS
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return any(name in type(exc).__name__ for name in RETRYABLE_NAMES)


def engine_policy(engine: Any, run: RunConfig) -> bool:
    """Give the engine's own retry policy the `run:` settings; False if it has none."""
    if getattr(engine, "retry", None) is None:
        return False
    from ..health import RetryPolicy

    engine.retry = RetryPolicy(attempts=run.max_retries + 1, initial_s=run.backoff_initial_s,
                               max_s=run.backoff_max_s)
    return True


async def call_with_retries(call: Callable[[], Awaitable[T]], run: RunConfig,
                            on_retry: Callable[[BaseException], Any] | None = None) -> T:
    """`await call()`, again after a backoff while it raises a retryable error,
    `run.max_retries` times at most; the last error is raised as it was."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(run.max_retries + 1),
        wait=wait_random_exponential(multiplier=run.backoff_initial_s, max=run.backoff_max_s),
        retry=retry_if_exception(is_retryable),
        before_sleep=(lambda state: on_retry(state.outcome.exception())) if on_retry else None,
        reraise=True,
    )
    return await retrying(call)
