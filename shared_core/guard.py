"""`timeout` and `max_retries` of both adapters' SmartRouterLLM, applied to every
candidate call that is not a stream (LangChain invoke/ainvoke/batch, LlamaIndex
chat/complete and their async forms): a call that takes longer than `timeout` seconds counts
as failed (TimeoutError) and the router falls back to the next candidate; a
429, 5xx, timeout or dropped connection is first retried `max_retries` times
with jittered exponential backoff. Where the engine retries calls itself
(`Engine.retry`), its policy takes `max_retries` and no second layer is added.

A sync call past its timeout is abandoned, not killed (Python cannot stop a
thread): its result is dropped. Streams are not timed: their chunks are shown
as they arrive."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from tenacity import AsyncRetrying, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from shared_core.config import RunConfig
from shared_core.runner.retry import engine_policy, is_retryable

T = TypeVar("T")
_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="sls-timeout")


def engine_retries(engine: Any, max_retries: int | None) -> bool:
    """Hand `max_retries` to the engine's own retry policy, if it has one."""
    return max_retries is not None and engine_policy(engine, RunConfig(max_retries=max_retries))


def _retrying(cls: type, retries: int) -> Any:
    return cls(stop=stop_after_attempt(retries + 1), wait=wait_random_exponential(multiplier=0.5, max=8.0),
               retry=retry_if_exception(is_retryable), reraise=True)


def guard(call: Callable[[str, Any], T], timeout: float | None, retries: int | None) -> Callable[[str, Any], T]:
    if timeout is None and not retries:
        return call

    def timed(name: str, request: Any) -> T:
        if timeout is None:
            return call(name, request)
        future = _POOL.submit(contextvars.copy_context().run, call, name, request)
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise TimeoutError(f"candidate {name} did not answer within timeout={timeout:g} s") from None

    if not retries:
        return timed
    return lambda name, request: _retrying(Retrying, retries)(timed, name, request)


def aguard(acall: Callable[[str, Any], Awaitable[T]], timeout: float | None,
           retries: int | None) -> Callable[[str, Any], Awaitable[T]]:
    if timeout is None and not retries:
        return acall

    async def timed(name: str, request: Any) -> T:
        try:
            return await asyncio.wait_for(acall(name, request), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"candidate {name} did not answer within timeout={timeout:g} s") from None

    if not retries:
        return timed

    async def retried(name: str, request: Any) -> T:
        return await _retrying(AsyncRetrying, retries)(timed, name, request)

    return retried
