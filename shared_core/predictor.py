"""Predicts, per candidate, P(good answer), cost and latency for a request.

A contextual bandit that starts with no data: each model's quality prior from
the config is a Beta distribution, updated online by feedback. The context is
the query embedding: past outcomes of a model on nearby queries (FAISS kNN,
weighted by similarity and by age) refine its global rate into a local one.
Exploration samples from the posterior (Thompson) or adds its spread (UCB).
Cost is input tokens (tiktoken) plus predicted output tokens at the model's
prices; latency is the model's hint, rescaled by what calls actually took.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .config import CandidateConfig, PredictorConfig
from .vectors import VectorBuffer


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

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class _ModelStats:
    good: float = 0.0
    bad: float = 0.0
    out_tokens: float | None = None  # EMA
    latency_ratio: float = 1.0  # observed / modelled latency, EMA

    def decay(self, factor: float) -> None:
        self.good *= factor
        self.bad *= factor


class _Memory:
    """Observations of one task: query vectors, which model, how it went."""

    def __init__(self, dim: int):
        self.index = faiss.IndexFlatIP(dim)
        self.vectors = VectorBuffer(dim)
        self.model: list[str] = []
        self.reward: list[float] = []
        self.time: list[int] = []

    def add(self, vector: np.ndarray, model: str, reward: float, t: int) -> None:
        vec = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        self.index.add(vec)
        self.vectors.append(vec)
        self.model.append(model)
        self.reward.append(reward)
        self.time.append(t)

    def trim(self, keep: int) -> None:
        drop = len(self.model) - keep
        if drop <= 0:
            return
        self.vectors.replace(self.vectors.array[drop:])
        self.model, self.reward, self.time = self.model[drop:], self.reward[drop:], self.time[drop:]
        self.index.reset()
        self.index.add(self.vectors.array)


class Predictor:
    def __init__(self, candidates: list[CandidateConfig], config: PredictorConfig, dim: int, seed: int = 0):
        self.config = config
        self.dim = dim
        self.candidates = {c.name: c for c in candidates}
        self.rng = np.random.default_rng(seed)
        self.t = 0  # observation clock
        self.memories: dict[str, _Memory] = {}
        self.stats: dict[tuple[str, str], _ModelStats] = defaultdict(_ModelStats)
        self._lock = threading.RLock()

    # -- prediction ---------------------------------------------------------------
    def predict(self, task: str, vector: np.ndarray | None, input_tokens: int, models: list[str],
                explore: bool = True) -> list[Estimate]:
        with self._lock:
            local = self._neighbours(task, vector, models)
            return [self._estimate(task, m, input_tokens, local.get(m, (0.0, 0.0)), explore) for m in models]

    def _neighbours(self, task: str, vector: np.ndarray | None, models: list[str]) -> dict[str, tuple[float, float]]:
        mem = self.memories.get(task)
        if vector is None or mem is None or mem.index.ntotal == 0:
            return {}
        k = min(self.config.k, mem.index.ntotal)
        sims, ids = mem.index.search(np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32), k)
        out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for sim, i in zip(sims[0], ids[0]):
            if i < 0:
                continue
            age = self.t - mem.time[i]
            w = float(np.exp((sim - 1.0) / self.config.bandwidth)) * 0.5 ** (age / self.config.half_life)
            acc = out[mem.model[i]]
            acc[0] += w * mem.reward[i]
            acc[1] += w
        return {m: (v[0], v[1]) for m, v in out.items()}

    def _estimate(self, task: str, model: str, input_tokens: int, local: tuple[float, float], explore: bool) -> Estimate:
        cand = self.candidates[model]
        st = self.stats.get((task, model)) or _ModelStats()
        a0 = self.config.prior_strength * cand.quality_prior + st.good
        b0 = self.config.prior_strength * (1 - cand.quality_prior) + st.bad
        global_mean = a0 / (a0 + b0)
        # the model's global rate is the prior of its local rate near this query,
        # worth `local_prior_strength` neighbours
        s, n = local
        lps = self.config.local_prior_strength
        mean = (lps * global_mean + s) / (lps + n)
        if not explore or self.config.exploration == "greedy":
            score = mean
        elif self.config.exploration == "ucb":
            alpha, beta_ = lps * global_mean + s, lps * (1 - global_mean) + (n - s)
            var = alpha * beta_ / ((alpha + beta_) ** 2 * (alpha + beta_ + 1))
            score = mean + float(np.sqrt(var))
        else:
            # Thompson: draw the global rate from its posterior, then blend in the
            # local evidence; the draw narrows as the model's record grows, so a
            # model tried often settles while an untried one keeps being explored
            g = float(self.rng.beta(a0, b0))
            score = (lps * g + s) / (lps + n)
        out_tokens = st.out_tokens if st.out_tokens is not None else float(cand.expected_output_tokens)
        return Estimate(
            model=model,
            p_good=float(mean),
            p_sample=float(score),
            cost_usd=cand.cost_usd(input_tokens, out_tokens),
            latency_s=cand.modelled_latency_s(out_tokens) * st.latency_ratio,
            input_tokens=input_tokens,
            output_tokens=out_tokens,
            evidence=float(n),
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

    def observe(self, task: str, vector: np.ndarray | None, model: str, reward: float) -> None:
        """Feedback on the answer `model` gave to the query with this embedding."""
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
            if vector is not None:
                mem = self.memories.get(task)
                if mem is None:
                    mem = self.memories[task] = _Memory(self.dim)
                mem.add(vector, model, reward, self.t)
                if len(mem.model) > self.config.max_observations:
                    mem.trim(self.config.max_observations * 3 // 4)

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
                "memories": {task: {"model": mem.model, "reward": mem.reward, "time": mem.time}
                             for task, mem in self.memories.items()},
                "rng": self.rng.bit_generator.state,
            }
            arrays = {f"mem_{task}": mem.vectors.array for task, mem in self.memories.items()}
            return meta, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        with self._lock:
            self.t = int(meta["t"])
            for row in meta["stats"]:
                row = dict(row)
                key = (row.pop("task"), row.pop("model"))
                self.stats[key] = _ModelStats(**row)
            for task, info in meta["memories"].items():
                mem = self.memories[task] = _Memory(self.dim)
                vecs = arrays[f"mem_{task}"]
                if len(vecs):
                    mem.index.add(np.ascontiguousarray(vecs, dtype=np.float32))
                mem.vectors.replace(vecs)
                mem.model, mem.reward, mem.time = list(info["model"]), list(info["reward"]), list(info["time"])
            if "rng" in meta:
                self.rng.bit_generator.state = meta["rng"]
