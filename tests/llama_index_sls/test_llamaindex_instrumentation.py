"""RouteRecorder collects routing metadata from LlamaIndex instrumentation events."""

from __future__ import annotations

from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.llms import ChatMessage
from llama_index.core.llms.mock import MockLLM

from llama_index_sls import RouteRecorder


def test_records_routed_calls_only_and_detaches(make_router):
    router = make_router({"m": (MockLLM(), 1.0)})
    recorder = RouteRecorder.attach()
    try:
        router.chat([ChatMessage(role="user", content="one")])
        router.complete("two")
        MockLLM().complete("not routed")  # an LLM end event without sls metadata
    finally:
        recorder.detach()
    assert [r["sls_model"] for r in recorder.routes] == ["m", "m"]
    assert recorder not in get_dispatcher("root").event_handlers
    router.complete("three")
    assert len(recorder.routes) == 2
    recorder.clear()
    assert recorder.routes == []
