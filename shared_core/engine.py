"""The SLS engine: cache, predict, schedule, call with fallback, learn.

Framework adapters hand the engine a `Request` and a function that calls one
named candidate; the engine does the rest, so fallback, budgets, errors and
learning behave the same in every framework:

    result = engine.run(request, call=lambda model, req: Answer(...))
    engine.feedback(result.request_id, 1.0)
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from .answer_shares import AnswerShares
from .cache import CacheHit, CacheManager, make_reuser
from .candidates import Answer, Candidate
from .config import CandidateConfig, SLSConfig
from .encoders import Encoder, make_encoder
from .errors import FeedbackError, NoCandidateError, RequestError
from .health import Health, RetryPolicy
from .providers import env_secrets, scrub, scrub_exception
from .predictor import Predictor
from .request import Request
from .scheduler import Decision, Scheduler, make_scheduler
from .shared_state import open_shared
from .storage import StateStore, open_store
from .tokens import count_message_tokens, get_encoding
from .stats import Usage, engine_state, summarize
from .updater import Autosave, Pending, UpdateManager
from .verifiers import Verifier, make_verifier

log = logging.getLogger("sls.engine")
Chunk = TypeVar("Chunk")


@dataclass
class Plan:
    """What the engine decided before any model was called."""

    request_id: str
    request: Request
    scope: str
    exact_key: str
    vector: np.ndarray | None
    input_tokens: int
    hit: CacheHit | None = None
    decision: Decision | None = None
    nearest: Any = None
    cache_skipped: str | None = None
    overhead_s: float = 0.0


@dataclass
class Result:
    """The answer a request got, where it came from, and what it cost."""

    request_id: str
    text: str
    model: str | None
    tier: str | None  # exact | reuse | semantic, or None when a model answered
    cost_usd: float
    latency_s: float
    answer: Answer | None = None
    hit: CacheHit | None = None
    decision: Decision | None = None
    attempts: list[dict[str, str]] = field(default_factory=list)
    overhead_s: float = 0.0
    verified: float | None = None
    calls: int = 1  # model calls made for this answer (an agreement cascade makes several)

    @property
    def extra(self) -> dict[str, Any]:
        if self.answer is not None:
            return self.answer.extra
        return self.hit.extra if self.hit is not None else {}

    def metadata(self) -> dict[str, Any]:
        """A JSON-able summary for a framework's response metadata."""
        chosen = self.decision.estimates.get(self.model) if self.decision and self.model else None
        return {
            "sls_request_id": self.request_id,
            "sls_model": self.model,
            "sls_cache_tier": self.tier,
            "sls_cost_usd": round(self.cost_usd, 8),
            "sls_latency_s": round(self.latency_s, 6),
            "sls_predicted": None if chosen is None else {
                "p_good": round(chosen.p_good, 4), "cost_usd": round(chosen.cost_usd, 8),
                "latency_s": round(chosen.latency_s, 4)},
            "sls_reason": self.decision.reason if self.decision else (f"cache hit ({self.tier})" if self.tier else ""),
            "sls_attempts": self.attempts,
            "sls_calls": self.calls if self.tier is None else 0,
            "sls_overhead_ms": round(self.overhead_s * 1000, 4),
        }


@dataclass
class StreamEvent(Generic[Chunk]):
    kind: str  # chunk | done
    chunk: Chunk | None = None
    model: str | None = None
    result: Result | None = None
    request_id: str | None = None


@dataclass
class _Rejected:
    """Cascade answers a verifier turned down: what they cost and the best of them."""

    cost_usd: float = 0.0
    latency_s: float = 0.0
    best: tuple[float, str, Answer] | None = None

    def add(self, model: str, answer: Answer, score: float) -> None:
        self.cost_usd += answer.cost_usd or 0.0
        self.latency_s += answer.latency_s or 0.0
        if self.best is None or score >= self.best[0]:
            self.best = (score, model, answer)


@dataclass
class _Call:
    """A fallback loop's request to call `model`; a stream collects its `chunks` here."""

    model: str
    chunks: list[Any] = field(default_factory=list)


class _Steps:
    """Drives a fallback loop generator: iterating gives the steps it asks for; set
    `value` or `error` to what a step returned or raised before taking the next.
    `result` is what the loop returned."""

    def __init__(self, loop: Generator[Any, Any, Any]):
        self.loop = loop
        self.value: Any = None
        self.error: Exception | None = None
        self.result: Any = None

    def __iter__(self) -> "_Steps":
        return self

    def __next__(self) -> Any:
        value, error, self.value, self.error = self.value, self.error, None, None
        try:
            return self.loop.send(value) if error is None else self.loop.throw(error)
        except StopIteration as done:
            self.result = done.value
            raise StopIteration from None


def _join_chunks(model: str, chunks: list[Any]) -> Answer:
    return Answer(text="".join(map(str, chunks)))


class Engine:
    # with a state store: seconds between saves of changed state (a timer thread),
    # plus a save at interpreter exit; 0: only save(), close() and autosave_every
    autosave_s: float = 30.0

    def __init__(self, config: SLSConfig, candidates: dict[str, Candidate] | list[Candidate] | None = None, *,
                 encoder: Encoder | None = None, store: StateStore | None = None,
                 verifiers: list[Verifier] | None = None, learn: bool | None = None,
                 scheduler: Scheduler | None = None, retry: RetryPolicy | None = None):
        self.config = config
        if isinstance(candidates, list):
            candidates = {c.name: c for c in candidates}
        self.candidates = dict(candidates or {})
        for name in self.candidates:
            config.candidate(name)  # raises UnknownModelError for a candidate missing from the config
        self.encoder = encoder or make_encoder(config.encoder.type, config.encoder.dim, config.encoder.model)
        learn = config.predictor.learn if learn is None else learn
        config.predictor.learn = learn
        self.cache = CacheManager(config.cache, self.encoder.dim, [make_reuser(n) for n in config.cache.reuse])
        self.predictor = Predictor(config.candidates, config.predictor, self.encoder.dim, seed=config.seed)
        self.scheduler = scheduler or make_scheduler(config)
        if store is None and config.state.path:
            store = open_store(config.state.path, config.state.backend)
        self.updater = UpdateManager(self.predictor, self.cache, store, config.state.autosave_every, learn=learn)
        self.verifiers = list(verifiers) if verifiers is not None else [make_verifier(v) for v in config.verifiers]
        self.spent_usd = 0.0
        self.usage = Usage()  # calls, spend and hits, for stats()
        self._scored: set[str] = set()  # requests that had explicit feedback
        self.health = Health(config.fallback.cooldown_s)
        self.answer_shares = AnswerShares(config.agreement.guess_share_sd)  # what the agreement verifier learns
        self.retry = retry or RetryPolicy()
        self.secrets: set[str] = set()  # adapters add their providers' keys; scrubbed from every error
        self._lock = threading.RLock()
        get_encoding()  # load tiktoken's tables now, not in the first request
        saved = self.updater.load()
        if saved:
            self.spent_usd = float(saved.get("spent_usd", 0.0))
            self.usage.load(saved.get("usage"))
            self._scored.update(saved.get("scored", []))
            self.scheduler.restore(saved.get("scheduler"))
            self.answer_shares.restore(saved.get("answer_shares"))
        elif config.predictor.warm_start:
            self.predictor.warm_start(config.predictor.warm_start, self.encoder.encode_one)
        self.shared = open_shared(config)  # many workers: budget, limits, cooldowns, learning, cache
        self.shared.attach(self)
        self._closed = False
        self._autosave = (Autosave(self.save, lambda: self.updater.changes, self.autosave_s)
                          if self.updater.store is not None and self.autosave_s else None)

    @classmethod
    def from_yaml(cls, path: str | Path, candidates: dict[str, Candidate] | list[Candidate] | None = None,
                  **kwargs: Any) -> "Engine":
        return cls(SLSConfig.from_yaml(path), candidates, **kwargs)

    # -- planning ---------------------------------------------------------------------
    def plan(self, request: Request) -> Plan:
        """Cache lookup, then predictions and a ranked choice of candidates."""
        t0 = time.perf_counter()
        cands = self._candidates_for(request)
        names = [c.name for c in cands]
        scope = request.scope_key(names)
        plan = Plan(os.urandom(16).hex(), request, scope, request.exact_key(scope), None, 0)  # uuid4's entropy, faster
        with self._lock:
            skipped = self.cache.skip_reason(request)
            if skipped is None:  # a repeat is served before any encoding or token counting
                plan.hit = self.cache.exact_hit(plan.exact_key)
            if plan.hit is None:
                plan.vector = self.encoder.encode_one(request.query)
            if skipped is None and plan.hit is None:
                lookup = self.cache.lookup(request, scope, plan.exact_key, plan.vector)
                plan.hit, plan.nearest = lookup.hit, lookup.nearest
            plan.cache_skipped = skipped
            if plan.hit is None:  # tokens price the calls: a hit makes none
                plan.input_tokens = count_message_tokens(request.messages, tools=request.tools)
                plan.decision = self._decide(request, cands, names, plan)
            else:
                self.scheduler.count_request(request.task)
        plan.overhead_s = time.perf_counter() - t0
        return plan

    def _candidates_for(self, request: Request) -> list[CandidateConfig]:
        """The configured candidates the request allows, in config order."""
        cands = self.config.candidates
        if request.candidates is not None:
            for name in request.candidates:
                self.config.candidate(name)  # an unknown name is an error that names it
            cands = [c for c in cands if c.name in request.candidates]
        if request.pinned_model is not None:
            self.config.candidate(request.pinned_model)
        if not cands:
            raise RequestError("the request restricts candidates to an empty set")
        return cands

    def _decide(self, request: Request, cands: list[CandidateConfig], names: list[str], plan: Plan) -> Decision:
        estimates = self.predictor.predict(request.task, plan.vector, plan.input_tokens, names,
                                           explore=self.config.predictor.learn)
        decision = self.scheduler.decide(request, cands, {e.model: e for e in estimates},
                                         self.shared.spent(self.spent_usd), self.health.exclusions(names))
        if decision.chosen is None:
            raise NoCandidateError(decision.excluded)
        return decision

    def cooling(self) -> dict[str, str]:
        return self.health.cooling()

    # -- running -------------------------------------------------------------------------
    def run(self, request: Request, call: Callable[[str, Request], Answer] | None = None, *,
            cascade: bool = False) -> Result:
        """Serve a request: from the cache, or by calling the best candidate and
        falling back to the next when one raises. With `cascade`, a verifier
        checks each answer and a rejected one moves on to the next candidate."""
        plan = self.plan(request)
        if plan.hit is not None:
            return self._serve_hit(plan)
        call = call or self._call_candidate
        if not cascade and self._by_agreement(request):
            from .agreement import serve

            return serve(self, plan, call)
        steps = _Steps(self._fallback(plan, cascade))
        for step in steps:
            try:
                steps.value = self.retry.call(partial(call, step.model, request)) if isinstance(step, _Call) \
                    else step()
            except Exception as exc:
                steps.error = exc
        return steps.result

    async def arun(self, request: Request, acall: Callable[[str, Request], Awaitable[Answer]] | None = None, *,
                   cascade: bool = False) -> Result:
        """`run` for async callers; verifiers run in a thread."""
        plan = self.plan(request)
        if plan.hit is not None:
            return self._serve_hit(plan)
        acall = acall or self._acall_candidate
        if not cascade and self._by_agreement(request):
            from .agreement import serve

            loop = asyncio.get_running_loop()  # the calls stay on this loop; the plan waits in a thread
            return await asyncio.to_thread(
                serve, self, plan, lambda m, r: asyncio.run_coroutine_threadsafe(acall(m, r), loop).result())
        steps = _Steps(self._fallback(plan, cascade))
        for step in steps:
            try:
                steps.value = await (self.retry.acall(partial(acall, step.model, request)) if isinstance(step, _Call)
                                     else asyncio.to_thread(step))
            except Exception as exc:
                steps.error = exc
        return steps.result

    def _by_agreement(self, request: Request) -> bool:
        """Requests whose answers can be compared: the tasks the config names for the
        agreement cascade, or `metadata["agreement"]`; never tool or format turns."""
        wanted = request.metadata.get("agreement", request.task in self.config.agreement.tasks)
        return bool(wanted) and not request.tools and request.response_format is None

    def agree(self, request: Request, call: Callable[[str, Request], Answer] | None = None) -> Result:
        """Serve by the agreement cascade (shared_core/agreement.py): a pair of models
        and, when they disagree, a third; several calls, and learning without labels."""
        from .agreement import serve

        plan = self.plan(request)
        if plan.hit is not None:
            return self._serve_hit(plan)
        return serve(self, plan, call or self._call_candidate)

    def stream(self, request: Request, open_stream: Callable[[str, Request], Iterator[Chunk]] | None = None,
               to_answer: Callable[[str, list[Chunk]], Answer] | None = None) -> Iterator[StreamEvent[Chunk]]:
        """Stream from the chosen candidate. A failure before the first chunk falls
        back to the next candidate; after it, the error propagates (the caller
        has already shown part of an answer). A cache hit ends at once with a
        `done` event; the caller streams its text. The complete answer is cached."""
        plan = self.plan(request)
        if plan.hit is not None:
            yield StreamEvent("done", result=self._serve_hit(plan), request_id=plan.request_id)
            return
        open_stream = open_stream or (lambda m, r: self.candidates[m].stream(r))
        steps = _Steps(self._stream_fallback(plan, to_answer or _join_chunks))
        for step in steps:
            try:
                if not isinstance(step, _Call):
                    steps.value = step()
                    continue
                for chunk in open_stream(step.model, request):
                    step.chunks.append(chunk)
                    yield StreamEvent("chunk", chunk=chunk, model=step.model, request_id=plan.request_id)
            except Exception as exc:
                steps.error = exc
        yield steps.result

    async def astream(self, request: Request, open_stream: Callable[[str, Request], AsyncIterator[Chunk]] | None = None,
                      to_answer: Callable[[str, list[Chunk]], Answer] | None = None) -> AsyncIterator[StreamEvent[Chunk]]:
        """`stream` for async callers; verifiers run in a thread."""
        plan = self.plan(request)
        if plan.hit is not None:
            yield StreamEvent("done", result=self._serve_hit(plan), request_id=plan.request_id)
            return
        open_stream = open_stream or (lambda m, r: self.candidates[m].astream(r))
        steps = _Steps(self._stream_fallback(plan, to_answer or _join_chunks))
        for step in steps:
            try:
                if not isinstance(step, _Call):
                    steps.value = await asyncio.to_thread(step)
                    continue
                async for chunk in open_stream(step.model, request):
                    step.chunks.append(chunk)
                    yield StreamEvent("chunk", chunk=chunk, model=step.model, request_id=plan.request_id)
            except Exception as exc:
                steps.error = exc
        yield steps.result

    # The fallback loops are generators so that sync and async share them: they yield a
    # `_Call` where a candidate must be called (or streamed) and a blocking `partial`
    # (verifiers) that async callers run in a thread; `_Steps` feeds back the outcome.
    def _fallback(self, plan: Plan, cascade: bool) -> Generator[_Call | partial[Any], Any, Result]:
        attempts: list[dict[str, str]] = []
        rejected = _Rejected()
        for model in self._attempt_order(plan):
            if not self._reserve(plan, model, attempts):
                continue
            t0 = time.perf_counter()
            try:
                answer = yield _Call(model)
            except Exception as exc:  # provider errors: cool the model down, try the next
                self.shared.settle(plan.request_id, model, 0.0)
                self._failed(model, exc, attempts)
                continue
            self.health.succeeded(model)
            answer.complete_usage(plan.request, self.config.candidate(model), time.perf_counter() - t0,
                                  plan.input_tokens)
            self.shared.settle(plan.request_id, model, answer.cost_usd or 0.0)
            if self._bad_answer(plan, model, answer, attempts):
                continue
            if cascade and not (yield partial(self._cascade_accepts, plan, model, answer, attempts, rejected)):
                continue
            result = self._finish(plan, model, answer, attempts, rejected)
            return (yield partial(self._verify_result, plan, result))
        if rejected.best is not None:
            return self._finish_rejected(plan, attempts, rejected)
        raise self._exhausted(plan, attempts)

    def _stream_fallback(self, plan: Plan, to_answer: Callable[[str, list[Chunk]], Answer]
                         ) -> Generator[_Call | partial[Any], Any, StreamEvent[Chunk]]:
        attempts: list[dict[str, str]] = []
        for model in self._attempt_order(plan):
            if not self._reserve(plan, model, attempts):
                continue
            t0 = time.perf_counter()
            step = _Call(model)
            try:
                yield step
            except Exception as exc:
                self.shared.settle(plan.request_id, model, 0.0)
                self._failed(model, exc, attempts)
                if step.chunks:  # the caller has shown part of this answer: too late to switch
                    raise
                continue
            self.health.succeeded(model)
            answer = to_answer(model, step.chunks).complete_usage(plan.request, self.config.candidate(model),
                                                                  time.perf_counter() - t0, plan.input_tokens)
            self.shared.settle(plan.request_id, model, answer.cost_usd or 0.0)
            if not step.chunks and self._bad_answer(plan, model, answer, attempts):
                continue  # nothing was shown yet: the next candidate can still answer
            answer.cacheable = answer.cacheable and answer.problem(plan.request) is None
            result = yield partial(self._verify_result, plan, self._finish(plan, model, answer, attempts))
            return StreamEvent("done", model=model, result=result, request_id=plan.request_id)
        raise self._exhausted(plan, attempts)

    @staticmethod
    def _exhausted(plan: Plan, attempts: list[dict[str, str]]) -> NoCandidateError:
        return NoCandidateError({a["model"]: a["error"] for a in attempts} or plan.decision.excluded)

    def _attempt_order(self, plan: Plan) -> list[str]:
        # cooling models come last (half-open): better a model that failed lately than no answer
        order = plan.decision.ranking + self.health.probe_order(plan.decision.excluded)
        return order[: self.config.fallback.max_attempts]

    def _reserve(self, plan: Plan, model: str, attempts: list[dict[str, str]]) -> bool:
        """With shared state, hold the call's predicted cost (and a rate-limit slot)
        across workers first; a refusal is an attempt that moves on, not a failure."""
        why = self.shared.reserve(plan.request_id, self.config.candidate(model), plan.decision.estimates.get(model))
        if why is not None:
            attempts.append({"model": model, "error": why})
        return why is None

    def _call_candidate(self, model: str, request: Request) -> Answer:
        if model not in self.candidates:
            raise RequestError(f"no callable candidate '{model}': pass `call=` or construct the engine with it")
        return self.candidates[model].invoke(request)

    async def _acall_candidate(self, model: str, request: Request) -> Answer:
        if model not in self.candidates:
            raise RequestError(f"no callable candidate '{model}': pass `acall=` or construct the engine with it")
        return await self.candidates[model].ainvoke(request)

    def _failed(self, model: str, exc: BaseException, attempts: list[dict[str, str]]) -> None:
        # a provider may echo its key in an error: scrub the exception itself, since it
        # reaches the log, sls_attempts, stats() and (a stream cut short) the caller
        secrets = self.secrets | env_secrets()
        scrub_exception(exc, secrets)
        why = scrub(f"{type(exc).__name__}: {exc}", secrets)[:300]
        log.warning("candidate %s failed (%s); falling back", model, why)
        attempts.append({"model": model, "error": why})
        self.health.failed(model, why, exc)

    def _bad_answer(self, plan: Plan, model: str, answer: Answer, attempts: list[dict[str, str]]) -> bool:
        """An empty (or, under a JSON format, non-JSON) answer is paid for and learned
        from as a failure, never served or cached: the next candidate is tried."""
        problem = answer.problem(plan.request)
        if problem is None:
            return False
        log.warning("candidate %s gave a bad answer (%s); falling back", model, problem)
        attempts.append({"model": model, "error": problem})
        with self._lock:
            self.spent_usd += answer.cost_usd or 0.0
            self.billed(plan, model, answer)
            self.predictor.observe_usage(plan.request.task, model, answer.output_tokens, answer.latency_s)
            self.predictor.observe(plan.request.task, plan.vector, model, 0.0)
        return True

    def _cascade_accepts(self, plan: Plan, model: str, answer: Answer, attempts: list[dict[str, str]],
                         rejected: "_Rejected") -> bool:
        score = self.verify(plan.request, answer.text)
        if score is None or score >= 0.5:
            return True
        attempts.append({"model": model, "error": f"rejected by verifier (score {score:.2f})"})
        rejected.add(model, answer, score)
        with self._lock:
            self.spent_usd += answer.cost_usd or 0.0
            self.billed(plan, model, answer)
            self.predictor.observe_usage(plan.request.task, model, answer.output_tokens, answer.latency_s)
            self.predictor.observe(plan.request.task, plan.vector, model, score)
        return False

    def _finish_rejected(self, plan: Plan, attempts: list[dict[str, str]], rejected: "_Rejected") -> Result:
        """Every cascade attempt was rejected: return the best-scored answer (paid
        for already), marked with its verdict, rather than nothing."""
        _, model, answer = rejected.best
        answer.cacheable = False  # a rejected answer must not be served again
        result = self._finish(plan, model, answer, attempts, rejected,
                              extra_usd=-(answer.cost_usd or 0.0))  # billed among the rejected already
        result.latency_s -= answer.latency_s or 0.0
        result.verified = rejected.best[0]
        return result

    # -- recording --------------------------------------------------------------------
    def _serve_hit(self, plan: Plan) -> Result:
        hit = plan.hit
        t0 = time.perf_counter()
        self.usage.hit(plan.request.task, hit.tier)
        self.updater.track(plan.request_id, Pending(plan.request, plan.scope, hit.model, hit.answer, plan.vector,
                                                    hit.entry_id, hit, plan.nearest))
        overhead = plan.overhead_s + time.perf_counter() - t0
        return Result(plan.request_id, hit.answer, hit.model, hit.tier, 0.0, overhead, hit=hit, overhead_s=overhead)

    def billed(self, plan: Plan, model: str, answer: Answer) -> None:
        """A call's bill against its predicted cost: what the paced budget scales its
        reference by (pacing.py)."""
        pacer, decision = self.scheduler.pacer, plan.decision
        est = decision.estimates.get(model) if decision is not None else None
        if pacer is not None and est is not None and answer.cost_usd is not None:
            pacer.observe_call(model, est.cost_usd, answer.cost_usd)

    def _finish(self, plan: Plan, model: str, answer: Answer, attempts: list[dict[str, str]],
                rejected: "_Rejected | None" = None, learned: bool = False, extra_usd: float = 0.0) -> Result:
        """Bill, cache and track the served answer. `extra_usd` is billed with it beyond
        its own cost and the rejected answers': an agreement cascade's other votes, or
        less an answer that is among the rejected ones already."""
        t0 = time.perf_counter()
        request = plan.request
        # a cascade bills and waits for the answers it rejected too
        billed = (answer.cost_usd or 0.0) + ((rejected.cost_usd if rejected else 0.0) + extra_usd)
        extra_time = rejected.latency_s if rejected else 0.0
        with self._lock:
            self.spent_usd += (answer.cost_usd or 0.0) + extra_usd
            self.scheduler.paid(request.task, plan.decision, billed)
            self.usage.served(request.task, model, answer.cost_usd, answer.latency_s)
            self.billed(plan, model, answer)
            self.predictor.observe_usage(request.task, model, answer.output_tokens, answer.latency_s)
            entry_id = None
            if answer.cacheable:
                entry_id = self.cache.store(request, plan.scope, plan.exact_key, plan.vector, answer.text, model,
                                            answer.extra)
            self.updater.track(plan.request_id, Pending(request, plan.scope, model, answer.text, plan.vector,
                                                        entry_id, None, plan.nearest, learned=learned))
        overhead = plan.overhead_s + time.perf_counter() - t0
        return Result(plan.request_id, answer.text, model, None, billed,
                      (answer.latency_s or 0.0) + extra_time, answer=answer, decision=plan.decision,
                      attempts=attempts, overhead_s=overhead)

    def _verify_result(self, plan: Plan, result: Result) -> Result:
        """Verifiers judge a fresh answer and their score is feedback. Tool-call
        turns are skipped: their text is empty until the tool answers."""
        if self.verifiers and not result.extra.get("tool_calls"):
            result.verified = self.verify(plan.request, result.text)
            if result.verified is not None:
                self.updater.feedback(plan.request_id, result.verified)
        return result

    def verify(self, request: Request, text: str) -> float | None:
        """The mean score of the verifiers that apply and can tell, or None."""
        scores = []
        for verifier in self.verifiers:
            if verifier.applies(request):
                try:
                    score = verifier.verify(request, text)
                except Exception as exc:  # a broken verifier must not break serving
                    log.warning("verifier %s failed: %s", verifier.name, exc)
                    continue
                if score is not None:
                    scores.append(score)
        return sum(scores) / len(scores) if scores else None

    # -- feedback and state ---------------------------------------------------------------
    def feedback(self, request_id: str, score: float) -> bool:
        """Tell the engine how good the answer to `request_id` was (0..1). False if the
        id is unknown (never served, or too old). One score per request: a second
        raises FeedbackError and changes nothing, since the router has already learned
        from the first (a verifier's automatic score does not count as one)."""
        with self._lock:
            if request_id in self._scored:
                raise FeedbackError(f"request {request_id} already had feedback; a request takes one score")
            accepted = self.updater.feedback(request_id, score)
            if accepted:
                self._scored.add(request_id)
                if len(self._scored) > 2 * len(self.updater.pending) + 1000:  # forget what pending forgot
                    self._scored.intersection_update(self.updater.pending)
            return accepted

    def save(self) -> None:
        with self._lock:  # the autosave thread must not snapshot a half-stored answer
            self.updater.save({"spent_usd": self.spent_usd, "usage": self.usage.to_dict(),
                               "thresholds": engine_state(self)["thresholds"],
                               "scored": [r for r in self._scored if r in self.updater.pending],
                               "scheduler": self.scheduler.state(), "answer_shares": self.answer_shares.state()})

    def close(self) -> None:
        """Save the state and release the store; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self.shared.close()
        if self._autosave is not None:
            self._autosave.stop(save=False)
        if self.updater.store is not None:
            self.save()
            self.updater.store.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        """What was learned and done (see shared_core/stats.py): per task and model the
        learned quality +- sd, calls, spend, latency; cache entries and hits per tier;
        savings against the best-rated model; near-duplicate thresholds; with a paced
        budget, its spend as a share of the reference's and its cost weight (one
        budget, 'all', or one per task with budget.scope: task)."""
        with self._lock:
            report = summarize(engine_state(self))
            pacing = self.scheduler.pacer.report() if self.scheduler.pacer else None
        out = {"cache_entries": len(self.cache), "spent_usd": self.spent_usd,
               "feedback_events": self.updater.events, "cooling": self.cooling(),
               "shared_state": self.shared.status(), **report}
        return out if pacing is None else {**out, "pacing": pacing}
