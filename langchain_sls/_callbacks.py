"""Callback plumbing: each candidate call runs as a child run of the router's
run, so callbacks, tracers and LangSmith see which model served."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import AsyncCallbackManager, AsyncCallbackManagerForLLMRun, CallbackManager
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig, ensure_config
from langchain_core.utils.uuid import uuid7

PARENT_KW = "_sls_stream_parent"
_CANDIDATE_TAGS = ("sls:candidate", "nostream")  # `nostream`: LangGraph streams the router's run, not both
# The run manager of a call that `_generate_with_cache` turns into `_stream` (a
# streaming callback is attached): langchain-core does not pass it to `_stream`.
PENDING_RUN: ContextVar[Any] = ContextVar("sls_pending_run_manager", default=None)


def _child_manager(run_id: uuid.UUID, parent: Any, async_: bool) -> CallbackManager | AsyncCallbackManager:
    """Callbacks for a run nested in run `run_id`: the parent's inheritable
    handlers, tags and metadata (what `ParentRunManager.get_child` does; the
    run managers of chat models have no `get_child`)."""
    child = (AsyncCallbackManager if async_ else CallbackManager)(handlers=[], parent_run_id=run_id)
    child.set_handlers(parent.inheritable_handlers)
    child.add_tags(parent.inheritable_tags)
    child.add_metadata(parent.inheritable_metadata)
    return child


def child_of(run_manager: Any) -> CallbackManager | AsyncCallbackManager | None:
    """Callbacks for a candidate run inside the router's run; None when the
    router's run has no handler at all (nothing would see the child, and a
    handler configured later, from the environment or a context hook, would
    be one the router's run had too)."""
    if run_manager is None or not (run_manager.handlers or run_manager.inheritable_handlers):
        return None
    return _child_manager(run_manager.run_id, run_manager, isinstance(run_manager, AsyncCallbackManagerForLLMRun))


def child_config(name: str, callbacks: Any, model: Any) -> RunnableConfig | None:
    """The config of candidate `name`'s run: its tags and metadata, or None when
    no handler could read them (none inherited, none on the model itself)."""
    if callbacks is None and not getattr(model, "callbacks", None):
        return None
    return {"callbacks": callbacks, "tags": list(_CANDIDATE_TAGS), "metadata": {"sls_candidate": name}}


class StreamParent:
    """Lets `_stream` open its candidates' runs as children of the router's run.

    `BaseChatModel.stream` creates the router's run but does not hand its run
    manager to `_stream`; so `stream()` fixes the run id up front and configures
    the inheritable callbacks once (the same handler objects, tracer included,
    serve the router's run and the candidate's child run)."""

    def __init__(self, config: RunnableConfig, async_: bool):
        self.async_ = async_
        self.run_id = config.get("run_id") or uuid7()
        manager_cls = AsyncCallbackManager if async_ else CallbackManager
        self.manager = manager_cls.configure(inheritable_callbacks=config.get("callbacks"),
                                             inheritable_tags=config.get("tags"),
                                             inheritable_metadata=config.get("metadata"))
        self.config: RunnableConfig = {**config, "callbacks": self.manager, "run_id": self.run_id}

    def child(self) -> CallbackManager | AsyncCallbackManager:
        return _child_manager(self.run_id, self.manager, self.async_)

    def __repr__(self) -> str:  # appears nowhere user-facing; keep it short
        return "<sls stream parent>"


def stream_callbacks(run_manager: Any, parent: StreamParent | None) -> Any:
    """The callbacks of a streamed call's candidate run: a child of the router's
    run, whichever way langchain-core let it be known."""
    pending = PENDING_RUN.get()
    PENDING_RUN.set(None)
    if run_manager is not None:
        return child_of(run_manager)
    if parent is not None:
        return parent.child()
    return child_of(pending)


def signatures_once(cls: type) -> type:
    """langchain-core reads the signature of `_generate` / `_agenerate` on every
    call (does it take `run_manager`?); a `__signature__` made once answers from
    there instead of parsing the function again (tens of us a call)."""
    for name in ("_generate", "_agenerate"):
        fn = cls.__dict__[name]
        fn.__signature__ = inspect.signature(fn)
    return cls


class ChildRuns:
    """Mixed into the router before `BaseChatModel`: makes the router's run known
    to `_stream` (by `stream()`/`astream()`, or by `_should_stream` when invoke
    streams internally), so each candidate's streamed run is its child."""

    def _should_stream(self, *, async_api: bool, run_manager: Any = None, **kwargs: Any) -> bool:
        ok = super()._should_stream(async_api=async_api, run_manager=run_manager, **kwargs)  # type: ignore[misc]
        PENDING_RUN.set(run_manager if ok else None)
        return ok

    def stream(self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
               stop: list[str] | None = None, **kwargs: Any) -> Iterator[AIMessageChunk]:
        parent = StreamParent(ensure_config(config), async_=False)
        yield from super().stream(  # type: ignore[misc]
            input, parent.config, stop=stop, **{PARENT_KW: parent}, **kwargs)

    async def astream(self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
                      stop: list[str] | None = None, **kwargs: Any) -> AsyncIterator[AIMessageChunk]:
        parent = StreamParent(ensure_config(config), async_=True)
        async for chunk in super().astream(  # type: ignore[misc]
                input, parent.config, stop=stop, **{PARENT_KW: parent}, **kwargs):
            yield chunk
