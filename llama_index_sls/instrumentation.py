"""`RouteRecorder`: a LlamaIndex instrumentation handler that collects the
routing metadata of every routed call, wherever in a pipeline it happens
(query engines, chat engines, agents), from the LLM end events the router
emits through LlamaIndex's callback decorators.

    recorder = RouteRecorder.attach()     # on the root dispatcher
    index.as_query_engine().query("...")
    recorder.routes[-1]["sls_model"], recorder.routes[-1]["sls_cache_tier"]
    recorder.detach()
"""

from __future__ import annotations

import threading
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMCompletionEndEvent

from .messages import SLS_KEY


class RouteRecorder(BaseEventHandler):
    routes: list[dict[str, Any]] = Field(default_factory=list, description="sls metadata, one per routed call")
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _dispatcher: Any = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "RouteRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if not isinstance(event, (LLMChatEndEvent, LLMCompletionEndEvent)) or event.response is None:
            return
        meta = event.response.additional_kwargs.get(SLS_KEY)
        if isinstance(meta, dict) and meta.get("sls_request_id"):
            with self._lock:
                self.routes.append(dict(meta))

    @classmethod
    def attach(cls, dispatcher_name: str = "root") -> "RouteRecorder":
        recorder = cls()
        dispatcher = get_dispatcher(dispatcher_name)
        dispatcher.add_event_handler(recorder)
        recorder._dispatcher = dispatcher
        return recorder

    def detach(self) -> None:
        if self._dispatcher is not None and self in self._dispatcher.event_handlers:
            self._dispatcher.event_handlers.remove(self)
        self._dispatcher = None

    def clear(self) -> None:
        with self._lock:
            self.routes.clear()
