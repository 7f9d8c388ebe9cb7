"""What both adapters' `SmartRouterLLM` offer beyond their framework's LLM
interface: feedback, stats, save and close (also as a context manager), the
tool-loop pin, and `timeout` / `max_retries` around each candidate call.

An adapter mixes `RouterFacade` into its framework class, sets `self._engine`,
and says how a response of its framework names its request id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .candidates import Answer
from .engine import Engine
from .guard import aguard, engine_retries, guard

log = logging.getLogger("sls.router")
T = TypeVar("T")


def fast_private(name: str) -> property:
    """A pydantic private attribute, read straight from `__pydantic_private__`.
    pydantic finds private attributes through its `__getattr__`, about 3 us a
    read; a property on a plain base class is found before that, and a call
    reads several. (Unset, it falls back to pydantic's own lookup and error.)"""

    def read(self: Any) -> Any:
        try:
            return self.__pydantic_private__[name]
        except (KeyError, TypeError):
            raise AttributeError(name) from None

    return property(read)


class RouterFacade:
    """Mixin of the adapters' routers (see the module doc)."""

    _engine = fast_private("_engine")
    _limits = fast_private("_limits")

    @property
    def engine(self) -> Engine:
        return self._engine

    def _request_id_of(self, response: Any) -> str:
        """The request id a response of this framework carries."""
        return str(response)

    def feedback(self, request_id: Any, score: float) -> bool:
        """Score (0..1) the answer of a request id, or of a response this router
        returned. False if the id is unknown (never served, or too old to be
        remembered). A request takes one score: a second raises
        `shared_core.errors.FeedbackError` and the first stands (the router has
        learned from it already)."""
        if not isinstance(request_id, str):
            request_id = self._request_id_of(request_id)
        return self._engine.feedback(request_id, score)

    def stats(self) -> dict[str, Any]:
        return self._engine.stats()

    def save(self) -> None:
        self._engine.save()

    def close(self) -> None:
        """Save the learned state (with `state.path` set) and release it."""
        self._engine.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _pinned(self, model: str | None) -> str | None:
        """The model an open tool loop asked for, if it is one of this router's
        candidates (a soft pin: the others stay its fallbacks)."""
        if model is None or any(c.name == model for c in self._engine.config.candidates):
            return model
        log.info("tool loop names model %r, which this router does not have; not pinning", model)
        return None

    def _guard_limits(self) -> tuple[float | None, int | None]:
        """(timeout, retries) of a candidate call: `max_retries` goes to the
        engine's own retry policy where it has one, so retries are not doubled."""
        timeout, retries = getattr(self, "timeout", None), getattr(self, "max_retries", None)
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
            raise ValueError(f"max_retries must be a whole number >= 0, got {retries!r}")
        if engine_retries(self._engine, retries):
            retries = None
        return timeout, retries

    def _guarded(self, call: Callable[[str, Any], Answer]) -> Callable[[str, Any], Answer]:
        return guard(call, *self._limits)  # set by the adapter from _guard_limits() when it is built

    def _aguarded(self, acall: Callable[[str, Any], Awaitable[Answer]]) -> Callable[[str, Any], Awaitable[Answer]]:
        return aguard(acall, *self._limits)
