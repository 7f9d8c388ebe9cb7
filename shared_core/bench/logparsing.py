"""The log-parsing replay: Loghub-2k lines and the answers of 8 LLMs.

Each `<System>.csv.gz` is one group, a cold start of its own. A method's
answer is correct when `to_template(answer)` equals the ground-truth template
after folding white space; the same post-processing serves every method,
recorded single models and the router's cached answers alike.
"""

from __future__ import annotations

import csv
import gzip
import multiprocessing as mp
from pathlib import Path

import numpy as np

from ..logtemplates import fold_ws, to_template
from ..tokens import get_encoding
from .replay import ReplayGroup, ReplayTask, find_data_files, load_candidates, modelled_time

SYSTEM_PROMPT = ("You will be provided with a log message. Abstract the dynamic variables in it as "
                 "{placeholders} and print the static log template between backticks.")


def _models_yaml(files: list[Path], models_yaml: str | Path | None) -> Path:
    if models_yaml:
        return Path(models_yaml)
    for f in files:
        cand = f.parent / "models.yaml"
        if cand.exists():
            return cand
    raise FileNotFoundError("models.yaml not found beside the data; pass models_yaml")


def load_group(path: Path, models: list[str], candidates: dict) -> ReplayGroup:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    truth = [fold_ws(r["event_template"]) for r in rows]
    answers, correct, cost, tm, tin, tout = {}, {}, {}, {}, {}, {}
    for m in models:
        answers[m] = [r[f"{m}.output"] for r in rows]
        correct[m] = np.array([fold_ws(to_template(a)) == t for a, t in zip(answers[m], truth)])
        tin[m] = np.array([int(float(r[f"{m}.prompt_tokens"] or 0)) for r in rows])
        tout[m] = np.array([int(float(r[f"{m}.completion_tokens"] or 0)) for r in rows])
        cost[m] = (tin[m] * candidates[m].price_in + tout[m] * candidates[m].price_out) / 1e6
        tm[m] = modelled_time(candidates[m], tout[m])
    name = path.name.split(".")[0]
    return ReplayGroup(name, [r["content"] for r in rows], truth, answers, correct, cost, tm, tin, tout)


def _load_groups(files: list[Path], models: list[str], candidates: dict, workers: int) -> list[ReplayGroup]:
    """Every file's group; post-processing every recorded answer is most of the
    load, so files are read by `workers` processes."""
    if workers <= 1 or len(files) <= 1:
        return [load_group(f, models, candidates) for f in files]
    with mp.get_context("fork").Pool(workers) as pool:
        loading = pool.starmap_async(load_group, [(f, models, candidates) for f in files])
        get_encoding()  # meanwhile: the replay's workers fork from here and inherit tiktoken's tables
        return loading.get()


def judge(group: ReplayGroup, i: int, text: str) -> bool:
    for m, answers in group.answers.items():  # a recorded answer: its label is already known
        if answers[i] == text:
            return bool(group.correct[m][i])
    return fold_ws(to_template(text)) == group.truth[i]


def load_task(data: list[str | Path], systems: list[str] | None = None, models_yaml: str | Path | None = None,
              limit: int | None = None, workers: int = 2) -> ReplayTask:
    files = find_data_files("log-parsing", data)
    if systems:
        wanted = {s.lower() for s in systems}
        files = [f for f in files if f.name.split(".")[0].lower() in wanted]
        if not files:
            raise FileNotFoundError(f"none of the systems {systems} found in {data}")
    candidates = load_candidates(_models_yaml(files, models_yaml), expected_output_tokens=24)
    by_name = {c.name: c for c in candidates}
    groups = _load_groups(files, list(by_name), by_name, workers)
    if limit:
        groups = [g.subset(0, limit) for g in groups]
    return ReplayTask("logparsing", groups, candidates, judge, SYSTEM_PROMPT,
                      verifiers=[{"type": "log_template", "tasks": ["logparsing"]}])
