"""`sls run`: a batch of jobs through the engine, on asyncio, resumable.

    sls run --config router.yaml --input jobs.jsonl --output answers.jsonl --summary summary.json

At most `run.concurrency` jobs are in flight; each candidate's calls keep to
its `limits` (concurrency, requests and tokens per minute) and are retried
with backoff on 429/5xx before the engine falls back to the next candidate.
Identical jobs in flight together are answered once (tier `inflight`, a cache
hit). At the budget no new job starts; the jobs not started are listed in the
summary as not run, and a later run with a larger budget does them. Jobs
already in flight finish, so the spend can pass the budget by what they cost.

The output has one line per finished job:

    {"id", "status": "ok"|"error", "answer", "model", "tier", "cost_usd",
     "latency_s", "verified", "request_id", "attempts", "overhead_ms", "error"}

(`overhead_ms`: the engine's own time on the job: cache, prediction, scheduling.)

Killed (Ctrl-C, kill -9), the same command continues: see journal.py.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..candidates import Answer
from ..engine import Engine, Result
from ..errors import NoCandidateError, SLSError
from ..request import Request
from .jobs import BadLine, Job, read_jobs
from .journal import Journal
from .limits import Gate
from .progress import Progress
from .retry import call_with_retries, engine_policy
from .sources import estimated_tokens


class BadInputError(SLSError):
    """A bad input line with --on-bad-line stop."""


@dataclass
class RunOptions:
    input: Path
    output: Path
    journal: Path | None = None
    summary: Path | None = None
    on_bad_line: str = "skip"  # skip | stop
    budget_usd: float | None = None
    concurrency: int | None = None
    progress: bool = True
    warn: Callable[[str], Any] | None = None  # told of each bad line as it is read


class _NotRun(Exception):
    """The job was not started: the budget is spent."""


class BatchRunner:
    def __init__(self, engine: Engine, options: RunOptions):
        self.engine = engine
        self.options = options
        self.run_config = engine.config.run
        self.budget = options.budget_usd if options.budget_usd is not None else engine.config.budget.run_budget_usd
        self.concurrency = options.concurrency or self.run_config.concurrency
        self.journal = Journal(options.output, options.journal)
        self.gates = {c.name: Gate(c.limits) for c in engine.config.candidates}
        self.flights: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.paid: dict[str, dict[str, Any]] = {}
        self.spent_usd = 0.0  # what this batch has paid, over every run of it
        self.not_run: list[str] = []
        self.bad: list[BadLine] = []
        self.stopped = False
        self.progress: Progress | None = None
        self.engine_retries = engine_policy(engine, self.run_config)
        self._tries: dict[tuple[str, str], int] = {}

    # -- the batch -----------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        jobs = []
        for item in read_jobs(self.options.input):
            if isinstance(item, BadLine):
                if self.options.on_bad_line == "stop":
                    raise BadInputError(f"{self.options.input} {item} (nothing was run; "
                                        "--on-bad-line skip runs the other lines)")
                self.bad.append(item)
                if self.options.warn is not None:
                    self.options.warn(f"skipped {self.options.input} {item}")
                continue
            jobs.append(item)
        return jobs

    async def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        jobs = self.jobs()
        done, self.paid, self.spent_usd = self.journal.resume()
        todo = [j for j in jobs if j.id not in done]
        self.progress = Progress(len(jobs), len(jobs) - len(todo), self.budget, self.options.progress)
        self.progress.spent_usd = self.spent_usd
        self.journal.open()
        try:
            queue = iter(todo)
            await asyncio.gather(*(self._worker(queue) for _ in range(min(self.concurrency, len(todo)) or 1)))
        finally:
            self.journal.close()
            self.progress.close()
        return self.summary(jobs, time.monotonic() - t0)

    async def _worker(self, queue) -> None:
        for job in queue:  # one iterator shared by every worker: each job is taken once
            if self.stopped:
                self.not_run.append(job.id)
                continue
            try:
                row = await self._job(job)
            except _NotRun:
                self.stopped = True
                self.not_run.append(job.id)
                continue
            self.journal.done(row)
            self.progress.job(row)

    # -- one job -------------------------------------------------------------------------
    async def _job(self, job: Job) -> dict[str, Any]:
        """Single-flight: a job identical to one in flight waits for its answer."""
        key = self._flight_key(job.request)
        leader = self.flights.get(key) if key else None
        if leader is not None:
            t0 = time.perf_counter()
            try:
                row = await asyncio.shield(leader)
            except Exception:
                row = None
            if row is not None and row["status"] == "ok":
                return {**row, "id": job.id, "tier": "inflight", "cost_usd": 0.0, "attempts": [],
                        "latency_s": round(time.perf_counter() - t0, 6)}
        if not key or key in self.flights:
            return await self._serve(job)
        future = self.flights[key] = asyncio.get_running_loop().create_future()
        try:
            row = await self._serve(job)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # followers decide for themselves; nobody must be warned of it
            raise
        finally:
            del self.flights[key]
        future.set_result(row)
        return row

    def _flight_key(self, request: Request) -> str | None:
        if self.engine.cache.skip_reason(request) is not None:
            return None  # what the cache would not share, single-flight does not either
        return request.exact_key(request.scope_key(request.candidates or list(self.engine.candidates)))

    async def _serve(self, job: Job) -> dict[str, Any]:
        request = job.request
        request.metadata["sls_job"] = job.id
        paid = self.paid.get(job.id)
        if paid is not None:
            request.pinned_model = paid["model"]  # answered before the kill: take that answer, do not pay again
        elif self.budget is not None:
            self._cap(request)
        try:
            result = await self.engine.arun(request, self._call)
        except NoCandidateError as exc:
            if request.metadata.get("sls_budget_cap") and _over_budget(exc):
                raise _NotRun from None
            return {"id": job.id, "status": "error", "error": str(exc)[:2000], "attempts": _attempts(exc)}
        except SLSError as exc:  # this job cannot be served as written (say, an unknown model): the rest can
            return {"id": job.id, "status": "error", "error": str(exc)[:2000], "attempts": []}
        return _row(job.id, result)

    def _cap(self, request: Request) -> None:
        left = self.budget - self.spent_usd
        if left <= 0:
            raise _NotRun
        own = request.metadata.get("max_cost_usd")
        request.metadata["max_cost_usd"] = left if own is None else min(own, left)
        request.metadata["sls_budget_cap"] = own is None or left < own

    async def _call(self, model: str, request: Request) -> Answer:
        """One candidate call: the journaled answer if there is one, else within
        the candidate's limits, with retries; journaled the moment it returns."""
        job_id = request.metadata["sls_job"]
        paid = self.paid.get(job_id)
        if paid is not None and paid["model"] == model:  # paid for already: counted in spent_usd
            del self.paid[job_id]
            return Answer(text=paid["text"], input_tokens=paid["input_tokens"], output_tokens=paid["output_tokens"],
                          cost_usd=paid["cost_usd"], latency_s=paid["latency_s"], extra=paid.get("extra") or {})
        cand = self.engine.config.candidate(model)
        gate = self.gates[model]
        estimate = estimated_tokens(request, cand)
        t0 = time.perf_counter()

        async def once() -> Answer:
            async with gate.hold(estimate):
                return await self.engine.candidates[model].ainvoke(request)

        if self.engine_retries:  # the engine calls this again on a retryable error
            tries = self._tries[(job_id, model)] = self._tries.get((job_id, model), 0) + 1
            if tries > 1:
                self._retried(None)
            answer = await once()
            self._tries.pop((job_id, model), None)
        else:
            answer = await call_with_retries(once, self.run_config, on_retry=self._retried)
        answer.complete_usage(request, cand, time.perf_counter() - t0)
        # no await between the answer arriving and this line: no other job runs in between. A kill
        # can still fall here: that answer is billed and lost, and bought again on resume
        self.journal.paid({"id": job_id, "model": model, "text": answer.text, "cost_usd": answer.cost_usd,
                           "input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens,
                           "latency_s": answer.latency_s, "extra": answer.extra})
        gate.used_tokens(estimate, answer.input_tokens + answer.output_tokens)
        self.spent_usd += answer.cost_usd
        self.progress.spent_usd = self.spent_usd
        self.progress.calls[model] += 1
        return answer

    def _retried(self, exc: BaseException | None) -> None:
        self.progress.retries += 1

    # -- the summary ---------------------------------------------------------------------
    def summary(self, jobs: list[Job], wall_s: float) -> dict[str, Any]:
        """Over the whole output, every run of this batch included."""
        done, _, _ = self.journal.resume()
        rows = [done[j.id] for j in jobs if j.id in done]
        ok = [r for r in rows if r["status"] == "ok"]
        return {
            "input": str(self.options.input), "output": str(self.options.output), "jobs": len(jobs),
            "done": len(rows), "ok": len(ok), "errors": len(rows) - len(ok),
            "not_run": len(self.not_run), "not_run_ids": self.not_run,
            "not_run_reason": "budget" if self.not_run else None,
            "bad_lines": [{"line": b.line, "error": b.error} for b in self.bad],
            "cost_usd": round(sum(r.get("cost_usd") or 0.0 for r in rows), 8),
            "paid_usd": round(self.spent_usd, 8), "budget_usd": self.budget,
            "hits": dict(Counter(r["tier"] for r in ok if r.get("tier"))),
            "calls": dict(Counter(r["model"] for r in ok if r.get("model") and not r.get("tier"))),
            "verified_mean": _mean([r["verified"] for r in ok if r.get("verified") is not None]),
            "wall_s": round(wall_s, 3),
        }


def _row(job_id: str, result: Result) -> dict[str, Any]:
    return {"id": job_id, "status": "ok", "answer": result.text, "model": result.model, "tier": result.tier,
            "cost_usd": round(result.cost_usd, 10), "latency_s": round(result.latency_s, 6),
            "verified": result.verified, "request_id": result.request_id, "attempts": result.attempts,
            "overhead_ms": round(result.overhead_s * 1000, 4)}


def _over_budget(exc: NoCandidateError) -> bool:
    return bool(exc.reasons) and all("run budget" in why or "per-request cap" in why for why in exc.reasons.values())


def _attempts(exc: NoCandidateError) -> list[dict[str, str]]:
    return [{"model": m, "error": why} for m, why in sorted(exc.reasons.items())]


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None
