"""Keys planted in the environment, in provider kwargs and in headers, echoed back
by a failing provider: none reaches metadata, stats, logs, exceptions or files."""

from __future__ import annotations

import logging
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, CompletionResponse, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.llms.mock import MockLLM

from llama_index_sls import SmartRouterLLM
from shared_core.errors import ConfigError, NoCandidateError

KWARG_KEY, HEADER_KEY, ENV_KEY = "sk-kwarg-0123456789abcdef", "hdr-secret-9876543210", "env-secret-5555aaaa"
KEYS = (KWARG_KEY, HEADER_KEY, ENV_KEY)


class EchoingKeyLLM(CustomLLM):
    """A provider that echoes its credentials in its errors."""

    api_key: str = ""
    default_headers: dict[str, str] = {}

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name="echo")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise ConnectionError(f"401 key={self.api_key} headers={self.default_headers} "
                              f"env={os.environ.get('SLS_TEST_PROVIDER_API_KEY', '')}")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        raise NotImplementedError


@pytest.fixture
def echo_module(monkeypatch):
    module = types.ModuleType("sls_echo_fake")
    module.EchoingKeyLLM = EchoingKeyLLM
    monkeypatch.setitem(sys.modules, "sls_echo_fake", module)


def config(tmp_path, steady=True) -> dict:
    cands = [{"name": "echo", "price_in": 0.1, "price_out": 0.1,
              "provider": {"class": "sls_echo_fake.EchoingKeyLLM",
                           "kwargs": {"api_key": KWARG_KEY, "default_headers": {"x-api-key": HEADER_KEY}}}}]
    if steady:
        cands.append({"name": "steady", "price_in": 1.0, "price_out": 1.0})
    return {"candidates": cands, "predictor": {"exploration": "greedy"}, "fallback": {"cooldown_s": 0},
            "state": {"path": str(tmp_path / "state")}}


def leaks(text: str) -> list[str]:
    return [k for k in KEYS if k in text]


def test_no_planted_key_leaves_the_router(tmp_path, monkeypatch, caplog, echo_module):
    monkeypatch.setenv("SLS_TEST_PROVIDER_API_KEY", ENV_KEY)
    caplog.set_level(logging.DEBUG)
    r = SmartRouterLLM.from_config(config(tmp_path), llms={"steady": MockLLM()})
    reply = r.chat([ChatMessage(role="user", content="hello")])
    meta = reply.raw if isinstance(reply.raw, dict) else reply.additional_kwargs
    assert "echo" in str(meta) and "***" in str(meta)
    seen = [str(meta), str(r.stats()), str(r.engine.config), caplog.text]
    lone = SmartRouterLLM.from_config(config(tmp_path / "b", steady=False))
    with pytest.raises(NoCandidateError) as err:
        lone.complete("anyone?")
    seen.append(str(err.value))
    r.close()
    seen += [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()]
    assert [leaks(s) for s in seen if leaks(s)] == []


def test_a_provider_rejecting_its_kwargs_does_not_echo_the_key(echo_module):
    cfg = config(Path("."), steady=False)
    cfg["candidates"][0]["provider"]["kwargs"]["default_headers"] = KWARG_KEY  # not a mapping: pydantic says so
    with pytest.raises(ConfigError) as err:
        SmartRouterLLM.from_config(cfg)
    assert "EchoingKeyLLM(**kwargs) failed" in str(err.value) and not leaks(str(err.value))
