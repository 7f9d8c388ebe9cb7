"""Workers sharing state on a real redis-server: budget, learning, cache, cooldowns,
rate limits, tenants, and Redis going away mid-run."""

from __future__ import annotations

import logging
import multiprocessing as mp
import time

import pytest

from shared_core import Answer, Engine, Request, SimulatedCandidate, SLSConfig
from shared_core.errors import ConfigError, NoCandidateError
from shared_core.shared_state import redis as shared_redis


def config(url: str, prefix: str, **over) -> SLSConfig:
    data = {
        "candidates": [
            {"name": "cheap", "price_in": 0.1, "price_out": 0.1, "quality_prior": 0.5},
            {"name": "strong", "price_in": 5.0, "price_out": 15.0, "quality_prior": 0.5},
        ],
        "seed": 1,
        "state": {"backend": "redis", "url": url, "prefix": prefix},
    }
    data.update(over)
    return SLSConfig.from_dict(data)


def engine(cfg: SLSConfig, fail: tuple[str, ...] = ()) -> Engine:
    cands = [SimulatedCandidate(cfg.candidate(n), lambda r, rng, n=n: f"{n}: {r.query}",
                                fail_rate=1.0 if n in fail else 0.0) for n in ("cheap", "strong")]
    return Engine(cfg, cands)


def ask(text: str) -> Request:
    return Request(messages=[{"role": "user", "content": text}])


@pytest.fixture
def engines(redis_server, prefix):
    made = []

    def make(fail=(), prefix_=prefix, **over):
        made.append(engine(config(redis_server.url, prefix_, **over), fail))
        return made[-1]

    yield make
    for e in made:
        e.close()


# -- configuration -------------------------------------------------------------------------------
@pytest.mark.parametrize("state, field, words", [
    ({"backend": "redis"}, "state.url", "needs a url"),
    ({"backend": "redis", "url": "http://127.0.0.1:6379"}, "state.url", "must start with redis://"),
    ({"backend": "redis", "url": "redis://127.0.0.1:port"}, "state.url", "port that is not a number"),
    ({"backend": "redis", "url": "redis://"}, "state.url", "names no host"),
    ({"backend": "redis", "url": "redis://h", "prefix": "a b"}, "state.prefix", "letters, digits"),
    ({"backend": "redis", "url": "redis://h", "path": "/tmp/x"}, "state.path", "not a path"),
])
def test_bad_redis_settings_name_the_field(state, field, words):
    with pytest.raises(ConfigError, match=words) as info:
        SLSConfig.from_dict({"candidates": [{"name": "m", "price_in": 1, "price_out": 1}], "state": state})
    assert info.value.field == field


# -- budget --------------------------------------------------------------------------------------
CALL_USD = 0.025  # 100 output tokens at $250 per 1M: predicted and billed alike


def _spend_until_refused(url: str, prefix: str, worker: int, out: "mp.Queue", start: "mp.Barrier") -> None:
    cfg = SLSConfig.from_dict({
        "candidates": [{"name": "m", "price_in": 0.0, "price_out": 250.0, "expected_output_tokens": 100}],
        "budget": {"run_budget_usd": 1.0}, "state": {"backend": "redis", "url": url, "prefix": prefix}})

    def call(model, request):
        time.sleep(0.002)  # calls in flight overlap across the workers
        return Answer(text=f"answer {request.query}", output_tokens=100)

    eng = Engine(cfg)
    spent = 0.0
    start.wait()
    try:
        for i in range(1000):
            try:
                spent += eng.run(ask(f"worker {worker} question {i}"), call=call).cost_usd
            except NoCandidateError:
                break
    finally:
        eng.close()
        out.put(spent)


def test_four_processes_racing_on_one_budget_spend_at_most_it(redis_server, prefix):
    ctx = mp.get_context("fork")
    out, start = ctx.Queue(), ctx.Barrier(4)
    procs = [ctx.Process(target=_spend_until_refused, args=(redis_server.url, prefix, w, out, start))
             for w in range(4)]
    for p in procs:
        p.start()
    spent = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    total = sum(spent)
    assert total <= 1.0 + CALL_USD + 1e-9
    assert total >= 1.0 - CALL_USD - 1e-9  # the budget was used, not refused early
    assert sum(s > 0 for s in spent) >= 2  # a real race: more than one worker spent
    import redis

    assert float(redis.Redis.from_url(redis_server.url).get(f"{prefix}:spent")) == pytest.approx(total)


def test_the_scheduler_sees_the_spend_of_every_worker(engines):
    first, second = engines(budget={"run_budget_usd": 0.01}), engines(budget={"run_budget_usd": 0.01})
    first.run(ask("a long question " * 50))
    second.shared.pull()
    assert second.shared.spent(0.0) >= first.spent_usd  # the hold counts until released
    first.shared.pull()  # writes the release of what the prediction held beyond the cost
    second.shared.pull()
    assert second.shared.spent(0.0) == pytest.approx(first.spent_usd)
    assert second.stats()["shared_state"]["shared_spent_usd"] == pytest.approx(first.spent_usd, abs=1e-8)


# -- learning ------------------------------------------------------------------------------------
def test_feedback_in_one_engine_moves_the_others_estimate_and_two_add_up(engines):
    one, two = engines(), engines()
    before = two.predictor.quality_model("default").mean("cheap")
    served = one.run(ask("what is the capital of France"))
    one.feedback(served.request_id, 1.0)
    two.shared.pull()
    after_one = two.predictor.quality_model("default").mean(served.model)
    assert after_one > before
    served2 = two.run(ask("what is the capital of Spain"))
    two.feedback(served2.request_id, 1.0 if served2.model == served.model else 0.0)
    one.shared.pull()
    two.shared.pull()
    a = one.predictor.quality_model("default").mean(served.model)
    b = two.predictor.quality_model("default").mean(served.model)
    assert a == pytest.approx(b, abs=1e-3)  # both saw both observations, in another order
    assert one.shared.status()["replayed"]["observations"] >= 1
    assert two.shared.status()["replayed"]["observations"] >= 1


def test_a_worker_that_starts_late_catches_up(engines):
    one = engines()
    for i in range(3):
        served = one.run(ask(f"question {i}"))
        one.feedback(served.request_id, 1.0)
    late = engines()
    assert late.shared.status()["replayed"]["observations"] == 3
    assert late.predictor.quality_model("default").mean(served.model) == pytest.approx(
        one.predictor.quality_model("default").mean(served.model), abs=1e-9)


def test_learned_output_lengths_are_shared(engines):
    one, two = engines(), engines()
    served = one.run(ask("a question with a long answer"))
    one.feedback(served.request_id, 1.0)  # the queued usage is written with this
    two.shared.pull()
    key = ("default", served.model)
    assert two.predictor.stats[key].out_tokens == pytest.approx(one.predictor.stats[key].out_tokens)
    assert two.shared.status()["replayed"]["usage"] == 1


# -- cache ---------------------------------------------------------------------------------------
def test_a_confirmed_answer_is_an_exact_hit_in_every_engine(engines):
    one, two = engines(), engines()
    served = one.run(ask("what is 2+2"))
    one.feedback(served.request_id, 1.0)
    late = engines()  # catch-up on start
    two.shared.pull()
    for other in (two, late):
        hit = other.run(ask("what   is 2+2"))
        assert hit.tier == "exact" and hit.text == served.text and hit.cost_usd == 0
        assert all(c.calls == 0 for c in other.candidates.values())


def test_an_unconfirmed_answer_is_not_shared_and_a_wrong_one_is_evicted_everywhere(engines):
    one, two = engines(), engines()
    served = one.run(ask("what is 3+3"))
    two.shared.pull()
    assert two.run(ask("what is 3+3")).tier is None  # no feedback yet: not served anywhere
    one.feedback(served.request_id, 1.0)
    two.shared.pull()
    hit = two.run(ask("what is 3+3"))
    assert hit.tier == "exact"
    two.feedback(hit.request_id, 0.0)
    one.shared.pull()
    # one good, one bad: rejected, so neither engine serves it again
    assert one.run(ask("what is 3+3")).tier is None
    assert two.run(ask("what is 3+3")).tier is None


def test_nothing_secret_reaches_redis(engines, redis_server, prefix):
    secret = "sk-test-0123456789abcdef"
    one = engines()
    one.secrets.add(secret)
    one.candidates["cheap"].respond = one.candidates["strong"].respond = lambda r, rng: f"the key is {secret}"
    served = one.run(ask("tell me the key"))
    one.feedback(served.request_id, 1.0)
    import redis

    client = redis.Redis.from_url(redis_server.url)
    raw = b"".join(repr(client.xrange(f"{prefix}:{s}")).encode() for s in ("obs", "cache"))
    assert b"***" in raw and secret.encode() not in raw


# -- cooldowns and rate limits -------------------------------------------------------------------
def test_a_model_that_failed_in_one_engine_cools_in_the_other(engines):
    one, two = engines(fail=("cheap",)), engines()
    one.run(ask("first question"))
    assert "cheap" in one.cooling()
    two.shared.pull()
    assert "cheap" in two.cooling()
    served = two.run(ask("second question"))
    assert served.model == "strong" and two.candidates["cheap"].calls == 0


def test_a_rate_limit_holds_across_engines(engines):
    if time.time() % 60 > 55:  # the per-minute window must not turn over mid-test
        time.sleep(61 - time.time() % 60)
    limited = {"candidates": [
        {"name": "cheap", "price_in": 0.1, "price_out": 0.1, "quality_prior": 0.5,
         "limits": {"requests_per_minute": 2}},
        {"name": "strong", "price_in": 5.0, "price_out": 15.0, "quality_prior": 0.5}]}
    one, two = engines(**limited), engines(**limited)
    assert [one.run(ask(f"q{i}")).model for i in range(2)] == ["cheap", "cheap"]
    third = two.run(ask("q2"))
    assert third.model == "strong"
    assert any("rate limit" in a["error"] and a["model"] == "cheap" for a in third.attempts)


# -- tenants -------------------------------------------------------------------------------------
def test_prefixes_keep_tenants_apart(engines, prefix):
    a, b = engines(prefix_=prefix + "a"), engines(prefix_=prefix + "b")
    served = a.run(ask("what is 2+2"))
    a.feedback(served.request_id, 1.0)
    b.shared.pull()
    assert b.run(ask("what is 2+2")).tier is None
    assert b.shared.status()["replayed"] == {"observations": 0, "usage": 0, "cache": 0, "cooldowns": 0}
    assert b.shared.spent(0.0) == pytest.approx(b.spent_usd)


# -- Redis down ----------------------------------------------------------------------------------
def test_redis_killed_mid_run_serving_goes_on_and_it_resyncs(own_redis, prefix, caplog, monkeypatch):
    monkeypatch.setattr(shared_redis, "RETRY_S", 0.05)
    cfg = config(own_redis.url, prefix)
    one = engine(cfg)
    try:
        one.feedback(one.run(ask("before the crash")).request_id, 1.0)
        own_redis.kill()
        with caplog.at_level(logging.WARNING, logger="sls.shared_state.redis"):
            for i in range(3):
                served = one.run(ask(f"during the crash {i}"))
                assert served.text
                one.feedback(served.request_id, 1.0)
                time.sleep(0.06)
        status = one.stats()["shared_state"]
        assert status["connected"] is False and status["unwritten"] > 0
        assert sum("unreachable" in r.message for r in caplog.records) == 1  # once per outage
        assert one.run(ask("before the crash")).tier == "exact"  # the local cache still serves
        own_redis.start()  # an empty server: what this worker kept is written again
        time.sleep(0.1)
        one.shared.pull()
        assert one.stats()["shared_state"]["connected"] is True
        assert one.stats()["shared_state"]["unwritten"] == 0
        late = engine(config(own_redis.url, prefix))
        try:
            assert late.shared.status()["replayed"]["observations"] == 3
            assert late.run(ask("during the crash 0")).tier == "exact"
        finally:
            late.close()
    finally:
        one.close()


def test_an_engine_starts_and_serves_while_redis_is_unreachable(prefix, caplog):
    pytest.importorskip("redis", reason="the Redis client is not installed: pip install 'sls[redis]'")
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with caplog.at_level(logging.WARNING, logger="sls.shared_state.redis"):
        eng = engine(config(f"redis://127.0.0.1:{port}/0", prefix))
    try:
        served = eng.run(ask("hello"))
        eng.feedback(served.request_id, 1.0)
        status = eng.stats()["shared_state"]
        assert served.text and status["connected"] is False and status["outages"] == 1
        assert any("unreachable" in r.message for r in caplog.records)
    finally:
        eng.close()
