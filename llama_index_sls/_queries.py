"""The routing of a query engine's answer, on its response: `response.metadata["sls"]`
(the last routed LLM call of the query, the one that wrote the answer) and
`response.metadata["sls_routes"]` (every routed call it made, in order).

A handler on LlamaIndex's root dispatcher (attached once, when the first router
is built) collects the `sls` metadata of the LLM end events between a query's
start and end events in the same context, then writes it onto the response the
end event carries (the object `query()` returns). A streaming response ends
before its LLM call does: read its routing from the final chunk, or with
`RouteRecorder`.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any

from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMCompletionEndEvent
from llama_index.core.instrumentation.events.query import QueryEndEvent, QueryStartEvent

from .messages import SLS_KEY

_MAX_OPEN, _MAX_ROUTES = 32, 1000  # bounds for queries that raised and never sent their end event
# (span id, routes so far) of each query open in this context, innermost last
_OPEN: ContextVar[tuple[tuple[str | None, list[dict[str, Any]]], ...]] = ContextVar("sls_open_queries", default=())
_lock = threading.Lock()
_handler: "_QueryRoutes | None" = None


class _QueryRoutes(BaseEventHandler):
    @classmethod
    def class_name(cls) -> str:
        return "SLSQueryRoutes"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, (LLMChatEndEvent, LLMCompletionEndEvent)):
            meta = event.response.additional_kwargs.get(SLS_KEY) if event.response is not None else None
            if isinstance(meta, dict) and meta.get("sls_request_id"):
                for _, routes in _OPEN.get():
                    if len(routes) < _MAX_ROUTES:
                        routes.append(dict(meta))
        elif isinstance(event, QueryStartEvent):
            _OPEN.set((_OPEN.get() + ((event.span_id, []),))[-_MAX_OPEN:])
        elif isinstance(event, QueryEndEvent):
            self._finish(event)

    @staticmethod
    def _finish(event: QueryEndEvent) -> None:
        open_ = _OPEN.get()
        at = next((i for i in range(len(open_) - 1, -1, -1) if open_[i][0] == event.span_id), None)
        if at is None:
            return
        _OPEN.set(open_[:at])
        routes = open_[at][1]
        response = event.response
        if routes and isinstance(getattr(response, "metadata", None), (dict, type(None))):
            response.metadata = {**(response.metadata or {}), "sls": routes[-1], "sls_routes": routes}


def watch() -> None:
    """Attach the handler to the root dispatcher, once per process."""
    global _handler
    with _lock:
        if _handler is None:
            _handler = _QueryRoutes()
            get_dispatcher("root").add_event_handler(_handler)
