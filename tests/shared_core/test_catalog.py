"""Model cards: every figure has a source, lookups by alias, predicted scores, candidates filled from cards."""

from __future__ import annotations

import pytest
import yaml
from importlib import resources

from shared_core.catalog import Catalog, default_catalog, task_family
from shared_core.config import SLSConfig
from shared_core.errors import ConfigError

ROUTERBENCH = ["gpt-4-1106-preview", "gpt-3.5-turbo-1106", "claude-v2", "claude-v1", "claude-instant-v1",
               "llama-2-70b-chat", "mixtral-8x7b-chat", "yi-34b-chat", "wizardlm-13b-v1.2",
               "code-llama-instruct-34b-chat", "mistral-7b-chat"]
LOGPARSING = ["mixtral-8x7b", "llama-2-7b", "llama-2-13b", "llama-2-70b", "yi-34b", "yi-6b", "j2-mid", "j2-ultra"]


def test_every_benchmark_figure_names_a_source_url():
    data = yaml.safe_load(resources.files("shared_core.defaults").joinpath("model_cards.yaml").read_text())
    for name, card in data["models"].items():
        for bench, entry in (card.get("benchmarks") or {}).items():
            assert data["sources"][entry["source"]].startswith("https://"), (name, bench)
        if "price_in" in card:
            assert data["sources"][card["price_source"]].startswith("https://"), name


def test_catalog_covers_the_replay_models_and_common_ones():
    cat = default_catalog()
    for name in ROUTERBENCH + LOGPARSING + ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "claude-3-haiku", "gemini-1.5-flash"]:
        assert cat.get(name) is not None, name
    assert cat.get("Mixtral-8x7B-Instruct-v0.1").name == "mixtral-8x7b-chat"  # alias, any case


def test_a_missing_score_is_predicted_from_the_cards_other_scores():
    cat = default_catalog()
    yi = cat.get("yi-34b-chat")
    assert "humaneval" not in yi.benchmarks
    score = cat.benchmark(yi.benchmarks, "humaneval")
    assert score.how == "predicted from mmlu" and 0.2 < score.value < 0.7
    assert cat.benchmark({}, "humaneval").how == "none"
    assert cat.benchmark({"humaneval": 40.0}, "humaneval").value == pytest.approx(0.40)


def test_too_few_pairs_predict_nothing():
    cat = Catalog.from_dict({"sources": {"s": "https://x"},
                             "models": {"a": {"benchmarks": {"mmlu": {"value": 50, "source": "s"},
                                                             "humaneval": {"value": 30, "source": "s"}}}}})
    assert cat.benchmark({"mmlu": 60.0}, "humaneval").how == "none"


def test_a_figure_without_a_listed_source_is_refused():
    with pytest.raises(ConfigError, match="models.a.benchmarks.mmlu"):
        Catalog.from_dict({"sources": {}, "models": {"a": {"benchmarks": {"mmlu": {"value": 50, "source": "nope"}}}}})


def test_task_families():
    assert task_family("codegen") == "code" and task_family("qa") == "qa"
    assert task_family("support-tickets") == "general"
    assert task_family("support-tickets", {"support-tickets": "chat"}) == "chat"


def test_a_candidate_takes_what_it_leaves_unset_from_its_card():
    cfg = SLSConfig.from_dict({"candidates": [{"name": "small", "card": "gpt-4o-mini"},
                                              {"name": "gpt-4o", "price_in": 2.0}]})
    small, big = cfg.candidates
    assert (small.price_in, small.price_out, small.context_window) == (0.15, 0.6, 128000)
    assert "tools" in small.capabilities and small.benchmarks["mmlu"] == 82.0
    assert big.card == "gpt-4o" and big.price_in == 2.0 and big.price_out == 10.0  # own field wins


def test_card_errors_name_the_field():
    with pytest.raises(ConfigError) as info:
        SLSConfig.from_dict({"candidates": [{"name": "x", "card": "no-such-model", "price_in": 1, "price_out": 1}]})
    assert info.value.field == "candidates[0].card"
    with pytest.raises(ConfigError) as info:
        SLSConfig.from_dict({"candidates": [{"name": "llama-2-70b-chat"}]})  # open weights: no list price
    assert info.value.field == "candidates[0].price_in"
    with pytest.raises(ConfigError) as info:
        SLSConfig.from_dict({"candidates": [{"name": "x", "price_in": 1, "price_out": 1,
                                             "benchmarks": {"mmlu": 120}}]})
    assert info.value.field == "candidates[0].benchmarks.mmlu"
