"""Many workers, one router (issue 13): figures for `state: {backend: redis}`. Prints; asserts nothing.

    python benchmarks/shared_workers.py replay [--systems HDFS,Mac] [--workers 4]
    python benchmarks/shared_workers.py race [--workers 4 --budget 1.0]
    python benchmarks/shared_workers.py kill [--systems HDFS,Mac,Linux] [--after 150]
    python benchmarks/shared_workers.py all

replay: the log-parsing replay (shared_core/bench/logparsing.py; every file a
cold start) with each file's lines dealt round-robin to `workers` processes
that run at once on one Redis, against one process that serves every line,
and against `workers` separate processes without Redis. Accuracy, cost, LLM
calls, cache hits, and the engine's overhead per request (plan, cache and
bookkeeping: `Result.overhead_s`) at p50 for each, plus one process on Redis,
so that Redis and local are compared with the same number of processes.

race: `workers` processes on one Redis and one run budget, each calling a
simulated model whose billed output varies from 50% to 150% of what the
predictor expects, until the router refuses; the total they paid against the
budget. Beside it, the same processes without Redis.

kill: the shared replay again, with one worker killed (SIGKILL) after it has
served `after` lines of each file; the others finish. Lost = entries the killed
worker confirmed (in the cache stream) that a survivor does not hold and that
no later judgement rejected.

A redis-server is started on a free 127.0.0.1 port unless --redis-url is given.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from shared_core import Answer, Engine, Request, SLSConfig
from shared_core.bench.logparsing import load_task
from shared_core.bench.replay import ReplayTask
from shared_core.candidates import ReplayCandidate
from shared_core.cli import bench_config
from shared_core.config import StateConfig
from shared_core.errors import NoCandidateError

DATA = Path(os.environ.get("SLS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "logparsing"


# -- a redis-server of our own -----------------------------------------------------------------
def start_redis() -> tuple[str, subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no redis-server on PATH: apt-get install redis-server, or pass --redis-url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="sls_redis_")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(500):
        try:
            client.ping()
            return url, proc, workdir
        except redis.ConnectionError:
            time.sleep(0.02)
    proc.kill()
    raise SystemExit(f"redis-server did not answer on port {port}")


# -- one worker over its share of one file --------------------------------------------------------
def _config(base: SLSConfig, url: str | None, prefix: str) -> SLSConfig:
    cfg = copy.deepcopy(base)
    if url:
        cfg.state = StateConfig(backend="redis", url=url, prefix=prefix)
    return cfg


def serve_share(task: ReplayTask, gi: int, base: SLSConfig, url: str | None, prefix: str, start: int, step: int,
                barrier=None, progress=None) -> dict:
    """Serve lines start, start+step, ... of file `gi` with labels as feedback."""
    group = task.groups[gi]
    cfg = _config(base, url, prefix)
    cands = [ReplayCandidate(cfg.candidate(m), {
        i: {"text": group.answers[m][i], "input_tokens": int(group.input_tokens[m][i]),
            "output_tokens": int(group.output_tokens[m][i]), "cost_usd": float(group.cost[m][i])}
        for i in range(len(group))}) for m in task.models]
    engine = Engine(cfg, cands)
    system = [{"role": "system", "content": task.system_prompt}]
    tally = {"n": 0, "correct": 0, "cost": 0.0, "calls": 0, "hits": 0, "overhead": [], "models": {}}
    if barrier is not None:
        barrier.wait()
    try:
        for i in range(start, len(group), step):
            request = Request(messages=system + [{"role": "user", "content": group.queries[i]}], task=task.task,
                              metadata={"replay_key": i})
            result = engine.run(request)
            ok = task.judge(group, i, result.text)
            engine.feedback(result.request_id, 1.0 if ok else 0.0)
            tally["n"] += 1
            tally["correct"] += ok
            tally["cost"] += result.cost_usd
            tally["calls"] += result.tier is None
            tally["hits"] += result.tier is not None
            if result.tier is None:
                tally["models"][result.model] = tally["models"].get(result.model, 0) + 1
            tally["overhead"].append(result.overhead_s)
            if progress is not None:
                progress.value = tally["n"]
        tally["confirmed"] = [e.exact_key for e in engine.cache.entries.values() if e.confirmed]
        tally["worker"] = engine.shared.status()["worker"] if url else None
    finally:
        engine.close()
    return tally


def _child(out, *args, **kw) -> None:
    out.put(serve_share(*args, **kw))


def run_mode(task: ReplayTask, base: SLSConfig, url: str | None, workers: int, run: str,
             kill_after: int | None = None) -> dict:
    """Every file in turn, its lines over `workers` processes started together
    (`url`: on one Redis); with `kill_after`, the last worker is SIGKILLed then."""
    ctx = mp.get_context("fork")
    total = {"n": 0, "correct": 0, "cost": 0.0, "calls": 0, "hits": 0, "overhead": [], "lost": 0, "models": {},
             "killed_confirmed": 0, "unserved": 0}
    for gi, group in enumerate(task.groups):
        prefix = f"bench:{run}:{group.name}"
        out, barrier = ctx.Queue(), ctx.Barrier(workers)
        progress = ctx.Value("i", 0)
        procs = [ctx.Process(target=_child, args=(out, task, gi, base, url, prefix, w, workers, barrier),
                             kwargs={"progress": progress if kill_after and w == workers - 1 else None})
                 for w in range(workers)]
        for p in procs:
            p.start()
        alive = workers
        if kill_after:
            while progress.value < kill_after and procs[-1].is_alive():
                time.sleep(0.005)
            os.kill(procs[-1].pid, signal.SIGKILL)
            total["unserved"] += len(range(workers - 1, len(group), workers)) - progress.value
            alive -= 1
        tallies = [out.get() for _ in range(alive)]
        for p in procs:
            p.join()
        for t in tallies:
            for k in ("n", "correct", "cost", "calls", "hits"):
                total[k] += t[k]
            total["overhead"] += t["overhead"]
            for m, c in t["models"].items():
                total["models"][m] = total["models"].get(m, 0) + c
        if kill_after:
            confirmed, rejected = _stream_judgements(url, prefix, {t["worker"] for t in tallies})
            held = [set(t["confirmed"]) for t in tallies]
            total["killed_confirmed"] += len(confirmed)
            total["lost"] += sum(1 for k in confirmed if k not in rejected and not all(k in h for h in held))
    return total


def _stream_judgements(url: str, prefix: str, survivors: set[str]) -> tuple[set[str], set[str]]:
    """Exact keys the killed worker (not a survivor) judged right, and keys anyone judged wrong."""
    import redis

    client = redis.Redis.from_url(url)
    confirmed, rejected = set(), set()
    for _, fields in client.xrange(f"{prefix}:cache"):
        key = fields[b"exact_key"].decode()
        if fields[b"correct"] != b"1":
            rejected.add(key)
        elif fields[b"w"].decode() not in survivors:
            confirmed.add(key)
    return confirmed, rejected


def _row(name: str, t: dict, n_total: int, wall: float) -> str:
    over = np.asarray(t["overhead"]) * 1e6
    return (f"{name:<34} {t['correct'] / max(t['n'], 1):>8.4f} {t['cost']:>9.4f} {t['calls']:>7d} {t['hits']:>7d} "
            f"{np.percentile(over, 50):>8.1f} {np.percentile(over, 99):>8.1f} {t['n']:>6d}/{n_total:<6d} {wall:>6.1f}")


def cmd_replay(args: argparse.Namespace, url: str) -> None:
    task = load_task([args.data], args.systems.split(",") if args.systems else None)
    base = bench_config("logparsing", task.candidates, None)
    run = uuid.uuid4().hex[:8]
    n = task.size
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"log-parsing replay: {len(task.groups)} files, {n} lines; {args.workers} workers; seeds {seeds}; "
          f"redis {url}")
    print(f"{'method':<34} {'accuracy':>8} {'cost_usd':>9} {'calls':>7} {'hits':>7} {'p50_us':>8} {'p99_us':>8}"
          f" {'served':>13} {'wall_s':>6}")
    modes = [("1 process, local", None, 1), ("1 process, redis", url, 1),
             (f"{args.workers} separate processes, local", None, args.workers),
             (f"{args.workers} processes, one redis", url, args.workers)]
    results: dict[str, list[dict]] = {name: [] for name, _, _ in modes}
    for seed in seeds:
        for name, u, w in modes:
            cfg = copy.deepcopy(base)
            cfg.seed = seed
            t0 = time.perf_counter()
            results[name].append(t := run_mode(task, cfg, u, w, f"{run}:{seed}:{w}"))
            print(_row(f"{name} (seed {seed})", t, n, time.perf_counter() - t0), flush=True)
            if args.verbose:
                print("   calls by model:", dict(sorted(t["models"].items())))
    acc = lambda ts: float(np.mean([t["correct"] / t["n"] for t in ts]))
    cost = lambda ts: float(np.mean([t["cost"] for t in ts]))
    p50 = lambda ts: float(np.percentile(np.concatenate([t["overhead"] for t in ts]) * 1e6, 50))
    for name, ts in results.items():
        print(f"mean over seeds  {name:<34} accuracy {acc(ts):.4f}  cost ${cost(ts):.4f}  p50 {p50(ts):.1f} us")
    one, shared = results["1 process, local"], results[f"{args.workers} processes, one redis"]
    sep = results[f"{args.workers} separate processes, local"]
    print(f"shared vs one process: accuracy {100 * (acc(shared) - acc(one)):+.2f} points (target within 1), "
          f"cost x{cost(shared) / cost(one):.3f} (target <= 1.1); {args.workers} separate processes: "
          f"{100 * (acc(sep) - acc(one)):+.2f} points, cost x{cost(sep) / cost(one):.3f}")
    print(f"overhead p50, redis / local: 1 process x{p50(results['1 process, redis']) / p50(one):.2f}, "
          f"{args.workers} processes x{p50(shared) / p50(sep):.2f} (target <= 2)")


def cmd_kill(args: argparse.Namespace, url: str) -> None:
    task = load_task([args.data], args.systems.split(",") if args.systems else None)
    base = bench_config("logparsing", task.candidates, None)
    t0 = time.perf_counter()
    t = run_mode(task, base, url, args.workers, f"kill{uuid.uuid4().hex[:8]}", kill_after=args.after)
    print(f"kill -9: {len(task.groups)} files, {args.workers} workers on one redis, the last killed after "
          f"{args.after} lines of each file")
    print(f"  survivors served {t['n']} lines (accuracy {t['correct'] / t['n']:.4f}, cost ${t['cost']:.4f}); "
          f"the killed worker's {t['unserved']} remaining lines went unserved (static round-robin split)")
    print(f"  entries the killed worker confirmed: {t['killed_confirmed']}; lost (not held by every survivor, "
          f"never rejected): {t['lost']}; wall {time.perf_counter() - t0:.1f} s")


# -- the $1 race ----------------------------------------------------------------------------------
def _racer(out, url: str | None, prefix: str, worker: int, budget: float, start) -> None:
    cfg = SLSConfig.from_dict({
        "candidates": [{"name": "m", "price_in": 0.0, "price_out": 250.0, "expected_output_tokens": 100}],
        "budget": {"run_budget_usd": budget}})
    if url:
        cfg.state = StateConfig(backend="redis", url=url, prefix=prefix)
    rng = np.random.default_rng(worker)

    def call(model, request):
        time.sleep(0.002)  # calls in flight overlap across the workers
        return Answer(text=f"answer {request.query}", output_tokens=int(rng.integers(50, 151)))

    eng = Engine(cfg)
    paid = []
    start.wait()  # all at once
    try:
        for i in range(100_000):
            try:
                paid.append(eng.run(Request(messages=[{"role": "user", "content": f"w{worker} q{i}"}]),
                                    call=call).cost_usd)
            except NoCandidateError:
                break
    finally:
        eng.close()
        out.put(paid)


def cmd_race(args: argparse.Namespace, url: str) -> None:
    ctx = mp.get_context("fork")
    for name, u in (("one redis", url), ("no redis (separate budgets)", None)):
        out, start = ctx.Queue(), ctx.Barrier(args.workers)
        prefix = f"race:{uuid.uuid4().hex[:8]}"
        procs = [ctx.Process(target=_racer, args=(out, u, prefix, w, args.budget, start))
                 for w in range(args.workers)]
        for p in procs:
            p.start()
        paid = [out.get() for _ in procs]
        for p in procs:
            p.join()
        calls = [c for w in paid for c in w]
        total = sum(calls)
        print(f"race, {args.workers} processes, ${args.budget:g} run budget, {name}: paid ${total:.4f} in "
              f"{len(calls)} calls (per worker {', '.join(f'${sum(w):.3f}' for w in paid)}); largest call "
              f"${max(calls):.4f}; over budget by ${max(0.0, total - args.budget):.4f} = "
              f"{max(0.0, total - args.budget) / max(calls):.2f} calls (target <= 1)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("replay", "race", "kill", "all"))
    ap.add_argument("--data", default=str(DATA), help="the log-parsing folder (default: $SLS_DATA/logparsing)")
    ap.add_argument("--systems", default=None, help="comma-separated files to keep (e.g. HDFS,Mac); default all")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--after", type=int, default=150, help="kill: lines the killed worker serves per file")
    ap.add_argument("--seeds", default="0", help="replay: comma-separated engine seeds, each a run of every row")
    ap.add_argument("--verbose", action="store_true", help="replay: calls by model for each row")
    ap.add_argument("--redis-url", default=None, help="use this server instead of starting one")
    args = ap.parse_args(argv)
    proc = workdir = None
    url = args.redis_url
    if url is None:
        url, proc, workdir = start_redis()
    try:
        for what in (("race", "replay", "kill") if args.what == "all" else (args.what,)):
            {"replay": cmd_replay, "race": cmd_race, "kill": cmd_kill}[what](args, url)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
