"""The RouterBench replays: code generation (MBPP) and QA (ARC-Challenge, Winogrande).

RouterBench (Hu et al., 2024) recorded the answer of 11 LLMs to every query,
whether it was correct, and what the call cost. A candidate in the replay
returns its recorded answer and bills its recorded cost; time per call is
modelled from routerbench_models.yaml (ttft_s + completion tokens /
tokens_per_s, completion tokens = characters of the answer / 4).

Every file is one group, a cold start of its own. A served text is judged by
the recorded label of the model whose recorded answer to that query it is
(same text; white space folded as a fallback); a text no model gave is wrong.
Where models gave the same text with contradicting labels (16 cells of
arc_challenge, all gpt-3.5-turbo against every other model, on questions that
appear twice with the labels apparently swapped), the majority label counts,
for the single-model rows too, so that every method is judged alike. Those
seven arc_challenge questions that occur twice carry contradicting labels (the
same answer is right in one row and wrong in the other), so an exact cache hit
on the repeat counts as wrong whatever it serves.

QA prompts are few-shot: every prompt of a file starts with the same worked
examples. That shared prefix becomes the request's system message and the
question its user turn, so the cache and the predictor see the question, not
2,000 characters of examples every query has in common (the models' input is
the same text either way).

MBPP prompts hold only the task sentence, without its asserts, and the
recorded answers name their functions freely, so MBPP's tests cannot be run
against them: the codegen replay has no unit-test verifier for
`--feedback none` (see `sls-cascade`, where the label stands in for one).
"""

from __future__ import annotations

import csv
import gzip
import os
from collections import Counter
from pathlib import Path

import numpy as np

from ..tokens import count_tokens
from .replay import ReplayGroup, ReplayTask, find_data_files, load_candidates, modelled_time

TASKS = ("codegen", "qa")
# What a cold-start router may assume about answer lengths before it has seen
# any: a code answer runs to a few hundred tokens, a multiple-choice answer to one.
EXPECTED_OUTPUT_TOKENS = {"codegen": 250, "qa": 2}


def models_yaml_path(files: list[Path], models_yaml: str | Path | None = None) -> Path:
    """routerbench_models.yaml beside the data, one folder up (the shared data
    root), or in $SLS_DATA."""
    if models_yaml:
        return Path(models_yaml)
    looked = []
    for f in files:
        for folder in (f.parent, f.parent.parent):
            looked.append(folder / "routerbench_models.yaml")
    if os.environ.get("SLS_DATA"):
        looked.append(Path(os.environ["SLS_DATA"]) / "routerbench_models.yaml")
    for cand in looked:
        if cand.exists():
            return cand
    raise FileNotFoundError(f"routerbench_models.yaml not found (looked in {', '.join(sorted({str(p.parent) for p in looked}))}); "
                            "set SLS_DATA to the shared data folder")


def shared_prefix(prompts: list[str]) -> str:
    """The worked examples every prompt of a file starts with: the common prefix,
    cut back to its last blank line so that no question is split."""
    if len(prompts) < 2:
        return ""
    pre = os.path.commonprefix(prompts)
    cut = pre.rfind("\n\n")
    return pre[: cut + 2] if cut >= 0 else ""


def _label(text: str, row: dict[str, str], models: list[str]) -> bool:
    """Majority label of the models whose recorded answer is this text."""
    votes = [row[f"{m}.correct"] for m in models if row[f"{m}.output"] == text]
    if not votes:
        return False
    c = Counter(float(v or 0) >= 0.5 for v in votes)
    return c[True] > c[False]  # a tie counts as wrong


def load_group(path: Path, models: list[str], candidates: dict) -> ReplayGroup:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = [m for m in models if f"{m}.output" not in rows[0]] if rows else []
    if missing:
        raise FileNotFoundError(f"{path.name} has no columns for {missing}")
    prefix = shared_prefix([r["prompt"] for r in rows])
    queries = [r["prompt"][len(prefix):] for r in rows]
    prefix_tokens = count_tokens(prefix) if prefix else 0
    in_tokens = np.array([prefix_tokens + count_tokens(q) for q in queries])
    answers, correct, cost, tm, tin, tout = {}, {}, {}, {}, {}, {}
    for m in models:
        answers[m] = [r[f"{m}.output"] for r in rows]
        correct[m] = np.array([_label(a, r, models) for a, r in zip(answers[m], rows)])
        cost[m] = np.array([float(r[f"{m}.cost"] or 0.0) for r in rows])
        tin[m] = in_tokens
        tout[m] = np.array([max(1, len(a) // 4) for a in answers[m]])
        tm[m] = modelled_time(candidates[m], tout[m])
    name = path.name.split(".")[0]
    extra = [{"id": r["id"]} for r in rows]
    return ReplayGroup(name, queries, [r["id"] for r in rows], answers, correct, cost, tm, tin, tout, extra,
                       system_prompt=prefix)


def judge(group: ReplayGroup, i: int, text: str) -> bool:
    """The recorded label of the answer this text is, for query i."""
    for m, answers in group.answers.items():
        if answers[i] == text:
            return bool(group.correct[m][i])
    folded = " ".join(text.split())
    for m, answers in group.answers.items():
        if " ".join(answers[i].split()) == folded:
            return bool(group.correct[m][i])
    return False


def load_task(task: str, data: list[str | Path], systems: list[str] | None = None,
              models_yaml: str | Path | None = None, limit: int | None = None) -> ReplayTask:
    if task not in TASKS:
        raise ValueError(f"unknown RouterBench task '{task}' (known: {', '.join(TASKS)})")
    files = find_data_files(task, data)
    if systems:
        wanted = {s.lower() for s in systems}
        files = [f for f in files if f.name.split(".")[0].lower() in wanted]
        if not files:
            raise FileNotFoundError(f"none of the files {systems} found in {data}")
    candidates = load_candidates(models_yaml_path(files, models_yaml),
                                 expected_output_tokens=EXPECTED_OUTPUT_TOKENS[task])
    by_name = {c.name: c for c in candidates}
    groups = [load_group(f, list(by_name), by_name) for f in files]
    if limit:
        groups = [g.subset(0, limit) for g in groups]
    return ReplayTask(task, groups, candidates, judge, verifiers=[])
