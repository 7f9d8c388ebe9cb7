"""Simulated candidate LLMs for offline examples and CI. They are labelled
simulated everywhere (`model_name="simulated:<name>"`, `additional_kwargs
["simulated"]`) and never stand in for a measurement of a real model.

`SimulatedLLM` puts a shared_core `Candidate` (a `SimulatedCandidate` with a
responder, or a `ReplayCandidate` of recorded answers) behind the LlamaIndex
LLM interface. `SimulatedFunctionCallingLLM` adds a scripted tool policy: it
calls the tool whose name and description best match the question, filling
arguments from the numbers and names in it, then reports the tool results.

The default responder answers retrieval prompts extractively: it returns the
context sentence that best matches the query; with probability `1 - skill` it
returns a plausible but worse sentence, so weaker simulated models are wrong
more often and the router has something to learn.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, AsyncGenerator, Generator

import numpy as np
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

from shared_core.candidates import Answer, Candidate, SimulatedCandidate, split_for_stream
from shared_core.config import CandidateConfig
from shared_core.request import Request
from shared_core.tokens import count_message_tokens, count_tokens

from .messages import message_text, selections_from_json, to_engine_messages, tool_call_blocks, tool_calls_of_message

if TYPE_CHECKING:
    from llama_index.core.tools import BaseTool

Responder = Callable[[Request, np.random.Generator], str]

_STOP = frozenset(
    "a an the is are was were be been to of in on for and or what which who whom how when where why does do did "
    "can could should would will with by from at as it its this that these those about tell me please much many "
    "there their they them than then into any some our your you we i my get give".split())
_WORD = re.compile(r"[a-z0-9]+")
_DASHED = re.compile(r"-{5,}\n(.*?)\n-{5,}", re.S)
_DOCS = re.compile(r"relevant documents for the context:\s*(.*?)\s*Instruction:", re.S | re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_QUOTED = re.compile(r"[\"']([^\"']{1,60})[\"']")
_CAPITAL = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)")


def words(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(text.lower()):
        if w in _STOP or len(w) < 2:
            continue
        out.append(w[:-1] if len(w) > 4 and w.endswith("s") else w)
    return out


def query_and_context(messages: Sequence[dict[str, Any]]) -> tuple[str, str | None, bool]:
    """(query, context or None, is_condense) from engine-style message dicts."""
    last_user = next((m.get("content", "") for m in reversed(messages) if m["role"] == "user"),
                     messages[-1].get("content", ""))
    if "Standalone question:" in last_user and "Follow Up Input:" in last_user:
        follow = last_user.split("Follow Up Input:", 1)[1].split("Standalone question:", 1)[0]
        return follow.strip(), None, True
    query = last_user
    if "Query:" in last_user:
        query = last_user.rsplit("Query:", 1)[1].split("\nAnswer", 1)[0].strip()
    elif "The original query is as follows:" in last_user:
        query = last_user.split("The original query is as follows:", 1)[1].split("\n", 1)[0].strip()
    everything = "\n".join(str(m.get("content", "")) for m in messages if m["role"] in ("system", "user"))
    blocks = _DASHED.findall(everything) or _DOCS.findall(everything)
    return query, ("\n".join(blocks) if blocks else None), False


def extractive_responder(skill: float = 0.9, label: str = "") -> Responder:
    """A responder that answers from the prompt's context (see module doc)."""

    def respond(request: Request, rng: np.random.Generator) -> str:
        query, context, condense = query_and_context(request.messages)
        if condense:
            return query
        if context is None:
            return f"{label}I can only answer questions about the documents I am given; you asked: {query}".strip()
        qwords = set(words(query))
        sentences = [s.strip() for s in _SENTENCE.split(context) if len(s.split()) >= 4 and ":" not in s[:20]]
        if not sentences or not qwords:
            return "I don't know; the context does not say."
        scores = [len(qwords & set(words(s))) for s in sentences]
        ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
        if scores[ranked[0]] == 0:
            return "I don't know; the context does not say."
        pick = ranked[0]
        if rng.random() > skill and len(ranked) > 1:
            pick = ranked[1 + int(rng.integers(0, min(3, len(ranked) - 1)))]
        return sentences[pick]

    return respond


def plan_tool_calls(query: str, tools: Sequence["BaseTool"], salt: str = "") -> list[dict[str, Any]]:
    """The scripted tool policy: the best-matching tool, arguments from the query."""
    qwords = set(words(query))
    best, best_score = None, 0
    for tool in tools:
        meta = tool.metadata
        score = len(qwords & set(words(meta.get_name().replace("_", " ") + " " + meta.description)))
        if score > best_score:
            best, best_score = tool, score
    if best is None:
        return []
    params = best.metadata.get_parameters_dict()
    args = fill_arguments(query, params)
    call_id = "call_" + hashlib.sha1(f"{salt}|{query}|{best.metadata.get_name()}".encode()).hexdigest()[:12]
    return [{"id": call_id, "name": best.metadata.get_name(), "kwargs": args}]


def fill_arguments(query: str, parameters: dict[str, Any]) -> dict[str, Any]:
    props = parameters.get("properties", {})
    required = parameters.get("required", list(props))
    numbers = _NUMBER.findall(query)
    names = _QUOTED.findall(query) or _CAPITAL.findall(query)
    args: dict[str, Any] = {}
    for name, spec in props.items():
        kind = spec.get("type")
        if kind in ("integer", "number") and numbers:
            raw = numbers.pop(0)
            args[name] = int(float(raw)) if kind == "integer" else float(raw)
        elif kind == "string" and names:
            args[name] = names.pop(0)
        elif kind == "string" and name in required:
            content = [w for w in _WORD.findall(query.lower()) if w not in _STOP]
            if content:
                args[name] = max(content, key=len)
    return args


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
            calls = plan_tool_calls(query, tools, salt=self.name)
            if calls:
                self._maybe_fail()
                tin = count_message_tokens(to_engine_messages(messages))
                tout = count_tokens(str(calls))
                cfg = self._candidate.config
                answer = Answer("", tin, tout, latency_s=cfg.modelled_latency_s(tout))
                message = ChatMessage(role=MessageRole.ASSISTANT, blocks=tool_call_blocks(calls))
                return ChatResponse(message=message, additional_kwargs=_sim_kwargs(answer),
                                    raw={"simulated": True, "model": self.name})
        return super()._reply(messages)

    def _maybe_fail(self) -> None:
        """The candidate's simulated provider errors apply to tool calls too."""
        cand = self._candidate
        if isinstance(cand, SimulatedCandidate) and cand.fail_rate and cand.rng.random() < cand.fail_rate:
            raise ConnectionError(f"simulated provider error from {self.name}")

    def _summarise(self, messages: Sequence[ChatMessage], results: list[tuple[dict[str, Any], str]]) -> ChatResponse:
        parts = []
        for call, output in results:
            args = ", ".join(f"{k}={v!r}" for k, v in call.get("kwargs", {}).items())
            parts.append(f"{call['name']}({args}) returned {output}")
        text = "Using the tools: " + "; ".join(parts) + "."
        tin = count_message_tokens(to_engine_messages(messages))
        tout = count_tokens(text)
        answer = Answer(text, tin, tout, latency_s=self._candidate.config.modelled_latency_s(tout))
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
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg) if isinstance(user_msg, str)
                            else user_msg)
        return {"messages": messages, "tools": tools, **kwargs}

    def get_tool_calls_from_response(self, response: ChatResponse, error_on_no_tool_call: bool = True,
                                     **kwargs: Any) -> list[ToolSelection]:
        calls = tool_calls_of_message(response.message)
        if not calls and error_on_no_tool_call:
            raise ValueError(f"expected at least one tool call, got: {response.message.content!r}")
        return selections_from_json(calls)


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
