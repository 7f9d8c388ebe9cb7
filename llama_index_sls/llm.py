"""`SmartRouterLLM`: a LlamaIndex `FunctionCallingLLM` that routes every call
through the SLS engine (cache, prediction, choice, call with fallback, feedback).

    from llama_index.core import Settings
    from llama_index_sls import SmartRouterLLM

    Settings.llm = SmartRouterLLM.from_config("router.yaml")
    response = index.as_query_engine().query("...")

Every response carries the routing metadata (`sls_request_id`, `sls_model`,
`sls_cache_tier`, `sls_cost_usd`, `sls_predicted`, ...) in
`additional_kwargs["sls"]` (of the response and of its message) and in
`raw["sls"]`; `raw["candidate_raw"]` is the routed model's own raw response.
Rate an answer with `router.feedback(request_id, score)`.

Per call, these keyword arguments steer routing and are not passed on to the
candidate: `sls_task`, `sls_tenant`, `sls_candidates` (names),
`sls_allow_cache`, `sls_max_cost_usd`, `sls_metadata` (dict).

Retrieval prompts. A query engine fills a template (`query_str`, `context_str`)
and calls `predict`/`stream`; the formatted prompt is mostly retrieved context,
so as the cache's and predictor's text it makes different questions over the
same chunks look alike (similarity > 0.99 past ~1000 characters), and the
question can fall outside what the encoder reads. When the router sees the
template's `query_str`, the engine's query text is that question and the rest
of the prompt (context, instructions) becomes part of the cache scope: a
near-duplicate hit needs a near-identical question over the same context.
Exact repeats are unaffected.

Candidate LLMs emit their own instrumentation events inside the router's span;
legacy callback handlers see the router's calls only (candidates keep their
own callback managers).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection
from llama_index.core.prompts import BasePromptTemplate
from llama_index.core.types import TokenAsyncGen, TokenGen

from shared_core.candidates import Answer, split_for_stream
from shared_core.config import CandidateConfig, SLSConfig
from shared_core.engine import Engine, Result, StreamEvent
from shared_core.request import Request

from .candidates import build_llms, check_llms, take_secrets
from .messages import (
    SLS_KEY,
    cached_chat,
    jsonable,
    modelled_latency,
    needs_vision,
    routed_chat,
    routed_completion,
    selections_from_json,
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

log = logging.getLogger(__name__)

_SLS_OPTIONS = ("sls_task", "sls_tenant", "sls_candidates", "sls_allow_cache", "sls_max_cost_usd", "sls_metadata")
_TOOL_OPTIONS = ("allow_parallel_tool_calls", "tool_required")
# the question of the template being predicted (set around predict/stream), see the module doc
_QUESTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("sls_question", default=None)


def _template_question(prompt: BasePromptTemplate, prompt_args: dict[str, Any]) -> str | None:
    value = prompt_args.get("query_str")
    if value is None:
        value = (getattr(prompt, "kwargs", None) or {}).get("query_str")
    return value.strip() if isinstance(value, str) and value.strip() else None


@contextmanager
def _asking(prompt: BasePromptTemplate, prompt_args: dict[str, Any]) -> Iterator[None]:
    """Remember a template call's question while LlamaIndex turns it into messages."""
    token = _QUESTION.set(_template_question(prompt, prompt_args))
    try:
        yield
    finally:
        _QUESTION.reset(token)


def _context_digest(engine_messages: list[dict[str, Any]], question: str) -> str:
    """Everything in the prompt except the question: near-duplicate hits need it equal."""
    rest = [(m["role"], str(m.get("content", "")).replace(question, "{query_str}")) for m in engine_messages]
    return hashlib.sha256(json.dumps(rest, ensure_ascii=False).encode()).hexdigest()[:24]


class _Call:
    """One routed call: the engine request plus what the candidate will be given."""

    def __init__(self, request: Request, messages: list[ChatMessage], tools: list["BaseTool"],
                 call_kwargs: dict[str, Any], tool_kwargs: dict[str, Any]):
        self.request = request
        self.messages = messages
        self.tools = tools
        self.call_kwargs = call_kwargs
        self.tool_kwargs = tool_kwargs


class SmartRouterLLM(FunctionCallingLLM):
    """Routes each LlamaIndex LLM call to the most cost-effective candidate LLM."""

    task: str = Field(default="default", description="Workload tag for learning and cache reuse.")
    tenant: str = Field(default="default", description="Cache isolation scope.")
    max_tokens: int | None = Field(default=None, description="Output tokens to reserve in the context window.")
    allow_cache: bool | None = Field(default=None, description="None: engine default; False: never use the cache.")
    candidate_names: list[str] | None = Field(default=None, description="Route only among these candidates.")
    cache_tool_calls: bool = Field(default=False, description="Cache answers that call tools (off: a tool call "
                                                              "usually has effects and unique ids).")

    _engine: Engine = PrivateAttr()
    _llms: dict[str, LLM] = PrivateAttr()

    def __init__(self, engine: Engine, llms: dict[str, LLM], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_llms(engine.config, llms)
        for name in self.candidate_names or []:
            engine.config.candidate(name)
        self._engine = engine
        self._llms = dict(llms)
        engine.secrets |= take_secrets(engine.config, llms)  # scrubbed from every error and log line

    @classmethod
    def from_config(cls, config: str | Path | dict[str, Any] | SLSConfig, llms: dict[str, LLM] | None = None, *,
                    simulated: bool = False, encoder: Any = None, store: Any = None, verifiers: Any = None,
                    **kwargs: Any) -> "SmartRouterLLM":
        """A router from a YAML path, a dict or an `SLSConfig`. Candidates named in
        `llms` use those LLM objects; the others are built from their provider
        specs, or as labelled simulated stand-ins when `simulated=True`."""
        if isinstance(config, (str, Path)):
            config = SLSConfig.from_yaml(config)
        elif isinstance(config, dict):
            config = SLSConfig.from_dict(config)
        built = build_llms(config, llms, simulated=simulated)
        engine = Engine(config, encoder=encoder, store=store, verifiers=verifiers)
        return cls(engine, built, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "SmartRouterLLM"

    # -- introspection -----------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def llms(self) -> dict[str, LLM]:
        return dict(self._llms)

    def _serving(self) -> list[CandidateConfig]:
        cands = self._engine.config.candidates
        if self.candidate_names is not None:
            cands = [c for c in cands if c.name in self.candidate_names]
        return cands

    @property
    def metadata(self) -> LLMMetadata:
        """Honest limits: the largest context window any serving candidate has
        (a request that needs more is excluded by the engine, with a reason);
        function calling only when a tool-capable candidate exists."""
        cands = self._serving()
        return LLMMetadata(
            context_window=max(c.context_window for c in cands),
            num_output=self.max_tokens or max(c.expected_output_tokens for c in cands),
            is_chat_model=any(self._llms[c.name].metadata.is_chat_model for c in cands),
            is_function_calling_model=any("tools" in c.capabilities for c in cands),
            model_name="sls-router(" + "|".join(c.name for c in cands) + ")",
        )

    # -- feedback and state --------------------------------------------------------------
    def feedback(self, request_id: str | ChatResponse | CompletionResponse, score: float) -> bool:
        """Tell the engine how good an answer was (0..1): by request id or response.
        False if the id is unknown. A request takes one score: a second raises
        `shared_core.errors.FeedbackError` and the first stands."""
        if not isinstance(request_id, str):
            request_id = request_id.additional_kwargs.get(SLS_KEY, {}).get("sls_request_id")
            if not request_id:
                raise ValueError("this response carries no sls_request_id (a partial stream chunk?)")
        return self._engine.feedback(request_id, score)

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

    # -- building the engine request ------------------------------------------------------
    def _prepare(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any], *,
                 prompt: str | None = None) -> _Call:
        kwargs = dict(kwargs)
        opts = {k: kwargs.pop(k) for k in _SLS_OPTIONS if k in kwargs}
        tools = list(kwargs.pop("tools", None) or [])
        tool_kwargs = {k: kwargs.pop(k) for k in _TOOL_OPTIONS if k in kwargs}
        if prompt is not None:
            engine_messages = [{"role": "user", "content": prompt}]
        else:
            engine_messages = to_engine_messages(messages)
        caps = set()  # as in the LangChain adapter, streaming needs no capability: every LlamaIndex LLM streams
        if needs_vision(messages):
            caps.add("vision")
        pin = tool_loop_model(messages)
        if pin is not None and pin not in self._llms:
            log.info("tool loop names model %r, which this router does not have; not pinning", pin)
            pin = None
        params = {k: jsonable(v) for k, v in sorted(kwargs.items()) if k != "formatted"}
        if tools:
            params.update({k: jsonable(v) for k, v in tool_kwargs.items()})
        metadata = dict(opts.get("sls_metadata") or {})
        if opts.get("sls_max_cost_usd") is not None:
            metadata["max_cost_usd"] = float(opts["sls_max_cost_usd"])
        allow_cache = opts.get("sls_allow_cache", self.allow_cache)
        question = self._question_in(engine_messages)
        context = _context_digest(engine_messages, question) if question is not None else None
        request = Request(
            messages=engine_messages, params=params, tools=tool_schemas(tools) if tools else [],
            tenant=opts.get("sls_tenant", self.tenant), task=opts.get("sls_task", self.task),
            candidates=opts.get("sls_candidates", self.candidate_names), required_capabilities=frozenset(caps),
            pinned_model=pin, allow_cache=allow_cache, max_output_tokens=self.max_tokens, metadata=metadata,
            query_text=question, context_key=context)
        return _Call(request, strip_sls(messages), tools, kwargs, tool_kwargs)

    @staticmethod
    def _question_in(engine_messages: list[dict[str, Any]]) -> str | None:
        """The template question, when the last user turn is a prompt built around it."""
        question = _QUESTION.get()
        if question is None:
            return None
        last_user = next((m["content"] for m in reversed(engine_messages) if m["role"] == "user"), "")
        return question if question in last_user and last_user.strip() != question else None

    # -- template predictions: remember the question (see the module doc) -------------------
    def predict(self, prompt: BasePromptTemplate, **prompt_args: Any) -> str:
        with _asking(prompt, prompt_args):
            return super().predict(prompt, **prompt_args)

    async def apredict(self, prompt: BasePromptTemplate, **prompt_args: Any) -> str:
        with _asking(prompt, prompt_args):
            return await super().apredict(prompt, **prompt_args)

    def stream(self, prompt: BasePromptTemplate, **prompt_args: Any) -> TokenGen:
        with _asking(prompt, prompt_args):
            return super().stream(prompt, **prompt_args)  # the request is built before this returns

    async def astream(self, prompt: BasePromptTemplate, **prompt_args: Any) -> TokenAsyncGen:
        with _asking(prompt, prompt_args):
            return await super().astream(prompt, **prompt_args)

    # -- calling one candidate ------------------------------------------------------------
    def _chat_answer(self, model: str, call: _Call, response: ChatResponse | None) -> Answer:
        if response is None:
            return Answer("", raw=None, cacheable=False)
        calls: list[dict[str, Any]] = []
        if call.tools:
            llm = self._llms[model]
            try:
                calls = selections_to_json(llm.get_tool_calls_from_response(response, error_on_no_tool_call=False))
            except Exception:  # an integration that cannot parse: read the message generically
                calls = tool_calls_of_message(response.message)
        tin, tout = usage_of(response)
        return Answer(response.message.content or "", input_tokens=tin, output_tokens=tout,
                      latency_s=modelled_latency(response), extra={"tool_calls": calls} if calls else {},
                      raw=response, cacheable=not calls or self.cache_tool_calls)

    def _completion_answer(self, response: CompletionResponse | None) -> Answer:
        if response is None:
            return Answer("", raw=None, cacheable=False)
        tin, tout = usage_of(response)
        return Answer(response.text or "", input_tokens=tin, output_tokens=tout,
                      latency_s=modelled_latency(response), raw=response)

    def _call_chat(self, model: str, call: _Call) -> ChatResponse:
        llm = self._llms[model]
        if call.tools:
            return llm.chat_with_tools(call.tools, chat_history=call.messages, **call.tool_kwargs, **call.call_kwargs)
        return llm.chat(call.messages, **call.call_kwargs)

    async def _acall_chat(self, model: str, call: _Call) -> ChatResponse:
        llm = self._llms[model]
        if call.tools:
            return await llm.achat_with_tools(call.tools, chat_history=call.messages, **call.tool_kwargs,
                                              **call.call_kwargs)
        return await llm.achat(call.messages, **call.call_kwargs)

    def _open_chat_stream(self, model: str, call: _Call) -> ChatResponseGen:
        llm = self._llms[model]
        if call.tools:
            return llm.stream_chat_with_tools(call.tools, chat_history=call.messages, **call.tool_kwargs,
                                              **call.call_kwargs)
        return llm.stream_chat(call.messages, **call.call_kwargs)

    async def _open_achat_stream(self, model: str, call: _Call) -> AsyncGenerator[ChatResponse, None]:
        llm = self._llms[model]
        if call.tools:
            gen = await llm.astream_chat_with_tools(call.tools, chat_history=call.messages, **call.tool_kwargs,
                                                    **call.call_kwargs)
        else:
            gen = await llm.astream_chat(call.messages, **call.call_kwargs)
        async for chunk in gen:
            yield chunk

    # -- results to LlamaIndex responses ------------------------------------------------------
    @staticmethod
    def _chat_result(result: Result) -> ChatResponse:
        meta = result.metadata()
        if result.answer is not None and isinstance(result.answer.raw, ChatResponse):
            return routed_chat(result.answer.raw, meta)
        return cached_chat(result.text, meta, result.extra)

    @staticmethod
    def _completion_result(result: Result) -> CompletionResponse:
        raw = result.answer.raw if result.answer is not None else None
        return routed_completion(raw if isinstance(raw, CompletionResponse) else None, result.text, result.metadata())

    @staticmethod
    def _tag(chunk: ChatResponse | CompletionResponse, meta: dict[str, Any]) -> ChatResponse | CompletionResponse:
        if isinstance(chunk, ChatResponse):
            return routed_chat(chunk, meta)
        return routed_completion(chunk, chunk.text, meta, delta=chunk.delta)

    @staticmethod
    def _stream_end(chat: bool, result: Result, held: Any) -> list[ChatResponse | CompletionResponse]:
        """The last responses of a stream: the held-back chunk with the final
        metadata, or a cached answer streamed piece by piece."""
        meta = result.metadata()
        if result.tier is None:
            if held is not None:
                return [SmartRouterLLM._tag(held, meta)]
            return [cached_chat("", meta, {}, delta="") if chat else routed_completion(None, "", meta, delta="")]
        out: list[ChatResponse | CompletionResponse] = []
        text = ""
        for piece in split_for_stream(result.text) if result.text else [""]:
            text += piece
            out.append(cached_chat(text, meta, result.extra if text == result.text else {}, delta=piece) if chat
                       else routed_completion(None, text, meta, delta=piece))
        return out

    def _relay(self, chat: bool, events: Iterator[StreamEvent]) -> Generator[Any, None, None]:
        """Engine stream events to LlamaIndex responses. One chunk is held back so
        that the last response carries the final metadata (request id, cost);
        earlier ones carry only the model (`sls_partial`)."""
        held, held_model = None, None
        for event in events:
            if event.kind == "chunk":
                if held is not None:
                    yield self._tag(held, {"sls_model": held_model, "sls_partial": True})
                held, held_model = event.chunk, event.model
            else:
                yield from self._stream_end(chat, event.result, held)

    async def _arelay(self, chat: bool, events: AsyncIterator[StreamEvent]) -> AsyncGenerator[Any, None]:
        held, held_model = None, None
        async for event in events:
            if event.kind == "chunk":
                if held is not None:
                    yield self._tag(held, {"sls_model": held_model, "sls_partial": True})
                held, held_model = event.chunk, event.model
            else:
                for item in self._stream_end(chat, event.result, held):
                    yield item

    # -- chat ----------------------------------------------------------------------------------
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        call = self._prepare(messages, kwargs)
        result = self._engine.run(call.request,
                                  call=lambda model, _r: self._chat_answer(model, call, self._call_chat(model, call)))
        return self._chat_result(result)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        call = self._prepare(messages, kwargs)

        async def acall(model: str, _r: Request) -> Answer:
            return self._chat_answer(model, call, await self._acall_chat(model, call))

        return self._chat_result(await self._engine.arun(call.request, acall=acall))

    def _chat_to_answer(self, call: _Call) -> Any:
        return lambda model, chunks: self._chat_answer(model, call, chunks[-1] if chunks else None)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        call = self._prepare(messages, kwargs)
        events = self._engine.stream(call.request, open_stream=lambda model, _r: self._open_chat_stream(model, call),
                                     to_answer=self._chat_to_answer(call))
        return self._relay(True, events)

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        call = self._prepare(messages, kwargs)
        events = self._engine.astream(call.request, to_answer=self._chat_to_answer(call),
                                      open_stream=lambda model, _r: self._open_achat_stream(model, call))
        return self._arelay(True, events)

    # -- completion -------------------------------------------------------------------------
    def _prepare_completion(self, prompt: str, formatted: bool, kwargs: dict[str, Any]) -> _Call:
        call = self._prepare([ChatMessage(role=MessageRole.USER, content=prompt)], kwargs, prompt=prompt)
        call.call_kwargs = {**call.call_kwargs, "formatted": formatted}
        return call

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        call = self._prepare_completion(prompt, formatted, kwargs)
        result = self._engine.run(call.request, call=lambda model, _r: self._completion_answer(
            self._llms[model].complete(prompt, **call.call_kwargs)))
        return self._completion_result(result)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        call = self._prepare_completion(prompt, formatted, kwargs)

        async def acall(model: str, _r: Request) -> Answer:
            return self._completion_answer(await self._llms[model].acomplete(prompt, **call.call_kwargs))

        return self._completion_result(await self._engine.arun(call.request, acall=acall))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        call = self._prepare_completion(prompt, formatted, kwargs)
        events = self._engine.stream(
            call.request, open_stream=lambda model, _r: self._llms[model].stream_complete(prompt, **call.call_kwargs),
            to_answer=lambda model, chunks: self._completion_answer(chunks[-1] if chunks else None))
        return self._relay(False, events)

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        call = self._prepare_completion(prompt, formatted, kwargs)

        async def open_stream(model: str, _r: Request) -> AsyncGenerator[CompletionResponse, None]:
            async for chunk in await self._llms[model].astream_complete(prompt, **call.call_kwargs):
                yield chunk

        events = self._engine.astream(call.request, open_stream=open_stream,
                                      to_answer=lambda model, chunks: self._completion_answer(
                                          chunks[-1] if chunks else None))
        return self._arelay(False, events)

    # -- tools -------------------------------------------------------------------------------
    def _prepare_chat_with_tools(self, tools: Sequence["BaseTool"], user_msg: str | ChatMessage | None = None,
                                 chat_history: list[ChatMessage] | None = None, verbose: bool = False,
                                 allow_parallel_tool_calls: bool = False, tool_required: bool = False,
                                 **kwargs: Any) -> dict[str, Any]:
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg) if isinstance(user_msg, str)
                            else user_msg)
        return {"messages": messages, "tools": list(tools), "allow_parallel_tool_calls": allow_parallel_tool_calls,
                "tool_required": tool_required, **kwargs}

    def get_tool_calls_from_response(self, response: ChatResponse, error_on_no_tool_call: bool = True,
                                     **kwargs: Any) -> list[ToolSelection]:
        """Tool calls of a routed response, parsed by the candidate that produced it
        (each integration knows its own format), else read generically."""
        meta = response.message.additional_kwargs.get(SLS_KEY) or response.additional_kwargs.get(SLS_KEY) or {}
        llm = self._llms.get(meta.get("sls_model")) if meta.get("sls_cache_tier") is None else None
        if isinstance(llm, FunctionCallingLLM):
            try:
                return llm.get_tool_calls_from_response(response, error_on_no_tool_call=error_on_no_tool_call,
                                                        **kwargs)
            except NotImplementedError:
                pass
        calls = tool_calls_of_message(response.message)
        if not calls and error_on_no_tool_call:
            raise ValueError(f"expected at least one tool call in the response, got: {response.message.content!r}")
        return selections_from_json(calls)
