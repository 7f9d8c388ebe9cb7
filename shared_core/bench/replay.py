"""Replay benchmarks: route recorded queries among recorded answers.

A replay candidate returns the answer its model gave when the data set was
recorded and bills that call's recorded usage; time per call is modelled from
the yaml. The router only ever sees the answers it chose (bandit feedback).
Every method is scored by the same task judge on the text it returned.
"""

from __future__ import annotations

import copy
import json
import multiprocessing as mp
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..candidates import ReplayCandidate
from ..config import CandidateConfig, LatencyHint, SLSConfig
from ..engine import Engine
from ..errors import NoCandidateError
from ..request import Request
from ..verifiers import Verifier

SLS_VARIANTS = ("sls", "sls-no-cache", "sls-no-update", "sls-no-predictor")
# Not in the default set of every task: `sls-cascade` calls candidates in turn
# until a verifier accepts (several calls per query, its own row); with a train
# part (--train-frac), `sls-online-train` first serves the train part online, one
# call per query and only its own answers' labels, like a deployment that began
# when the baselines' training data was collected, and `sls-pretrained` first
# learns every model's label on it (the baselines' full information).
EXTRA_VARIANTS = ("sls-cascade", "sls-agreement", "sls-online-train", "sls-pretrained")
# `sls-agreement` serves each query by Engine.agree: a pair of models and, when
# they disagree, a third (several calls per query, its own row); with
# `--feedback none` it learns from agreement alone.
TRAIN_PART_VARIANTS = ("sls-online-train", "sls-pretrained")


@dataclass
class ReplayGroup:
    """One file of a replay (a Loghub system, an MBPP file): queries and, for
    each model, its recorded answer, correctness, cost, tokens and time."""

    name: str
    queries: list[str]
    truth: list[str]
    answers: dict[str, list[str]]
    correct: dict[str, np.ndarray]
    cost: dict[str, np.ndarray]
    time: dict[str, np.ndarray]
    input_tokens: dict[str, np.ndarray]
    output_tokens: dict[str, np.ndarray]
    extra: list[dict[str, Any]] = field(default_factory=list)  # per-query data a verifier may use
    system_prompt: str = ""  # this file's own system message (e.g. shared few-shot examples), else the task's

    def __len__(self) -> int:
        return len(self.queries)

    def subset(self, start: int, stop: int | None = None) -> "ReplayGroup":
        sl = slice(start, stop)
        return ReplayGroup(
            self.name, self.queries[sl], self.truth[sl], {m: a[sl] for m, a in self.answers.items()},
            {m: a[sl] for m, a in self.correct.items()}, {m: a[sl] for m, a in self.cost.items()},
            {m: a[sl] for m, a in self.time.items()}, {m: a[sl] for m, a in self.input_tokens.items()},
            {m: a[sl] for m, a in self.output_tokens.items()}, self.extra[sl] if self.extra else [],
            self.system_prompt)


@dataclass
class ReplayTask:
    """A whole replay: its groups, its candidates and how an answer is judged."""

    task: str
    groups: list[ReplayGroup]
    candidates: list[CandidateConfig]
    judge: Callable[[ReplayGroup, int, str], bool]
    system_prompt: str = ""
    verifiers: list[dict[str, Any]] = field(default_factory=list)  # what `--feedback none` may use

    @property
    def models(self) -> list[str]:
        return [c.name for c in self.candidates]

    @property
    def size(self) -> int:
        return sum(len(g) for g in self.groups)


def train_sizes(task: ReplayTask, train_frac: float) -> list[int]:
    """How many queries of each group the train part takes."""
    if not 0.0 < train_frac < 1.0:
        raise ValueError(f"train_frac must be in (0, 1), got {train_frac}")
    return [max(1, min(len(g) - 1, int(round(len(g) * train_frac)))) for g in task.groups]


def split_task(task: ReplayTask, train_frac: float) -> tuple[ReplayTask, ReplayTask]:
    """The first `train_frac` of every group, and the rest."""
    cuts = train_sizes(task, train_frac)
    train = copy.copy(task)
    test = copy.copy(task)
    train.groups = [g.subset(0, c) for g, c in zip(task.groups, cuts)]
    test.groups = [g.subset(c) for g, c in zip(task.groups, cuts)]
    return train, test


class ReplayStream:
    """The groups one engine serves, each query under a key of its own: a group's
    index i alone, or its place in the groups laid end to end (the key a replay
    candidate and the label verifier find the query by)."""

    def __init__(self, groups: list[ReplayGroup]):
        self.groups = groups
        self.offsets = np.cumsum([0] + [len(g) for g in groups])

    def key(self, gi: int, i: int) -> int:
        return int(self.offsets[gi]) + i

    def locate(self, key: Any) -> tuple[ReplayGroup, int] | None:
        if not isinstance(key, int) or not 0 <= key < self.offsets[-1]:
            return None
        gi = int(np.searchsorted(self.offsets, key, side="right")) - 1
        return self.groups[gi], key - int(self.offsets[gi])

    def __len__(self) -> int:
        return int(self.offsets[-1])


class ReplayLabelVerifier(Verifier):
    """The stand-in for a real verifier (unit tests, a template check) in a replay:
    the recorded label of the answer, read by the task's judge. Used by the
    `sls-cascade` row only, where it decides whether the next candidate is called."""

    name = "replay_label"

    def __init__(self, judge: Callable[[ReplayGroup, int, str], bool], group: ReplayGroup | ReplayStream,
                 tasks: tuple[str, ...] | list[str] = ()):
        super().__init__(tasks)
        self.judge = judge
        self.stream = group if isinstance(group, ReplayStream) else ReplayStream([group])

    def verify(self, request: Request, answer: str) -> float | None:
        found = self.stream.locate(request.metadata.get("replay_key"))
        return None if found is None else (1.0 if self.judge(*found, answer) else 0.0)


def find_data_files(task: str, data: list[str | Path]) -> list[Path]:
    """`--data` may name folders (their *.csv.gz and *.csv files) or single files."""
    files: list[Path] = []
    for item in data:
        p = Path(item)
        if p.is_dir():
            files += sorted(p.glob("*.csv.gz")) + sorted(p.glob("*.csv"))
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"no {task} data at {p}")
    if not files:
        raise FileNotFoundError(f"no *.csv.gz files in {', '.join(map(str, data))}")
    return files


def load_candidates(path: str | Path, **overrides: Any) -> list[CandidateConfig]:
    """Candidates from a data set's models.yaml (prices per 1M tokens, latency model)."""
    data = yaml.safe_load(Path(path).read_text())["models"]
    out = []
    for name, spec in data.items():
        out.append(CandidateConfig(
            name=name, price_in=float(spec["price_in"]), price_out=float(spec["price_out"]),
            context_window=int(spec.get("context_window", 32_000)),
            latency=LatencyHint(ttft_s=float(spec["ttft_s"]), tokens_per_s=float(spec["tokens_per_s"])),
            provider={"provider": spec.get("provider", "")}, **overrides))
    return out


def modelled_time(cand: CandidateConfig, output_tokens: np.ndarray) -> np.ndarray:
    return cand.latency.ttft_s + np.asarray(output_tokens, dtype=float) / cand.latency.tokens_per_s


# -- hindsight and static rows ------------------------------------------------------------
def row(method: str, correct: float, n: int, cost: float, time_s: float, calls: int, hits: int = 0,
        **more: Any) -> dict[str, Any]:
    return {"method": method, "accuracy": round(correct / max(n, 1), 4), "cost_usd": round(cost, 4),
            "time_s": round(time_s, 2), "llm_calls": calls, "cache_hits": hits, **more}


def static_rows(task: ReplayTask, seed: int = 0) -> list[dict[str, Any]]:
    """single:<model>, random, best-single, per-system-best and oracle."""
    n = task.size
    models = task.models
    rows = []
    tot = {m: [0.0, 0.0, 0.0] for m in models}
    for g in task.groups:
        for m in models:
            tot[m][0] += g.correct[m].sum()
            tot[m][1] += g.cost[m].sum()
            tot[m][2] += g.time[m].sum()
    for m in models:
        rows.append(row(f"single:{m}", tot[m][0], n, tot[m][1], tot[m][2], n))
    rng = np.random.default_rng(seed)
    acc = cost = tm = 0.0
    for g in task.groups:
        pick = rng.integers(0, len(models), size=len(g))
        for j, m in enumerate(models):
            sel = pick == j
            acc += g.correct[m][sel].sum()
            cost += g.cost[m][sel].sum()
            tm += g.time[m][sel].sum()
    rows.append(row("random", acc, n, cost, tm, n))
    best = max(models, key=lambda m: tot[m][0])
    rows.append(row("best-single", tot[best][0], n, tot[best][1], tot[best][2], n, model=best))
    acc = cost = tm = 0.0
    picks = {}
    for g in task.groups:
        m = max(models, key=lambda m: g.correct[m].sum())
        picks[g.name] = m
        acc += g.correct[m].sum()
        cost += g.cost[m].sum()
        tm += g.time[m].sum()
    rows.append(row("per-system-best", acc, n, cost, tm, n, picks=picks))
    rows.append(oracle_row(task))
    return rows


def oracle_row(task: ReplayTask) -> dict[str, Any]:
    """Per query, the cheapest model that was right; if none was, the cheapest."""
    acc = cost = tm = 0.0
    for g in task.groups:
        cor = np.stack([g.correct[m] for m in task.models])
        cst = np.stack([g.cost[m] for m in task.models])
        tms = np.stack([g.time[m] for m in task.models])
        masked = np.where(cor, cst, np.inf)
        any_ok = cor.any(axis=0)
        pick = np.where(any_ok, masked.argmin(axis=0), cst.argmin(axis=0))
        idx = np.arange(len(g))
        acc += any_ok.sum()
        cost += cst[pick, idx].sum()
        tm += tms[pick, idx].sum()
    return row("oracle", acc, task.size, cost, tm, task.size)


# -- SLS runs ------------------------------------------------------------------------------
def sls_config(task: ReplayTask, variant: str, base: SLSConfig | None = None, feedback: str = "labels") -> SLSConfig:
    cfg = copy.deepcopy(base) if base is not None else SLSConfig(candidates=copy.deepcopy(task.candidates))
    if variant == "sls-no-cache":
        cfg.cache.enabled = False
    if variant == "sls-no-update":
        cfg.predictor.learn = False
    if variant == "sls-no-predictor":
        cfg.scheduler = "round_robin"
    cfg.verifiers = list(task.verifiers) if feedback == "none" else []
    return cfg


def write_warm_start(task: ReplayTask, group: ReplayGroup, path: str | Path) -> int:
    """Every model's label on every query of `group` as the engine's warm-start
    JSONL (what the static baselines train on: full information)."""
    n = 0
    with open(path, "w") as fh:
        for i, query in enumerate(group.queries):
            for m in task.models:
                fh.write(json.dumps({"query": query, "model": m, "score": float(bool(group.correct[m][i])),
                                     "task": task.task, "output_tokens": int(group.output_tokens[m][i])}) + "\n")
                n += 1
    return n


class _Recorded(Mapping):
    """What `model` answered each query of a stream, as ReplayCandidate reads its
    records: a row is made when asked for, not the groups' thousands up front."""

    def __init__(self, stream: ReplayStream, model: str):
        self.stream, self.model = stream, model

    def __getitem__(self, key: Any) -> dict[str, Any]:
        found = self.stream.locate(key)
        if found is None:
            raise KeyError(key)
        (g, i), m = found, self.model
        return {"text": g.answers[m][i], "input_tokens": int(g.input_tokens[m][i]),
                "output_tokens": int(g.output_tokens[m][i]), "cost_usd": float(g.cost[m][i])}

    def __contains__(self, key: object) -> bool:
        return self.stream.locate(key) is not None

    def __len__(self) -> int:
        return len(self.stream)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.stream)))


def _new_tally() -> dict[str, Any]:
    return {"correct": 0, "cost": 0.0, "time": 0.0, "calls": 0, "hits": 0, "wrong_hits": 0,
            "tiers": {}, "models": {}, "overhead": [], "ok": [], "paid": []}


def replay_group(task: ReplayTask, group: ReplayGroup, cfg: SLSConfig, variant: str, feedback: str,
                 engine: Engine | None = None, cascade: bool | None = None) -> tuple[dict[str, Any], Engine]:
    """Run one group through an engine; returns its tallies (and the engine, for --warm).

    `sls-cascade` (or `cascade=True`) runs every request with `engine.run(...,
    cascade=True)` and a `ReplayLabelVerifier`: a rejected answer is billed, its
    time counted, and the next candidate called. The verifier's verdict is the
    feedback then (no second label)."""
    order = [(0, i) for i in range(len(group))]
    tallies, engine = replay_stream(task, ReplayStream([group]), order, cfg, variant, feedback, engine, cascade)
    return tallies[0], engine


def mixed_order(groups: list[ReplayGroup], seed: int) -> list[tuple[int, int]]:
    """Every group's queries interleaved at random, each group's own order kept:
    (group, query) pairs, as a workload of several kinds arrives."""
    which = np.concatenate([np.full(len(g), gi) for gi, g in enumerate(groups)])
    np.random.default_rng(seed).shuffle(which)
    seen = [0] * len(groups)
    order = []
    for gi in which.tolist():
        order.append((gi, seen[gi]))
        seen[gi] += 1
    return order


def replay_mixed(task: ReplayTask, cfg: SLSConfig, variant: str, feedback: str) -> list[dict[str, Any]]:
    """Every group through one cold engine, interleaved (`mixed_order`, by the config's
    seed), each group a task of its own in the replay's family: beliefs start cold per
    group, one budget covers them all. Returns a tally per group."""
    cfg = copy.deepcopy(cfg)
    tasks = [f"{task.task}/{g.name}" for g in task.groups]
    cfg.predictor.task_families.update({t: task.task for t in tasks})
    stream = ReplayStream(task.groups)
    tallies, _ = replay_stream(task, stream, mixed_order(task.groups, cfg.seed), cfg, variant, feedback,
                               tasks=tasks)
    return tallies


def replay_stream(task: ReplayTask, stream: ReplayStream, order: list[tuple[int, int]], cfg: SLSConfig,
                  variant: str, feedback: str, engine: Engine | None = None, cascade: bool | None = None,
                  tasks: list[str] | None = None) -> tuple[list[dict[str, Any]], Engine]:
    """Serve the (group, query) pairs of `order` through one engine, each group's
    requests under its task in `tasks` (default: the replay's); a tally per group."""
    cascade = variant == "sls-cascade" if cascade is None else cascade
    candidates = [ReplayCandidate(cfg.candidate(m), _Recorded(stream, m)) for m in task.models]
    if engine is None:
        verifiers = [ReplayLabelVerifier(task.judge, stream)] if cascade else None
        engine = Engine(cfg, candidates, verifiers=verifiers)
    else:
        engine.candidates = {c.name: c for c in candidates}
        if cascade:
            engine.verifiers = [ReplayLabelVerifier(task.judge, stream)]
    tallies = [_new_tally() for _ in stream.groups]
    for gi, i in order:
        group = stream.groups[gi]
        prompt = group.system_prompt or task.system_prompt
        system = [{"role": "system", "content": prompt}] if prompt else []
        request = Request(messages=system + [{"role": "user", "content": group.queries[i]}],
                          task=tasks[gi] if tasks else task.task,
                          metadata={**(group.extra[i] if group.extra else {}), "replay_key": stream.key(gi, i)})
        _serve(task, group, i, request, engine, variant, feedback, cascade, tallies[gi])
    return tallies, engine


def _serve(task: ReplayTask, group: ReplayGroup, i: int, request: Request, engine: Engine, variant: str,
           feedback: str, cascade: bool, tally: dict[str, Any]) -> None:
    """Serve query i of `group` and count what it gave in `tally`."""
    try:
        result = engine.agree(request) if variant == "sls-agreement" else engine.run(request, cascade=cascade)
    except NoCandidateError as exc:
        if not cascade:
            raise
        # every attempt was rejected: the engine returns nothing, but each call was paid
        rejected = [m for m, why in exc.reasons.items() if "verifier" in why and m in group.cost]
        tally["cost"] += sum(float(group.cost[m][i]) for m in rejected)
        tally["time"] += sum(float(group.time[m][i]) for m in rejected)
        tally["calls"] += len(rejected)
        tally["unanswered"] = tally.get("unanswered", 0) + 1
        return
    ok = task.judge(group, i, result.text)
    t0 = time.perf_counter()
    if feedback == "labels" and result.verified is None:
        engine.feedback(result.request_id, 1.0 if ok else 0.0)
    overhead = result.overhead_s + time.perf_counter() - t0
    tally["correct"] += ok
    tally["ok"].append(bool(ok))
    tally["paid"].append(result.cost_usd)
    tally["cost"] += result.cost_usd
    tally["time"] += result.latency_s
    if cascade:  # the engine's latency is the accepted call's; the rejected ones came first
        tally["time"] += sum(float(group.time[a["model"]][i]) for a in result.attempts
                             if "verifier" in a["error"] and a["model"] in group.time)
    tally["overhead"].append(overhead)
    if result.tier:
        tally["hits"] += 1
        tally["wrong_hits"] += not ok
        tally["tiers"][result.tier] = tally["tiers"].get(result.tier, 0) + 1
    else:
        tally["calls"] += result.calls + sum(1 for a in result.attempts if "verifier" in a["error"])
        tally["models"][result.model] = tally["models"].get(result.model, 0) + 1


def regret_curve(group: ReplayGroup, ok: list[bool], paid: list[float], wtp: float | None,
                 marks: tuple[int, ...] = (50, 100, 200, 500, 1000, 2000, 5000, 10000)) -> dict[str, Any]:
    """Cumulative regret of a run against the best fixed model in hindsight, after
    each of `marks` queries and at the end. With a willingness to pay, a query's
    reward is correct - cost / wtp (what the router maximises) and the best
    fixed model is the one with the most reward; else reward is correctness.
    Unanswered queries (a cascade that gave up) are not in `ok` and not counted."""
    n = len(ok)
    value = lambda correct, cost: correct.astype(float) - (cost / wtp if wtp else 0.0)
    fixed = {m: value(group.correct[m][:n], group.cost[m][:n]) for m in group.correct}
    best = max(fixed, key=lambda m: fixed[m].sum())
    gap = np.cumsum(fixed[best] - value(np.asarray(ok), np.asarray(paid, dtype=float)))
    at = sorted({*(t for t in marks if t < n), n})
    return {"best_fixed": best, "reward": "correct - cost/wtp" if wtp else "correct",
            "at": at, "regret": [round(float(gap[t - 1]), 3) for t in at]}


_WORKER: dict[str, Any] = {}  # a pool process's task and train part, inherited at fork


def _init_worker(task: ReplayTask, train: ReplayTask | None) -> None:
    _WORKER.update(task=task, train=train)


def _pooled_job(args: tuple) -> tuple[str, str, dict[str, Any]]:
    return _job(_WORKER["task"], _WORKER["train"], *args)


def _job(task: ReplayTask, train: ReplayTask | None, gi: int, variant: str, feedback: str,
         base: SLSConfig | None) -> tuple[str, str, dict[str, Any]]:
    cfg = sls_config(task, variant, base, feedback)
    if variant not in TRAIN_PART_VARIANTS:
        tally, _ = replay_group(task, task.groups[gi], cfg, variant, feedback)
        return variant, task.groups[gi].name, tally
    if train is None:
        raise ValueError(f"{variant} starts on the train part: set train_frac (--train-frac)")
    if variant == "sls-online-train":
        warm, engine = replay_group(train, train.groups[gi], cfg, "sls", feedback)
        tally, _ = replay_group(task, task.groups[gi], cfg, "sls", feedback, engine)
        tally["warmup_cost"] = warm["cost"]
        return variant, task.groups[gi].name, tally
    fd, path = tempfile.mkstemp(prefix="sls_warm_", suffix=".jsonl")
    os.close(fd)
    try:
        write_warm_start(task, train.groups[gi], path)
        cfg.predictor.warm_start = path
        tally, _ = replay_group(task, task.groups[gi], cfg, variant, feedback)
    finally:
        os.unlink(path)
    return variant, task.groups[gi].name, tally


def workload_conflict(variants: tuple[str, ...], warm: bool, mixed: bool) -> str | None:
    """Why these rows cannot run with --warm or --mixed; None where they can."""
    if warm and mixed:
        return "--warm carries one engine through the files in turn, --mixed interleaves them: pick one"
    per_file = [v for v in variants if v in TRAIN_PART_VARIANTS]
    if (warm or mixed) and per_file:
        return (f"{per_file[0]} starts each file on its own train part; it does not combine with "
                f"{'--warm' if warm else '--mixed'}")
    return None


def sls_rows(task: ReplayTask, variants: tuple[str, ...] = SLS_VARIANTS, feedback: str = "labels",
             warm: bool = False, base: SLSConfig | None = None, workers: int = 2,
             progress: Callable[[str], None] | None = None,
             train: ReplayTask | None = None, mixed: bool = False) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows for the SLS variants, and per-group detail. Cold start: every group
    starts from an empty state, in parallel processes; `warm` carries one
    engine through the groups in order; `mixed` serves them interleaved through
    one engine, each group cold (`replay_mixed`). `train` (the groups' train
    parts) is only read by the TRAIN_PART_VARIANTS."""
    tallies: dict[str, dict[str, dict[str, Any]]] = {v: {} for v in variants}
    conflict = workload_conflict(variants, warm, mixed)
    if conflict:
        raise ValueError(conflict)
    if mixed:
        for v in variants:
            per_group = replay_mixed(task, sls_config(task, v, base, feedback), v, feedback)
            tallies[v] = {g.name: t for g, t in zip(task.groups, per_group)}
            if progress:
                progress(f"{v} mixed")
    elif warm:
        for v in variants:
            engine = None
            cfg = sls_config(task, v, base, feedback)
            for g in task.groups:
                tallies[v][g.name], engine = replay_group(task, g, cfg, v, feedback, engine)
                if progress:
                    progress(f"{v} {g.name}")
    else:
        jobs = [(gi, v, feedback, base) for v in variants for gi in range(len(task.groups))]
        # longest first, so that no worker is left with a long job at the end: a row
        # without the cache calls a model for every query
        jobs.sort(key=lambda j: -len(task.groups[j[0]]) * (2 if j[1] == "sls-no-cache" else 1))
        if workers > 1 and len(jobs) > 1:
            # the task (27 MB for log parsing) reaches the workers once, by fork, not pickled with every job
            with mp.get_context("fork").Pool(workers, _init_worker, (task, train)) as pool:
                for v, name, tally in pool.imap_unordered(_pooled_job, jobs):
                    tallies[v][name] = tally
                    if progress:
                        progress(f"{v} {name}")
        else:
            for job in jobs:
                v, name, tally = _job(task, train, *job)
                tallies[v][name] = tally
                if progress:
                    progress(f"{v} {name}")
    rows, detail = [], {}
    n = task.size
    for v in variants:
        ts = [tallies[v][g.name] for g in task.groups]
        tiers: dict[str, int] = {}
        models: dict[str, int] = {}
        for t in ts:
            for k, c in t["tiers"].items():
                tiers[k] = tiers.get(k, 0) + c
            for k, c in t["models"].items():
                models[k] = models.get(k, 0) + c
        hits = sum(t["hits"] for t in ts)
        wrong = sum(t["wrong_hits"] for t in ts)
        more: dict[str, Any] = {}
        if any("unanswered" in t for t in ts):
            more["unanswered"] = sum(t.get("unanswered", 0) for t in ts)
        if any("warmup_cost" in t for t in ts):  # what serving the train part cost (not in cost_usd)
            more["warmup_cost_usd"] = round(sum(t.get("warmup_cost", 0.0) for t in ts), 4)
        rows.append(row(v, sum(t["correct"] for t in ts), n, sum(t["cost"] for t in ts),
                        sum(t["time"] for t in ts), sum(t["calls"] for t in ts), hits,
                        wrong_cache_hits=wrong, cache_tiers=tiers, models_called=models, **more))
        detail[v] = {g.name: {"accuracy": round(t["correct"] / max(len(g), 1), 4), "cost_usd": round(t["cost"], 4),
                              "cache_hits": t["hits"], "wrong_cache_hits": t["wrong_hits"], "llm_calls": t["calls"]}
                     for g, t in zip(task.groups, ts)}
        if v == "sls":
            over = np.concatenate([np.asarray(t["overhead"]) for t in ts]) * 1e6
            detail["overhead_us"] = {"p50": round(float(np.percentile(over, 50)), 1),
                                     "p99": round(float(np.percentile(over, 99)), 1)}
    detail["_tallies"] = tallies  # run_bench's per-file rows; popped before the result is written
    return rows, detail


def file_rows(task: ReplayTask, tallies: dict[str, dict[str, dict[str, Any]]],
              baseline_files: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Every row again for each file on its own (the report's per-replay tables and plot)."""
    out = {}
    for g in task.groups:
        rows = []
        for v, per in tallies.items():
            t = per[g.name]
            rows.append(row(v, t["correct"], len(g), t["cost"], t["time"], t["calls"], t["hits"],
                            wrong_cache_hits=t["wrong_hits"]))
        curves = {}
        for name, per in baseline_files.items():
            b = per[g.name]
            rows.append(row(name, b["correct"], len(g), b["cost"], b["time"], b["calls"]))
            curves[name] = b["curve"]
        one = copy.copy(task)
        one.groups = [g]
        rows += static_rows(one)
        out[g.name] = {"queries": len(g), "rows": rows, "curves": curves}
    return out


def run_bench(task: ReplayTask, variants: tuple[str, ...] = SLS_VARIANTS, feedback: str = "labels",
              warm: bool = False, base: SLSConfig | None = None, workers: int = 2,
              progress: Callable[[str], None] | None = None, train_frac: float | None = None,
              baselines: tuple[str, ...] | None = None, mixed: bool = False) -> dict[str, Any]:
    """Every row of a replay. With `train_frac`, each group's first part trains
    the static-scheduling baselines (and the TRAIN_PART_VARIANTS), and every row, SLS
    (still from a cold start) included, is scored on the rest only. `mixed`: the
    SLS rows serve the groups as one interleaved workload (`replay_mixed`)."""
    t0 = time.perf_counter()
    train = None
    if train_frac:
        train, task = split_task(task, train_frac)
    elif baselines or set(variants) & set(TRAIN_PART_VARIANTS):
        raise ValueError("the static baselines, sls-online-train and sls-pretrained need a train part: "
                         "set train_frac (--train-frac)")
    rows, detail = sls_rows(task, variants, feedback, warm, base, workers, progress, train=train, mixed=mixed)
    overhead = detail.pop("overhead_us", {"p50": None, "p99": None})
    tallies = detail.pop("_tallies")
    curves: dict[str, list[dict[str, Any]]] = {}
    files: dict[str, dict[str, dict[str, Any]]] = {}
    if baselines:
        from .baselines import baseline_rows

        # the baselines aim at the trade-off SLS is run with: a correct answer's worth
        wtp = base.preferences.willingness_to_pay_usd if base is not None else None
        shared = {"willingness_to_pay_usd": wtp} if wtp else {"budget_frac": 0.1}
        brows, curves, bdetail = baseline_rows(train, task, baselines, {b: dict(shared) for b in baselines},
                                               progress=progress, files=files)
        rows += brows
        detail.update(bdetail)
    rows += static_rows(task)
    wtp = base.preferences.willingness_to_pay_usd if base is not None else None
    regret = {v: {g.name: regret_curve(g, per[g.name]["ok"], per[g.name]["paid"], wtp)
                  for g in task.groups if len(per[g.name]["ok"]) == len(g)}
              for v, per in tallies.items() if v != "sls-cascade"}
    out = {"task": task.task, "queries": task.size, "feedback": feedback, "warm": warm, "mixed": mixed, "rows": rows,
           "overhead_us": overhead, "per_group": detail, "regret": regret,
           "wall_s": round(time.perf_counter() - t0, 1)}
    if train is not None:
        out.update(train_frac=train_frac, train_queries=train.size, curves=curves,
                   files=file_rows(task, tallies, files))
    return out
