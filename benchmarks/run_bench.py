"""Benchmarks of `sls run` (issue 12). Each prints its figures; nothing is asserted.

    python benchmarks/run_bench.py throughput [--jobs 2000 --concurrency 64 --latency 1.0]
    python benchmarks/run_bench.py kill [--jobs 2000 --kills 20 --latency 1.0]

throughput: N unique jobs from sls demo's workload on its three SIMULATED
models, each call waiting `latency` seconds, through the real `sls run`
command in a subprocess. Prints the wall time, the process's CPU time as a
share of the wall time (of one core), and the engine's own share (the sum of
the jobs' overhead_ms: cache, prediction, scheduling).

kill: the same command killed with SIGKILL at a random point, `kills` times
in a row, each time started again; then run to its end. Prints the jobs
lost (in the input, not in the output), duplicated (in the output twice) and
paid twice (answered twice by a model, by the simulated provider's own ledger).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

from shared_core.demo import workload

MODELS = ("sim-small", "sim-medium", "sim-large")
PRICES = {"sim-small": (0.1, 0.1), "sim-medium": (0.6, 0.6), "sim-large": (5.0, 15.0)}


def write_inputs(folder: Path, jobs: int, latency: float, concurrency: int, ledger: Path | None,
                 fail_rate: float = 0.0, unique: bool = True) -> tuple[Path, Path]:
    """router.yaml (the demo's models, `latency` s a call) and jobs.jsonl."""
    cands = []
    for name in MODELS:
        spec = {"simulated": "demo", "sleep": True, "fail_rate": fail_rate}
        if ledger:
            spec["ledger"] = str(ledger)
        cands.append({"name": name, "price_in": PRICES[name][0], "price_out": PRICES[name][1],
                      "latency": {"ttft_s": latency, "tokens_per_s": 1e9}, "expected_output_tokens": 24,
                      "provider": spec})
    config = folder / "router.yaml"
    config.write_text(yaml.safe_dump({"candidates": cands, "run": {"concurrency": concurrency, "max_retries": 3,
                                                                   "backoff_initial_s": 0.05}}))
    lines, seen = [], set()
    for line in workload(jobs * 3 if unique else jobs, seed=11):
        if unique and line.text in seen:
            continue
        seen.add(line.text)
        lines.append(line.text)
        if len(lines) == jobs:
            break
    inp = folder / "jobs.jsonl"
    inp.write_text("".join(json.dumps({"id": f"j{i}", "prompt": t, "task": "logparsing"}) + "\n"
                           for i, t in enumerate(lines)))
    return config, inp


def command(config: Path, inp: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "shared_core.cli", "run", "--config", str(config), "--input", str(inp),
            "--output", str(out), "--summary", str(out.with_suffix(".summary.json")), "--quiet"]


def throughput(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="sls-bench-run-") as tmp:
        folder = Path(tmp)
        config, inp = write_inputs(folder, args.jobs, args.latency, args.concurrency, None)
        out = folder / "answers.jsonl"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(command(config, inp, out), check=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        summary = json.loads(out.with_suffix(".summary.json").read_text())
        engine_s = sum(r.get("overhead_ms") or 0.0 for r in rows) / 1000
        floor = args.jobs / args.concurrency * args.latency
        print(f"sls run throughput: {args.jobs} jobs, {args.latency:g} s per call, concurrency {args.concurrency}, "
              f"{os.cpu_count()} cores")
        print(f"  wall {wall:.1f} s (floor for {args.jobs} calls at this concurrency: {floor:.1f} s; "
              f"the run's own wall_s {summary['wall_s']} s without interpreter start)")
        print(f"  process CPU {cpu:.1f} s = {cpu / wall:.0%} of one core over the wall time "
              f"(imports and engine start included)")
        print(f"  engine CPU (sum of overhead_ms) {engine_s:.2f} s = {engine_s / wall:.1%} of the wall time, "
              f"{engine_s / max(1, len(rows)) * 1e3:.2f} ms a job")
        print(f"  done {summary['done']}, errors {summary['errors']}, hits {summary['hits']}, "
              f"calls {summary['calls']}")


def kill(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="sls-bench-kill-") as tmp:
        folder = Path(tmp)
        ledger = folder / "ledger.tsv"
        config, inp = write_inputs(folder, args.jobs, args.latency, args.concurrency, ledger,
                                   fail_rate=args.fail_rate, unique=False)
        out = folder / "answers.jsonl"
        cmd = command(config, inp, out)
        progress = [0]
        for i in range(args.kills):
            proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
            # a random point of the run proper: after its first new answer, not during interpreter start
            while _lines(out) == progress[-1] and proc.poll() is None:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, args.max_s))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            progress.append(_lines(out))
        final = subprocess.run(cmd, stderr=subprocess.DEVNULL)
        ids = [json.loads(x)["id"] for x in inp.read_text().splitlines()]
        written = Counter(json.loads(x)["id"] for x in out.read_text().splitlines())
        billed = Counter(line.split("\t")[0] for line in ledger.read_text().splitlines())
        lost = [i for i in ids if i not in written]
        dup = [i for i, n in written.items() if n > 1]
        twice = [i for i, n in billed.items() if n > 1]
        print(f"sls run kill -9: {args.jobs} jobs, {args.kills} kills at random points "
              f"(0-{args.max_s:g} s after each run's first new answer), {args.latency:g} s per call, "
              f"fail rate {args.fail_rate:g}, final run exit {final.returncode}")
        mid = sum(1 for n in progress[1:] if n < args.jobs)
        print(f"  jobs written after each kill: {progress[1:]} ({mid} of {args.kills} kills landed before the end)")
        print(f"  lost {len(lost)}, duplicated {len(dup)}, paid twice {len(twice)} "
              f"(model calls {sum(billed.values())} for {len(billed)} jobs that called one)")


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="bench", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--jobs", type=int, default=2000)
    t.add_argument("--concurrency", type=int, default=64)
    t.add_argument("--latency", type=float, default=1.0)
    t.set_defaults(func=throughput)
    k = sub.add_parser("kill")
    k.add_argument("--jobs", type=int, default=2000)
    k.add_argument("--kills", type=int, default=20)
    k.add_argument("--concurrency", type=int, default=64)
    k.add_argument("--latency", type=float, default=1.0)
    k.add_argument("--fail-rate", type=float, default=0.02, help="simulated provider errors, retried")
    k.add_argument("--max-s", type=float, default=1.5, help="latest kill after a run's first new answer")
    k.add_argument("--seed", type=int, default=0)
    k.set_defaults(func=kill)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
