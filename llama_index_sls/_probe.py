"""`sls.route_probes` entry `llama_index`: the LlamaIndex adapter's own time per call.

One candidate (a provider stand-in that answers at once), no cache, the same
question: the engine routes and calls the candidate's `chat` (what `LLM.chat`
would cost without SLS), against `SmartRouterLLM.chat` doing the same engine
work plus message conversion, its instrumentation events and the routing metadata.
Beside it, the floor: what the `llm_chat_callback` of `LLM.chat` itself costs
for a model whose chat does nothing.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse, LLMMetadata, MessageRole
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM

from shared_core.candidates import Answer
from shared_core.config import SLSConfig
from shared_core.engine import Engine
from shared_core.overhead import paired_overhead
from shared_core.request import Request

from .llm import SmartRouterLLM

QUESTION = "What is the capital of France?"


class _InstantLLM(CustomLLM):
    """Stands in for a provider: a fixed answer, no time taken."""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name="probe")

    def answer(self, messages: Any) -> ChatResponse:
        """The body of `chat`, without LlamaIndex's callback and events around it."""
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content="Paris."))

    @llm_chat_callback()
    def chat(self, messages: Any, **kwargs: Any) -> ChatResponse:
        return self.answer(messages)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="Paris.")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        yield CompletionResponse(text="Paris.", delta="Paris.")


def adapter_overhead(calls: int = 2000) -> dict[str, Any]:
    llm = _InstantLLM()
    config = SLSConfig.from_dict({"candidates": [{"name": "m", "price_in": 0.1, "price_out": 0.4}]})
    router = SmartRouterLLM(Engine(config), {"m": llm}, allow_cache=False)
    messages = [ChatMessage(role=MessageRole.USER, content=QUESTION)]

    def engine_alone() -> None:
        def call(name: str, request: Request) -> Answer:
            return Answer(llm.chat(messages).message.content or "")

        router.engine.run(Request(messages=[{"role": "user", "content": QUESTION}], allow_cache=False), call=call)

    try:
        return paired_overhead("llama_index", engine_alone, lambda: router.chat(messages), calls=calls,
                               framework=(lambda: llm.chat(messages), lambda: llm.answer(messages)))
    finally:
        router.close()
