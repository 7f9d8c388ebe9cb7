"""Threads and asyncio hammering one engine (requests, feedback, saves) for a
bounded number of rounds: no exception, counts consistent, the cache's entries,
its FAISS index and its saved metadata agree, and the state reloads whole."""

from __future__ import annotations

import asyncio
import random
import threading

from shared_core import Answer, Engine, Request, SLSConfig
from shared_core.health import RetryPolicy


def config(path) -> SLSConfig:
    return SLSConfig.from_dict({
        "candidates": [{"name": n, "price_in": p, "price_out": p, "context_window": 4000, "quality_prior": 0.5}
                       for n, p in (("a", 0.1), ("b", 1.0), ("c", 3.0))],
        "state": {"path": str(path), "autosave_every": 25}, "fallback": {"cooldown_s": 0.01}, "seed": 0})


def flaky_call(seed: int):
    rng = random.Random(seed)

    def call(model, request):
        if rng.random() < 0.2:
            raise ConnectionError(f"{model} dropped the connection")
        return Answer(f"{model}: {request.query}")
    return call


def ask(i: int) -> Request:
    return Request(messages=[{"role": "user", "content": f"question {i % 60}"}])  # repeats hit the cache


def consistent(eng: Engine) -> None:
    live = {i for idx in eng.cache.semantic.scopes.values() for i in idx.export()[0]}  # live entry ids
    assert live <= set(eng.cache.entries), "the index holds an entry the cache dropped"
    meta, _ = eng.cache.snapshot()
    assert {e["id"] for e in meta["entries"]} == set(eng.cache.entries)
    # every exact key leads to a live entry of that key: eviction drops the key with the entry
    assert all(eng.cache.entries.get(e.id) is e and e.exact_key == key for key, e in eng.cache.exact.items())


def test_threads_and_asyncio_on_one_engine(tmp_path):
    eng = Engine(config(tmp_path / "state"), retry=RetryPolicy(initial_s=0.001, max_s=0.01))
    errors, served, fed = [], [0], [0]
    lock = threading.Lock()

    def worker(k: int) -> None:
        call = flaky_call(k)
        try:
            for i in range(40):
                result = eng.run(ask(k * 40 + i), call=call)
                eng.feedback(result.request_id, (i % 3) / 2)
                if i % 15 == 0:
                    eng.save()
                with lock:
                    served[0] += 1
                    fed[0] += 1
        except Exception as exc:  # noqa: BLE001 - the test is that none happens
            errors.append(exc)

    async def async_worker(k: int) -> None:
        call = flaky_call(100 + k)

        async def acall(model, request):
            await asyncio.sleep(0)
            return call(model, request)
        for i in range(40):
            result = await eng.arun(ask(1000 + k * 40 + i), acall=acall)
            eng.feedback(result.request_id, 1.0)
            with lock:
                served[0] += 1
                fed[0] += 1

    async def many() -> None:
        await asyncio.gather(*(async_worker(k) for k in range(4)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    threads.append(threading.Thread(target=lambda: asyncio.run(many())))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and served[0] == 320
    assert eng.updater.events == fed[0]
    consistent(eng)
    entries = len(eng.cache)
    eng.close()
    again = Engine(config(tmp_path / "state"))
    assert len(again.cache) == entries and again.updater.events == fed[0]
    consistent(again)
    again.close()
