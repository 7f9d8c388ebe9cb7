"""Simulated candidate LLMs for offline examples and CI. They are labelled
simulated everywhere (`model_name="simulated:<name>"`, `additional_kwargs
["simulated"]`) and never stand in for a measurement of a real model.

The LlamaIndex skin of the simulator core (`shared_core/simulator.py`):
`SimulatedLLM` puts a shared_core `Candidate` (a `SimulatedCandidate` with a
responder, by default `extractive_responder`, or a `ReplayCandidate` of
recorded answers) behind the LlamaIndex LLM interface.
`SimulatedFunctionCallingLLM` adds the core's scripted tool policy
(`plan_tool_calls`: the best-matching tool, arguments from the question),
then reports the tool results.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, AsyncGenerator, Generator

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
    TextBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection

from shared_core.candidates import Answer, Candidate, split_for_stream
from shared_core.config import CandidateConfig
from shared_core.request import Request
from shared_core.simulator import (  # noqa: F401  (extractive_responder is this package's API too)
    Responder,
    SimulatedCandidate,
    extractive_responder,
    modelled_answer,
    plan_tool_calls,
)

from .messages import (
    message_text,
    to_engine_messages,
    tool_call_blocks,
    tool_calls_of_message,
    tool_chat_history,
    tool_schemas,
    tool_selections,
)

if TYPE_CHECKING:
    from llama_index.core.tools import BaseTool


def _sim_kwargs(answer: Answer) -> dict[str, Any]:
    return {"prompt_tokens": answer.input_tokens, "completion_tokens": answer.output_tokens,
            "modelled_latency_s": answer.latency_s, "simulated": True}


class SimulatedLLM(LLM):
    """A shared_core `Candidate` behind the LlamaIndex LLM interface (simulated)."""

    name: str = Field(description="The candidate's name in the router config.")
    chunk_delay_s: float = Field(default=0.0, description="Sleep between streamed chunks (demos of streaming).")
    _candidate: Candidate = PrivateAttr()

    def __init__(self, candidate: Candidate, chunk_delay_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(name=candidate.name, chunk_delay_s=chunk_delay_s, **kwargs)
        self._candidate = candidate

    @classmethod
    def from_config(cls, config: CandidateConfig, skill: float = 0.9, fail_rate: float = 0.0, seed: int = 0,
                    responder: Responder | None = None, **kwargs: Any) -> "SimulatedLLM":
        respond = responder or extractive_responder(skill)
        return cls(SimulatedCandidate(config, respond, fail_rate=fail_rate, seed=seed), **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "SimulatedLLM"

    @property
    def candidate(self) -> Candidate:
        return self._candidate

    @property
    def metadata(self) -> LLMMetadata:
        cfg = self._candidate.config
        return LLMMetadata(context_window=cfg.context_window, num_output=cfg.expected_output_tokens,
                           is_chat_model=True, is_function_calling_model=False, model_name=f"simulated:{self.name}")

    # -- the model ---------------------------------------------------------------------
    def _answer(self, messages: Sequence[ChatMessage]) -> Answer:
        engine_messages = to_engine_messages(messages)
        query = next((m["content"] for m in reversed(engine_messages) if m["role"] == "user"),
                     engine_messages[-1]["content"])
        return self._candidate.invoke(Request(messages=engine_messages, metadata={"replay_key": query}))

    def _reply(self, messages: Sequence[ChatMessage]) -> ChatResponse:
        answer = self._answer(messages)
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=answer.text),
                            additional_kwargs=_sim_kwargs(answer), raw={"simulated": True, "model": self.name})

    def _stream(self, answer: Answer) -> Generator[tuple[str, str, dict[str, Any]], None, None]:
        """(text so far, new piece, additional_kwargs): usage rides on the last chunk."""
        text = ""
        pieces = split_for_stream(answer.text) if answer.text else []
        for i, piece in enumerate(pieces):
            if self.chunk_delay_s:
                time.sleep(self.chunk_delay_s)
            text += piece
            yield text, piece, _sim_kwargs(answer) if i == len(pieces) - 1 else {}

    @staticmethod
    def _prompt_messages(prompt: str) -> list[ChatMessage]:
        return [ChatMessage(role=MessageRole.USER, content=prompt)]

    # -- LlamaIndex interface ------------------------------------------------------------
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._reply(messages)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        answer = self._answer(messages)  # raises here: a provider error before the first chunk

        def gen() -> ChatResponseGen:
            for text, piece, extra in self._stream(answer):
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece,
                                   additional_kwargs=extra, raw={"simulated": True, "model": self.name})

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        answer = self._answer(self._prompt_messages(prompt))
        return CompletionResponse(text=answer.text, additional_kwargs=_sim_kwargs(answer),
                                  raw={"simulated": True, "model": self.name})

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        answer = self._answer(self._prompt_messages(prompt))

        def gen() -> CompletionResponseGen:
            for text, piece, extra in self._stream(answer):
                yield CompletionResponse(text=text, delta=piece, raw={"simulated": True, "model": self.name},
                                         additional_kwargs=extra)

        return gen()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self.chat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        sync = self.stream_chat(messages, **kwargs)

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            for item in sync:
                yield item

        return gen()

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self.complete(prompt, formatted=formatted, **kwargs)

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        sync = self.stream_complete(prompt, formatted=formatted, **kwargs)

        async def gen() -> AsyncGenerator[CompletionResponse, None]:
            for item in sync:
                yield item

        return gen()


class SimulatedFunctionCallingLLM(SimulatedLLM, FunctionCallingLLM):
    """A simulated tool-capable model: the scripted tool policy of `plan_tool_calls`."""

    @classmethod
    def class_name(cls) -> str:
        return "SimulatedFunctionCallingLLM"

    @property
    def metadata(self) -> LLMMetadata:
        meta = super().metadata
        meta.is_function_calling_model = True
        return meta

    def _reply(self, messages: Sequence[ChatMessage], tools: Sequence["BaseTool"] | None = None) -> ChatResponse:
        if tools:
            pending = _tool_results(messages)
            if pending is not None:
                return self._summarise(messages, pending)
            query = next((message_text(m) for m in reversed(messages) if m.role == MessageRole.USER), "")
            calls = plan_tool_calls(query, tool_schemas(tools), salt=self.name)
            if calls:
                if isinstance(self._candidate, SimulatedCandidate):  # its scripted failures apply to tool calls too
                    self._candidate.check_failure()
                answer = modelled_answer(self._candidate.config, to_engine_messages(messages), "", str(calls))
                message = ChatMessage(role=MessageRole.ASSISTANT, blocks=tool_call_blocks(calls))
                return ChatResponse(message=message, additional_kwargs=_sim_kwargs(answer),
                                    raw={"simulated": True, "model": self.name})
        return super()._reply(messages)

    def _summarise(self, messages: Sequence[ChatMessage], results: list[tuple[dict[str, Any], str]]) -> ChatResponse:
        parts = []
        for call, output in results:
            args = ", ".join(f"{k}={v!r}" for k, v in call.get("kwargs", {}).items())
            parts.append(f"{call['name']}({args}) returned {output}")
        text = "Using the tools: " + "; ".join(parts) + "."
        answer = modelled_answer(self._candidate.config, to_engine_messages(messages), text)
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
                            additional_kwargs=_sim_kwargs(answer), raw={"simulated": True, "model": self.name})

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._reply(messages, kwargs.get("tools"))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        reply = self._reply(messages, kwargs.get("tools"))
        if not reply.message.content:  # a tool call arrives in one piece
            def once() -> ChatResponseGen:
                yield ChatResponse(message=reply.message, delta="", additional_kwargs=reply.additional_kwargs,
                                   raw=reply.raw)

            return once()

        def gen() -> ChatResponseGen:
            for text, piece, extra in self._stream(Answer(reply.message.content)):
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece,
                                   additional_kwargs=reply.additional_kwargs if extra else {}, raw=reply.raw)

        return gen()

    def _prepare_chat_with_tools(self, tools: Sequence["BaseTool"], user_msg: str | ChatMessage | None = None,
                                 chat_history: list[ChatMessage] | None = None, verbose: bool = False,
                                 allow_parallel_tool_calls: bool = False, tool_required: bool = False,
                                 **kwargs: Any) -> dict[str, Any]:
        return {"messages": tool_chat_history(user_msg, chat_history), "tools": tools, **kwargs}

    def get_tool_calls_from_response(self, response: ChatResponse, error_on_no_tool_call: bool = True,
                                     **kwargs: Any) -> list[ToolSelection]:
        return tool_selections(response.message, error_on_no_tool_call)


def _tool_results(messages: Sequence[ChatMessage]) -> list[tuple[dict[str, Any], str]] | None:
    """Tool results answering the last assistant tool call, when they end the history."""
    results: list[ChatMessage] = []
    i = len(messages) - 1
    while i >= 0 and messages[i].role == MessageRole.TOOL:
        results.append(messages[i])
        i -= 1
    if not results or i < 0 or messages[i].role != MessageRole.ASSISTANT:
        return None
    calls = {c["id"]: c for c in tool_calls_of_message(messages[i])}
    out = []
    for msg in reversed(results):
        call = calls.get(str(msg.additional_kwargs.get("tool_call_id")), {"name": "tool", "kwargs": {}})
        out.append((call, message_text(msg) or " ".join(b.text for b in msg.blocks if isinstance(b, TextBlock))))
    return out
