"""One routed call: the engine `Request` a LangChain call becomes, the runnable
each candidate is called through, and its output as the engine's `Answer`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable

from shared_core.candidates import Answer
from shared_core.request import Request, pop_routing_options

from ._callbacks import PARENT_KW
from ._structured import SCHEMA_KW, is_json, structured_message, structured_request
from .candidates import accepted_kwargs, scrub
from .messages import tool_loop_model, output_token_estimate, to_engine_messages, tool_calls_of

_PRIVATE_PREFIX = "_sls_"
_NOT_FOR_CANDIDATES = ("stream", "ls_structured_output_format", PARENT_KW)


@dataclass
class Call:
    """One routed call: the engine request and how to call a candidate for it."""

    request: Request
    messages: list[BaseMessage]
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    tool_kwargs: dict[str, Any] = field(default_factory=dict)
    structured: tuple[str, Any] | None = None  # (method, schema) for json_mode / json_schema
    invoke_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def call_kwargs(self) -> dict[str, Any]:
        # kwargs of a structured runnable (a sequence) would not reach the model
        return {} if self.structured is not None else self.invoke_kwargs


def prepare(router: Any, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> Call:
    """The call `router` makes of a LangChain call's messages and kwargs."""
    kw = {k: v for k, v in kwargs.items() if k not in _NOT_FOR_CANDIDATES}
    tools = kw.pop("tools", None) or None
    tool_choice = kw.pop("tool_choice", None)
    tool_kwargs = {k: v for k in ("strict", "parallel_tool_calls") if (v := kw.pop(k, None)) is not None}
    response_format = kw.pop("response_format", None)
    schema = kw.pop(SCHEMA_KW, None)
    model = kw.pop("model", None)
    opts = pop_routing_options(kw, task=router.task, tenant=router.tenant, allow_cache=router.allow_cache)
    names = opts.candidates
    if isinstance(model, str) and model != router.model_name:
        names = [model] if names is None else [n for n in names if n == model]
    temperature = kw.pop("temperature", router.temperature)
    max_tokens = kw.pop("max_tokens", router.max_tokens)
    invoke_kwargs = {k: v for k, v in kw.items() if not k.startswith(_PRIVATE_PREFIX)}
    params = {k: v for k, v in invoke_kwargs.items() if _jsonable(v)}
    for key, value in (("temperature", temperature), ("max_tokens", max_tokens),
                       ("stop", list(stop or router.stop or []) or None)):
        if value is not None:
            invoke_kwargs[key] = params[key] = value
    if tool_choice is not None:
        params["tool_choice"] = tool_choice
    params.update(tool_kwargs)
    engine_messages, needs = to_engine_messages(messages)
    structured = request_format = None
    if response_format is not None:
        if tools:
            raise ValueError("SmartRouterLLM: tools and response_format in one call are not supported; "
                             "use with_structured_output(schema, method='function_calling') instead")
        request_format, structured = structured_request(response_format, schema)
        if request_format["type"] == "json_object":
            needs.add("json_mode")
        strict = (request_format.get("json_schema") or {}).get("strict")
        if strict is not None:
            tool_kwargs.setdefault("strict", strict)
    request = Request(
        messages=engine_messages, params=params, tools=list(tools or []), response_format=request_format,
        tenant=opts.tenant, task=opts.task, candidates=names, required_capabilities=frozenset(needs),
        pinned_model=router._pinned(tool_loop_model(messages)), allow_cache=opts.allow_cache,
        max_output_tokens=max_tokens, metadata=opts.metadata)
    return Call(request, list(messages), tools, tool_choice, tool_kwargs, structured, invoke_kwargs)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def candidate_runnable(model: Any, call: Call) -> Runnable:
    """Candidate `model` set up for the call: tools bound, or structured output."""
    if call.structured is not None:
        method, schema = call.structured
        extra = accepted_kwargs(type(model).with_structured_output, {"strict": call.tool_kwargs.get("strict")})
        return model.with_structured_output(schema, method=method, include_raw=True,
                                            **{k: v for k, v in extra.items() if v is not None})
    if call.tools:
        kwargs = {"tool_choice": call.tool_choice} if call.tool_choice is not None else {}
        kwargs.update(accepted_kwargs(type(model).bind_tools, call.tool_kwargs))
        return model.bind_tools(call.tools, **kwargs)
    return model


def to_answer(call: Call, message: Any, cache_tool_calls: bool) -> Answer:
    """What a candidate produced, as the engine's Answer (its own usage when it
    reported any; the LangChain message kept as `raw`)."""
    ok = True
    if call.structured is not None:
        message = structured_message(message)
        ok = is_json(str(message.text))
    text = str(message.text)
    calls = tool_calls_of(message)
    usage = message.usage_metadata
    return Answer(
        text=text,
        input_tokens=usage["input_tokens"] if usage else None,
        output_tokens=usage["output_tokens"] if usage else output_token_estimate(text, calls),
        extra={"tool_calls": calls} if calls else {},
        raw=message,
        cacheable=ok and (not calls or cache_tool_calls),
    )


@contextmanager
def scrubbed(secrets: set[str]) -> Iterator[None]:
    """Candidate errors reach the engine's log and `sls_attempts`: take any key a
    provider echoed in its error text out of the exception's args first."""
    try:
        yield
    except Exception as exc:
        if secrets:
            exc.args = tuple(scrub(a, secrets) if isinstance(a, str) else a for a in exc.args)
            for attr in ("message", "body"):
                if isinstance(getattr(exc, attr, None), str):
                    try:
                        setattr(exc, attr, scrub(getattr(exc, attr), secrets))
                    except Exception:  # read-only attribute: args were scrubbed already
                        pass
        raise
