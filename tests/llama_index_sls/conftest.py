"""Shared fixtures for the LlamaIndex adapter tests.

Routed models are real LlamaIndex objects: `MockLLM`, `MockFunctionCallingLLM`,
the package's simulated candidates, and small scripted LLM subclasses below
that stand in for remote providers (an OpenAI-style tool caller, a provider
that errors, a provider that streams slowly).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.mock import MockFunctionCallingLLM, MockLLM

from llama_index_sls import SmartRouterLLM


class OpenAIStyleToolLLM(FunctionCallingLLM):
    """Fake of a remote OpenAI-style provider: tool calls live in
    `message.additional_kwargs["tool_calls"]` as OpenAI dicts, parsed by its own
    `get_tool_calls_from_response`. Records every message list it was sent."""

    script: list[dict[str, Any]] = []  # tool calls to make, in order: {"name", "arguments"}
    answer: str = "done"
    _seen: list[list[ChatMessage]] = PrivateAttr(default_factory=list)
    _step: int = PrivateAttr(default=0)

    @classmethod
    def class_name(cls) -> str:
        return "OpenAIStyleToolLLM"

    @property
    def seen(self) -> list[list[ChatMessage]]:
        return self._seen

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=128000, is_chat_model=True, is_function_calling_model=True,
                           model_name="fake-openai")

    def _respond(self, messages: Sequence[ChatMessage], tools: Any) -> ChatResponse:
        self._seen.append(list(messages))
        if tools and messages[-1].role != MessageRole.TOOL and self._step < len(self.script):
            call = self.script[self._step]
            self._step += 1
            tc = {"id": f"call_{self._step}", "type": "function",
                  "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])}}
            msg = ChatMessage(role=MessageRole.ASSISTANT, content=None, additional_kwargs={"tool_calls": [tc]})
        else:
            msg = ChatMessage(role=MessageRole.ASSISTANT, content=self.answer)
        return ChatResponse(message=msg, additional_kwargs={"prompt_tokens": 11, "completion_tokens": 7},
                            raw={"id": f"resp-{len(self._seen)}"})

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._respond(messages, kwargs.get("tools"))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        resp = self._respond(messages, kwargs.get("tools"))

        def gen() -> ChatResponseGen:
            yield ChatResponse(message=resp.message, delta=resp.message.content or "",
                               additional_kwargs=resp.additional_kwargs)

        return gen()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self.chat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any):
        sync = self.stream_chat(messages, **kwargs)

        async def gen():
            for item in sync:
                yield item

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self.answer)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            yield CompletionResponse(text=self.answer, delta=self.answer)

        return gen()

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self.complete(prompt)

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        async def gen():
            yield CompletionResponse(text=self.answer, delta=self.answer)

        return gen()

    def _prepare_chat_with_tools(self, tools, user_msg=None, chat_history=None, verbose=False,
                                 allow_parallel_tool_calls=False, tool_required=False, **kwargs):
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(ChatMessage(role="user", content=user_msg) if isinstance(user_msg, str) else user_msg)
        return {"messages": messages, "tools": tools, **kwargs}

    def get_tool_calls_from_response(self, response: ChatResponse, error_on_no_tool_call: bool = True,
                                     **kwargs: Any) -> list[ToolSelection]:
        calls = response.message.additional_kwargs.get("tool_calls") or []
        if not calls and error_on_no_tool_call:
            raise ValueError("no tool call")
        return [ToolSelection(tool_id=c["id"], tool_name=c["function"]["name"],
                              tool_kwargs=json.loads(c["function"]["arguments"])) for c in calls]


class FailingLLM(CustomLLM):
    """Fake of a provider that is down: raises a provider-like error `failures` times."""

    failures: int = 10**9
    text: str = "recovered"
    calls: int = 0

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name="failing")

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("503 Service Unavailable (fake provider)")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self._maybe_fail()
        return CompletionResponse(text=self.text)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            self._maybe_fail()
            yield CompletionResponse(text=self.text, delta=self.text)

        return gen()


class SlowLLM(CustomLLM):
    """Fake of a provider that takes `delay_s` to answer (sleeping in async calls
    as a real client awaits its socket)."""

    delay_s: float = 1.0

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name="slow")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        time.sleep(self.delay_s)
        return CompletionResponse(text="late")

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        await asyncio.sleep(self.delay_s)
        return CompletionResponse(text="late")

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        await asyncio.sleep(self.delay_s)
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content="late"))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        yield self.complete(prompt)


class SlowStreamLLM(CustomLLM):
    """Fake of a provider that streams word by word, lazily; counts what it produced."""

    words: list[str] = ["one ", "two ", "three ", "four ", "five"]
    fail_after: int | None = None
    produced: int = 0

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name="slow-stream")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="".join(self.words))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            text = ""
            for i, word in enumerate(self.words):
                if self.fail_after is not None and i >= self.fail_after:
                    raise ConnectionError("stream broke (fake provider)")
                self.produced += 1
                text += word
                yield CompletionResponse(text=text, delta=word)

        return gen()


def candidate(name: str, price: float, *, tools: bool = False, window: int = 8192, prior: float = 0.6,
              provider: dict | None = None) -> dict[str, Any]:
    caps = ["streaming"] + (["tools"] if tools else [])
    return {"name": name, "price_in": price, "price_out": price * 4, "context_window": window,
            "capabilities": caps, "quality_prior": prior, "expected_output_tokens": 64,
            "provider": provider or {}}


def config(*cands: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Deterministic routing: greedy predictor, equal priors -> the cheapest eligible wins."""
    base = {"candidates": list(cands), "predictor": {"exploration": "greedy"}, "fallback": {"cooldown_s": 0}}
    for key, value in extra.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return base


@pytest.fixture
def make_router():
    """make_router(llms: {name: (llm, price, tools?, window?)}, **config_extra, router_kwargs=...)"""

    def make(llms: dict[str, tuple], router_kwargs: dict[str, Any] | None = None, **extra: Any) -> SmartRouterLLM:
        cands, objects = [], {}
        for name, spec in llms.items():
            llm, price, *rest = spec
            tools = rest[0] if rest else False
            window = rest[1] if len(rest) > 1 else 8192
            cands.append(candidate(name, price, tools=tools, window=window))
            objects[name] = llm
        return SmartRouterLLM.from_config(config(*cands, **extra), llms=objects, **(router_kwargs or {}))

    return make


@pytest.fixture
def fakes():
    """The fake provider classes, for tests to instantiate."""
    return {"openai_style": OpenAIStyleToolLLM, "failing": FailingLLM, "slow": SlowStreamLLM, "late": SlowLLM,
            "mock": MockLLM, "mock_fc": MockFunctionCallingLLM}


@pytest.fixture
def three(make_router):
    """cheap: MockLLM (no tools, small window); tooly: MockFunctionCallingLLM; big: OpenAI-style fake."""

    def make(**extra: Any) -> SmartRouterLLM:
        return make_router({
            "cheap": (MockLLM(), 0.1, False, 4096),
            "tooly": (MockFunctionCallingLLM(), 1.0, True, 16000),
            "big": (OpenAIStyleToolLLM(script=[{"name": "multiply", "arguments": {"a": 6, "b": 7}}]), 10.0, True,
                    128000),
        }, **extra)

    return make
