"""SIMULATED chat model for offline examples and tests. It is not a language model.

`SimulatedChatModel` is a LangChain `BaseChatModel` that answers from rules
(`answers`: keyword -> answer, else `default_answer`), calls tools it is told
to call (`tool_calls`), answers a tool result with `tool_answer`, streams word by
word, reports usage, and can fail like a provider (rate limit, timeout, 5xx)
so fallback can be seen at work. Every answer it gives says `simulated` in its
`response_metadata`; point the YAML at a real provider for real answers. The
rules are the simulator core's (`shared_core/simulator.py`); this is its
LangChain skin.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from shared_core.candidates import split_for_stream
from shared_core.simulator import (  # noqa: F401  (the errors and example_for are this module's API too)
    Failures,
    SimulatedProviderError,
    SimulatedRateLimitError,
    SimulatedServerError,
    choose_tool_calls,
    example_for,
    keyword_answer,
    simulated_usage,
)

from .messages import content_text, to_engine_messages


class SimulatedChatModel(BaseChatModel):
    """An offline stand-in for a provider chat model (SIMULATED, not an LLM)."""

    model_config = ConfigDict(populate_by_name=True, protected_namespaces=())

    model_name: str = Field(default="simulated", alias="model")
    answers: dict[str, str] = Field(default_factory=dict)
    """Keyword (case-insensitive, in the last user message) -> answer; first match wins."""
    default_answer: str = "[{model}, simulated] {query}"
    """Answer when no keyword matches; `{model}` and `{query}` are filled in."""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    """Tool calls to make when tools are bound: [{name, args, when?}]; `when` is a keyword."""
    tool_answer: str = "The {tool} tool returned {result}."
    """Answer to a tool result; `{tool}`, `{result}` and `{model}` are filled in."""
    fail_times: int = 0
    """Fail the first N calls (before any output, also when streaming)."""
    fail_after_chunks: int | None = None
    """When streaming, fail after yielding this many chunks (a mid-stream failure)."""
    error: Literal["rate_limit", "server", "timeout"] = "server"
    _failures: Failures = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        self._failures = Failures(first=self.fail_times, after_chunks=self.fail_after_chunks, error=self.error)

    @property
    def calls(self) -> int:
        return self._failures.calls

    @property
    def _llm_type(self) -> str:
        return "sls-simulated"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "simulated": True}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "sls-simulated"
        return params

    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], *,
                   tool_choice: str | dict | bool | None = None,
                   **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    # -- answering: the simulator core's rules, as an AIMessage ------------------------------
    def _respond(self, messages: list[BaseMessage], **kwargs: Any) -> AIMessage:
        self._failures.on_call(self.model_name)
        query = next((content_text(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        calls: list[dict[str, Any]] = []
        if messages and isinstance(messages[-1], ToolMessage):
            last = messages[-1]
            text = self.tool_answer.format(tool=last.name or _tool_name(messages, last.tool_call_id) or "tool",
                                           result=content_text(last.content), model=self.model_name)
        else:
            schemas = {t["function"]["name"]: t["function"].get("parameters", {})
                       for t in kwargs.get("tools") or [] if "function" in t}
            calls = choose_tool_calls(self.tool_calls, schemas, kwargs.get("tool_choice"), query)
            text = "" if calls else keyword_answer(self.answers, self.default_answer, self.model_name, query)
        in_tokens, out_tokens = simulated_usage(to_engine_messages(messages)[0], text,
                                                json.dumps(calls) if calls else "")
        return AIMessage(
            content=text,
            tool_calls=[{"name": c["name"], "args": c["args"], "id": f"call_{uuid.uuid4().hex[:20]}",
                         "type": "tool_call"} for c in calls],
            usage_metadata={"input_tokens": in_tokens, "output_tokens": out_tokens,
                            "total_tokens": in_tokens + out_tokens},
            response_metadata={"model_name": self.model_name, "simulated": True, "finish_reason":
                               "tool_calls" if calls else "stop"},
        )

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._respond(messages, **kwargs))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        message = self._respond(messages, **kwargs)
        for i, piece in enumerate(split_for_stream(str(message.content)) if message.content else []):
            self._failures.on_chunk(i, self.model_name)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="",
            tool_call_chunks=[tool_call_chunk(name=tc["name"], args=json.dumps(tc["args"]), id=tc["id"], index=i)
                              for i, tc in enumerate(message.tool_calls)],
            usage_metadata=message.usage_metadata,
            response_metadata=message.response_metadata,
            chunk_position="last",
        ))


def _tool_name(messages: list[BaseMessage], tool_call_id: str) -> str | None:
    for m in reversed(messages):
        if isinstance(m, AIMessage):
            for tc in m.tool_calls:
                if tc.get("id") == tool_call_id:
                    return tc["name"]
    return None
