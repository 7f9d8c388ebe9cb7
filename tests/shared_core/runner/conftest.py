"""Helpers for the `sls run` tests: a router YAML of simulated models and a jobs file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml


def sim_config(folder: Path, latency: float = 0.0, ledger: Path | None = None, limits: dict | None = None,
               run: dict | None = None, **extra) -> Path:
    """Two SIMULATED echo models; cheap is tried first, strong is the fallback."""
    cands = []
    for name, price in (("cheap", 0.5), ("strong", 20.0)):
        spec = {"simulated": "echo", "sleep": latency > 0}
        if ledger:
            spec["ledger"] = str(ledger)
        cands.append({"name": name, "price_in": price, "price_out": price, "quality_prior": 0.5,
                      "latency": {"ttft_s": latency, "tokens_per_s": 1e9}, "expected_output_tokens": 16,
                      "provider": spec, "limits": (limits or {}).get(name, {})})
    path = folder / "router.yaml"
    path.write_text(yaml.safe_dump({"candidates": cands, "run": run or {}, **extra}))
    return path


def write_jobs(path: Path, texts: list[str], task: str = "default") -> Path:
    path.write_text("".join(json.dumps({"id": f"j{i}", "prompt": t, "task": task}) + "\n"
                            for i, t in enumerate(texts)))
    return path


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def unique_texts():
    return [f"question number {i}: what is {i} times {i + 3}?" for i in range(40)]
