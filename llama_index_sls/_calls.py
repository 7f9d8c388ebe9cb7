"""One routed call: the engine `Request` a LlamaIndex call becomes, the
candidate method it is served by (one table for chat, completion, streams and
tools), and a candidate's response as the engine's `Answer`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.llms.llm import LLM

from shared_core.candidates import Answer
from shared_core.request import Request, pop_routing_options

from ._prompts import question_and_context
from .messages import (
    jsonable,
    modelled_latency,
    needs_vision,
    selections_to_json,
    strip_sls,
    to_engine_messages,
    tool_calls_of_message,
    tool_loop_model,
    tool_schemas,
    usage_of,
)

if TYPE_CHECKING:
    from llama_index.core.tools import BaseTool

_TOOL_OPTIONS = ("allow_parallel_tool_calls", "tool_required")
# how each call is made of a candidate: its LLM method, and the one with tools
_METHODS = {"chat": ("chat", "chat_with_tools"), "achat": ("achat", "achat_with_tools"),
            "stream_chat": ("stream_chat", "stream_chat_with_tools"),
            "astream_chat": ("astream_chat", "astream_chat_with_tools"),
            "complete": ("complete", None), "acomplete": ("acomplete", None),
            "stream_complete": ("stream_complete", None), "astream_complete": ("astream_complete", None)}


@dataclass
class Call:
    """One routed call: the engine request plus what the candidate will be given."""

    request: Request
    messages: list[ChatMessage]
    tools: list["BaseTool"] = field(default_factory=list)
    call_kwargs: dict[str, Any] = field(default_factory=dict)
    tool_kwargs: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None  # a completion's prompt, given to the candidate as it is

    def of(self, llm: LLM, method: str) -> Any:
        """Call `method` (a key of `_METHODS`) of candidate `llm` for this call."""
        plain, with_tools = _METHODS[method]
        if self.prompt is not None:
            return getattr(llm, plain)(self.prompt, **self.call_kwargs)
        if self.tools:
            return getattr(llm, with_tools)(self.tools, chat_history=self.messages, **self.tool_kwargs,
                                            **self.call_kwargs)
        return getattr(llm, plain)(self.messages, **self.call_kwargs)


def prepare(router: Any, messages: Sequence[ChatMessage], kwargs: dict[str, Any], *,
            prompt: str | None = None) -> Call:
    """The call `router` makes of a LlamaIndex call's messages (or prompt) and kwargs."""
    kwargs = dict(kwargs)
    opts = pop_routing_options(kwargs, task=router.task, tenant=router.tenant, candidates=router.candidate_names,
                               allow_cache=router.allow_cache)
    tools = list(kwargs.pop("tools", None) or [])
    tool_kwargs = {k: kwargs.pop(k) for k in _TOOL_OPTIONS if k in kwargs}
    engine_messages = [{"role": "user", "content": prompt}] if prompt is not None else to_engine_messages(messages)
    # as in the LangChain adapter, streaming needs no capability: every LlamaIndex LLM streams
    caps = {"vision"} if needs_vision(messages) else set()
    params = {k: jsonable(v) for k, v in sorted(kwargs.items()) if k != "formatted"}
    if tools:
        params.update({k: jsonable(v) for k, v in tool_kwargs.items()})
    question, context = question_and_context(engine_messages)
    request = Request(
        messages=engine_messages, params=params, tools=tool_schemas(tools) if tools else [],
        tenant=opts.tenant, task=opts.task, candidates=opts.candidates, required_capabilities=frozenset(caps),
        pinned_model=router._pinned(tool_loop_model(messages)), allow_cache=opts.allow_cache,
        max_output_tokens=router.max_tokens, metadata=opts.metadata, query_text=question, context_key=context)
    return Call(request, strip_sls(messages), tools, kwargs, tool_kwargs, prompt)


def to_answer(llm: LLM, call: Call, response: ChatResponse | CompletionResponse | None,
              cache_tool_calls: bool) -> Answer:
    """What candidate `llm` produced, as the engine's Answer (the response kept as `raw`)."""
    if response is None:
        return Answer("", raw=None, cacheable=False)
    calls: list[dict[str, Any]] = []
    if call.tools and isinstance(response, ChatResponse):
        try:
            calls = selections_to_json(llm.get_tool_calls_from_response(response, error_on_no_tool_call=False))
        except Exception:  # an integration that cannot parse: read the message generically
            calls = tool_calls_of_message(response.message)
    text = (response.message.content if isinstance(response, ChatResponse) else response.text) or ""
    tin, tout = usage_of(response)
    return Answer(text, input_tokens=tin, output_tokens=tout, latency_s=modelled_latency(response),
                  extra={"tool_calls": calls} if calls else {}, raw=response,
                  cacheable=not calls or cache_tool_calls)
