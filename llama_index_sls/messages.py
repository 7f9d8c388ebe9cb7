"""LlamaIndex messages <-> the engine's `Request` dicts, and routed responses.

The engine sees plain `{"role", "content"}` dicts; the candidate LLMs see the
caller's own `ChatMessage`s. Every response the router returns carries the
engine's routing metadata under the `"sls"` key of `additional_kwargs` (of the
response and of its message, so it stays in chat history) and in `raw`.
The router strips its `"sls"` key before handing history to a candidate:
several LlamaIndex integrations (OpenAI, LiteLLM) copy a message's
`additional_kwargs` into the provider's API payload.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

if TYPE_CHECKING:
    from llama_index.core.tools import BaseTool

SLS_KEY = "sls"

_ROLES = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}


def message_text(message: ChatMessage) -> str:
    """The text of a message (its text blocks), '' when it has none."""
    return "\n".join(b.text for b in message.blocks if isinstance(b, TextBlock))


def to_engine_message(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": _ROLES.get(message.role, "user"), "content": message_text(message)}
    calls = tool_calls_of_message(message)
    if calls:
        out["tool_calls"] = calls
    call_id = message.additional_kwargs.get("tool_call_id")
    if call_id is not None:
        out["tool_call_id"] = str(call_id)
    return out


def to_engine_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    return [to_engine_message(m) for m in messages]


def needs_vision(messages: Sequence[ChatMessage]) -> bool:
    return any(isinstance(b, (ImageBlock, VideoBlock)) for m in messages for b in m.blocks)


def has_audio(messages: Sequence[ChatMessage]) -> bool:
    return any(isinstance(b, AudioBlock) for m in messages for b in m.blocks)


def sls_of(message: ChatMessage) -> dict[str, Any]:
    value = message.additional_kwargs.get(SLS_KEY)
    return value if isinstance(value, dict) else {}


def strip_sls(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The messages as a candidate should see them: without the router's own key."""
    out = []
    for m in messages:
        if SLS_KEY in m.additional_kwargs:
            m = m.model_copy(update={"additional_kwargs": {k: v for k, v in m.additional_kwargs.items()
                                                           if k != SLS_KEY}})
        out.append(m)
    return out


def tool_loop_model(messages: Sequence[ChatMessage]) -> str | None:
    """The model an open tool loop is pinned to, or None.

    When the history ends with tool results, the model that asked for those
    tools (named in its assistant message's `sls` metadata, so only when this
    router produced it) should read them and continue: that is the pin. It is
    soft: when that model fails or cools down, another tool-capable model takes
    over. The LangChain adapter pins by the same rule.
    """
    i = len(messages) - 1
    while i >= 0 and messages[i].role in (MessageRole.TOOL, MessageRole.FUNCTION):
        i -= 1
    if i == len(messages) - 1 or i < 0:
        return None
    asked = messages[i]
    if asked.role not in (MessageRole.ASSISTANT, MessageRole.CHATBOT, MessageRole.MODEL):
        return None
    model = sls_of(asked).get("sls_model")
    return model if isinstance(model, str) else None


def tool_schemas(tools: Sequence["BaseTool"]) -> list[dict[str, Any]]:
    """JSON schemas of the tools, for the request's cache scope."""
    out = []
    for tool in tools:
        meta = tool.metadata
        out.append({"name": meta.get_name(), "description": meta.description,
                    "parameters": meta.get_parameters_dict()})
    return out


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _kwargs(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = parse_partial_json(value) if value.strip() else {}
        except (ValueError, TypeError):
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def tool_calls_of_message(message: ChatMessage) -> list[dict[str, Any]]:
    """Tool calls a message carries, JSON-able: ToolCallBlocks, or OpenAI-style
    `additional_kwargs["tool_calls"]` (dicts or SDK objects)."""
    calls = [{"id": b.tool_call_id or "", "name": b.tool_name, "kwargs": jsonable(_kwargs(b.tool_kwargs))}
             for b in message.blocks if isinstance(b, ToolCallBlock)]
    if calls:
        return calls
    for tc in message.additional_kwargs.get("tool_calls") or []:
        if isinstance(tc, ToolSelection):
            calls.append({"id": tc.tool_id, "name": tc.tool_name, "kwargs": jsonable(tc.tool_kwargs)})
            continue
        fn = tc.get("function") if isinstance(tc, dict) else getattr(tc, "function", None)
        tc_id = tc.get("id") if isinstance(tc, dict) else getattr(tc, "id", None)
        if fn is None:
            continue
        name = fn.get("name") if isinstance(fn, dict) else getattr(fn, "name", None)
        args = fn.get("arguments") if isinstance(fn, dict) else getattr(fn, "arguments", None)
        if name:
            calls.append({"id": tc_id or "", "name": name, "kwargs": jsonable(_kwargs(args))})
    return calls


def selections_to_json(selections: Sequence[ToolSelection]) -> list[dict[str, Any]]:
    return [{"id": s.tool_id, "name": s.tool_name, "kwargs": jsonable(s.tool_kwargs)} for s in selections]


def selections_from_json(calls: Sequence[dict[str, Any]]) -> list[ToolSelection]:
    return [ToolSelection(tool_id=c.get("id") or "", tool_name=c["name"], tool_kwargs=c.get("kwargs") or {})
            for c in calls]


def tool_call_blocks(calls: Sequence[dict[str, Any]]) -> list[ToolCallBlock]:
    return [ToolCallBlock(tool_call_id=c.get("id") or None, tool_name=c["name"], tool_kwargs=c.get("kwargs") or {})
            for c in calls]


def usage_of(response: ChatResponse | CompletionResponse | None) -> tuple[int | None, int | None]:
    """Provider-reported (input, output) tokens, when the integration exposes them:
    OpenAI-style `additional_kwargs` counts, or a `usage` on the raw response."""
    if response is None:
        return None, None
    for src in (response.additional_kwargs, _usage_obj(response.raw)):
        if not src:
            continue
        get = src.get if isinstance(src, dict) else (lambda k, _s=src: getattr(_s, k, None))
        tin = get("prompt_tokens") if get("prompt_tokens") is not None else get("input_tokens")
        tout = get("completion_tokens") if get("completion_tokens") is not None else get("output_tokens")
        if isinstance(tin, int) and isinstance(tout, int) and not isinstance(tin, bool):
            return tin, tout
    return None, None


def _usage_obj(raw: Any) -> Any:
    if raw is None:
        return None
    if isinstance(raw, dict):
        return raw.get("usage")
    return getattr(raw, "usage", None)


def modelled_latency(response: ChatResponse | CompletionResponse | None) -> float | None:
    """Simulated candidates report the latency they model (they do not sleep)."""
    if response is None:
        return None
    value = response.additional_kwargs.get("modelled_latency_s")
    return float(value) if isinstance(value, (int, float)) else None


def routed_chat(response: ChatResponse, meta: dict[str, Any], *, delta: str | None = None) -> ChatResponse:
    """The candidate's response, tagged with the routing metadata (its own raw kept as `candidate_raw`)."""
    message = response.message.model_copy(
        update={"additional_kwargs": {**response.message.additional_kwargs, SLS_KEY: meta}})
    return ChatResponse(message=message, raw={SLS_KEY: meta, "candidate_raw": response.raw},
                        delta=response.delta if delta is None else delta, logprobs=response.logprobs,
                        additional_kwargs={**response.additional_kwargs, SLS_KEY: meta})


def cached_chat(text: str, meta: dict[str, Any], extra: dict[str, Any], delta: str | None = None) -> ChatResponse:
    """A response served from the cache (no candidate was called)."""
    blocks: list[Any] = [TextBlock(text=text)] if text else []
    blocks += tool_call_blocks(extra.get("tool_calls") or [])
    message = ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks or [TextBlock(text="")],
                          additional_kwargs={SLS_KEY: meta})
    return ChatResponse(message=message, raw={SLS_KEY: meta, "candidate_raw": None}, delta=delta,
                        additional_kwargs={SLS_KEY: meta})


def routed_completion(response: CompletionResponse | None, text: str, meta: dict[str, Any], *,
                      delta: str | None = None) -> CompletionResponse:
    extra = dict(response.additional_kwargs) if response is not None else {}
    return CompletionResponse(text=text, delta=delta, additional_kwargs={**extra, SLS_KEY: meta},
                              raw={SLS_KEY: meta, "candidate_raw": response.raw if response is not None else None},
                              logprobs=response.logprobs if response is not None else None)


def tool_chat_history(user_msg: str | ChatMessage | None,
                      chat_history: Sequence[ChatMessage] | None) -> list[ChatMessage]:
    """The messages of a `chat_with_tools` call: the history, then the user's message."""
    messages = list(chat_history or [])
    if user_msg is not None:
        messages.append(ChatMessage(role=MessageRole.USER, content=user_msg) if isinstance(user_msg, str)
                        else user_msg)
    return messages


def tool_selections(message: ChatMessage, error_on_no_tool_call: bool) -> list[ToolSelection]:
    """The tool calls a message carries, read generically, as LlamaIndex selections."""
    calls = tool_calls_of_message(message)
    if not calls and error_on_no_tool_call:
        raise ValueError(f"expected at least one tool call in the response, got: {message.content!r}")
    return selections_from_json(calls)
