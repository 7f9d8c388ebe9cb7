"""Fakes for the langchain_sls tests: langchain-core's own fake chat models as
candidates, plus one that can call tools (GenericFakeChatModel + bind_tools)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from langchain_sls import SmartRouterLLM

GREEDY = {"predictor": {"exploration": "greedy"}}


class ToolCallingFakeChatModel(GenericFakeChatModel):
    """GenericFakeChatModel that accepts bind_tools and records what each call got."""

    seen: list[dict[str, Any]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.seen.append({"messages": list(messages), **kwargs})
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


class ProviderError(Exception):
    """Stands in for a provider's 429/5xx error class."""


class FailingFakeChatModel(FakeListChatModel):
    """FakeListChatModel whose calls fail like a provider does (rate limit / 5xx)."""

    failures: int = 10**9

    def _call(self, *args: Any, **kwargs: Any) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise ProviderError("429 rate limit (fake)")
        return super()._call(*args, **kwargs)

    def _stream(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise ProviderError("503 service unavailable (fake)")
        yield from super()._stream(*args, **kwargs)

    async def _astream(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise ProviderError("503 service unavailable (fake)")
        async for chunk in super()._astream(*args, **kwargs):
            yield chunk


def tool_call_message(name: str, args: dict[str, Any], call_id: str = "call_1") -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}])


def make_router(cands: list[dict[str, Any]], **kwargs: Any) -> SmartRouterLLM:
    config = {**GREEDY, **kwargs.pop("config", {})}
    return SmartRouterLLM(config=config, candidates=cands, **kwargs)


class EchoingKeyChatModel(FakeListChatModel):
    """A provider that echoes its credentials in its errors (some SDKs do, in
    request dumps): api_key, a header value and the environment's key."""

    api_key: str = ""
    default_headers: dict[str, str] = Field(default_factory=dict)
    env_key: str = "SLS_TEST_PROVIDER_API_KEY"

    def _echo(self) -> str:
        import os

        return (f"401 for key={self.api_key} headers={self.default_headers} "
                f"env={os.environ.get(self.env_key, '')}")

    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise ProviderError(self._echo())

    def _stream(self, *args: Any, **kwargs: Any) -> Any:
        from langchain_core.messages import AIMessageChunk
        from langchain_core.outputs import ChatGenerationChunk

        yield ChatGenerationChunk(message=AIMessageChunk(content="partial "))
        raise ProviderError(self._echo())
