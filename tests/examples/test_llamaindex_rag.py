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
