"""Building candidate LLMs from provider specs (YAML: class path + kwargs, ${ENV})."""

from __future__ import annotations

import importlib

import pytest
from llama_index.core.llms.mock import MockFunctionCallingLLM, MockLLM

from llama_index_sls import SimulatedFunctionCallingLLM, SimulatedLLM, SmartRouterLLM
from llama_index_sls.candidates import build_llms
from shared_core.config import SLSConfig
from shared_core.errors import ConfigError, UnknownModelError

YAML = """
candidates:
  - name: small
    price_in: 0.1
    price_out: 0.4
    provider:
      class: llama_index.core.llms.mock.MockLLM
      kwargs: {max_tokens: 3, system_prompt: "${SLS_TEST_PROMPT}"}
  - name: tooly
    price_in: 1.0
    price_out: 4.0
    capabilities: [streaming, tools]
    provider:
      llama_index: {class: llama_index.core.llms.mock.MockFunctionCallingLLM}
      langchain: {model: "openai:gpt-4o-mini"}
"""


def test_yaml_class_paths_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SLS_TEST_PROMPT", "be brief")
    path = tmp_path / "router.yaml"
    path.write_text(YAML)
    router = SmartRouterLLM.from_config(path)
    small, tooly = router.llms["small"], router.llms["tooly"]
    assert isinstance(small, MockLLM) and small.max_tokens == 3 and small.system_prompt == "be brief"
    assert isinstance(tooly, MockFunctionCallingLLM)
    assert router.complete("hi").text == "text text text"  # MockLLM(max_tokens=3)


def test_unset_env_var_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("SLS_TEST_PROMPT", raising=False)
    path = tmp_path / "router.yaml"
    path.write_text(YAML)
    with pytest.raises(ConfigError, match=r"candidates\[0\].provider.kwargs.system_prompt.*SLS_TEST_PROMPT"):
        SmartRouterLLM.from_config(path)


def test_simulated_mode_replaces_every_provider(tmp_path):
    path = tmp_path / "router.yaml"
    path.write_text(YAML)  # ${SLS_TEST_PROMPT} unset is fine: simulated mode builds no provider
    router = SmartRouterLLM.from_config(path, simulated=True)
    assert type(router.llms["small"]) is SimulatedLLM
    assert type(router.llms["tooly"]) is SimulatedFunctionCallingLLM
    assert router.metadata.is_function_calling_model


def _cfg(provider, caps=("streaming",)):
    return SLSConfig.from_dict({"candidates": [{"name": "m", "price_in": 1, "price_out": 1,
                                                "capabilities": list(caps), "provider": provider}]})


@pytest.mark.parametrize("provider, match", [
    ({}, "needs `class"),
    ({"class": "no_such_pkg.Thing"}, "cannot import no_such_pkg"),
    ({"class": "llama_index.core.llms.mock.Nope"}, "has no Nope"),
    ({"class": "llama_index.core.llms.mock.MockLLM", "kwargs": {"bogus": 1}}, "MockLLM"),
    ({"class": "collections.OrderedDict"}, "not a LlamaIndex LLM"),
    ({"model": "nosuch:model-x"}, "unknown provider 'nosuch'"),
])
def test_bad_provider_specs_name_the_field(provider, match):
    with pytest.raises(ConfigError, match=match):
        build_llms(_cfg(provider))


def test_missing_integration_package_says_what_to_install():
    try:
        importlib.import_module("llama_index.llms.openai")
        pytest.skip("llama-index-llms-openai is installed")
    except ImportError:
        pass
    with pytest.raises(ConfigError, match="pip install llama-index-llms-openai"):
        build_llms(_cfg({"model": "openai:gpt-4o-mini"}))


def test_tools_capability_needs_a_function_calling_llm():
    with pytest.raises(ConfigError, match=r"capabilities.*not a FunctionCallingLLM"):
        build_llms(_cfg({"class": "llama_index.core.llms.mock.MockLLM"}, caps=("streaming", "tools")))


def test_python_objects_override_specs_and_unknown_names_fail():
    cfg = _cfg({})
    llm = MockLLM()
    assert build_llms(cfg, {"m": llm})["m"] is llm
    with pytest.raises(UnknownModelError):
        build_llms(cfg, {"m": llm, "other": MockLLM()})


@pytest.mark.parametrize("path", ["subprocess.Popen", "subprocess:Popen", "os.system", "builtins.exec"])
def test_a_config_class_that_is_not_an_llm_is_refused_before_any_call(tmp_path, path):
    marker = tmp_path / "ran"
    provider = {"class": path, "kwargs": {"args": ["touch", str(marker)]}}
    with pytest.raises(ConfigError, match="is not a LlamaIndex LLM class") as err:
        build_llms(_cfg(provider))
    assert err.value.field == "candidates[0].provider.class"
    assert not marker.exists()
