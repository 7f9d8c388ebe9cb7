"""examples/llamaindex_agent.py runs offline: a FunctionAgent with two tools via the router."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "llamaindex_agent.py"


def test_agent_example_runs_offline(capsys):
    spec = importlib.util.spec_from_file_location("llamaindex_agent_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    summary = module.main([])
    printed = capsys.readouterr().out
    assert "SIMULATED candidates" in printed
    assert [s["tool_calls"][0].split("(")[0] for s in summary] == ["bike_price", "multiply", "bike_price"]
    assert "1890.00 EUR" in summary[0]["answer"] and "84" in summary[1]["answer"]
    for step in summary:
        assert len(set(step["models"])) == 1  # the tool loop stayed on one model
        assert "llama3.2-3b-local" not in step["models"]  # no tools capability: never serves an agent step
