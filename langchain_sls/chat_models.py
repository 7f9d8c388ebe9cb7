"""`SmartRouterLLM`: a LangChain chat model that routes every call through SLS.

It drops in where a `ChatOpenAI(...)` was: chains, agents, LangGraph graphs.
Each call becomes an engine `Request` (`_calls.py`); the engine looks in its
cache, predicts each candidate's quality, cost and latency, picks one, and this
class calls the chosen LangChain chat model as a child run (`_callbacks.py`),
falling back to the next candidate when one raises. The returned `AIMessage`
carries the candidate's own content, tool calls and `usage_metadata`, and the
routing metadata (`sls_request_id`, `sls_model`, `sls_cache_tier`, `sls_predicted`,
`sls_cost_usd`, `sls_latency_s`, `sls_reason`, `sls_attempts`, ...) in `response_metadata`.

- Tools: `bind_tools` routes only among candidates with the `tools` capability;
  a turn answering tool results goes first to the model that asked for them.
  Answers with tool calls are cached only with `cache_tool_calls=True`.
- Structured output (`_structured.py`): `function_calling`, `json_schema` or
  `json_mode`, through the candidate's own `with_structured_output`.
- Per call: `model="<candidate>"` restricts the call to one candidate; `sls_task`,
  `sls_tenant`, `sls_candidates`, `sls_allow_cache`, `sls_max_cost_usd`,
  `sls_metadata` set the request's fields; other kwargs go to the candidate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from shared_core.candidates import Answer
from shared_core.config import SLSConfig
from shared_core.engine import Engine, Result
from shared_core.request import Request
from shared_core.router import RouterFacade, fast_private
from shared_core.tokens import count_tokens, get_encoding

from ._callbacks import PARENT_KW, ChildRuns, child_config, child_of, signatures_once, stream_callbacks
from ._calls import Call, candidate_runnable, prepare, scrubbed, to_answer
from ._config import assemble, profile_of
from ._streaming import Seen, aheld_empties, held_empties
from ._structured import check_method, structured_message, structured_runnable
from .candidates import redact
from .messages import as_chunk, count_conversation_tokens, merge_chunks, message_from_result
from .verifiers import build_verifiers

_PRIVATE_PREFIX = "_sls_"


class _Privates:
    _models = fast_private("_models")
    _secrets = fast_private("_secrets")


@signatures_once
class SmartRouterLLM(RouterFacade, _Privates, ChildRuns, BaseChatModel):
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
    and the next candidate serves; streams are not timed (see shared_core/guard.py)."""
    max_retries: int | None = None
    """Retries of a candidate call on 429, 5xx, timeouts and dropped connections, with
    backoff, before the next candidate serves."""
    streaming: bool = False
    allow_cache: bool | None = None
    cache_tool_calls: bool = False

    _engine: Engine = PrivateAttr()
    _models: dict[str, BaseChatModel] = PrivateAttr(default_factory=dict)
    _secrets: set[str] = PrivateAttr(default_factory=set)
    _limits: tuple[float | None, int | None] = PrivateAttr(default=(None, None))  # (timeout, retries)

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
        config, models, secrets = assemble(self.config, self.candidates, self.models)
        verifiers = build_verifiers(config.verifiers, self.verifiers, models)
        config.verifiers = [redact(v) for v in config.verifiers]
        self._models = models
        self._secrets = secrets
        self._engine = Engine(config, verifiers=verifiers)
        self._engine.secrets |= secrets  # scrubbed from every error and log line
        self._limits = self._guard_limits()
        if self.profile is None:
            self.profile = profile_of(config)

    # -- what the router is ----------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "sls-router"

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
        # what the base class returns, without its deprecated self.dict() detour (run on every call)
        params = {**self._identifying_params, "_type": self._llm_type, "stop": stop}
        return {**params, **{k: v for k, v in kwargs.items() if not k.startswith(_PRIVATE_PREFIX)}}

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
        return count_conversation_tokens(messages, tools)

    def _request_id_of(self, response: Any) -> str:  # feedback on an AIMessage this router returned
        return str((getattr(response, "response_metadata", None) or {}).get("sls_request_id", ""))

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
        method = check_method(method, self._engine.config.candidates)
        return structured_runnable(self, schema, method, include_raw, strict)

    def _answer(self, call: Call, message: Any) -> Answer:
        return to_answer(call, message, self.cache_tool_calls)

    # -- invoke / ainvoke (batch and abatch run these) ----------------------------------------------------
    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        call = prepare(self, messages, stop, kwargs)
        callbacks = child_of(run_manager)

        def invoke(name: str, request: Request) -> Answer:
            model = self._models[name]
            with scrubbed(self._secrets):
                out = candidate_runnable(model, call).invoke(
                    call.messages, config=child_config(name, callbacks, model), **call.call_kwargs)
            return self._answer(call, out)

        return _chat_result(self._engine.run(call.request, call=self._guarded(invoke)))

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        call = prepare(self, messages, stop, kwargs)
        callbacks = child_of(run_manager)

        async def ainvoke(name: str, request: Request) -> Answer:
            model = self._models[name]
            with scrubbed(self._secrets):
                out = await candidate_runnable(model, call).ainvoke(
                    call.messages, config=child_config(name, callbacks, model), **call.call_kwargs)
            return self._answer(call, out)

        return _chat_result(await self._engine.arun(call.request, acall=self._aguarded(ainvoke)))

    # -- stream / astream ---------------------------------------------------------------------------------
    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        callbacks = stream_callbacks(run_manager, kwargs.get(PARENT_KW))
        call = prepare(self, messages, stop, kwargs)
        seen = Seen()

        def open_stream(name: str, request: Request) -> Iterator[AIMessageChunk]:
            with scrubbed(self._secrets):
                model = self._models[name]
                runnable, config = candidate_runnable(model, call), child_config(name, callbacks, model)
                if call.structured is not None:  # json output: one piece, from invoke
                    yield as_chunk(structured_message(runnable.invoke(call.messages, config=config)))
                    return
                yield from held_empties(as_chunk(p) for p in runnable.stream(call.messages, config=config,
                                                                             **call.invoke_kwargs))

        for event in self._engine.stream(call.request, open_stream, self._stream_answer(call)):
            yield from seen.generations(event)

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        callbacks = stream_callbacks(run_manager, kwargs.get(PARENT_KW))
        call = prepare(self, messages, stop, kwargs)
        seen = Seen()

        async def open_stream(name: str, request: Request) -> AsyncIterator[AIMessageChunk]:
            with scrubbed(self._secrets):
                model = self._models[name]
                runnable, config = candidate_runnable(model, call), child_config(name, callbacks, model)
                if call.structured is not None:
                    yield as_chunk(structured_message(await runnable.ainvoke(call.messages, config=config)))
                    return
                async for chunk in aheld_empties(as_chunk(p) async for p in runnable.astream(
                        call.messages, config=config, **call.invoke_kwargs)):
                    yield chunk

        async for event in self._engine.astream(call.request, open_stream, self._stream_answer(call)):
            for generation in seen.generations(event):
                yield generation

    def _stream_answer(self, call: Call) -> Callable[[str, list[AIMessageChunk]], Answer]:
        """The engine's `to_answer`: a candidate's streamed chunks as one answer."""
        return lambda name, chunks: self._answer(call, merge_chunks(chunks))


def _chat_result(result: Result) -> ChatResult:
    return ChatResult(generations=[ChatGeneration(message=message_from_result(result))])
