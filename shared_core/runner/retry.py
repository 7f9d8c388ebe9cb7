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
from ..health import is_retryable  # one rule of what a retry can fix, the engine's

__all__ = ["call_with_retries", "engine_policy", "is_retryable"]

T = TypeVar("T")


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
