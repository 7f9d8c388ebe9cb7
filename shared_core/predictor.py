"""Predicts, per candidate, P(good answer), cost and latency for a request.

A contextual bandit that starts with no data but not with no knowledge: per
task, a probit regression over model features (shared_core/quality.py) starts
from the models' published benchmark scores (shared_core/catalog.py) and learns
online, so that one model's outcomes inform the others. Near a query, past
outcomes of a model on similar queries (FAISS kNN, weighted by similarity and
by age) refine that task-wide rate into a local one; that memory is bounded
in clusters, evidence past the bound kept in aggregate (observations.py), so
its cost does not grow with the history. Exploration samples the
posterior jointly (Thompson) or adds its spread (UCB). Cost is input tokens
(tiktoken) plus predicted output tokens at the model's prices; latency is the
model's hint, rescaled by what calls actually took.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import FAMILY_BENCHMARK, default_catalog, probit, task_family
from .config import CandidateConfig, PredictorConfig
from .observations import ObservationMemory
from .quality import PriorSpread, QualityModel


@dataclass
class Estimate:
    model: str
    p_good: float  # posterior mean
    p_sample: float  # what the scheduler ranks by (a Thompson draw, a UCB, or the mean)
    cost_usd: float
    latency_s: float
    input_tokens: int
    output_tokens: float
    evidence: float  # similarity-weighted observations of this model near the query
    p_low: float = 0.0  # a credible interval of P(good): about 2 posterior sds either side
    p_high: float = 1.0
    # joint posterior draws of P(good), row i of every estimate one draw: what the
    # scheduler weighs exploring this model by; made only if it asks (a function
    # until then; None: no exploration asked)
    draws: Any = field(default=None, repr=False, compare=False)

    @property
    def p_draws(self) -> np.ndarray | None:
        if callable(self.draws):
            self.draws = self.draws()
        return self.draws

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items() if k != "draws"}


@dataclass
class _ModelStats:
    good: float = 0.0  # decayed outcome counts, for reporting; the estimate comes from QualityModel
    bad: float = 0.0
    out_tokens: float | None = None  # EMA
    latency_ratio: float = 1.0  # observed / modelled latency, EMA

    def decay(self, factor: float) -> None:
        self.good *= factor
        self.bad *= factor


_DEFAULT_STATS = _ModelStats()  # read only: a model with no calls yet


def _blended_draws(qm: QualityModel, model: str, lps: float, s: float, n: float) -> np.ndarray:
    """The joint posterior draws of `model`'s rate, local evidence blended in as in
    Predictor._estimate (made only when exploration asks)."""
    return (lps * qm.draws()[model] + s) / (lps + n)


class Predictor:
    def __init__(self, candidates: list[CandidateConfig], config: PredictorConfig, dim: int, seed: int = 0):
        self.config = config
        self.dim = dim
        self.candidates = {c.name: c for c in candidates}
        self.rng = np.random.default_rng(seed)
        self.t = 0  # observation clock
        self.memories: dict[str, ObservationMemory] = {}
        self.stats: dict[tuple[str, str], _ModelStats] = defaultdict(_ModelStats)
        self.quality: dict[str, QualityModel] = {}
        self._lock = threading.RLock()

    # -- the prior ------------------------------------------------------------------
    def prior(self, task: str, model: str) -> tuple[float, str, float]:
        """A model's prior P(good) on `task`, where it came from, and its probit sd."""
        cand, cfg = self.candidates[model], self.config
        if cand.quality_prior is not None:
            return cand.quality_prior, "quality_prior", cfg.prior_sd_model
        family = task_family(task, cfg.task_families)
        bench = cfg.family_benchmarks.get(family, FAMILY_BENCHMARK.get(family, "mmlu"))
        score = default_catalog().benchmark(cand.benchmarks, bench)
        if score.how == "none":
            sd = cfg.prior_sd_unknown
        else:  # a predicted score carries the prediction's own error too
            sd = float(np.hypot(cfg.prior_sd_model, score.error_sd))
        return score.value, f"{bench} {score.how}", sd

    def quality_model(self, task: str) -> QualityModel:
        qm = self.quality.get(task)
        if qm is None:
            priors = {m: self.prior(task, m) for m in self.candidates}
            cfg = self.config
            qm = self.quality[task] = QualityModel(
                list(self.candidates), {m: probit(p) for m, (p, _, _) in priors.items()},
                {m: sd for m, (_, _, sd) in priors.items()},
                PriorSpread(cfg.prior_sd_shift, cfg.prior_sd_slope), drift=cfg.prior_sd_model ** 2 / cfg.half_life)
        return qm

    def _new_memory(self) -> ObservationMemory:
        return ObservationMemory(self.dim, self.config.max_observations, self.config.half_life)

    # -- prediction ---------------------------------------------------------------
    def predict(self, task: str, vector: np.ndarray | None, input_tokens: int, models: list[str],
                explore: bool = True) -> list[Estimate]:
        with self._lock:
            local = self._neighbours(task, vector, models)
            qm = self.quality_model(task)
            mode = self.config.exploration if explore else "greedy"
            draw = qm.sample(self.rng) if mode == "thompson" else None
            summary = qm.summary()
            return [self._estimate(task, qm, m, summary[m], input_tokens, local.get(m, (0.0, 0.0)), mode, draw)
                    for m in models]

    def _neighbours(self, task: str, vector: np.ndarray | None, models: list[str]) -> dict[str, tuple[float, float]]:
        mem = self.memories.get(task)
        if vector is None or mem is None or not len(mem):
            return {}
        return mem.evidence(vector, self.config.k, self.config.bandwidth, self.t)

    def _estimate(self, task: str, qm: QualityModel, model: str, summary: tuple[float, float, float],
                  input_tokens: int, local: tuple[float, float], mode: str, draw: dict[str, float] | None
                  ) -> Estimate:
        cand = self.candidates[model]
        st = self.stats.get((task, model)) or _DEFAULT_STATS
        # the task-wide rate is the prior of the local rate near this query,
        # worth `local_prior_strength` neighbours: (lps * rate + s) / (lps + n)
        s, n = local
        lps = self.config.local_prior_strength
        k = lps + n
        mean, low, high = (lps * summary[0] + s) / k, (lps * summary[1] + s) / k, (lps * summary[2] + s) / k
        if mode == "greedy":
            score = mean
        elif mode == "ucb":
            score = (lps * qm.interval(model, 1.0)[1] + s) / k
        else:
            # Thompson: one joint draw of every model's task-wide rate, then the local
            # evidence blended in; the draw narrows as evidence grows
            score = (lps * draw[model] + s) / k
        draws = None if mode == "greedy" else partial(_blended_draws, qm, model, lps, s, n)
        out_tokens = st.out_tokens if st.out_tokens is not None else float(cand.expected_output_tokens)
        return Estimate(
            model=model,
            p_good=float(mean),
            p_sample=float(score),
            p_low=float(low),
            p_high=float(high),
            cost_usd=cand.cost_usd(input_tokens, out_tokens),
            latency_s=cand.modelled_latency_s(out_tokens) * st.latency_ratio,
            input_tokens=input_tokens,
            output_tokens=out_tokens,
            evidence=float(n),
            draws=draws,
        )

    # -- learning -------------------------------------------------------------------
    def observe_usage(self, task: str, model: str, output_tokens: float | None, latency_s: float | None) -> None:
        """What a call cost and took: learned even without any quality feedback."""
        if not self.config.learn:
            return
        with self._lock:
            st = self.stats[(task, model)]
            if output_tokens is not None:
                st.out_tokens = output_tokens if st.out_tokens is None else 0.9 * st.out_tokens + 0.1 * output_tokens
            if latency_s is not None and output_tokens is not None:
                modelled = self.candidates[model].modelled_latency_s(output_tokens)
                if modelled > 0:
                    st.latency_ratio = 0.9 * st.latency_ratio + 0.1 * (latency_s / modelled)

    def observe(self, task: str, vector: np.ndarray | None, model: str, reward: float,
                difficulty: tuple[float, float] = (0.0, 1.0)) -> None:
        """Feedback on the answer `model` gave to the query with this embedding;
        `difficulty`, what is known of the question's (QualityModel.observe's
        offset and noise_sd)."""
        if not self.config.learn or model not in self.candidates:
            return
        reward = float(min(1.0, max(0.0, reward)))
        with self._lock:
            self.t += 1
            st = self.stats[(task, model)]
            # decay every model's global evidence of this task so the rates follow drift
            factor = 0.5 ** (1.0 / self.config.half_life)
            for (t_task, _), other in self.stats.items():
                if t_task == task:
                    other.decay(factor)
            st.good += reward
            st.bad += 1.0 - reward
            self.quality_model(task).observe(model, reward, *difficulty)
            if vector is not None:
                mem = self.memories.get(task)
                if mem is None:
                    mem = self.memories[task] = self._new_memory()
                mem.add(vector, model, reward, self.t)

    def warm_start(self, path: str | Path, encode) -> int:
        """Learn from a labelled JSONL file: {"query", "model", "score", "task"?,
        "output_tokens"?} per line. Returns the number of rows used."""
        used = 0
        with open(path) as fh:
            for line in fh:
                if not line.strip():
                    continue
                row = json.loads(line)
                if row.get("model") not in self.candidates:
                    continue
                task = row.get("task", "default")
                self.observe(task, encode(row["query"]), row["model"], float(row["score"]))
                if row.get("output_tokens") is not None:
                    self.observe_usage(task, row["model"], float(row["output_tokens"]), None)
                used += 1
        return used

    # -- persistence ------------------------------------------------------------------
    def snapshot(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        with self._lock:
            meta = {
                "t": self.t,
                "stats": [{"task": t, "model": m, **st.__dict__} for (t, m), st in self.stats.items()],
                "memories": {},
                "rng": self.rng.bit_generator.state,
                "quality": {task: qm.to_dict() for task, qm in self.quality.items()},
            }
            arrays = {}
            for task, mem in self.memories.items():
                meta["memories"][task], parts = mem.to_state()
                arrays.update({f"mem_{task}__{name}": a for name, a in parts.items()})
            return meta, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        with self._lock:
            self.t = int(meta["t"])
            for row in meta["stats"]:
                row = dict(row)
                key = (row.pop("task"), row.pop("model"))
                self.stats[key] = _ModelStats(**row)
            cap, half_life = self.config.max_observations, self.config.half_life
            for task, info in meta["memories"].items():
                if "model" in info:  # saved before the memory kept clusters: one row per observation
                    self.memories[task] = ObservationMemory.from_observations(
                        self.dim, arrays[f"mem_{task}"], info["model"], info["reward"], info["time"], cap, half_life)
                else:
                    parts = {name: arrays[f"mem_{task}__{name}"] for name in ObservationMemory.ARRAYS}
                    self.memories[task] = ObservationMemory.from_state(self.dim, info, parts, cap, half_life)
            if "rng" in meta:
                self.rng.bit_generator.state = meta["rng"]
            for task, saved in meta.get("quality", {}).items():
                self.quality_model(task).restore(saved)
