"""Long runs of the reliability suite (issue 15). Each part prints its figures; nothing is asserted.

    python benchmarks/soak.py [templates flaky budget crash concurrency] [--requests 500 --kills 20 --seconds 30]

templates:   time to match an adversarial template (n wildcards + " end") against n+10 words.
flaky:       --requests requests over 3 candidates of which 2 or 3 fail 50% at random (HTTP 503):
             the share answered, without and with one retry (waits shortened to milliseconds).
budget:      a $1 run budget while every answer reports cost NaN or -1: calls made and spent_usd.
crash:       a process saving an engine's state is killed with SIGKILL --kills times at random
             points while another process opens the state again and again (both backends):
             loads that succeeded, failed, or came up empty after a save existed.
concurrency: 8 threads and 8 asyncio tasks on one engine for --seconds (requests, feedback, saves):
             requests/s, exceptions, and whether cache, index and saved state agree.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from shared_core import Answer, Engine, Request, SLSConfig
from shared_core.errors import NoCandidateError
from shared_core.health import RetryPolicy
from shared_core.logtemplates import compile_template

FAST = RetryPolicy(attempts=2, initial_s=0.001, max_s=0.01)


class ProviderError(Exception):
    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status_code = status


def config(names=("a", "b", "c"), **over) -> SLSConfig:
    return SLSConfig.from_dict({
        "candidates": [{"name": n, "price_in": 1.0 + i, "price_out": 1.0 + i, "context_window": 4000,
                        "quality_prior": 0.5} for i, n in enumerate(names)], "seed": 0, **over})


def ask(text: str) -> Request:
    return Request(messages=[{"role": "user", "content": text}])


def templates(args) -> None:
    for n in (8, 14, 20, 40):
        pattern = compile_template(" ".join(["<*>"] * n) + " end")
        line = " ".join(["a"] * (n + 10))
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            pattern.match(line)
            times.append(time.perf_counter() - t0)
        print(f"templates: n={n:2d} wildcards, median match time {statistics.median(times) * 1e6:.1f} us")


def flaky(args) -> None:
    for failing in ({"a": 0.5, "b": 0.5, "c": 0.0}, {"a": 0.5, "b": 0.5, "c": 0.5}):
        for label, retry in (("no retry", RetryPolicy(attempts=1)), ("one retry", FAST)):
            rng = random.Random(0)
            eng = Engine(config(tuple(failing)), retry=retry)

            def call(model, request):
                if rng.random() < failing[model]:
                    raise ProviderError(503)
                return Answer(f"{model}: {request.query}")
            served = 0
            for i in range(args.requests):
                try:
                    eng.run(ask(f"question {i}"), call=call)
                    served += 1
                except NoCandidateError:
                    pass
            bad = sum(v > 0 for v in failing.values())
            print(f"flaky: {bad} of 3 failing 50%, {label}: {served}/{args.requests} answered "
                  f"({100 * served / args.requests:.1f}%)")


def budget(args) -> None:
    for cost in (float("nan"), -1.0):
        eng = Engine(SLSConfig.from_dict({
            "candidates": [{"name": "m", "price_in": 1000.0, "price_out": 1000.0, "context_window": 4000,
                            "quality_prior": 0.5}], "budget": {"run_budget_usd": 1.0}, "seed": 0}))
        calls = 0

        def call(model, request):
            nonlocal calls
            calls += 1
            return Answer(f"answer {calls}", cost_usd=cost, latency_s=float("nan"))
        try:
            for i in range(400):
                eng.run(ask(f"question {i} " + "word " * 40), call=call)
        except NoCandidateError:
            pass
        print(f"budget: answers reporting cost {cost}: {calls} calls through a $1 budget, "
              f"spent_usd {eng.spent_usd:.4f}")


_WRITER = """
import sys
from shared_core import Answer, Engine, Request, SLSConfig
cfg = SLSConfig.from_dict({"candidates": [{"name": "m", "price_in": 1.0, "price_out": 1.0, "context_window": 4000,
                           "quality_prior": 0.5}], "state": {"path": sys.argv[1], "backend": sys.argv[2]},
                           "seed": 0})
eng = Engine(cfg)
eng.autosave_s = 0
i = int(sys.argv[3])
print("ready", flush=True)
while True:
    i += 1
    r = eng.run(Request(messages=[{"role": "user", "content": f"question {i}"}]), call=lambda m, q: Answer(q.query))
    eng.feedback(r.request_id, 1.0)
    eng.save()
"""

_READER = """
import sys, time
from shared_core import Engine, SLSConfig
cfg = SLSConfig.from_dict({"candidates": [{"name": "m", "price_in": 1.0, "price_out": 1.0, "context_window": 4000,
                           "quality_prior": 0.5}], "state": {"path": sys.argv[1], "backend": sys.argv[2]},
                           "seed": 0})
ok = failed = empty = 0
seen = False
deadline = time.monotonic() + float(sys.argv[3])
while time.monotonic() < deadline:
    try:
        eng = Engine(cfg)
        eng.autosave_s = 0
        n = eng.updater.events
        seen = seen or n > 0
        empty += seen and n == 0
        ok += 1
        eng.updater.store.close()
    except Exception as exc:
        failed += 1
        print("load failed:", type(exc).__name__, str(exc)[:200], file=sys.stderr)
print(ok, failed, empty)
"""


def crash(args) -> None:
    for backend in ("local", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / ("state" if backend == "local" else "state.sqlite"))
            rng = random.Random(0)
            reader = None
            for kill in range(args.kills):
                writer = subprocess.Popen([sys.executable, "-c", _WRITER, path, backend, str(kill * 10**6)],
                                          stdout=subprocess.PIPE, text=True)
                writer.stdout.readline()
                if reader is None:
                    reader = subprocess.Popen([sys.executable, "-c", _READER, path, backend,
                                               str(args.kills * 1.2 + 5)], stdout=subprocess.PIPE, text=True)
                time.sleep(rng.uniform(0.2, 1.0))
                os.kill(writer.pid, signal.SIGKILL)
                writer.wait()
            ok, failed, empty = map(int, reader.communicate()[0].split())
            print(f"crash: {backend}: {args.kills} kill -9 during saves; a second process loaded the state "
                  f"{ok + failed} times: {ok} whole, {failed} failed, {empty} empty after a save existed")


def concurrency(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(state={"path": str(Path(tmp) / "state"), "autosave_every": 200},
                     fallback={"cooldown_s": 0.01})
        eng = Engine(cfg, retry=FAST)
        deadline = time.monotonic() + args.seconds
        counts = {"requests": 0, "feedback": 0, "saves": 0}
        errors: list[str] = []
        lock = threading.Lock()

        def call_for(seed):
            rng = random.Random(seed)

            def call(model, request):
                if rng.random() < 0.1:
                    raise ProviderError(503)
                return Answer(f"{model}: {request.query}")
            return call

        def note(key):
            with lock:
                counts[key] += 1

        def worker(k):
            call, i = call_for(k), 0
            while time.monotonic() < deadline:
                i += 1
                try:
                    r = eng.run(ask(f"q {k} {i % 500}"), call=call)
                    note("requests")
                    eng.feedback(r.request_id, (i % 3) / 2)
                    note("feedback")
                    if i % 100 == 0:
                        eng.save()
                        note("saves")
                except Exception as exc:  # counted, that is the figure
                    errors.append(f"{type(exc).__name__}: {exc}")

        async def task(k):
            call, i = call_for(1000 + k), 0

            async def acall(model, request):
                await asyncio.sleep(0)
                return call(model, request)
            while time.monotonic() < deadline:
                i += 1
                try:
                    r = await eng.arun(ask(f"a {k} {i % 500}"), acall=acall)
                    note("requests")
                    eng.feedback(r.request_id, 1.0)
                    note("feedback")
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")

        async def tasks():
            await asyncio.gather(*(task(k) for k in range(8)))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        threads.append(threading.Thread(target=lambda: asyncio.run(tasks())))
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        live = {i for idx in eng.cache.semantic.scopes.values() for i in idx.ids if i not in idx.dead}
        agree = live <= set(eng.cache.entries) and eng.updater.events == counts["feedback"]
        entries = len(eng.cache)
        eng.close()
        again = Engine(cfg)
        reloaded = len(again.cache) == entries and again.updater.events == counts["feedback"]
        again.close()
        print(f"concurrency: {elapsed:.0f} s, {counts['requests']} requests ({counts['requests'] / elapsed:.0f}/s), "
              f"{counts['feedback']} feedback, {counts['saves']} saves, {len(errors)} exceptions"
              f"{' (' + errors[0] + ')' if errors else ''}; index, cache and counts agree: {agree}; "
              f"reloaded whole: {reloaded}")


PARTS = {"templates": templates, "flaky": flaky, "budget": budget, "crash": crash, "concurrency": concurrency}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", choices=[[], *PARTS], default=[])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    for name in args.parts or PARTS:
        PARTS[name](args)


if __name__ == "__main__":
    main()
