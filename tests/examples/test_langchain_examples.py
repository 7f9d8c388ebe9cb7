"""Smoke test: the LangChain examples run offline (simulated candidates, no keys)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")


def run_example(name: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=120,
                          env=env, cwd=EXAMPLES.parent)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_chain_example_runs_offline() -> None:
    out = run_example("langchain_chain.py")
    assert "== chain.invoke" in out and "routed to " in out
    assert "cache: exact" in out  # the repeated question is a cache hit
    assert "fell back after: nano" in out  # the simulated provider outage
    assert "chunks:" in out and "accepted=True" in out


def test_agent_example_runs_offline() -> None:
    out = run_example("langchain_agent.py")
    assert "tool multiply({'a': 6, 'b': 7}) -> 42" in out
    assert "tool loop pinned to" in out
    assert re.search(r"assistant: .*multiply.*42", out)  # whichever tool-capable model answered


@pytest.mark.parametrize("name", ["router.yaml"])
def test_router_yaml_loads(name: str) -> None:
    from langchain_sls import SmartRouterLLM

    router = SmartRouterLLM.from_config(EXAMPLES / name)
    assert {c.name for c in router.engine.config.candidates} == {"nano", "fast", "frontier"}
