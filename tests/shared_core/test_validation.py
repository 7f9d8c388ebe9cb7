"""Bad input gives one of SLS's own errors naming the field, at load or at the
call: a table of the gaps a review found, then hypothesis over the config
loader, the request and feedback."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared_core import Answer, Engine, Request, SLSConfig
from shared_core.errors import ConfigError, FeedbackError, RequestError, SLSError

BASE = {"candidates": [{"name": "m", "price_in": 1.0, "price_out": 2.0, "context_window": 4000,
                        "quality_prior": 0.5}]}


def cfg(**over):
    return SLSConfig.from_dict({**BASE, **over})


@pytest.mark.parametrize("over, field", [
    ({"predictor": {"local_prior_strength": 0}}, "predictor.local_prior_strength"),
    ({"seed": -1}, "seed"),
    ({"seed": "one"}, "seed"),
    ({"verifiers": [{"type": "python_tests", "timeout": 3}]}, "verifiers[0].timeout"),
    ({"verifiers": [{"type": "nope"}]}, "verifiers[0].type"),
    ({"verifiers": ["python_tests"]}, "verifiers[0]"),
    ({"cache": {"reuse": ["log_template", "sql_template"]}}, "cache.reuse[1]"),
])
def test_config_gaps_are_one_error_naming_the_field(over, field):
    with pytest.raises(ConfigError) as err:
        cfg(**over)
    assert err.value.field == field


def test_a_state_path_that_is_a_file_is_refused_at_load(tmp_path):
    path = tmp_path / "state"
    path.write_text("not a folder")
    with pytest.raises(ConfigError) as err:
        cfg(state={"path": str(path)})
    assert err.value.field == "state.path" and str(path) in str(err.value)


def user(text="hi", **kw):
    return Request(messages=[{"role": "user", "content": text}], **kw)


@pytest.mark.parametrize("make, words", [
    (lambda: user(params={"temperature": "0.7"}), "params.temperature"),
    (lambda: user(params={"temperature": float("nan")}), "params.temperature"),
    (lambda: user("broken \ud800 text"), "messages[0].content"),
    (lambda: user(candidates="ab"), "sls_candidates"),
    (lambda: user(candidates=[1, 2]), "sls_candidates"),
    (lambda: user(max_output_tokens=0), "max_output_tokens"),
])
def test_request_gaps_are_one_request_error_naming_the_field(make, words):
    with pytest.raises(RequestError, match=words.replace("[", r"\[").replace("]", r"\]")):
        make()


@pytest.fixture(scope="module")
def served():
    eng = Engine(cfg())
    result = eng.run(user("a question"), call=lambda m, r: Answer("an answer"))
    return eng, result.request_id


@pytest.mark.parametrize("score", [None, "good", "0.5", float("nan"), -0.1, 1.5, True, [1]])
def test_bad_feedback_is_a_feedback_error(served, score):
    eng, rid = served
    with pytest.raises(FeedbackError, match="feedback score must be a number in"):
        eng.feedback(rid, score)


# -- fuzz: whatever comes in, only SLS's own errors come out, each naming what was wrong --

_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                  st.text(max_size=8), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4),
                                                                                          st.integers(), max_size=2))
_FIELDS = ["seed", "preferences", "budget", "cache", "predictor", "encoder", "state", "fallback", "verifiers",
           "candidates"]
_SUB = {"preferences": ["quality", "cost", "latency"], "budget": ["run_budget_usd", "max_cost_per_request_usd"],
        "cache": ["enabled", "reuse", "max_entries", "semantic"], "predictor": ["k", "bandwidth", "exploration",
                                                                                "local_prior_strength", "half_life"],
        "fallback": ["cooldown_s", "max_attempts"], "state": ["backend", "autosave_every"],
        "candidates": ["name", "price_in", "price_out", "context_window", "quality_prior", "capabilities"]}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_FIELDS), st.data())
def test_fuzzed_configs_give_only_config_errors_naming_a_field(section, data):
    config = {"candidates": [dict(BASE["candidates"][0])]}
    if section in _SUB and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(_SUB[section]))
        if section == "candidates":
            config["candidates"][0][key] = data.draw(_JUNK)
        else:
            config[section] = {key: data.draw(_JUNK)}
    else:
        config[section] = data.draw(_JUNK)
    try:
        SLSConfig.from_dict(config)
    except ConfigError as exc:
        assert exc.field and str(exc).startswith("config field '")
    except SLSError as exc:  # UnknownModelError and the like: still ours, still naming the problem
        assert str(exc)


_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(["\ud800", "\udfff"]), max_size=20)


@settings(max_examples=300, deadline=None)
@given(_TEXT, st.dictionaries(st.sampled_from(["temperature", "top_p", "stop"]), _JUNK, max_size=2),
       st.one_of(st.none(), st.text(max_size=4), st.lists(st.text(max_size=3), max_size=3)), _JUNK)
def test_fuzzed_requests_give_only_request_errors(text, params, candidates, max_tokens):
    try:
        r = Request(messages=[{"role": "user", "content": text}], params=params, candidates=candidates,
                    max_output_tokens=max_tokens if isinstance(max_tokens, int) else None)
    except RequestError as exc:
        assert str(exc)
        return
    assert math.isfinite(r.temperature) and r.exact_key(r.scope_key(["m"]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_JUNK)
def test_fuzzed_feedback_gives_only_feedback_errors(served, score):
    eng, rid = served
    try:
        assert eng.feedback(rid, score) is True
    except FeedbackError:
        pass
