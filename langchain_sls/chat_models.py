"""`SmartRouterLLM`: a LangChain chat model that routes every call through SLS.

It drops in where a `ChatOpenAI(...)` was: chains, agents, LangGraph graphs.
Each call becomes an engine `Request`; the engine looks in its cache, predicts
each candidate's quality, cost and latency, picks one, and this class calls the
chosen LangChain chat model (as a child run, so callbacks and LangSmith see it),
falling back to the next candidate when one raises. The returned `AIMessage`
carries the candidate's own content, tool calls and `usage_metadata`, and
routing metadata in `response_metadata`:

    sls_request_id, sls_model, sls_cache_tier, sls_predicted {p_good, cost_usd,
    latency_s}, sls_cost_usd, sls_latency_s, sls_reason, sls_attempts, ...

Design choices worth knowing:

- Tool calls: `bind_tools` routes only among candidates with the `tools`
  capability; a turn answering tool results goes to the model that asked for
  them (a soft pin: another tool-capable model takes over if it fails). Answers with tool calls are not cached unless `cache_tool_calls=True`
  (a near-duplicate hit would replay a call with another request's arguments).
- Structured output: `function_calling` (tool calling, the default when a
  candidate has tools), `json_schema` (candidates with `structured_output`) or
  `json_mode` (candidates with `json_mode`), where the candidate's own
  `with_structured_output(..., include_raw=True)` is called and its raw message
  kept. Structured json calls do not stream token by token.
- Per-call routing controls: `model="<candidate>"` restricts the call to one
  candidate; `sls_task`, `sls_tenant`, `sls_candidates`, `sls_allow_cache`,
  `sls_max_cost_usd`, `sls_metadata` set the request's fields. Other call kwargs
  (`temperature`, `max_tokens`, `stop`, provider kwargs) go to the candidate.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from copy import deepcopy
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import yaml
from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import JsonOutputKeyToolsParser, PydanticToolsParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, RunnableMap, RunnablePassthrough, ensure_config
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from langchain_core.utils.uuid import uuid7
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from shared_core.candidates import Answer, split_for_stream
from shared_core.config import SLSConfig, expand_env
from shared_core.engine import Engine, Result, StreamEvent
from shared_core.errors import ConfigError
from shared_core.request import Request
from shared_core.tokens import count_message_tokens, count_tokens, get_encoding

from ._guard import aguard, engine_retries, guard
from .candidates import (
    CANDIDATE_FIELDS,
    accepted_kwargs,
    build_chat_model,
    infer_capabilities,
    infer_context_window,
    model_label,
    redact,
    scrub,
    secrets_of,
)
from .messages import (
    as_chunk,
    cached_stream_chunks,
    closing_chunk,
    find_pinned_model,
    merge_chunks,
    message_from_result,
    output_token_estimate,
    to_engine_messages,
    tool_calls_of,
)
from .verifiers import build_verifiers

_PARENT_KW = "_sls_stream_parent"
_SCHEMA_KW = "_sls_schema"
_PRIVATE_PREFIX = "_sls_"
_ROUTING_KWARGS = ("sls_task", "sls_tenant", "sls_candidates", "sls_allow_cache", "sls_max_cost_usd", "sls_metadata")
_CANDIDATE_TAGS = ["sls:candidate", "nostream"]  # `nostream`: LangGraph streams the router's run, not both
# The run manager of a call that `_generate_with_cache` turns into `_stream` (a
# streaming callback is attached): langchain-core does not pass it to `_stream`.
_PENDING_RUN: ContextVar[Any] = ContextVar("sls_pending_run_manager", default=None)
_METHOD_CAPABILITY = {"function_calling": "tools", "json_schema": "structured_output", "json_mode": "json_mode"}


@dataclass
class _Call:
    """One routed call: the engine request and how to call a candidate for it."""

    request: Request
    messages: list[BaseMessage]
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    tool_kwargs: dict[str, Any] = field(default_factory=dict)
    structured: tuple[str, Any] | None = None  # (method, schema) for json_mode / json_schema
    invoke_kwargs: dict[str, Any] = field(default_factory=dict)


def _child_manager(run_id: uuid.UUID, parent: Any, async_: bool) -> CallbackManager | AsyncCallbackManager:
    """Callbacks for a run nested in run `run_id`: the parent's inheritable
    handlers, tags and metadata (what `ParentRunManager.get_child` does; the
    run managers of chat models have no `get_child`)."""
    child = (AsyncCallbackManager if async_ else CallbackManager)(handlers=[], parent_run_id=run_id)
    child.set_handlers(parent.inheritable_handlers)
    child.add_tags(parent.inheritable_tags)
    child.add_metadata(parent.inheritable_metadata)
    return child


def _child_of(run_manager: Any) -> CallbackManager | AsyncCallbackManager | None:
    if run_manager is None:
        return None
    return _child_manager(run_manager.run_id, run_manager, isinstance(run_manager, AsyncCallbackManagerForLLMRun))


class _StreamParent:
    """Lets `_stream` open its candidates' runs as children of the router's run.

    `BaseChatModel.stream` creates the router's run but does not hand its run
    manager to `_stream`; so `stream()` fixes the run id up front and configures
    the inheritable callbacks once (the same handler objects, tracer included,
    serve the router's run and the candidate's child run)."""

    def __init__(self, config: RunnableConfig, async_: bool):
        self.async_ = async_
        self.run_id = config.get("run_id") or uuid7()
        manager_cls = AsyncCallbackManager if async_ else CallbackManager
        self.manager = manager_cls.configure(inheritable_callbacks=config.get("callbacks"),
                                             inheritable_tags=config.get("tags"),
                                             inheritable_metadata=config.get("metadata"))
        self.config: RunnableConfig = {**config, "callbacks": self.manager, "run_id": self.run_id}

    def child(self) -> CallbackManager | AsyncCallbackManager:
        return _child_manager(self.run_id, self.manager, self.async_)

    def __repr__(self) -> str:  # appears nowhere user-facing; keep it short
        return "<sls stream parent>"


class SmartRouterLLM(BaseChatModel):
    """A chat model that routes each call to the most cost-effective candidate.

    Build it from YAML (`SmartRouterLLM.from_config("router.yaml")`) or in Python:

        SmartRouterLLM(candidates=[
            {"name": "small", "model": ChatOpenAI(model="gpt-4o-mini"), "price_in": 0.15, "price_out": 0.6},
            {"name": "large", "model": "anthropic:claude-sonnet-4-5", "price_in": 3, "price_out": 15,
             "capabilities": ["tools", "streaming", "vision"]},
        ])

    `config` (a YAML path, a dict or an `SLSConfig`) holds everything else the
    engine takes (preferences, budget, cache, predictor, state, verifiers);
    Python `candidates` are added to its candidates (or fill in the model of a
    same-named one), `models={name: chat_model}` supplies model objects for
    configured names. Capabilities and context window not given are read from
    the chat model (its class and LangChain model profile).
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=())

    model_name: str = Field(default="sls-router", alias="model")
    """The router's name in traces; a per-call `model=` names a candidate instead."""
    config: Any = Field(default=None, repr=False, exclude=True)
    """YAML path, dict or `SLSConfig`: preferences, budget, cache, state, candidates, verifiers."""
    candidates: list[Any] = Field(default_factory=list, repr=False, exclude=True)
    """Python candidates: dicts with `model` (a chat model, 'provider:model' or a provider spec),
    `price_in`, `price_out` (USD per 1M tokens) and optional candidate fields."""
    models: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)
    """Chat model objects for configured candidate names (override their provider spec)."""
    verifiers: list[Any] | None = Field(default=None, repr=False, exclude=True)
    """Extra verifiers: shared_core Verifier objects, chat models (judges) or functions."""
    task: str = "default"
    tenant: str = "default"
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    timeout: float | None = None
    """Seconds a candidate call (invoke, ainvoke, batch) may take before it counts as failed
    and the next candidate serves; streams are not timed (see langchain_sls/_guard.py)."""
    max_retries: int | None = None
    """Retries of a candidate call on 429, 5xx, timeouts and dropped connections, with
    backoff, before the next candidate serves."""
    streaming: bool = False
    allow_cache: bool | None = None
    cache_tool_calls: bool = False

    _engine: Engine = PrivateAttr()
    _models: dict[str, BaseChatModel] = PrivateAttr(default_factory=dict)
    _secrets: set[str] = PrivateAttr(default_factory=set)
    _retries: int | None = PrivateAttr(default=None)  # max_retries, unless the engine retries itself

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_config(cls, path: str | Path | dict[str, Any] | SLSConfig, **kwargs: Any) -> "SmartRouterLLM":
        """A router from a YAML file (or dict / SLSConfig); kwargs as for the constructor."""
        return cls(config=path, **kwargs)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # built after validation, so that configuration errors surface as ConfigError
        # (naming the field) rather than wrapped in a pydantic ValidationError
        self._build_router()

    def _build_router(self) -> None:
        config, models, secrets = _assemble(self.config, self.candidates, self.models)
        verifiers = build_verifiers(config.verifiers, self.verifiers, models)
        config.verifiers = [redact(v) for v in config.verifiers]
        self._models = models
        self._secrets = secrets
        self._engine = Engine(config, verifiers=verifiers)
        self._engine.secrets |= secrets  # scrubbed from every error and log line
        self._retries = None if engine_retries(self._engine, self.max_retries) else self.max_retries
        if self.profile is None:
            cands = config.candidates
            self.profile = {
                "tool_calling": any("tools" in c.capabilities for c in cands),
                "tool_choice": any("tools" in c.capabilities for c in cands),
                "image_inputs": any("vision" in c.capabilities for c in cands),
                "max_input_tokens": max(c.context_window for c in cands),
            }

    # -- what the router is ----------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "sls-router"

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def candidate_models(self) -> dict[str, BaseChatModel]:
        return dict(self._models)

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "candidates": [c.name for c in self._engine.config.candidates],
                "task": self.task, "tenant": self.tenant, "temperature": self.temperature,
                "max_tokens": self.max_tokens}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        model = kwargs.get("model")
        params = LangSmithParams(ls_provider="sls", ls_model_name=model if isinstance(model, str) else self.model_name,
                                 ls_model_type="chat")
        temperature = kwargs.get("temperature", self.temperature)
        if isinstance(temperature, (int, float)):
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        stop = stop or self.stop
        if stop:
            params["ls_stop"] = stop
        return params

    def _get_invocation_params(self, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith(_PRIVATE_PREFIX)}
        return super()._get_invocation_params(stop=stop, **kwargs)

    # -- tokens (offline: tiktoken with the encodings llama-index-core ships) -------------
    def get_token_ids(self, text: str) -> list[int]:
        enc = get_encoding()
        if enc is None:
            return list(range(count_tokens(text)))
        return enc.encode(text, disallowed_special=())

    def get_num_tokens(self, text: str) -> int:
        return count_tokens(text)

    def get_num_tokens_from_messages(self, messages: list[BaseMessage],
                                     tools: Sequence[Any] | None = None) -> int:
        engine_messages, _ = to_engine_messages(messages)
        n = count_message_tokens(engine_messages)
        if tools:
            n += count_tokens(json.dumps([convert_to_openai_tool(t) for t in tools], sort_keys=True))
        return n

    # -- feedback and state -----------------------------------------------------------------
    def feedback(self, request_id: str | BaseMessage, score: float) -> bool:
        """Score (0..1) the answer of a request id, or of an AIMessage this router returned.
        False if the id is unknown (never served, or too old to be remembered). A request
        takes one score: a second raises `shared_core.errors.FeedbackError` and the first
        stands (the router has learned from it already)."""
        if isinstance(request_id, BaseMessage):
            request_id = (request_id.response_metadata or {}).get("sls_request_id", "")
        return self._engine.feedback(str(request_id), score)

    def stats(self) -> dict[str, Any]:
        return self._engine.stats()

    def save(self) -> None:
        self._engine.save()

    def close(self) -> None:
        """Save the learned state (with `state.path` set) and release it."""
        self._engine.close()

    def __enter__(self) -> "SmartRouterLLM":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- tools and structured output -----------------------------------------------------------
    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], *,
                   tool_choice: dict | str | bool | None = None, strict: bool | None = None,
                   parallel_tool_calls: bool | None = None, **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any form `convert_to_openai_tool` takes). Calls then route only
        among candidates with the `tools` capability, each getting the schemas through
        its own `bind_tools` (with `tool_choice`, and `strict` / `parallel_tool_calls`
        where its `bind_tools` names them)."""
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if tool_choice is not None and tool_choice is not False:
            if not isinstance(tool_choice, (str, dict, bool)):
                raise ValueError(f"Unrecognized tool_choice type {type(tool_choice).__name__}: "
                                 "expected str, bool or dict")
            kwargs["tool_choice"] = tool_choice
        if strict is not None:
            kwargs["strict"] = strict
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(self, schema: dict[str, Any] | type | None = None, *, method: str | None = None,
                               include_raw: bool = False, strict: bool | None = None,
                               **kwargs: Any) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Structured output through `function_calling` (tools), `json_schema` or
        `json_mode`; the default is the first of these some candidate supports."""
        if kwargs:
            raise ValueError(f"Received unsupported arguments {kwargs}")
        method = method or self._default_structured_method()
        if method not in _METHOD_CAPABILITY:
            raise ValueError(f"Unrecognized method argument. Expected one of 'function_calling', 'json_schema' or "
                             f"'json_mode'. Received: '{method}'")
        capability = _METHOD_CAPABILITY[method]
        if not any(capability in c.capabilities for c in self._engine.config.candidates):
            raise ValueError(f"with_structured_output(method='{method}') needs a candidate with the '{capability}' "
                             f"capability; candidates: " + ", ".join(f"{c.name} {c.capabilities}"
                                                                     for c in self._engine.config.candidates))
        if schema is None and method != "json_mode":
            raise ValueError(f"schema must be specified when method is '{method}'")
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
        parser: Runnable
        if method == "function_calling":
            tool_name = convert_to_openai_tool(schema)["function"]["name"]
            llm = self.bind_tools([schema], tool_choice=tool_name, strict=strict, ls_structured_output_format=ls_format)
            parser = (PydanticToolsParser(tools=[schema], first_tool_only=True) if is_pydantic
                      else JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True))
        else:
            if method == "json_schema":
                js = convert_to_json_schema(schema, strict=strict)
                json_schema = {"name": js.get("title", "output"), "schema": js}
                if strict is not None:
                    json_schema["strict"] = strict
                response_format: dict[str, Any] = {"type": "json_schema", "json_schema": json_schema}
            else:
                response_format = {"type": "json_object"}
                if schema is not None:
                    response_format["schema"] = convert_to_json_schema(schema)
            llm = self.bind(response_format=response_format, ls_structured_output_format=ls_format,
                            **{_SCHEMA_KW: schema})
            parser = PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
        if not include_raw:
            return llm | parser
        parser_assign = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parser_assign.with_fallbacks([parser_none], exception_key="parsing_error")

    def _default_structured_method(self) -> str:
        caps = {cap for c in self._engine.config.candidates for cap in c.capabilities}
        for method in ("function_calling", "json_schema", "json_mode"):
            if _METHOD_CAPABILITY[method] in caps:
                return method
        return "function_calling"

    # -- one call -----------------------------------------------------------------------------------
    def _prepare(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> _Call:
        kw = {k: v for k, v in kwargs.items() if k != _PARENT_KW}
        tools = kw.pop("tools", None) or None
        tool_choice = kw.pop("tool_choice", None)
        tool_kwargs = {k: v for k in ("strict", "parallel_tool_calls") if (v := kw.pop(k, None)) is not None}
        response_format = kw.pop("response_format", None)
        schema = kw.pop(_SCHEMA_KW, None)
        model = kw.pop("model", None)
        task = kw.pop("sls_task", None) or self.task
        tenant = kw.pop("sls_tenant", None) or self.tenant
        names = kw.pop("sls_candidates", None)
        allow_cache = kw.pop("sls_allow_cache", self.allow_cache)
        max_cost = kw.pop("sls_max_cost_usd", None)
        metadata = dict(kw.pop("sls_metadata", None) or {})
        kw.pop("stream", None)
        kw.pop("ls_structured_output_format", None)
        temperature = kw.pop("temperature", self.temperature)
        max_tokens = kw.pop("max_tokens", self.max_tokens)
        stop = list(stop or self.stop or []) or None
        if isinstance(model, str) and model != self.model_name:
            names = [model] if names is None else [n for n in names if n == model]
        if max_cost is not None:
            metadata["max_cost_usd"] = float(max_cost)

        invoke_kwargs = {k: v for k, v in kw.items() if not k.startswith(_PRIVATE_PREFIX)}
        params = {k: v for k, v in invoke_kwargs.items() if _jsonable(v)}
        for key, value in (("temperature", temperature), ("max_tokens", max_tokens), ("stop", stop)):
            if value is not None:
                invoke_kwargs[key] = value
                params[key] = value
        if tool_choice is not None:
            params["tool_choice"] = tool_choice
        params.update(tool_kwargs)

        engine_messages, needs = to_engine_messages(messages)
        structured = None
        request_format = None
        if response_format is not None:
            if tools:
                raise ValueError("SmartRouterLLM: tools and response_format in one call are not supported; "
                                 "use with_structured_output(schema, method='function_calling') instead")
            request_format, structured = _structured_request(response_format, schema)
            if request_format["type"] == "json_object":
                needs.add("json_mode")
            strict = (request_format.get("json_schema") or {}).get("strict")
            if strict is not None:
                tool_kwargs.setdefault("strict", strict)
        known = [c.name for c in self._engine.config.candidates]
        request = Request(
            messages=engine_messages, params=params, tools=list(tools or []), response_format=request_format,
            tenant=tenant, task=task, candidates=names, required_capabilities=frozenset(needs),
            pinned_model=find_pinned_model(messages, known), allow_cache=allow_cache, max_output_tokens=max_tokens,
            metadata=metadata)
        return _Call(request, list(messages), tools, tool_choice, tool_kwargs, structured, invoke_kwargs)

    def _candidate_runnable(self, name: str, call: _Call) -> Runnable:
        model = self._models[name]
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

    @staticmethod
    def _child_config(name: str, callbacks: Any) -> RunnableConfig:
        return {"callbacks": callbacks, "tags": list(_CANDIDATE_TAGS), "metadata": {"sls_candidate": name}}

    def _answer(self, call: _Call, message: Any) -> Answer:
        """What a candidate produced, as the engine's Answer (its own usage when it
        reported any; the LangChain message kept as `raw`)."""
        ok = True
        if call.structured is not None:
            message = _structured_message(message)
            ok = _is_json(str(message.text))
        text = str(message.text)
        calls = tool_calls_of(message)
        usage = message.usage_metadata
        return Answer(
            text=text,
            input_tokens=usage["input_tokens"] if usage else None,
            output_tokens=usage["output_tokens"] if usage else output_token_estimate(text, calls),
            extra={"tool_calls": calls} if calls else {},
            raw=message,
            cacheable=ok and (not calls or self.cache_tool_calls),
        )

    def _result(self, result: Result) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=message_from_result(result))])

    # -- invoke / ainvoke (batch and abatch run these) ----------------------------------------------------
    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        call = self._prepare(messages, stop, kwargs)
        callbacks = _child_of(run_manager)

        def invoke(name: str, request: Request) -> Answer:
            with _scrubbed(self._secrets):
                out = self._candidate_runnable(name, call).invoke(
                    call.messages, config=self._child_config(name, callbacks), **_call_kwargs(call))
            return self._answer(call, out)

        return self._result(self._engine.run(call.request, call=guard(invoke, self.timeout, self._retries)))

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        call = self._prepare(messages, stop, kwargs)
        callbacks = _child_of(run_manager)

        async def ainvoke(name: str, request: Request) -> Answer:
            with _scrubbed(self._secrets):
                out = await self._candidate_runnable(name, call).ainvoke(
                    call.messages, config=self._child_config(name, callbacks), **_call_kwargs(call))
            return self._answer(call, out)

        return self._result(await self._engine.arun(call.request, acall=aguard(ainvoke, self.timeout, self._retries)))

    # -- stream / astream ---------------------------------------------------------------------------------
    def _should_stream(self, *, async_api: bool, run_manager: Any = None, **kwargs: Any) -> bool:
        ok = super()._should_stream(async_api=async_api, run_manager=run_manager, **kwargs)
        _PENDING_RUN.set(run_manager if ok else None)
        return ok

    def stream(self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
               stop: list[str] | None = None, **kwargs: Any) -> Iterator[AIMessageChunk]:
        parent = _StreamParent(ensure_config(config), async_=False)
        yield from super().stream(input, parent.config, stop=stop, **{_PARENT_KW: parent}, **kwargs)

    async def astream(self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
                      stop: list[str] | None = None, **kwargs: Any) -> AsyncIterator[AIMessageChunk]:
        parent = _StreamParent(ensure_config(config), async_=True)
        async for chunk in super().astream(input, parent.config, stop=stop, **{_PARENT_KW: parent}, **kwargs):
            yield chunk

    @staticmethod
    def _stream_callbacks(run_manager: Any, parent: _StreamParent | None) -> Any:
        pending = _PENDING_RUN.get()
        _PENDING_RUN.set(None)
        if run_manager is not None:
            return _child_of(run_manager)
        if parent is not None:
            return parent.child()
        return _child_of(pending)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        callbacks = self._stream_callbacks(run_manager, kwargs.get(_PARENT_KW))
        call = self._prepare(messages, stop, kwargs)
        seen = _Seen()

        def open_stream(name: str, request: Request) -> Iterator[AIMessageChunk]:
            with _scrubbed(self._secrets):
                runnable = self._candidate_runnable(name, call)
                config = self._child_config(name, callbacks)
                if call.structured is not None:  # json output: one piece, from invoke
                    yield as_chunk(_structured_message(runnable.invoke(call.messages, config=config)))
                    return
                yield from _held_empties(as_chunk(p) for p in runnable.stream(call.messages, config=config,
                                                                              **call.invoke_kwargs))

        for event in self._engine.stream(call.request, open_stream, self._stream_answer(call)):
            yield from seen.generations(event)

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        callbacks = self._stream_callbacks(run_manager, kwargs.get(_PARENT_KW))
        call = self._prepare(messages, stop, kwargs)
        seen = _Seen()

        async def open_stream(name: str, request: Request) -> AsyncIterator[AIMessageChunk]:
            with _scrubbed(self._secrets):
                runnable = self._candidate_runnable(name, call)
                config = self._child_config(name, callbacks)
                if call.structured is not None:
                    yield as_chunk(_structured_message(await runnable.ainvoke(call.messages, config=config)))
                    return
                holder = _EmptyHolder()
                async for piece in runnable.astream(call.messages, config=config, **call.invoke_kwargs):
                    chunk = holder.push(as_chunk(piece))
                    if chunk is not None:
                        yield chunk
                if holder.held is not None:
                    yield holder.held

        async for event in self._engine.astream(call.request, open_stream, self._stream_answer(call)):
            for generation in seen.generations(event):
                yield generation

    def _stream_answer(self, call: _Call) -> Callable[[str, list[AIMessageChunk]], Answer]:
        """The engine's `to_answer`: a candidate's streamed chunks as one answer."""
        return lambda name, chunks: self._answer(call, merge_chunks(chunks))


class _Seen:
    """What the candidate's chunks already carried, so the closing chunk neither
    double-counts usage nor concatenates a second model name."""

    def __init__(self) -> None:
        self.usage = False
        self.model_name = False

    def generations(self, event: StreamEvent) -> list[ChatGenerationChunk]:
        """What the caller sees of an engine stream event."""
        if event.kind == "chunk":
            self.note(event.chunk)
            return [ChatGenerationChunk(message=event.chunk)]
        if event.result is None:
            return []
        return [ChatGenerationChunk(message=chunk) for chunk in self.closing(event.result)]

    def note(self, chunk: AIMessageChunk) -> None:
        self.usage = self.usage or chunk.usage_metadata is not None
        self.model_name = self.model_name or "model_name" in (chunk.response_metadata or {})

    def closing(self, result: Result) -> list[AIMessageChunk]:
        if result.tier is not None:  # a cache hit: stream the cached answer
            return cached_stream_chunks(result, split_for_stream(result.text))
        return [closing_chunk(result, add_usage=not self.usage, add_model_name=not self.model_name)]


def _is_empty(chunk: AIMessageChunk) -> bool:
    return not chunk.content and not chunk.tool_call_chunks and chunk.usage_metadata is None


class _EmptyHolder:
    """Holds back content-free chunks (a provider's role-only opening chunk) and
    merges them into the next real one: a candidate failing after such a chunk
    has shown nothing yet, so the engine can still fall back."""

    def __init__(self) -> None:
        self.held: AIMessageChunk | None = None

    def push(self, chunk: AIMessageChunk) -> AIMessageChunk | None:
        """The chunk to yield now, or None while only empty chunks have come."""
        if _is_empty(chunk):
            self.held = chunk if self.held is None else self.held + chunk
            return None
        out = chunk if self.held is None else self.held + chunk
        self.held = None
        return out


def _held_empties(chunks: Iterator[AIMessageChunk]) -> Iterator[AIMessageChunk]:
    holder = _EmptyHolder()
    for chunk in chunks:
        out = holder.push(chunk)
        if out is not None:
            yield out
    if holder.held is not None:
        yield holder.held


@contextmanager
def _scrubbed(secrets: set[str]) -> Iterator[None]:
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


def _call_kwargs(call: _Call) -> dict[str, Any]:
    # kwargs of a structured runnable (a sequence) would not reach the model
    return {} if call.structured is not None else call.invoke_kwargs


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except (TypeError, ValueError):
        return False


def _structured_request(response_format: Any, schema: Any) -> tuple[dict[str, Any], tuple[str, Any]]:
    """The engine's response_format and the (method, schema) a candidate's
    `with_structured_output` gets, from an OpenAI-style response_format."""
    if isinstance(response_format, type):  # bind(response_format=PydanticModel), as ChatOpenAI takes it
        schema = response_format if schema is None else schema
        js = convert_to_json_schema(response_format)
        response_format = {"type": "json_schema", "json_schema": {"name": js.get("title", "output"), "schema": js}}
    if not isinstance(response_format, dict) or response_format.get("type") not in ("json_object", "json_schema"):
        raise ValueError(f"response_format must be {{'type': 'json_object'}}, {{'type': 'json_schema', ...}} or a "
                         f"pydantic class, got {response_format!r}")
    if response_format["type"] == "json_schema":
        if schema is None:
            schema = (response_format.get("json_schema") or {}).get("schema")
        return response_format, ("json_schema", schema)
    return response_format, ("json_mode", schema)


def _structured_message(out: Any) -> AIMessage:
    """The raw message of a candidate's `with_structured_output(include_raw=True)`,
    with the JSON answer as its text (a candidate that answered through a tool
    call, or whose text is not JSON but parsed, gets the parsed value as text)."""
    if not isinstance(out, dict):
        return out
    raw: AIMessage = out["raw"]
    parsed = out.get("parsed")
    text = str(raw.text) if raw is not None else ""
    if not _is_json(text):
        if parsed is not None:
            text = json.dumps(parsed.model_dump() if isinstance(parsed, BaseModel) else parsed, default=str)
        elif raw is not None and raw.tool_calls:
            text = json.dumps(raw.tool_calls[0]["args"], default=str)
    return AIMessage(content=text, usage_metadata=raw.usage_metadata if raw is not None else None,
                     response_metadata=dict(raw.response_metadata) if raw is not None else {},
                     id=raw.id if raw is not None else None)


# -- configuration ----------------------------------------------------------------------------------------------
def _load_config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, SLSConfig):
        return config.to_dict()
    if isinstance(config, dict):
        return expand_env(deepcopy(config))
    if isinstance(config, (str, Path)):
        path = Path(config)
        if not path.exists():
            raise ConfigError("<file>", f"{path} does not exist")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError("<yaml>", f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("<root>", f"{path}: expected a mapping, got {type(data).__name__}")
        return expand_env(data)
    raise ConfigError("config", f"expected a YAML path, a dict or an SLSConfig, got {type(config).__name__}")


def _python_candidate(entry: Any, index: int) -> tuple[dict[str, Any], BaseChatModel | None]:
    where = f"candidates[{index}]"
    if isinstance(entry, BaseChatModel):
        raise ConfigError(where, "give a dict with the model and its prices: "
                                 "{'model': chat_model, 'price_in': ..., 'price_out': ...}")
    if not isinstance(entry, dict):
        raise ConfigError(where, f"expected a dict, got {type(entry).__name__}")
    fields = dict(entry)
    model = fields.pop("model", None)
    kwargs = fields.pop("kwargs", None)
    obj = None
    if isinstance(model, BaseChatModel):
        obj = model
        fields.setdefault("name", model_label(model))
    elif isinstance(model, str):
        fields.setdefault("provider", {"model": model, **({"kwargs": kwargs} if kwargs else {})})
        fields.setdefault("name", model)
    elif isinstance(model, dict):
        fields.setdefault("provider", model)
    elif model is not None:
        raise ConfigError(f"{where}.model", f"expected a chat model, 'provider:model' or a provider spec, "
                                            f"got {type(model).__name__}")
    unknown = set(fields) - set(CANDIDATE_FIELDS)
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}", f"unknown field; known: model, kwargs, "
                                                           f"{', '.join(CANDIDATE_FIELDS)}")
    return fields, obj


def _assemble(config: Any, candidates: list[Any],
              models: dict[str, Any]) -> tuple[SLSConfig, dict[str, BaseChatModel], set[str]]:
    """The engine config and each candidate's chat model, from YAML/dict config,
    Python candidates and model objects."""
    data = _load_config(config)
    cands: list[dict[str, Any]] = [dict(c) if isinstance(c, dict) else c for c in (data.get("candidates") or [])]
    objects: dict[str, BaseChatModel] = {}
    for i, entry in enumerate(candidates or []):
        fields, obj = _python_candidate(entry, len(cands))
        same = next((c for c in cands if isinstance(c, dict) and c.get("name") == fields.get("name")), None)
        if same is not None:
            same.update(fields)
        else:
            cands.append(fields)
        if obj is not None:
            objects[fields.get("name") or model_label(obj)] = obj
    for name, obj in (models or {}).items():
        if not isinstance(obj, BaseChatModel):
            raise ConfigError(f"models.{name}", f"expected a LangChain chat model, got {type(obj).__name__}")
        objects[name] = obj

    built: dict[str, BaseChatModel] = {}
    secrets: set[str] = set()
    for i, cand in enumerate(cands):
        where = f"candidates[{i}]"
        if not isinstance(cand, dict):
            raise ConfigError(where, f"expected a mapping, got {type(cand).__name__}")
        provider = cand.get("provider") or {}
        if not cand.get("name") and isinstance(provider, dict) and isinstance(provider.get("model"), str):
            cand["name"] = provider["model"]
        name = cand.get("name")
        if not name:
            raise ConfigError(f"{where}.name", "missing")
        model = objects.get(name)
        if model is None:
            if not provider:
                raise ConfigError(f"{where}.provider", f"candidate '{name}' has no model: give provider.model "
                                  "('openai:gpt-4o-mini'), provider.class, or pass models={name: chat_model}")
            model = build_chat_model(provider, f"{where}.provider")
        if "capabilities" not in cand:
            cand["capabilities"] = infer_capabilities(model)
        if "context_window" not in cand and (window := infer_context_window(model)):
            cand["context_window"] = window
        secrets |= secrets_of(model, provider)
        if provider:
            cand["provider"] = redact(provider)
        built[name] = model
    unknown_models = set(objects) - set(built)
    if unknown_models:
        raise ConfigError("models", f"no candidate named {sorted(unknown_models)[0]!r}; candidates: {sorted(built)}")
    data["candidates"] = cands
    return SLSConfig.from_dict(data), built, secrets
