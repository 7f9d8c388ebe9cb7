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
from collections.abc import Sequence
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


def read_columns(path: Path, required: Sequence[str] = ()) -> dict[str, tuple[str, ...]]:
    """A CSV file (gzipped or not) as its columns, so that a group takes each
    column whole instead of looking a key up in every row's dict (the load of
    all 12 Loghub files: 1.47 -> 1.23 s serial; reading alone costs the same).
    A `required` column the file lacks is an error that names it."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        rows = list(reader)
    if header is None:
        raise ValueError(f"{path.name}: empty file, no header row")
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"{path.name}: data row {i + 1} has {len(row)} fields, the header {len(header)}")
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(f"{path.name} has no column {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    columns = zip(*rows) if rows else ((),) * len(header)
    return dict(zip(header, columns))


def load_group(path: Path, models: list[str], candidates: dict) -> ReplayGroup:
    cols = read_columns(path, ["content", "event_template"] + [
        f"{m}.{f}" for m in models for f in ("output", "prompt_tokens", "completion_tokens")])
    truth = [fold_ws(t) for t in cols["event_template"]]
    answers, correct, cost, tm, tin, tout = {}, {}, {}, {}, {}, {}
    tokens = lambda column: np.array([int(float(v or 0)) for v in cols[column]])
    for m in models:
        answers[m] = list(cols[f"{m}.output"])
        correct[m] = np.array([fold_ws(to_template(a)) == t for a, t in zip(answers[m], truth)])
        tin[m] = tokens(f"{m}.prompt_tokens")
        tout[m] = tokens(f"{m}.completion_tokens")
        cost[m] = (tin[m] * candidates[m].price_in + tout[m] * candidates[m].price_out) / 1e6
        tm[m] = modelled_time(candidates[m], tout[m])
    name = path.name.split(".")[0]
    return ReplayGroup(name, list(cols["content"]), truth, answers, correct, cost, tm, tin, tout)


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
