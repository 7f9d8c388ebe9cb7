"""`SmartRouterLLM`: a LlamaIndex `FunctionCallingLLM` that routes every call
through the SLS engine (cache, prediction, choice, call with fallback, feedback).

    from llama_index.core import Settings
    from llama_index_sls import SmartRouterLLM

    Settings.llm = SmartRouterLLM.from_config("router.yaml")
    response = index.as_query_engine().query("...")
    response.metadata["sls"]["sls_model"]      # the routing of the answer's last LLM call

Every LLM response carries the routing metadata (`sls_request_id`, `sls_model`,
`sls_cache_tier`, `sls_cost_usd`, `sls_predicted`, ...) in
`additional_kwargs["sls"]` (of the response and of its message) and in
`raw["sls"]`; `raw["candidate_raw"]` is the routed model's own raw response. A
query engine's response carries the same in `metadata["sls"]`, and every
routed call it made in `metadata["sls_routes"]` (`_queries.py`). Rate an
answer with `router.feedback(request_id or response, score)`.

Per call, `sls_task`, `sls_tenant`, `sls_candidates` (names), `sls_allow_cache`,
`sls_max_cost_usd` and `sls_metadata` (dict) steer routing and are not passed
on to the candidate. A template call's question (`query_str`) is what the cache
and the predictor read (`_prompts.py`). `timeout` and `max_retries` apply to
each candidate call that is not a stream (`shared_core/guard.py`).

Candidate LLMs emit their own instrumentation events inside the router's span;
legacy callback handlers see the router's calls only (candidates keep their
own callback managers).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
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

from shared_core.candidates import Answer
from shared_core.config import CandidateConfig, SLSConfig
from shared_core.engine import Engine, Result
from shared_core.router import RouterFacade, fast_private

from . import _queries
from ._calls import Call, prepare, to_answer
from ._prompts import asking
from ._streaming import arelay, relay
from .candidates import build_llms, check_llms, take_secrets
from .messages import SLS_KEY, cached_chat, routed_chat, routed_completion, tool_chat_history, tool_selections

if TYPE_CHECKING:
    from llama_index.core.tools import BaseTool


class _Privates:
    _llms = fast_private("_llms")
    _metadata = fast_private("_metadata")


class SmartRouterLLM(RouterFacade, _Privates, FunctionCallingLLM):
    """Routes each LlamaIndex LLM call to the most cost-effective candidate LLM."""

    task: str = Field(default="default", description="Workload tag for learning and cache reuse.")
    tenant: str = Field(default="default", description="Cache isolation scope.")
    max_tokens: int | None = Field(default=None, description="Output tokens to reserve in the context window.")
    allow_cache: bool | None = Field(default=None, description="None: engine default; False: never use the cache.")
    candidate_names: list[str] | None = Field(default=None, description="Route only among these candidates.")
    cache_tool_calls: bool = Field(default=False, description="Cache answers that call tools (off: a tool call "
                                                              "usually has effects and unique ids).")
    timeout: float | None = Field(default=None, description="Seconds a candidate call (not a stream) may take "
                                                            "before it counts as failed and the next one serves.")
    max_retries: int | None = Field(default=None, description="Retries of a candidate call on 429, 5xx, timeouts "
                                                              "and dropped connections, before the next one serves.")

    _engine: Engine = PrivateAttr()
    _llms: dict[str, LLM] = PrivateAttr()
    _limits: tuple[float | None, int | None] = PrivateAttr(default=(None, None))  # (timeout, retries)
    _metadata: tuple[Any, LLMMetadata] | None = PrivateAttr(default=None)

    def __init__(self, engine: Engine, llms: dict[str, LLM], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_llms(engine.config, llms)
        for name in self.candidate_names or []:
            engine.config.candidate(name)
        self._engine = engine
        self._llms = dict(llms)
        self._limits = self._guard_limits()
        engine.secrets |= take_secrets(engine.config, llms)  # scrubbed from every error and log line
        _queries.watch()

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
        function calling only when a tool-capable candidate exists. (Read on
        every call, for the instrumentation events: kept until what it depends on changes.)"""
        key = (tuple(self.candidate_names or ()), self.candidate_names is None, self.max_tokens)
        if self._metadata is None or self._metadata[0] != key:
            self._metadata = (key, self._compute_metadata())
        return self._metadata[1]

    def _compute_metadata(self) -> LLMMetadata:
        cands = self._serving()
        return LLMMetadata(
            context_window=max(c.context_window for c in cands),
            num_output=self.max_tokens or max(c.expected_output_tokens for c in cands),
            is_chat_model=any(self._llms[c.name].metadata.is_chat_model for c in cands),
            is_function_calling_model=any("tools" in c.capabilities for c in cands),
            model_name="sls-router(" + "|".join(c.name for c in cands) + ")",
        )

    def _request_id_of(self, response: Any) -> str:  # feedback on a response this router returned
        request_id = response.additional_kwargs.get(SLS_KEY, {}).get("sls_request_id")
        if not request_id:
            raise ValueError("this response carries no sls_request_id (a partial stream chunk?)")
        return request_id

    # -- template predictions: remember the question (see _prompts.py) -------------------
    def predict(self, prompt: BasePromptTemplate, **prompt_args: Any) -> str:
        with asking(prompt, prompt_args):
            return super().predict(prompt, **prompt_args)

    async def apredict(self, prompt: BasePromptTemplate, **prompt_args: Any) -> str:
        with asking(prompt, prompt_args):
            return await super().apredict(prompt, **prompt_args)

    def stream(self, prompt: BasePromptTemplate, **prompt_args: Any) -> TokenGen:
        with asking(prompt, prompt_args):
            return super().stream(prompt, **prompt_args)  # the request is built before this returns

    async def astream(self, prompt: BasePromptTemplate, **prompt_args: Any) -> TokenAsyncGen:
        with asking(prompt, prompt_args):
            return await super().astream(prompt, **prompt_args)

    # -- one routed call, whichever its kind --------------------------------------------------
    def _answer(self, model: str, call: Call, response: Any) -> Answer:
        return to_answer(self._llms[model], call, response, self.cache_tool_calls)

    def _run(self, call: Call, method: str) -> ChatResponse | CompletionResponse:
        def invoke(model: str, _request: Any) -> Answer:
            return self._answer(model, call, call.of(self._llms[model], method))

        return _response(call, self._engine.run(call.request, call=self._guarded(invoke)))

    async def _arun(self, call: Call, method: str) -> ChatResponse | CompletionResponse:
        async def ainvoke(model: str, _request: Any) -> Answer:
            return self._answer(model, call, await call.of(self._llms[model], method))

        return _response(call, await self._engine.arun(call.request, acall=self._aguarded(ainvoke)))

    def _last_chunk_answer(self, call: Call) -> Callable[[str, list[Any]], Answer]:
        return lambda model, chunks: self._answer(model, call, chunks[-1] if chunks else None)

    def _stream_of(self, call: Call, method: str) -> Any:
        events = self._engine.stream(call.request, open_stream=lambda model, _r: call.of(self._llms[model], method),
                                     to_answer=self._last_chunk_answer(call))
        return relay(call.prompt is None, events)

    def _astream_of(self, call: Call, method: str) -> Any:
        async def open_stream(model: str, _request: Any) -> AsyncGenerator[Any, None]:
            async for chunk in await call.of(self._llms[model], method):
                yield chunk

        events = self._engine.astream(call.request, open_stream=open_stream, to_answer=self._last_chunk_answer(call))
        return arelay(call.prompt is None, events)

    def _completion(self, prompt: str, formatted: bool, kwargs: dict[str, Any]) -> Call:
        call = prepare(self, [ChatMessage(role=MessageRole.USER, content=prompt)], kwargs, prompt=prompt)
        call.call_kwargs = {**call.call_kwargs, "formatted": formatted}
        return call

    # -- the LlamaIndex interface ---------------------------------------------------------------
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._run(prepare(self, messages, kwargs), "chat")

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._arun(prepare(self, messages, kwargs), "achat")

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_of(prepare(self, messages, kwargs), "stream_chat")

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        return self._astream_of(prepare(self, messages, kwargs), "astream_chat")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self._run(self._completion(prompt, formatted, kwargs), "complete")

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return await self._arun(self._completion(prompt, formatted, kwargs), "acomplete")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        return self._stream_of(self._completion(prompt, formatted, kwargs), "stream_complete")

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        return self._astream_of(self._completion(prompt, formatted, kwargs), "astream_complete")

    # -- tools -------------------------------------------------------------------------------
    def _prepare_chat_with_tools(self, tools: Sequence["BaseTool"], user_msg: str | ChatMessage | None = None,
                                 chat_history: list[ChatMessage] | None = None, verbose: bool = False,
                                 allow_parallel_tool_calls: bool = False, tool_required: bool = False,
                                 **kwargs: Any) -> dict[str, Any]:
        return {"messages": tool_chat_history(user_msg, chat_history), "tools": list(tools),
                "allow_parallel_tool_calls": allow_parallel_tool_calls, "tool_required": tool_required, **kwargs}

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
        return tool_selections(response.message, error_on_no_tool_call)


def _response(call: Call, result: Result) -> ChatResponse | CompletionResponse:
    """The LlamaIndex response of a routed call: the candidate's own, tagged, or the cached answer."""
    meta = result.metadata()
    raw = result.answer.raw if result.answer is not None else None
    if call.prompt is not None:
        return routed_completion(raw if isinstance(raw, CompletionResponse) else None, result.text, meta)
    if isinstance(raw, ChatResponse):
        return routed_chat(raw, meta)
    return cached_chat(result.text, meta, result.extra)
