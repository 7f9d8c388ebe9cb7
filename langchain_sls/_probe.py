"""`sls.route_probes` entry `langchain`: the LangChain adapter's own time per call.

One candidate (a provider stand-in that answers at once, with usage), no
cache, the same question: the engine routes and calls the candidate's
`invoke` (what `ChatModel.invoke` would cost without SLS), against
`SmartRouterLLM.invoke` doing the same engine work plus message conversion,
its callbacks run and the routing metadata. Beside it, the floor: what
`BaseChatModel.invoke` itself costs for a model whose `_generate` does nothing.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from shared_core.candidates import Answer
from shared_core.overhead import paired_overhead
from shared_core.request import Request

from .chat_models import SmartRouterLLM

QUESTION = "What is the capital of France?"


class _InstantModel(BaseChatModel):
    """Stands in for a provider: a fixed answer with usage, no time taken."""

    @property
    def _llm_type(self) -> str:
        return "sls-probe"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        usage = {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="Paris.", usage_metadata=usage))])


def adapter_overhead(calls: int = 2000) -> dict[str, Any]:
    model = _InstantModel()
    router = SmartRouterLLM(candidates=[{"name": "m", "model": model, "price_in": 0.1, "price_out": 0.4}],
                            allow_cache=False)
    engine = router.engine
    messages = [HumanMessage(QUESTION)]

    def engine_alone() -> None:
        def call(name: str, request: Request) -> Answer:
            usage = model.invoke(messages).usage_metadata or {}
            return Answer("Paris.", usage.get("input_tokens"), usage.get("output_tokens"))

        engine.run(Request(messages=[{"role": "user", "content": QUESTION}], allow_cache=False), call=call)

    try:
        return paired_overhead("langchain", engine_alone, lambda: router.invoke(messages), calls=calls,
                               framework=(lambda: model.invoke(messages), lambda: model._generate(messages)))
    finally:
        router.close()
