"""Keys planted in the environment, in provider kwargs and in headers, echoed back
by a failing provider: none reaches metadata, stats, logs, exceptions or files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from langchain_sls import SmartRouterLLM
from shared_core.errors import NoCandidateError

KWARG_KEY, HEADER_KEY, ENV_KEY = "sk-kwarg-0123456789abcdef", "hdr-secret-9876543210", "env-secret-5555aaaa"
KEYS = (KWARG_KEY, HEADER_KEY, ENV_KEY)
ECHO = {"class": "lc_fakes.EchoingKeyChatModel",
        "kwargs": {"responses": ["never"], "api_key": KWARG_KEY, "default_headers": {"x-api-key": HEADER_KEY}}}


def leaks(text: str) -> list[str]:
    return [k for k in KEYS if k in text]


def router(tmp_path: Path, steady: bool = True) -> SmartRouterLLM:
    cands = [{"name": "echo", "provider": ECHO, "price_in": 0.1, "price_out": 0.1}]
    if steady:
        cands.append({"name": "steady", "model": FakeListChatModel(responses=["fine"]), "price_in": 1,
                      "price_out": 1})
    return SmartRouterLLM(config={"predictor": {"exploration": "greedy"}, "fallback": {"cooldown_s": 0},
                                  "state": {"path": str(tmp_path / "state")}}, candidates=cands)


def test_no_planted_key_leaves_the_router(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SLS_TEST_PROVIDER_API_KEY", ENV_KEY)
    caplog.set_level(logging.DEBUG)
    r = router(tmp_path)
    msg = r.invoke("hello")
    assert msg.content == "fine" and msg.response_metadata["sls_attempts"][0]["model"] == "echo"
    assert "***" in msg.response_metadata["sls_attempts"][0]["error"]
    seen = [str(msg.response_metadata), str(r.stats()), str(r.config), caplog.text]
    with pytest.raises(Exception) as err:  # a stream cut after its first chunk raises the provider's error
        list(router(tmp_path / "b", steady=False).stream("hello"))
    seen.append(str(err.value))
    with pytest.raises(NoCandidateError) as err:
        router(tmp_path / "c", steady=False).invoke("anyone?")
    seen.append(str(err.value))
    r.save()
    r.close()
    seen += [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()]
    assert [leaks(s) for s in seen if leaks(s)] == []
