"""LangChain messages <-> SLS engine requests, and the AIMessages the router returns.

The engine sees plain dicts (`{"role", "content", ...}`) whose content is text;
this module renders LangChain messages into that shape (content blocks to text,
images to a stable placeholder plus the `vision` capability, assistant tool
calls into the text so cache keys tell different calls apart) and builds the
`AIMessage` / `AIMessageChunk` a routed call returns, with the candidate's own
usage and the routing metadata (`sls_*` keys) in `response_metadata`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.utils.function_calling import convert_to_openai_tool

from shared_core.tokens import count_message_tokens, count_tokens

LC_ID_PREFIXES = ("lc_run-", "lc_", "run-")
_ROLE_ALIASES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant",
                 "system": "system", "developer": "system", "tool": "tool", "function": "tool"}
_IMAGE_BLOCKS = {"image", "image_url", "input_image"}
_MEDIA_BLOCKS = {"file", "audio", "input_audio", "video", "document", "pdf"}
_SKIP_BLOCKS = {"tool_use", "tool_call", "tool_call_chunk", "server_tool_call", "server_tool_result",
                "reasoning", "thinking", "redacted_thinking", "invalid_tool_call"}


# -- LangChain -> engine ---------------------------------------------------------------
def content_text(content: Any, needs: set[str] | None = None) -> str:
    """The text of a message's content. Media blocks become `[image sha256:...]`
    placeholders (so two different images never share a cache key) and add the
    capability they need to `needs`."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, (list, tuple)):
        return str(content)
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
            continue
        if not isinstance(block, dict):
            parts.append(str(block))
            continue
        kind = block.get("type")
        if kind in ("text", "input_text", "output_text") or (kind is None and "text" in block):
            parts.append(str(block.get("text", "")))
        elif kind in _IMAGE_BLOCKS or kind in _MEDIA_BLOCKS:
            if needs is not None and kind in _IMAGE_BLOCKS:
                needs.add("vision")
            digest = hashlib.sha256(json.dumps(block, sort_keys=True, default=str).encode()).hexdigest()[:16]
            parts.append(f"[{'image' if kind in _IMAGE_BLOCKS else kind} sha256:{digest}]")
        elif kind in _SKIP_BLOCKS:
            continue
        else:
            parts.append(json.dumps(block, sort_keys=True, default=str))
    return "".join(parts)


def tool_calls_of(message: BaseMessage) -> list[dict[str, Any]]:
    """JSON-able tool calls of an AI message: [{name, args, id}]."""
    calls = getattr(message, "tool_calls", None) or []
    return [{"name": tc["name"], "args": tc.get("args", {}), "id": tc.get("id")} for tc in calls]


def _render_tool_calls(calls: list[dict[str, Any]]) -> str:
    return "\n".join(f"[tool_call {c['name']} {json.dumps(c['args'], sort_keys=True, default=str)}]" for c in calls)


def to_engine_messages(messages: Sequence[BaseMessage]) -> tuple[list[dict[str, Any]], set[str]]:
    """Engine message dicts for a LangChain conversation, and the capabilities
    its content needs (e.g. `vision` for images)."""
    needs: set[str] = set()
    out: list[dict[str, Any]] = []
    for m in messages:
        text = content_text(m.content, needs)
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": text})
        elif isinstance(m, HumanMessage):
            out.append({"role": "user", "content": text})
        elif isinstance(m, AIMessage):
            row: dict[str, Any] = {"role": "assistant", "content": text}
            calls = tool_calls_of(m)
            if calls:
                # the engine's exact cache key reads only role, content and tool_call_id:
                # put the calls in the text so conversations that differ in them differ in key
                row["content"] = (text + "\n" if text else "") + _render_tool_calls(calls)
                row["tool_calls"] = calls
            out.append(row)
        elif isinstance(m, ToolMessage):
            out.append({"role": "tool", "content": text, "tool_call_id": m.tool_call_id,
                        **({"name": m.name} if m.name else {})})
        elif isinstance(m, FunctionMessage):
            out.append({"role": "tool", "content": text, "name": m.name})
        elif isinstance(m, ChatMessage):
            out.append({"role": _ROLE_ALIASES.get(m.role.lower(), "user"), "content": text})
        else:
            out.append({"role": _ROLE_ALIASES.get(getattr(m, "type", "human"), "user"), "content": text})
    return out, needs


def count_conversation_tokens(messages: Sequence[BaseMessage], tools: Sequence[Any] | None = None) -> int:
    """Input tokens of a conversation and the tool schemas bound to it."""
    n = count_message_tokens(to_engine_messages(messages)[0])
    if tools:
        n += count_tokens(json.dumps([convert_to_openai_tool(t) for t in tools], sort_keys=True))
    return n


def tool_loop_model(messages: Sequence[BaseMessage]) -> str | None:
    """The model a tool loop is pinned to: when the conversation ends with tool
    results, the model (`response_metadata["sls_model"]`) of the AIMessage that
    asked for those tools (the router checks it is one of its candidates)."""
    i = len(messages) - 1
    answered: set[str] = set()
    while i >= 0 and isinstance(messages[i], ToolMessage):
        answered.add(messages[i].tool_call_id)
        i -= 1
    if not answered:
        return None
    for m in reversed(messages[: i + 1]):
        if isinstance(m, AIMessage) and any(tc.get("id") in answered for tc in m.tool_calls):
            name = (m.response_metadata or {}).get("sls_model")
            return name if isinstance(name, str) else None
    return None


# -- candidate output --------------------------------------------------------------------
def as_chunk(message: BaseMessage) -> AIMessageChunk:
    """A candidate's streamed piece as a clean AIMessageChunk: a model without
    streaming yields a whole AIMessage; LangChain run ids and chunk positions of
    the candidate's own run are dropped (the router's run sets them)."""
    if isinstance(message, AIMessageChunk):
        chunk = message.model_copy(update={"chunk_position": None})
    elif isinstance(message, AIMessage):
        chunk = AIMessageChunk(
            content=message.content, additional_kwargs=dict(message.additional_kwargs),
            response_metadata=dict(message.response_metadata), usage_metadata=message.usage_metadata,
            id=message.id, name=message.name,
            tool_call_chunks=[tool_call_chunk(name=tc["name"], args=json.dumps(tc["args"]), id=tc.get("id"),
                                              index=i) for i, tc in enumerate(message.tool_calls)],
        )
    else:
        chunk = AIMessageChunk(content=message.content)
    if chunk.id and chunk.id.startswith(LC_ID_PREFIXES):
        chunk.id = None
    return chunk


def merge_chunks(chunks: Sequence[AIMessageChunk]) -> AIMessageChunk:
    if not chunks:
        return AIMessageChunk(content="")
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    return merged


def counted_usage(input_tokens: int | None, output_tokens: int | None) -> UsageMetadata:
    i, o = int(input_tokens or 0), int(output_tokens or 0)
    return UsageMetadata(input_tokens=i, output_tokens=o, total_tokens=i + o)


def output_token_estimate(text: str, tool_calls: list[dict[str, Any]]) -> int:
    """Output tokens of an answer whose model reported no usage (text plus tool calls)."""
    n = count_tokens(text)
    if tool_calls:
        n += count_tokens(json.dumps([{"name": c["name"], "args": c["args"]} for c in tool_calls], default=str))
    return n


# -- router output -------------------------------------------------------------------------
def routing_metadata(result: Any) -> dict[str, Any]:
    """The `sls_*` keys of a routed answer: engine `Result.metadata()`, plus why
    candidates were left out (`sls_excluded`) and the verifier score when one ran."""
    meta = result.metadata()
    decision = getattr(result, "decision", None)
    if decision is not None and decision.excluded:
        meta["sls_excluded"] = dict(decision.excluded)
    if getattr(result, "verified", None) is not None:
        meta["sls_verified"] = round(float(result.verified), 4)
    return meta


def restored_tool_calls(extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": c["name"], "args": c.get("args", {}), "id": c.get("id") or f"call_{uuid.uuid4().hex[:24]}",
             "type": "tool_call"} for c in (extra or {}).get("tool_calls", [])]


def message_from_result(result: Any) -> AIMessage:
    """The AIMessage of a routed call: the candidate's own message (content, tool
    calls, usage, provider metadata) plus routing metadata; a cache hit carries
    the cached text and tool calls, zero usage (no model ran) and its tier."""
    meta = routing_metadata(result)
    answer = result.answer
    raw = answer.raw if answer is not None else None
    if isinstance(raw, AIMessage):
        usage = raw.usage_metadata or counted_usage(answer.input_tokens, answer.output_tokens)
        response_metadata = {**(raw.response_metadata or {})}
        response_metadata.setdefault("model_name", result.model)
        response_metadata.update(meta)
        msg_id = raw.id if raw.id and not raw.id.startswith(LC_ID_PREFIXES) else None
        return AIMessage(content=raw.content, additional_kwargs=dict(raw.additional_kwargs),
                         response_metadata=response_metadata, tool_calls=list(raw.tool_calls),
                         invalid_tool_calls=list(raw.invalid_tool_calls), usage_metadata=usage, id=msg_id,
                         name=raw.name)
    # a cache hit (or an answer with no framework object)
    usage = counted_usage(0, 0) if answer is None else counted_usage(answer.input_tokens, answer.output_tokens)
    return AIMessage(content=result.text, tool_calls=restored_tool_calls(result.extra),
                     response_metadata={"model_name": result.model, **meta}, usage_metadata=usage)


def cached_stream_chunks(result: Any, pieces: Sequence[str]) -> list[AIMessageChunk]:
    """Chunks that replay a cache hit: its text piece by piece, then one closing
    chunk with the cached tool calls, zero usage and the routing metadata."""
    chunks = [AIMessageChunk(content=p) for p in pieces if p]
    calls = restored_tool_calls(result.extra)
    chunks.append(AIMessageChunk(
        content="",
        tool_call_chunks=[tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
                          for i, c in enumerate(calls)],
        usage_metadata=counted_usage(0, 0),
        response_metadata={"model_name": result.model, **routing_metadata(result)},
        chunk_position="last",
    ))
    return chunks


def closing_chunk(result: Any, *, add_usage: bool, add_model_name: bool) -> AIMessageChunk:
    """The last chunk of a streamed routed call: routing metadata, plus counted
    usage when the candidate's chunks carried none (its own usage is kept as is)."""
    meta = routing_metadata(result)
    if add_model_name:
        meta = {"model_name": result.model, **meta}
    answer = result.answer
    usage = counted_usage(answer.input_tokens, answer.output_tokens) if add_usage and answer is not None else None
    return AIMessageChunk(content="", response_metadata=meta, usage_metadata=usage, chunk_position="last")
