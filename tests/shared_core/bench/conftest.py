"""Synthetic replays for the bench tests, and where the shared replay data is."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from shared_core.bench.replay import ReplayGroup, ReplayTask, modelled_time
from shared_core.config import CandidateConfig, LatencyHint

MODELS = {  # name: (price per 1M tokens, accuracy on "sort" tasks, accuracy on "graph" tasks)
    "cheap": (0.2, 0.9, 0.1),
    "mid": (1.0, 0.6, 0.5),
    "strong": (20.0, 0.95, 0.95),
}


def data_dir() -> Path:
    """SLS_DATA, else shared/data beside the repository."""
    return Path(os.environ.get("SLS_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))


def need_data(*parts: str) -> Path:
    path = data_dir().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared replay data not found at {path}; set SLS_DATA")
    return path


def judge(group: ReplayGroup, i: int, text: str) -> bool:
    for m, answers in group.answers.items():
        if answers[i] == text:
            return bool(group.correct[m][i])
    return False


def make_group(name: str, n: int, seed: int, cands: dict[str, CandidateConfig]) -> ReplayGroup:
    """Two kinds of query: the cheap model is good at sorting tasks and bad at
    graph tasks, the strong model good at both, the mid one middling."""
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, 2, n)
    words = ["list", "array", "tuple", "string", "dict", "numbers", "words", "pairs"]
    queries = [f"Sort the {words[rng.integers(0, 8)]} by key number {i}" if k == 0 else
               f"Find the shortest path in the weighted graph of {words[rng.integers(0, 8)]} number {i}"
               for i, k in enumerate(kinds)]
    answers, correct, cost, tm, tin, tout = {}, {}, {}, {}, {}, {}
    for m, (price, acc_sort, acc_graph) in MODELS.items():
        p = np.where(kinds == 0, acc_sort, acc_graph)
        correct[m] = rng.random(n) < p
        answers[m] = [f"{m} answer {i} {'ok' if c else 'bad'}" for i, c in enumerate(correct[m])]
        tin[m] = np.full(n, 50)
        tout[m] = np.full(n, 100)
        cost[m] = (tin[m] + tout[m]) * price / 1e6
        tm[m] = modelled_time(cands[m], tout[m])
    return ReplayGroup(name, queries, [str(k) for k in kinds], answers, correct, cost, tm, tin, tout,
                       [{"kind": int(k)} for k in kinds])


def make_task(groups: int = 1, n: int = 200, seed: int = 0) -> ReplayTask:
    cands = [CandidateConfig(name=m, price_in=p, price_out=p, latency=LatencyHint(0.3, 50), expected_output_tokens=100)
             for m, (p, _, _) in MODELS.items()]
    by_name = {c.name: c for c in cands}
    return ReplayTask("synthetic", [make_group(f"g{j}", n, seed + j, by_name) for j in range(groups)], cands, judge)


@pytest.fixture
def synthetic_task() -> ReplayTask:
    return make_task()


@pytest.fixture(name="make_task")
def make_task_fixture():
    return make_task


@pytest.fixture(name="need_data")
def need_data_fixture():
    return need_data
