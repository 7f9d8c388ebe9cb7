"""Candidate chat models from YAML provider specs and Python; config assembly."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from lc_fakes import ToolCallingFakeChatModel

from langchain_sls import SimulatedChatModel, SmartRouterLLM
from langchain_sls.candidates import build_chat_model, infer_capabilities, redact, split_provider
from shared_core.errors import ConfigError

FAKE = "langchain_core.language_models.fake_chat_models.FakeListChatModel"


def test_split_provider() -> None:
    assert split_provider("openai:gpt-4o-mini") == ("openai", "gpt-4o-mini")
    assert split_provider("claude-3-5-haiku-latest") == ("anthropic", "claude-3-5-haiku-latest")
    with pytest.raises(ValueError, match="provider:model"):
        split_provider("mystery-model")


def test_build_from_class_path_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    model = build_chat_model({"class": FAKE, "kwargs": {"responses": ["a"]}})
    assert isinstance(model, FakeListChatModel) and model.invoke("x").content == "a"
    with pytest.raises(ConfigError, match="provider.kwargs.api_key': environment variable NOPE_KEY is not set"):
        build_chat_model({"class": FAKE, "kwargs": {"api_key": "${NOPE_KEY}"}})
    with pytest.raises(ConfigError, match="not a LangChain chat model"):
        build_chat_model({"class": "pathlib.Path"})
    with pytest.raises(ConfigError, match="provider.class.: cannot import no_such_pkg"):
        build_chat_model({"class": "no_such_pkg.Model"})
    with pytest.raises(ConfigError, match="needs 'model'"):
        build_chat_model({"kwargs": {}})


def test_provider_model_string_builds_a_langchain_model(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    router = SmartRouterLLM(config={"candidates": [{
        "price_in": 0.15, "price_out": 0.6,
        "provider": {"model": "openai:gpt-4o-mini", "kwargs": {"api_key": "${OPENAI_API_KEY}"}}}]})
    (cand,) = router.engine.config.candidates
    assert cand.name == "openai:gpt-4o-mini"
    assert type(router.candidate_models[cand.name]).__name__ == "ChatOpenAI"
    assert "tools" in cand.capabilities and cand.provider["kwargs"]["api_key"] == "***"
    assert "sk-test-not-real" not in repr(router)


def test_capabilities_are_inferred_from_the_model() -> None:
    assert infer_capabilities(FakeListChatModel(responses=["x"])) == ["streaming"]
    assert "tools" in infer_capabilities(ToolCallingFakeChatModel(messages=iter([])))
    assert redact({"kwargs": {"api_key": "k", "model": "m", "nested": {"auth_token": "t"}}}) == \
        {"kwargs": {"api_key": "***", "model": "m", "nested": {"auth_token": "***"}}}


def test_yaml_names_get_models_from_python_and_verifiers_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"""
candidates:
  - {{name: small, price_in: 0.1, price_out: 0.2}}
  - name: big
    price_in: 3
    price_out: 6
    provider: {{class: {FAKE}, kwargs: {{responses: ["big says 42"]}}}}
verifiers:
  - type: judge
    provider: {{class: {FAKE}, kwargs: {{responses: ["Fine.\\nSCORE: 9"]}}}}
    threshold: 0.5
""")
    router = SmartRouterLLM.from_config(path, models={"small": GenericFakeChatModel(messages=iter(["small says 41"]))})
    msg = router.invoke("what is 6 times 7?")
    assert msg.response_metadata["sls_verified"] == 1.0
    assert router.stats()["feedback_events"] == 1
    with pytest.raises(ConfigError, match="no model"):
        SmartRouterLLM.from_config(path)  # small has no provider and no Python model
    with pytest.raises(ConfigError, match="no candidate named 'tiny'"):
        SmartRouterLLM.from_config(path, models={"small": FakeListChatModel(responses=["x"]),
                                                 "tiny": FakeListChatModel(responses=["x"])})


def test_python_candidates_and_their_errors() -> None:
    router = SmartRouterLLM(candidates=[{"model": SimulatedChatModel(model="sim-a"), "price_in": 1, "price_out": 1}])
    assert [c.name for c in router.engine.config.candidates] == ["sim-a"]
    with pytest.raises(ConfigError, match="give a dict"):
        SmartRouterLLM(candidates=[SimulatedChatModel()])
    with pytest.raises(ConfigError, match="candidates\\[0\\].price_out"):
        SmartRouterLLM(candidates=[{"model": SimulatedChatModel(), "price_in": 1, "price_out": -1}])
    with pytest.raises(ConfigError, match="unknown field"):
        SmartRouterLLM(candidates=[{"model": SimulatedChatModel(), "price_in": 1, "price_out": 1, "colour": 1}])


@pytest.mark.parametrize("path", ["subprocess.Popen", "os.system", "builtins.exec"])
def test_a_config_class_that_is_not_a_chat_model_is_refused_before_any_call(tmp_path: Path, path: str) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(ConfigError, match="is not a LangChain chat model class"):
        build_chat_model({"class": path, "kwargs": {"args": ["touch", str(marker)]}})
    assert not marker.exists()
