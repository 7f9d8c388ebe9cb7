"""The `sls` command: demo, replay benchmarks and the cache micro-benchmark."""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .bench.table import format_table

BENCH_COLUMNS = ["method", "accuracy", "cost_usd", "time_s", "llm_calls", "cache_hits", "wrong_cache_hits"]


def default_data_dir() -> Path:
    """SLS_DATA, else ../shared/data beside the working directory."""
    return Path(os.environ.get("SLS_DATA", Path.cwd().parent / "shared" / "data"))


def bench_config(task_name: str, candidates: list, config_path: str | None):
    """The SLS settings a bench runs with: the packaged defaults for the task
    (or the user's YAML), with the replay's own candidates."""
    from .config import SLSConfig

    if config_path:
        data = yaml.safe_load(Path(config_path).read_text()) or {}
    else:
        name = f"bench_{task_name}.yaml"
        pkg = resources.files("shared_core.defaults")
        data = yaml.safe_load(pkg.joinpath(name).read_text()) if pkg.joinpath(name).is_file() else {}
    data = {k: v for k, v in data.items() if k != "candidates"}
    data["candidates"] = [c.__dict__ | {"latency": c.latency.__dict__} for c in candidates]
    return SLSConfig.from_dict(data)


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench.replay import SLS_VARIANTS, run_bench

    if args.task == "cache":
        from .bench.cache_micro import main as cache_main

        return cache_main(args.entries, args.out)
    task = load_bench_task(args)
    base = bench_config(args.task, task.candidates, args.config)
    variants = tuple(args.variants.split(",")) if args.variants else SLS_VARIANTS
    progress = _progress(len(variants) * len(task.groups)) if not args.quiet else None
    result = run_bench(task, variants, args.feedback, args.warm, base, args.workers, progress)
    print(f"\n{task.task}: {result['queries']} queries, feedback={args.feedback}, "
          f"{'warm' if args.warm else 'cold start per file'}, {result['wall_s']} s")
    print(format_table(result["rows"], BENCH_COLUMNS))
    print(f"router overhead per request: p50 {result['overhead_us']['p50']} us, p99 {result['overhead_us']['p99']} us")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, default=_json_default))
        print(f"wrote {args.out}")
    return 0


def load_bench_task(args: argparse.Namespace):
    data = args.data or [str(default_data_dir() / args.task)]
    systems = args.systems.split(",") if args.systems else None
    if args.task == "logparsing":
        from .bench.logparsing import load_task

        return load_task(data, systems, limit=args.limit)
    try:
        from .bench import routerbench
    except ImportError as exc:
        raise SystemExit(f"sls bench {args.task}: not available in this build ({exc})")
    return routerbench.load_task(args.task, data, systems, limit=args.limit)


def _progress(total: int):
    done = [0]

    def tick(label: str) -> None:
        done[0] += 1
        width = 30
        filled = int(width * done[0] / total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done[0]}/{total} {label:<40}")
        if done[0] == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return tick


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import main as demo_main

    demo_main(n=args.queries, state_dir=args.state)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sls", description="SmartLLMs Scheduler: cache, predict, route, learn.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the main job on an embedded, simulated workload (offline)")
    demo.add_argument("--queries", type=int, default=1200, help="queries in the first run (default 1200)")
    demo.add_argument("--state", help="folder for the engine state (default: a temporary folder)")
    demo.set_defaults(func=cmd_demo)
    bench = sub.add_parser("bench", help="replay recorded LLM answers, or micro-benchmark the cache")
    bench.add_argument("task", choices=["logparsing", "codegen", "qa", "cache"])
    bench.add_argument("--data", nargs="+", help="folders or files (default: $SLS_DATA/<task> or ../shared/data/<task>)")
    bench.add_argument("--out", help="write the result JSON here")
    bench.add_argument("--systems", help="comma-separated files to keep (e.g. HDFS,Mac)")
    bench.add_argument("--feedback", choices=["labels", "none"], default="labels",
                       help="labels: the router learns whether its answer was right; none: verifiers only")
    bench.add_argument("--warm", action="store_true", help="carry state across files instead of a cold start each")
    bench.add_argument("--variants", help="comma-separated SLS rows to run (default: all)")
    bench.add_argument("--config", help="YAML with SLS settings (preferences, cache, predictor) to run with")
    bench.add_argument("--workers", type=int, default=2, help="processes for the cold-start runs (default 2)")
    bench.add_argument("--limit", type=int, help="only the first N queries of each file")
    bench.add_argument("--entries", type=int, default=100_000, help="cache micro-benchmark: entries (default 100000)")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .errors import SLSError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SLSError, FileNotFoundError) as exc:
        print(f"sls: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
