"""Shared state on a Redis server, for many workers behind one router.

Keys, all under the configured prefix (one prefix per deployment or tenant):

    {p}:spent                 run spend of every worker, plus the costs held for calls in flight
    {p}:rate:{model}:calls:N  calls and tokens in minute N (INCR + EXPIRE, checked in the same script)
    {p}:cool:{model}          a candidate cooling down after an error (a TTL)
    {p}:obs                   stream: every observation (task, model, reward, query vector)
    {p}:cache                 stream: every judgement of a cache entry (its request, answer, vector)

A call first holds its predicted cost in one Lua script that also checks the
rate windows, and settles the actual cost after; so N workers overspend by at
most what the calls in flight cost beyond their prediction. Each worker
replays the others' observations into its own Predictor and their cache
judgements into its own CacheManager (store, then judge: a confirmed entry
enters its in-memory FAISS index and reusers), from the start of the streams
when it starts and from a follower thread after that, so that a request never
waits for Redis except to hold its call's cost. Nothing secret is
written: answers, requests and reasons are scrubbed of the engine's keys.

When Redis is unreachable the worker serves from its local state, logs one
warning per outage, reports it in `stats()["shared_state"]`, keeps what it
would have written (and the spend) and writes it when Redis is back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
import weakref
from collections import OrderedDict, deque
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ..health import retry_after_s
from ..providers import env_secrets, scrub
from ..request import Request
from . import LocalState

log = logging.getLogger("sls.shared_state.redis")
BATCH = 1000  # stream entries per read
MAX_STREAM = 1_000_000  # entries a stream keeps (approximately); a late worker replays at most these
RETRY_S = 1.0  # seconds between reconnection attempts while Redis is down
FOLLOW_BLOCK_MS = 100  # the follower's blocking read: how stale another worker's writes may be when idle
FOLLOW_EVERY_S = 0.005  # its least pause between reads: writes are read in batches, not one wake-up each
MAX_OUTBOX = 100_000

# KEYS: spent, calls window base, tokens window base.
# ARGV: amount, budget (-1 none), rpm (-1 none), tokens, tpm (-1 none), carry (spend changes not yet written).
RESERVE = """
if tonumber(ARGV[6]) ~= 0 then redis.call('INCRBYFLOAT', KEYS[1], ARGV[6]) end
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
if budget >= 0 and spent + amount > budget then return {'budget', tostring(spent)} end
local minute = math.floor(tonumber(redis.call('TIME')[1]) / 60)
local ckey = KEYS[2] .. ':' .. minute
local tkey = KEYS[3] .. ':' .. minute
local calls = tonumber(redis.call('GET', ckey) or '0')
if tonumber(ARGV[3]) >= 0 and calls + 1 > tonumber(ARGV[3]) then return {'rpm', tostring(calls)} end
local used = tonumber(redis.call('GET', tkey) or '0')
if tonumber(ARGV[5]) >= 0 and used + tonumber(ARGV[4]) > tonumber(ARGV[5]) then return {'tpm', tostring(used)} end
local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
redis.call('INCR', ckey)
redis.call('EXPIRE', ckey, 120)
redis.call('INCRBY', tkey, ARGV[4])
redis.call('EXPIRE', tkey, 120)
return {'ok', total}
"""


class _After:
    """Another worker's cooldown, as the `retry_after` that Health.failed reads."""

    def __init__(self, seconds: float):
        self.retry_after = seconds


class RedisState(LocalState):
    name = "redis"

    def __init__(self, state: Any, run_budget_usd: float | None, cooldown_s: float):
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise ImportError("state backend redis needs the Redis client: pip install 'sls[redis]'") from None
        self._errors = (redis.RedisError, OSError)
        # no client-side retries: a dead server must cost one refused connection, not seconds
        self.client = redis.Redis.from_url(state.url, socket_timeout=2.0, socket_connect_timeout=1.0,
                                           retry=Retry(NoBackoff(), 0))
        url = urlparse(state.url)
        self.where = f"{url.scheme}://{url.hostname or ''}{':' + str(url.port) if url.port else ''}{url.path}"
        self.prefix = state.prefix
        self.budget = run_budget_usd
        self.cooldown_s = cooldown_s
        self.worker = uuid.uuid4().hex[:12].encode()
        self.connected = True  # until an operation says otherwise
        self.outages = 0
        self.total = 0.0  # the shared spend last seen (every worker, holds included)
        # spend not yet on the server: holds released by a cheaper call than predicted (written with
        # the next hold or write: until then the budget counts more, never less), and what was
        # spent while Redis was down (written when it is back)
        self.unsettled = 0.0
        self.outbox: deque[tuple[str, dict[str, Any]]] = deque(maxlen=MAX_OUTBOX)  # the oldest go first
        self.replayed = {"observations": 0, "usage": 0, "cache": 0, "cooldowns": 0}
        self.last = {self.key("obs"): "0-0", self.key("cache"): "0-0"}
        self._holds: dict[tuple[str, str], float] = {}
        self._vectors: OrderedDict[int, np.ndarray] = OrderedDict()  # entry id -> its query's vector
        self._remote_cool: dict[str, bytes] = {}
        self._retry_at = 0.0
        self._io = threading.Lock()  # outbox and spend; never held while waiting for the engine
        self._pulling = threading.Lock()
        self._stop = threading.Event()
        self._reserve = self.client.register_script(RESERVE)
        self._engine: Any = None

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # -- wiring ----------------------------------------------------------------------------
    def attach(self, engine: Any) -> None:
        """Publish what this engine learns and confirms, catch up on what the others did,
        then follow them. The wrapped methods are the components' public ones; replayed
        entries go to the originals, so nothing is published twice."""
        self._engine = engine
        pred, cache, health = engine.predictor, engine.cache, engine.health
        self._observe, self._observe_usage = pred.observe, pred.observe_usage
        self._store, self._judge = cache.store, cache.judge_entry
        self._failed, self._succeeded = health.failed, health.succeeded
        pred.observe, pred.observe_usage = self._observing, self._observing_usage
        cache.store, cache.judge_entry = self._storing, self._judging
        health.failed, health.succeeded = self._failing, self._succeeding
        self.pull()
        ref = weakref.ref(self)
        threading.Thread(target=_follow, args=(ref, self._stop), name="sls-redis-follow", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        with self._pulling:  # no read is under way
            if self._up():
                try:
                    self._flush()
                except self._errors as exc:
                    self._down(exc)
        self.client.close()

    def status(self) -> dict[str, Any]:
        return {"backend": "redis", "url": self.where, "prefix": self.prefix, "worker": self.worker.decode(),
                "connected": self.connected, "outages": self.outages, "unwritten": len(self.outbox),
                "shared_spent_usd": round(self.spent(0.0), 8), "replayed": dict(self.replayed)}

    # -- connection ----------------------------------------------------------------------------
    def _up(self) -> bool:
        if self.connected:
            return True
        now = time.monotonic()
        if now < self._retry_at:
            return False
        self._retry_at = now + RETRY_S
        try:
            self.client.ping()
        except self._errors:
            return False
        self.connected = True
        log.warning("shared state: Redis at %s is back; writing what this worker kept and catching up", self.where)
        return True

    def _down(self, exc: BaseException) -> None:
        if self.connected:
            self.outages += 1
            log.warning("shared state: Redis at %s unreachable (%s: %s); serving from this worker's local state "
                        "until it is back", self.where, type(exc).__name__, exc)
        self.connected = False
        self._retry_at = time.monotonic() + RETRY_S

    def _flush(self) -> None:
        """Write what waited (queued entries, released holds, what was kept while Redis
        was down) in one transaction."""
        with self._io:
            if not self.outbox and not self.unsettled:
                return
            pipe = self.client.pipeline(transaction=True)
            for stream, fields in self.outbox:
                pipe.xadd(stream, fields, maxlen=MAX_STREAM, approximate=True)
            if self.unsettled:
                pipe.incrbyfloat(self.key("spent"), self.unsettled)
            pipe.execute()
            self.outbox.clear()
            self.total += self.unsettled
            self.unsettled = 0.0

    def _publish(self, stream: str, fields: dict[str, Any]) -> None:
        """Written now, with whatever waited (one transaction); kept while Redis is down."""
        with self._io:
            self.outbox.append((stream, fields))
        if self._up():
            try:
                self._flush()
            except self._errors as exc:
                self._down(exc)

    # -- budget and rate limits ------------------------------------------------------------------
    def spent(self, local_usd: float) -> float:
        return self.total + self.unsettled

    def reserve(self, request_id: str, cand: Any, est: Any) -> str | None:
        amount = float(est.cost_usd) if est is not None else 0.0
        tokens = int(est.input_tokens + est.output_tokens) if est is not None else 0
        limits = cand.limits
        if self._up():
            with self._io:
                carry, self.unsettled = self.unsettled, 0.0
            try:
                code, value = self._reserve(
                    keys=[self.key("spent"), self.key("rate", cand.name, "calls"), self.key("rate", cand.name, "tokens")],
                    args=[repr(amount), _limit(self.budget), _limit(limits.requests_per_minute), tokens,
                          _limit(limits.tokens_per_minute), repr(carry)])
            except self._errors as exc:
                with self._io:
                    self.unsettled += carry
                self._down(exc)
            else:
                return self._reserved(request_id, cand.name, amount, code.decode(), float(value))
        # Redis down: the last shared total seen plus this worker's own spend since
        if self.budget is not None and self.spent(0.0) + amount > self.budget:
            return (f"run budget (shared; Redis down, last total seen): ${self.spent(0.0):.6g} of "
                    f"${self.budget:.6g}, this call would cost ${amount:.6g}")
        with self._io:
            self.unsettled += amount
        self._holds[(request_id, cand.name)] = amount
        return None

    def _reserved(self, request_id: str, model: str, amount: float, code: str, value: float) -> str | None:
        if code == "ok":
            self.total = value
            self._holds[(request_id, model)] = amount
            return None
        if code == "budget":
            self.total = value
            return (f"run budget (shared by all workers): ${value:.6g} spent or held of ${self.budget:.6g}, "
                    f"this call would cost ${amount:.6g}")
        what = "requests" if code == "rpm" else "tokens"
        return f"rate limit (shared by all workers): {value:.0f} {what} to {model} this minute"

    def settle(self, request_id: str, model: str, cost_usd: float) -> None:
        delta = cost_usd - self._holds.pop((request_id, model), 0.0)
        if not delta:
            return
        if delta > 0 and self._up():  # a call dearer than predicted counts at once
            try:
                self.total = float(self.client.incrbyfloat(self.key("spent"), delta))
                return
            except self._errors as exc:
                self._down(exc)
        with self._io:
            self.unsettled += delta

    # -- publishing (the wrapped component methods) ------------------------------------------------
    def _observing(self, task: str, vector: np.ndarray | None, model: str, reward: float) -> None:
        self._observe(task, vector, model, reward)
        if not self._engine.predictor.config.learn:
            return
        fields = {"w": self.worker, "task": task, "model": model, "reward": repr(float(reward))}
        if vector is not None:
            fields["vec"] = np.asarray(vector, dtype=np.float32).tobytes()
        self._publish(self.key("obs"), fields)

    def _observing_usage(self, task: str, model: str, output_tokens: float | None, latency_s: float | None) -> None:
        """A call's length and time (what the cost and latency estimates learn from):
        queued, and written with the next write or read rather than on the request's path."""
        self._observe_usage(task, model, output_tokens, latency_s)
        if not self._engine.predictor.config.learn:
            return
        fields = {"w": self.worker, "kind": "usage", "task": task, "model": model,
                  "out": "" if output_tokens is None else repr(float(output_tokens)),
                  "lat": "" if latency_s is None else repr(float(latency_s))}
        with self._io:
            self.outbox.append((self.key("obs"), fields))

    def _storing(self, request: Request, scope: str, exact_key: str, vector: np.ndarray | None, answer: str,
                 model: str, extra: dict[str, Any] | None = None) -> int | None:
        entry_id = self._store(request, scope, exact_key, vector, answer, model, extra)
        if entry_id is not None and vector is not None:
            self._vectors[entry_id] = vector  # published with the entry once it is judged
            while len(self._vectors) > self._engine.cache.config.max_entries:
                self._vectors.popitem(last=False)
        return entry_id

    def _judging(self, entry_id: int, request: Request, correct: bool, weight: float = 1.0) -> None:
        entry = self._engine.cache.entries.get(entry_id)
        self._judge(entry_id, request, correct, weight)
        if entry is None:
            return
        secrets = self._engine.secrets | env_secrets()
        req = {"messages": request.messages, "task": request.task, "tenant": request.tenant,
               "params": request.params, "tools": request.tools, "response_format": request.response_format,
               "query_text": request.query_text, "context_key": request.context_key,
               "allow_cache": request.allow_cache}
        fields = {"w": self.worker, "scope": entry.scope, "exact_key": entry.exact_key, "model": entry.model,
                  "correct": "1" if correct else "0", "weight": repr(float(weight)),
                  "answer": scrub(entry.answer, secrets),
                  "extra": scrub(json.dumps(entry.extra, default=str), secrets),
                  "request": scrub(json.dumps(req, default=str), secrets)}
        vector = self._vectors.get(entry_id)
        if vector is not None:
            fields["vec"] = np.asarray(vector, dtype=np.float32).tobytes()
        self._publish(self.key("cache"), fields)

    def _failing(self, model: str, why: str, exc: BaseException | None = None) -> None:
        self._failed(model, why, exc)
        cool = max(self.cooldown_s, (retry_after_s(exc) or 0.0) if exc is not None else 0.0)
        if cool <= 0 or not self._up():
            return
        value = b"|".join([self.worker, uuid.uuid4().hex[:8].encode(), why.encode()])
        try:
            self.client.set(self.key("cool", model), value, px=max(1, int(cool * 1000)))
        except self._errors as exc2:
            self._down(exc2)

    def _succeeding(self, model: str) -> None:
        self._succeeded(model)
        if self._remote_cool.pop(model, None) is not None and self._up():
            try:
                self.client.delete(self.key("cool", model))
            except self._errors as exc:
                self._down(exc)

    # -- following the other workers -------------------------------------------------------------------
    def pull(self, block_ms: int | None = None) -> int:
        """Apply what the other workers wrote since the last pull (all of it, in
        batches); `block_ms` waits that long for something new. Returns the count."""
        if self._engine is None or not self._up():
            return 0
        applied = 0
        with self._pulling:
            if self._stop.is_set():
                return 0
            try:
                self._flush()
                while True:
                    count, full = self._read(block_ms)
                    applied += count
                    block_ms = None
                    if not full:
                        return applied
            except self._errors as exc:
                self._down(exc)
                return applied

    def _read(self, block_ms: int | None) -> tuple[int, bool]:
        models = [c.name for c in self._engine.config.candidates]
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.key("spent"))
        pipe.mget([self.key("cool", m) for m in models])
        pipe.xread(dict(self.last), count=BATCH, block=block_ms)
        spent, cools, streams = pipe.execute()
        with self._io:
            self.total = float(spent or 0.0)
        count, full = 0, False
        with self._engine._lock:
            self._cooldowns(models, cools)
            for stream, entries in streams or []:
                stream = stream.decode()
                count += len(entries)
                full = full or len(entries) >= BATCH
                for entry_id, fields in entries:
                    self.last[stream] = entry_id.decode()
                    if fields.get(b"w") != self.worker:
                        self._apply(stream, fields)
        return count, full

    def _apply(self, stream: str, fields: dict[bytes, bytes]) -> None:
        try:
            if stream == self.key("obs") and fields.get(b"kind") == b"usage":
                out, lat = fields[b"out"], fields[b"lat"]
                self._observe_usage(fields[b"task"].decode(), fields[b"model"].decode(), float(out) if out else None,
                                    float(lat) if lat else None)
                self.replayed["usage"] += 1
            elif stream == self.key("obs"):
                vec = np.frombuffer(fields[b"vec"], dtype=np.float32).copy() if b"vec" in fields else None
                self._observe(fields[b"task"].decode(), vec, fields[b"model"].decode(), float(fields[b"reward"]))
                self.replayed["observations"] += 1
            else:
                self._apply_entry(fields)
                self.replayed["cache"] += 1
        except Exception as exc:  # one bad entry (another version, a hand edit) must not stop the follower
            log.warning("shared state: skipped an entry of %s (%s: %s)", stream, type(exc).__name__, exc)

    def _apply_entry(self, fields: dict[bytes, bytes]) -> None:
        """Another worker's judgement of an entry: the same judgement here, storing the
        entry first if this worker has none for that exact key and it was judged right."""
        cache = self._engine.cache
        exact_key = fields[b"exact_key"].decode()
        correct = fields[b"correct"] == b"1"
        entry = cache.exact.get(exact_key)
        entry_id = entry.id if entry is not None else None
        if entry_id is None and not correct:
            return
        r = json.loads(fields[b"request"])
        request = Request(messages=r["messages"], task=r["task"], tenant=r["tenant"], params=r["params"],
                          tools=r["tools"], response_format=r["response_format"], query_text=r["query_text"],
                          context_key=r["context_key"], allow_cache=r["allow_cache"])
        if entry_id is None:
            vec = np.frombuffer(fields[b"vec"], dtype=np.float32).copy() if b"vec" in fields else None
            entry_id = self._store(request, fields[b"scope"].decode(), exact_key, vec, fields[b"answer"].decode(),
                                   fields[b"model"].decode(), json.loads(fields[b"extra"]))
            if entry_id is None:
                return
        self._judge(entry_id, request, correct, float(fields[b"weight"]))

    def _cooldowns(self, models: list[str], values: list[Any]) -> None:
        """Cool here the models another worker saw fail; close the circuit when its key is gone."""
        for model, value in zip(models, values):
            if value is None:
                if self._remote_cool.pop(model, None) is not None:
                    self._succeeded(model)
                continue
            worker, _, why = value.split(b"|", 2)
            if worker == self.worker or self._remote_cool.get(model) == value:
                continue
            ttl_ms = self.client.pttl(self.key("cool", model))  # a new cooldown: rare, so its own round trip
            if ttl_ms <= 0:
                continue
            self._remote_cool[model] = value
            self._failed(model, f"{why.decode(errors='replace')} (seen by another worker)", _After(ttl_ms / 1000))
            self.replayed["cooldowns"] += 1


def _limit(value: float | None) -> str:
    return "-1" if value is None else repr(float(value))


def _follow(ref: "weakref.ref[RedisState]", stop: threading.Event) -> None:
    """The follower thread: a blocking read of the streams, over and over, until
    `close()` or the state is dropped; while Redis is down, a retry a second. The
    requests themselves never wait for Redis, except to hold a call's cost."""
    while not stop.is_set():
        state = ref()
        if state is None:
            return
        try:
            if state.connected or state._up():
                state.pull(FOLLOW_BLOCK_MS)
                stop.wait(FOLLOW_EVERY_S)
            else:
                stop.wait(RETRY_S)
        except Exception as exc:  # the follower must outlive any one bad read
            log.warning("shared state: follower error (%s: %s)", type(exc).__name__, exc)
            stop.wait(RETRY_S)
        del state
