"""SIMULATED chat model for offline examples and tests. It is not a language model.

`SimulatedChatModel` is a LangChain `BaseChatModel` that answers from rules
(`answers`: keyword -> answer, else `default_answer`), calls tools it is told
to call (`tool_calls`), answers a tool result with `tool_answer`, streams word by
word, reports usage, and can fail like a provider (rate limit, timeout, 5xx)
so fallback can be seen at work. Every answer it gives says `simulated` in its
`response_metadata`; point the YAML at a real provider for real answers.
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
from pydantic import ConfigDict, Field

from shared_core.candidates import split_for_stream
from shared_core.tokens import count_message_tokens, count_tokens

from .messages import content_text, to_engine_messages


class SimulatedProviderError(Exception):
    """A provider-like failure raised by a simulated model."""

    status_code: int = 500


class SimulatedRateLimitError(SimulatedProviderError):
    status_code = 429


class SimulatedServerError(SimulatedProviderError):
    status_code = 503


_ERRORS: dict[str, Callable[[str], Exception]] = {
    "rate_limit": lambda who: SimulatedRateLimitError(f"simulated 429 rate limit from {who}"),
    "server": lambda who: SimulatedServerError(f"simulated 503 from {who}"),
    "timeout": lambda who: TimeoutError(f"simulated timeout from {who}"),
}


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
    calls: int = 0

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

    # -- tools ------------------------------------------------------------------------
    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], *,
                   tool_choice: str | dict | bool | None = None,
                   **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    # -- answering --------------------------------------------------------------------
    def _respond(self, messages: list[BaseMessage], **kwargs: Any) -> AIMessage:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise _ERRORS[self.error](self.model_name)
        query = next((content_text(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        tools = kwargs.get("tools") or []
        calls: list[dict[str, Any]] = []
        if messages and isinstance(messages[-1], ToolMessage):
            last = messages[-1]
            text = self.tool_answer.format(tool=last.name or _tool_name(messages, last.tool_call_id) or "tool",
                                           result=content_text(last.content), model=self.model_name)
        else:
            calls = self._choose_tool_calls(query, tools, kwargs.get("tool_choice"))
            text = "" if calls else self._answer_for(query)
        engine_messages, _ = to_engine_messages(messages)
        out_tokens = count_tokens(text) + (count_tokens(json.dumps(calls)) if calls else 0)
        in_tokens = count_message_tokens(engine_messages)
        return AIMessage(
            content=text,
            tool_calls=[{"name": c["name"], "args": c["args"], "id": f"call_{uuid.uuid4().hex[:20]}",
                         "type": "tool_call"} for c in calls],
            usage_metadata={"input_tokens": in_tokens, "output_tokens": out_tokens,
                            "total_tokens": in_tokens + out_tokens},
            response_metadata={"model_name": self.model_name, "simulated": True, "finish_reason":
                               "tool_calls" if calls else "stop"},
        )

    def _answer_for(self, query: str) -> str:
        low = query.lower()
        for keyword, answer in self.answers.items():
            if keyword.lower() in low:
                return answer.format(model=self.model_name, query=query)
        return self.default_answer.format(model=self.model_name, query=query)

    def _choose_tool_calls(self, query: str, tools: list[dict[str, Any]], tool_choice: Any) -> list[dict[str, Any]]:
        if not tools:
            return []
        schemas = {t["function"]["name"]: t["function"].get("parameters", {}) for t in tools if "function" in t}
        forced = _forced_tool(tool_choice, list(schemas))
        low = query.lower()
        for rule in self.tool_calls:
            name = rule.get("name")
            if name in schemas and (forced in (None, "*") or forced == name) and \
                    (not rule.get("when") or str(rule["when"]).lower() in low):
                return [{"name": name, "args": dict(rule.get("args") or example_for(schemas[name]))}]
        if forced:
            name = next(iter(schemas)) if forced == "*" else forced
            return [{"name": name, "args": example_for(schemas.get(name, {}))}]
        return []

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._respond(messages, **kwargs))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        message = self._respond(messages, **kwargs)
        pieces = [p for p in split_for_stream(str(message.content))] if message.content else []
        for i, piece in enumerate(pieces):
            if self.fail_after_chunks is not None and i >= self.fail_after_chunks:
                raise _ERRORS[self.error](self.model_name)
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


def _forced_tool(tool_choice: Any, names: list[str]) -> str | None:
    """'*' when any tool must be called, a name when that one must, None when free."""
    if tool_choice in (None, False, "auto", "none"):
        return None
    if tool_choice in (True, "any", "required"):
        return "*"
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
        return name if name in names else "*"
    return tool_choice if tool_choice in names else "*"


def example_for(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A placeholder value that fits a JSON schema (how a simulated model fills tool args)."""
    defs = defs if defs is not None else schema.get("$defs", schema.get("definitions", {}))
    if "$ref" in schema:
        return example_for(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_for(options[0], defs)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        return {k: example_for(v, defs) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [example_for(schema.get("items") or {}, defs)]
    return {"integer": 1, "number": 1.0, "boolean": True, "null": None}.get(kind, "simulated")
