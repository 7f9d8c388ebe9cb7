"""SLSConfig: YAML loading, validation that names the field path, ${ENV} expansion."""

from __future__ import annotations

import math

import pytest

from shared_core.config import KNOWN_CAPABILITIES, SLSConfig, expand_env
from shared_core.errors import ConfigError, UnknownModelError

GOOD_YAML = """
candidates:
  - name: small
    price_in: 0.15
    price_out: 0.6
    quality_prior: 0.55
    capabilities: [streaming, tools]
    latency: {ttft_s: 0.2, tokens_per_s: 120}
    provider: {model: gpt-4o-mini}
  - name: large
    price_in: 2.5
    price_out: 10
    context_window: 128000
    quality_prior: 0.85
preferences: {quality: 1.0, cost: 0.5}
budget: {run_budget_usd: 5}
cache:
  allow_sampled: true
  semantic: {target_error_rate: 0.01, hnsw_from: 50}
predictor: {k: 8, exploration: ucb}
state: {path: /tmp/sls-state, backend: sqlite}
verifiers:
  - {type: log_template}
seed: 7
"""


def minimal(**extra) -> dict:
    data = {"candidates": [{"name": "a", "price_in": 1.0, "price_out": 2.0},
                           {"name": "b", "price_in": 3.0, "price_out": 4.0}]}
    data.update(extra)
    return data


def with_candidate(**fields) -> dict:
    data = minimal()
    data["candidates"][0].update(fields)
    return data


def field_of(data) -> str:
    with pytest.raises(ConfigError) as info:
        SLSConfig.from_dict(data)
    assert f"config field '{info.value.field}'" in str(info.value)  # the message names the path too
    return info.value.field


# -- loading ---------------------------------------------------------------------------

def test_loads_yaml_file_with_values_and_defaults(tmp_path):
    path = tmp_path / "sls.yaml"
    path.write_text(GOOD_YAML)
    cfg = SLSConfig.from_yaml(path)
    assert [c.name for c in cfg.candidates] == ["small", "large"]
    small, large = cfg.candidates
    assert small.price_in == 0.15 and small.capabilities == ["streaming", "tools"]
    assert small.latency.tokens_per_s == 120 and small.latency.ttft_s == 0.2
    assert small.provider == {"model": "gpt-4o-mini"}
    assert large.context_window == 128000 and isinstance(large.price_out, float)
    assert large.capabilities == ["streaming"] and large.expected_output_tokens == 256  # defaults
    assert cfg.preferences.cost == 0.5 and cfg.preferences.latency == 0.05
    assert cfg.budget.run_budget_usd == 5.0 and cfg.budget.max_cost_per_request_usd is None
    assert cfg.cache.allow_sampled is True and cfg.cache.semantic.hnsw_from == 50
    assert cfg.cache.semantic.target_error_rate == 0.01 and cfg.cache.semantic.initial_threshold == 0.99
    assert cfg.predictor.k == 8 and cfg.predictor.exploration == "ucb"
    assert cfg.state.backend == "sqlite" and cfg.verifiers == [{"type": "log_template"}]
    assert cfg.seed == 7
    assert cfg.candidate("large") is large


def test_cost_and_latency_helpers():
    cfg = SLSConfig.from_yaml_text(GOOD_YAML)
    small = cfg.candidate("small")
    assert small.cost_usd(1_000_000, 1_000_000) == pytest.approx(0.75)
    assert small.cost_usd(1000, 0) == pytest.approx(0.15e-3)
    assert small.modelled_latency_s(120) == pytest.approx(1.2)


def test_to_dict_roundtrip():
    cfg = SLSConfig.from_yaml_text(GOOD_YAML)
    again = SLSConfig.from_dict(cfg.to_dict())
    assert again == cfg


def test_unknown_candidate_name_lists_known():
    cfg = SLSConfig.from_dict(minimal())
    with pytest.raises(UnknownModelError, match="unknown model 'zzz'.*a, b"):
        cfg.candidate("zzz")


def test_missing_file():
    with pytest.raises(ConfigError) as info:
        SLSConfig.from_yaml("/nonexistent/sls.yaml")
    assert info.value.field == "<file>"


# -- bad input: each error names its field path -------------------------------------------

@pytest.mark.parametrize("text", ["candidates: [", "candidates:\n  - name: a\n   price_in: 1", "a: b: c"])
def test_bad_yaml_text(text):
    with pytest.raises(ConfigError) as info:
        SLSConfig.from_yaml_text(text, source="my.yaml")
    assert info.value.field == "<yaml>"
    assert "my.yaml is not valid YAML" in str(info.value)


@pytest.mark.parametrize("text", ["- a\n- b", "just text", "42"])
def test_root_not_a_mapping(text):
    with pytest.raises(ConfigError) as info:
        SLSConfig.from_yaml_text(text)
    assert info.value.field == "<root>"


@pytest.mark.parametrize("data", [{}, {"preferences": {"cost": 1}}, {"candidates": []}])
def test_missing_or_empty_candidates(data):
    assert field_of(data) == "candidates"


def test_candidates_not_a_list():
    assert field_of({"candidates": {"name": "a"}}) == "candidates"
    assert field_of({"candidates": None}) == "candidates"


def test_python_construction_is_validated_too():
    with pytest.raises(ConfigError):
        SLSConfig(candidates=[])


def test_duplicate_names():
    data = minimal()
    data["candidates"].append({"name": "a", "price_in": 0, "price_out": 0})
    with pytest.raises(ConfigError, match="duplicate name 'a'") as info:
        SLSConfig.from_dict(data)
    assert info.value.field == "candidates[2].name"


@pytest.mark.parametrize("data, path", [
    (minimal(cachee={}), "cachee"),
    (with_candidate(prise_in=1), "candidates[0].prise_in"),
    (minimal(cache={"semantic": {"treshold": 0.9}}), "cache.semantic.treshold"),
    (with_candidate(latency={"ttft": 1}), "candidates[0].latency.ttft"),
])
def test_unknown_field(data, path):
    assert field_of(data) == path


def test_unknown_field_message_lists_known_fields():
    with pytest.raises(ConfigError, match="unknown field; known:.*price_in"):
        SLSConfig.from_dict(with_candidate(prise_in=1))


def test_missing_required_candidate_field():
    data = minimal()
    del data["candidates"][1]["price_out"]
    with pytest.raises(ConfigError, match="missing, and no model card gives a list price") as info:
        SLSConfig.from_dict(data)
    assert info.value.field == "candidates[1].price_out"


@pytest.mark.parametrize("data, path", [
    (with_candidate(price_in="cheap"), "candidates[0].price_in"),
    (with_candidate(price_in=True), "candidates[0].price_in"),  # a bool is not a number
    (with_candidate(context_window=1.5), "candidates[0].context_window"),
    (with_candidate(context_window="8k"), "candidates[0].context_window"),
    (with_candidate(capabilities="tools"), "candidates[0].capabilities"),
    (with_candidate(capabilities=["tools", 3]), "candidates[0].capabilities[1]"),
    (with_candidate(provider=["x"]), "candidates[0].provider"),
    (with_candidate(name=5), "candidates[0].name"),
    (with_candidate(latency=3), "candidates[0].latency"),
    (minimal(cache={"enabled": "yes"}), "cache.enabled"),
    (minimal(cache=[]), "cache"),
    (minimal(seed=True), "seed"),
    (minimal(preferences={"willingness_to_pay_usd": "lots"}), "preferences.willingness_to_pay_usd"),
    (minimal(state={"path": 3}), "state.path"),
    (minimal(verifiers={"type": "log_template"}), "verifiers"),
])
def test_wrong_type(data, path):
    assert field_of(data) == path


def test_whole_float_is_accepted_for_int():
    cfg = SLSConfig.from_dict(with_candidate(context_window=4096.0))
    assert cfg.candidates[0].context_window == 4096 and isinstance(cfg.candidates[0].context_window, int)


@pytest.mark.parametrize("data, path", [
    (with_candidate(price_in=-0.01), "candidates[0].price_in"),
    (with_candidate(price_out=-1), "candidates[0].price_out"),
    (with_candidate(context_window=0), "candidates[0].context_window"),
    (with_candidate(expected_output_tokens=-5), "candidates[0].expected_output_tokens"),
    (with_candidate(latency={"tokens_per_s": 0}), "candidates[0].latency.tokens_per_s"),
    (with_candidate(latency={"ttft_s": -0.1}), "candidates[0].latency.ttft_s"),
    (with_candidate(name="has space"), "candidates[0].name"),
    (with_candidate(name=""), "candidates[0].name"),
    (minimal(preferences={"cost": -0.1}), "preferences.cost"),
    (minimal(preferences={"willingness_to_pay_usd": 0}), "preferences.willingness_to_pay_usd"),
    (minimal(budget={"run_budget_usd": -1}), "budget.run_budget_usd"),
    (minimal(budget={"max_cost_per_request_usd": 0}), "budget.max_cost_per_request_usd"),
    (minimal(budget={"cost_share": 0}), "budget.cost_share"),
    (minimal(budget={"cost_share": 0.4, "pacing_gain": -0.1}), "budget.pacing_gain"),
    (minimal(budget={"cost_share": 0.4, "reference_model": "gpt-5"}), "budget.reference_model"),
    (minimal(budget={"reference_model": "a"}), "budget.reference_model"),
    (minimal(cache={"max_entries": 0}), "cache.max_entries"),
    (minimal(cache={"semantic": {"target_error_rate": 0.5}}), "cache.semantic.target_error_rate"),
    (minimal(cache={"semantic": {"confidence": 1.0}}), "cache.semantic.confidence"),
    (minimal(cache={"semantic": {"floor": 0.95, "initial_threshold": 0.9}}), "cache.semantic.initial_threshold"),
    (minimal(predictor={"k": 0}), "predictor.k"),
    (minimal(predictor={"bandwidth": -1}), "predictor.bandwidth"),
    (minimal(encoder={"dim": 0}), "encoder.dim"),
    (minimal(fallback={"cooldown_s": -1}), "fallback.cooldown_s"),
    (minimal(fallback={"max_attempts": 0}), "fallback.max_attempts"),
    (minimal(verifiers=[{"tasks": ["x"]}]), "verifiers[0]"),
])
def test_out_of_range(data, path):
    assert field_of(data) == path


@pytest.mark.parametrize("value", [0, 1, 0.0, 1.0, -0.2, 1.5])
def test_quality_prior_must_be_strictly_inside_0_1(value):
    with pytest.raises(ConfigError, match="strictly between 0 and 1") as info:
        SLSConfig.from_dict(with_candidate(quality_prior=value))
    assert info.value.field == "candidates[0].quality_prior"


@pytest.mark.parametrize("value", [0.001, 0.5, 0.999])
def test_quality_prior_inside_is_accepted(value):
    assert SLSConfig.from_dict(with_candidate(quality_prior=value)).candidates[0].quality_prior == value


def test_unknown_capability():
    with pytest.raises(ConfigError, match="unknown \\['telepathy'\\]") as info:
        SLSConfig.from_dict(with_candidate(capabilities=["tools", "telepathy"]))
    assert info.value.field == "candidates[0].capabilities"


def test_every_known_capability_is_accepted():
    cfg = SLSConfig.from_dict(with_candidate(capabilities=sorted(KNOWN_CAPABILITIES)))
    assert set(cfg.candidates[0].capabilities) == KNOWN_CAPABILITIES


@pytest.mark.parametrize("data, path", [
    (minimal(predictor={"exploration": "epsilon"}), "predictor.exploration"),
    (minimal(encoder={"type": "word2vec"}), "encoder.type"),
    (minimal(state={"backend": "postgres"}), "state.backend"),
    (minimal(cache={"semantic": {"index": "ivf"}}), "cache.semantic.index"),
])
def test_bad_enum_values(data, path):
    with pytest.raises(ConfigError, match="is not one of") as info:
        SLSConfig.from_dict(data)
    assert info.value.field == path


@pytest.mark.parametrize("field, value", [
    ("price_in", ".nan"), ("price_out", ".nan"), ("quality_prior", ".nan"),
    ("context_window", ".nan"), ("context_window", ".inf"), ("expected_output_tokens", ".nan"),
])
def test_nan_is_rejected(field, value):
    with pytest.raises(ConfigError) as info:
        SLSConfig.from_yaml_text(f"candidates:\n  - {{name: a, price_in: 1, price_out: 1, {field}: {value}}}")
    assert info.value.field == f"candidates[0].{field}"


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        SLSConfig.from_dict(with_candidate(price_in=-1))


# -- ${ENV} expansion -----------------------------------------------------------------------

ENV_YAML = """
candidates:
  - name: ${SLS_T_MODEL:-fallback-model}
    price_in: 1
    price_out: 1
    provider:
      api_key: ${SLS_T_KEY}
      base_url: "https://${SLS_T_HOST:-api.example.com}/v1"
      missing: ${SLS_T_SURELY_UNSET_VAR}
      empty_default: "x${SLS_T_SURELY_UNSET_VAR:-}y"
      headers: ["Bearer ${SLS_T_KEY}", 3]
      dollar: $SLS_T_KEY
"""


def test_env_expansion(monkeypatch):
    monkeypatch.setenv("SLS_T_KEY", "sk-123")
    monkeypatch.setenv("SLS_T_HOST", "llm.internal")
    monkeypatch.delenv("SLS_T_MODEL", raising=False)
    monkeypatch.delenv("SLS_T_SURELY_UNSET_VAR", raising=False)
    cand = SLSConfig.from_yaml_text(ENV_YAML).candidates[0]
    assert cand.name == "fallback-model"  # default used
    p = cand.provider
    assert p["api_key"] == "sk-123"
    assert p["base_url"] == "https://llm.internal/v1"  # set variable wins over its default
    assert p["missing"] == "${SLS_T_SURELY_UNSET_VAR}"  # missing, no default: stays as written
    assert p["empty_default"] == "xy"
    assert p["headers"] == ["Bearer sk-123", 3]
    assert p["dollar"] == "$SLS_T_KEY"  # only the ${...} form expands


def test_env_expansion_set_variable_replaces_default(monkeypatch):
    monkeypatch.setenv("SLS_T_MODEL", "from-env")
    assert SLSConfig.from_yaml_text(ENV_YAML).candidates[0].name == "from-env"


def test_expand_env_leaves_non_strings(monkeypatch):
    monkeypatch.setenv("SLS_T_KEY", "v")
    data = {"a": 1, "b": None, "c": [True, 2.5, "${SLS_T_KEY}"], "d": {"e": "${SLS_T_KEY}-${SLS_T_KEY}"}}
    assert expand_env(data) == {"a": 1, "b": None, "c": [True, 2.5, "v"], "d": {"e": "v-v"}}
    assert math.isnan(expand_env(float("nan")))
