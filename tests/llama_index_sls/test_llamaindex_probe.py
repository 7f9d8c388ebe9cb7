from llama_index_sls import _probe


def test_the_probe_measures_the_adapter_and_llamaindexs_own_floor():
    found = _probe.adapter_overhead(calls=40)
    assert found["name"] == "llama_index"
    assert set(found) >= {"engine_p50_us", "adapter_p50_us", "adapter_p99_us", "framework_p50_us"}
    assert found["engine_p50_us"] > 0


def test_the_floors_bare_arm_skips_llamaindexs_events():
    from llama_index.core.base.llms.types import ChatMessage, MessageRole
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    seen = []

    class Count(BaseEventHandler):
        @classmethod
        def class_name(cls) -> str:
            return "Count"

        def handle(self, event, **kwargs):
            seen.append(event.class_name())

    root = get_dispatcher()
    handler = Count()
    root.add_event_handler(handler)
    try:
        llm = _probe._InstantLLM()
        messages = [ChatMessage(role=MessageRole.USER, content="q")]
        llm.chat(messages)
        after_chat = len(seen)
        llm.answer(messages)
    finally:
        root.event_handlers.remove(handler)
    assert after_chat > 0 and len(seen) == after_chat
