"""langchain-tests' standard unit tests for SmartRouterLLM (tool calling and
structured output declared)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_tests.unit_tests import ChatModelUnitTests
from lc_fakes import ToolCallingFakeChatModel

from langchain_sls import SmartRouterLLM


class TestSmartRouterLLMStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[SmartRouterLLM]:
        return SmartRouterLLM

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"candidates": [
            {"name": "fake-tools", "model": ToolCallingFakeChatModel(messages=iter([])), "price_in": 0.15,
             "price_out": 0.6, "capabilities": ["tools", "structured_output", "json_mode", "streaming"]},
            {"name": "fake-list", "model": FakeListChatModel(responses=["hello"]), "price_in": 2.5, "price_out": 10},
        ]}

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True
