"""examples/llamaindex_rag.py runs offline and shows routing metadata and cache savings."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "llamaindex_rag.py"


def load():
    spec = importlib.util.spec_from_file_location("llamaindex_rag_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rag_example_runs_offline(capsys):
    from llama_index.core import Settings

    old_llm, old_embed = Settings._llm, Settings._embed_model
    try:
        out = load().main([])
    finally:
        Settings._llm, Settings._embed_model = old_llm, old_embed
    printed = capsys.readouterr().out
    assert "SIMULATED candidates" in printed
    totals = out["totals"]
    assert totals["calls"] == 18
    assert totals["hits"].get("exact", 0) >= 3  # repeated questions with confirmed answers
    assert totals["saved"] > 0
    for needle in ("model=", "cache=exact", "request_id=", "predicted $", "cache saved"):
        assert needle in printed


def test_rag_example_rephrased_questions_hit_right_with_the_sentence_encoder(capsys):
    from llama_index.core import Settings

    module = load()
    old_llm, old_embed = Settings._llm, Settings._embed_model
    try:
        out = module.main([])
    finally:
        Settings._llm, Settings._embed_model = old_llm, old_embed
    printed = capsys.readouterr().out
    totals = out["totals"]
    if module.sentence_encoder() is None:  # an extra: the example says what to install
        assert module.INSTALL in printed and "semantic" not in totals["hits"]
        return
    assert totals["hits"].get("semantic", 0) >= 4 and totals["right"] == totals["calls"]
    rephrased = printed.split("== Rephrased questions")[1].split("== Streaming")[0]
    assert rephrased.count("cache=semantic") >= 4 and "WRONG" not in rephrased
