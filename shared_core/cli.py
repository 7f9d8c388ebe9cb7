"""The `sls` command: demo, replay benchmarks and the cache micro-benchmark."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .bench import default_data_dir
from .bench.table import format_table, workload
from .optional import require

BENCH_COLUMNS = ["method", "accuracy", "cost_usd", "time_s", "llm_calls", "cache_hits", "wrong_cache_hits"]




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
    data["candidates"] = [dataclasses.asdict(c) for c in candidates]
    return SLSConfig.from_dict(data)


# The RouterBench replays are scored on the last 80% of each file by default, so
# that the static-scheduling baselines can train on the first 20%; log parsing
# keeps its whole-file runs unless --train-frac is given.
DEFAULT_TRAIN_FRAC = {"codegen": 0.2, "qa": 0.2}


def bench_plan(args: argparse.Namespace) -> tuple[tuple[str, ...], float | None, tuple[str, ...]]:
    """Which SLS rows, which train share and which baselines a bench runs."""
    from .bench.replay import SLS_VARIANTS, TRAIN_PART_VARIANTS, workload_conflict

    train_frac = args.train_frac if args.train_frac is not None else DEFAULT_TRAIN_FRAC.get(args.task)
    train_frac = train_frac or None  # --train-frac 0: whole files, no baselines
    if args.variants:
        variants = tuple(v for v in args.variants.split(",") if v)
    else:
        variants = SLS_VARIANTS + (("sls-cascade",) if args.task in DEFAULT_TRAIN_FRAC else ())
        per_file = train_frac and args.task in DEFAULT_TRAIN_FRAC and not (args.warm or args.mixed)
        variants += ("sls-online-train",) if per_file else ()
    if args.pretrain and "sls-pretrained" not in variants:
        variants += ("sls-pretrained",)
    for v in variants:
        if v in TRAIN_PART_VARIANTS and not train_frac:
            raise SystemExit(f"sls bench: {v} starts on the train part of each file: give --train-frac")
    conflict = workload_conflict(variants, args.warm, args.mixed)
    if conflict:  # said before the data is loaded
        raise SystemExit(f"sls bench: {conflict}")
    if args.baselines is None:
        from .bench.baselines import BASELINES

        baselines = tuple(BASELINES) if train_frac else ()
    else:
        baselines = tuple(b for b in args.baselines.split(",") if b and b != "none")
    if baselines and not train_frac:
        raise SystemExit("sls bench: the static baselines train on the first part of each file: give --train-frac")
    return variants, train_frac, baselines


REPLAYS = ("logparsing", "codegen", "qa")
# the bench options only some tasks read; a user who gives one to another task is told,
# not silently ignored (--data, --out and --quiet apply to every task)
BENCH_OPTION_TASKS = {
    **{dest: REPLAYS for dest in ("systems", "feedback", "warm", "mixed", "variants", "config", "workers", "train_frac",
                                  "baselines", "pretrain", "ceiling")},
    "limit": REPLAYS + ("semantic",),
    "entries": ("cache", "semantic"),
    "sizes": ("cache", "route"),
    "distinct": ("cache",),
    "observations": ("route",),
    **{dest: ("semantic",) for dest in ("encoders", "target_error_rate", "scale")},
}


def _check_bench_options(args: argparse.Namespace) -> None:
    from .bench.scale import BenchArgumentError

    defaults = build_parser().parse_args(["bench", args.task])
    for dest, tasks in BENCH_OPTION_TASKS.items():
        if args.task not in tasks and getattr(args, dest) != getattr(defaults, dest):
            raise BenchArgumentError(f"sls bench {args.task} does not read --{dest.replace('_', '-')}; "
                                     f"it is for sls bench {', '.join(tasks)}")
    if args.task == "semantic" and args.entries and not args.scale:
        raise BenchArgumentError("sls bench semantic reads --entries only with --scale (the cache it times "
                                 "encode + lookup in)")


def _one_folder(args: argparse.Namespace) -> str | None:
    """The one Loghub folder `sls bench cache` and `route` read their lines from."""
    from .bench.scale import BenchArgumentError

    if args.data and len(args.data) > 1:
        raise BenchArgumentError(f"sls bench {args.task} reads one Loghub folder; --data got {len(args.data)}")
    return args.data[0] if args.data else None


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench.replay import run_bench

    _check_bench_options(args)
    if args.task == "cache":
        from .bench.cache_micro import main as cache_main

        return cache_main(args.sizes or ([args.entries] if args.entries else None), args.out,
                          data=_one_folder(args), quiet=args.quiet, distinct=args.distinct)
    if args.task == "route":
        from .bench.route import main as route_main

        return route_main(args.sizes, args.observations, args.out, data=_one_folder(args), quiet=args.quiet)
    if args.task == "semantic":
        from .bench.semantic import main as semantic_main

        return semantic_main(args.data, args.limit, args.encoders, args.target_error_rate,
                             (args.entries or 100_000) if args.scale else None, args.out, quiet=args.quiet)
    variants, train_frac, baselines = bench_plan(args)
    task = load_bench_task(args)
    base = bench_config(args.task, task.candidates, args.config)
    if args.ceiling and not train_frac:
        raise SystemExit("sls bench --ceiling: the bandit reference is scored on the test part: give --train-frac")
    if baselines:
        require("sklearn", "scikit-learn", "bench",
                f"sls bench {args.task} (its static baselines; --baselines none skips them)")
    if args.ceiling:
        require("sklearn", "scikit-learn", "bench", "sls bench --ceiling")
    runs = (len(variants) * (1 if args.mixed else len(task.groups))) + len(baselines) * len(task.groups)
    progress = None if args.quiet else _progress(runs, f"sls bench {args.task}", "run")
    result = run_bench(task, variants, args.feedback, args.warm, base, args.workers, progress,
                       train_frac=train_frac, baselines=baselines, mixed=args.mixed)
    split = (f", scored on the last {1 - train_frac:.0%} of each file ({result['train_queries']} train queries)"
             if train_frac else "")
    print(f"\n{task.task}: {result['queries']} queries, feedback={args.feedback}, "
          f"{workload(result)}{split}, {result['wall_s']} s")
    print(format_table(result["rows"], BENCH_COLUMNS))
    print(user_test_lines(result))
    if result["overhead_us"]["p50"] is not None:  # timed on the one-call sls row only
        print(f"router overhead per request: p50 {result['overhead_us']['p50']} us, p99 {result['overhead_us']['p99']} us")
    if args.ceiling:
        result["ceiling"] = bench_ceiling(task, base, train_frac, args.quiet)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, default=_json_default))
        print(f"wrote {args.out}")
    return 0


ONE_CALL_ROWS = ("sls", "sls-online-train", "sls-pretrained")
SEVERAL_CALL_ROWS = ("sls-agreement", "sls-cascade")


def user_test_lines(result: dict) -> str:
    """The user's test, for the whole replay and each file: is an SLS row beaten by
    a single model on both accuracy and cost? And its regret as the run went."""
    from .bench.table import dominance, format_dominance

    scopes = [("", result["rows"])]
    if len(result.get("files") or {}) > 1:
        scopes += [(f"[{name}] ", entry["rows"]) for name, entry in result["files"].items()]
    lines = []
    for label, rows in scopes:
        for method in ONE_CALL_ROWS + SEVERAL_CALL_ROWS:
            text = format_dominance(dominance(rows, method), label)
            if text:
                lines.append(text)
    for name, curve in (result.get("regret") or {}).get("sls", {}).items():
        pts = ", ".join(f"{t}: {r:g}" for t, r in zip(curve["at"], curve["regret"]))
        lines.append(f"[{name}] sls cumulative regret against {curve['best_fixed']} (best fixed model in hindsight, "
                     f"reward {curve['reward']}) after n queries: {pts}")
    return "\n".join(lines)


def bench_ceiling(task, base, train_frac: float, quiet: bool = False) -> dict:
    """--ceiling: the full-information one-call ceiling and the bandit reference, printed and returned."""
    from .bench.ceiling import CEILING_STEPS, ceiling_report, format_ceiling
    from .bench.replay import train_sizes

    wtp = base.preferences.willingness_to_pay_usd or 0.01
    tick = None if quiet else _progress(CEILING_STEPS * len(task.groups), "sls bench --ceiling", "step")
    report = ceiling_report(task.groups, task.models, train_sizes(task, train_frac), wtp, tick=tick)
    print(format_ceiling(report))
    return report


def load_bench_task(args: argparse.Namespace):
    """The replay of `sls bench`. A missing data folder says where SLS looked and
    how to point it elsewhere; an unknown --systems name is an error."""
    data = args.data or [str(default_data_dir() / args.task)]
    if args.systems:
        check_systems(args.task, data, args.systems.split(","))
    try:
        return _load_bench_task(args)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{exc}; give the data with --data FOLDER, or set $SLS_DATA to the shared data "
                                f"folder (default: ../shared/data beside the working directory)") from None


def check_systems(task: str, data: list[str], systems: list[str]) -> None:
    """Every --systems name must be a data file there (HDFS for HDFS.csv.gz)."""
    from .errors import SLSError

    known: dict[str, str] = {}
    for item in map(Path, data):
        files = sorted(item.glob("*.csv*")) if item.is_dir() else [item] if item.exists() else []
        known.update({f.name.split(".")[0].lower(): f.name.split(".")[0] for f in files})
    unknown = [s for s in systems if s.strip() and s.strip().lower() not in known]
    if known and unknown:
        raise SLSError(f"sls bench {task}: unknown --systems {', '.join(unknown)}; "
                       f"the data has {', '.join(sorted(known.values()))}")


def _load_bench_task(args: argparse.Namespace):
    data = args.data or [str(default_data_dir() / args.task)]
    systems = args.systems.split(",") if args.systems else None
    if args.task == "logparsing":
        from .bench.logparsing import load_task

        return load_task(data, systems, limit=args.limit, workers=args.workers)
    try:
        from .bench import routerbench
    except ImportError as exc:
        raise SystemExit(f"sls bench {args.task}: not available in this build ({exc})")
    return routerbench.load_task(args.task, data, systems, limit=args.limit)


def cmd_report(args: argparse.Namespace) -> int:
    from .bench.report import write_report

    results = []
    for path in args.results:
        try:
            results.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise SystemExit(f"sls report: cannot read {path}: {exc}")
    md = write_report(results, args.out, args.plot)
    if not args.out:
        print(md)
    else:
        print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))
    return 0


def _progress(total: int, what: str, unit: str):
    """A progress bar on stderr (tqdm); tick(label) advances it, and the last tick closes it."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=what, unit=unit, file=sys.stderr, dynamic_ncols=True)

    def tick(label: str = "") -> None:
        if label:
            bar.set_postfix_str(label, refresh=False)
        bar.update(1)
        if bar.n >= total:
            bar.close()

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


def cmd_run(args: argparse.Namespace) -> int:
    from .config import SLSConfig
    from .runner import RunOptions, run_batch

    config = SLSConfig.from_yaml(args.config)
    options = RunOptions(Path(args.input), Path(args.output), Path(args.journal) if args.journal else None,
                         Path(args.summary) if args.summary else None, args.on_bad_line, args.budget,
                         args.concurrency, progress=not args.quiet,
                         warn=lambda text: print(f"sls run: {text}", file=sys.stderr))
    if not options.input.is_file():
        raise SystemExit(f"sls run: no input file at {options.input}")
    data_dir = Path(args.data) if args.data else default_data_dir()
    try:
        summary = run_batch(config, options, data_dir, simulated=args.simulated)
    except KeyboardInterrupt:
        print(f"\nsls run: interrupted; what finished is in {options.output}: run the same command to continue",
              file=sys.stderr)
        return 130
    if summary["not_run"]:
        print(f"sls run: budget ${summary['budget_usd']:g} reached: {summary['not_run']} jobs not run "
              "(listed in the summary; a larger --budget runs them)", file=sys.stderr)
    print(f"sls run: {summary['done']}/{summary['jobs']} jobs done ({summary['errors']} errors), "
          f"${summary['cost_usd']:.6f}, hits {summary['hits']}, calls {summary['calls']}, {summary['wall_s']} s",
          file=sys.stderr)
    if options.summary:
        options.summary.write_text(json.dumps(summary, indent=1))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .stats import format_stats, read_state, summarize
    from .storage import open_store

    path = Path(args.state)
    if not path.exists():
        raise SystemExit(f"sls stats: no state at {path} (the folder or file of `state.path` in the YAML)")
    sqlite = path.is_file() or (path / "state.sqlite").exists()
    store = open_store(str(path), "sqlite" if sqlite else "local")
    try:
        summary = summarize(read_state(store))
    finally:
        store.close()
    print(json.dumps(summary, indent=1) if args.json else format_stats(summary))
    return 0


STATS_EXAMPLES = """examples:
  sls stats --state .sls_state/langchain-example
  sls stats --state state.sqlite --json | jq '.savings'

Quality is the posterior mean of the feedback each model got on each task
(uniform prior, recent feedback weighted more), with its standard deviation.
"""


RUN_EXAMPLES = """examples:
  sls run --config router.yaml --input jobs.jsonl --output answers.jsonl --summary summary.json
  sls run --config shared_core/defaults/demo.yaml --simulated --input jobs.jsonl --output out.jsonl
  sls run ... --budget 2.50 --on-bad-line stop --concurrency 64

jobs.jsonl holds one job a line:
  {"id": "a1", "prompt": "...", "task": "logparsing"}
  {"id": "a2", "messages": [{"role": "user", "content": "..."}], "max_cost": 0.01, "tenant": "acme"}
Killed or interrupted, the same command continues where it stopped: no job is
lost or written twice, and an answer is paid twice only if the kill fell
between the provider's bill and its journal line (the journal is <output>.journal).
"""


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sls")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from . import __version__

        return __version__


DEMO_EXAMPLES = """examples:
  sls demo                          # 1,200 generated log lines, three SIMULATED models, then a restart
  sls demo --queries 400 --state /tmp/sls-demo   # keep the state to look at: sls stats --state /tmp/sls-demo
"""

BENCH_EXAMPLES = """examples:
  sls bench logparsing --systems HDFS,Mac --limit 500 --out logparsing.json   # Loghub-2k, 8 LLMs
  sls bench logparsing --feedback none        # learn from the verifiers only, no labels
  sls bench codegen --out codegen.json        # MBPP (RouterBench, 11 LLMs), against static baselines
  sls bench qa --ceiling --out qa.json        # ARC-Challenge + Winogrande, with what any router could reach
  sls bench cache --sizes 1000,10000,100000   # cache lookup, memory, puts, recall as entries grow
  sls bench cache --distinct                  # the same with no two entries sharing a vector
  sls bench route --sizes 1000,10000          # plan(), predictor, lookup, exact hit, adapter overhead

data: --data FOLDER or FILE, else $SLS_DATA/<task>, else ../shared/data/<task>;
--systems names files of that folder (HDFS for HDFS.csv.gz).
"""

REPORT_EXAMPLES = """examples:
  sls report logparsing.json codegen.json qa.json --out report.md --plot pareto.png
(the JSON files are what `sls bench ... --out FILE` wrote)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sls", description="SmartLLMs Scheduler: cache, predict, route, learn.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the main job on an embedded, simulated workload (offline)",
                          epilog=DEMO_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--queries", type=int, default=1200, help="queries in the first run (default 1200)")
    demo.add_argument("--state", help="folder for the engine state (default: a temporary folder)")
    demo.set_defaults(func=cmd_demo)
    bench = sub.add_parser("bench", help="replay recorded LLM answers, or micro-benchmark the cache",
                           epilog=BENCH_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("task", choices=["logparsing", "codegen", "qa", "cache", "semantic", "route"])
    bench.add_argument("--data", nargs="+", help="folders or files (default: $SLS_DATA/<task> or ../shared/data/<task>)")
    bench.add_argument("--out", help="write the result JSON here")
    bench.add_argument("--systems", help="comma-separated files to keep (e.g. HDFS,Mac)")
    bench.add_argument("--feedback", choices=["labels", "none"], default="labels",
                       help="labels: the router learns whether its answer was right; none: verifiers only")
    bench.add_argument("--warm", action="store_true", help="carry state across files instead of a cold start each")
    bench.add_argument("--mixed", action="store_true",
                       help="serve the files as one workload: interleaved through one engine, each file cold, "
                            "one budget")
    bench.add_argument("--variants", help="comma-separated SLS rows to run (default: all)")
    bench.add_argument("--config", help="YAML with SLS settings (preferences, cache, predictor) to run with")
    bench.add_argument("--workers", type=int, default=2, help="processes for the cold-start runs (default 2)")
    bench.add_argument("--limit", type=int, help="only the first N queries of each file")
    bench.add_argument("--entries", type=int, help="cache, semantic --scale: entries (default 100000)")
    bench.add_argument("--sizes", help="cache, route: comma-separated entry counts (default 1000,10000,100000)")
    bench.add_argument("--distinct", action="store_true",
                       help="cache: a random word in front of every line, so that no two entries share a vector")
    bench.add_argument("--observations", type=int, default=50_000,
                       help="route: predictor observations at most (min(size, this); default 50000)")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.add_argument("--encoders", default="hashing,minilm",
                       help="semantic: comma-separated encoders to run (default hashing,minilm)")
    bench.add_argument("--target-error-rate", type=float, default=0.02,
                       help="semantic: the learned policy's bound on wrong hits per query (default 0.02)")
    bench.add_argument("--scale", action="store_true",
                       help="semantic: also time encode + lookup per query with --entries entries in the cache")
    bench.add_argument("--train-frac", type=float, default=None,
                       help="train the static baselines on this first share of each file and score every row on "
                            "the rest (default 0.2 for codegen and qa, none for logparsing; 0: whole files)")
    bench.add_argument("--baselines", help="comma-separated static baselines (default with a train part: "
                                           "optllm-style,routellm-style,frugalgpt-cascade; 'none' to skip)")
    bench.add_argument("--pretrain", action="store_true",
                       help="add an sls-pretrained row: SLS warm-started on every model's labels of the train part "
                            "(the main sls row stays a cold start)")
    bench.add_argument("--ceiling", action="store_true",
                       help="also measure what any router could reach on each file: a one-call router with every "
                            "model's label (cross-fitted) within 10%% of the best model's cost, and a context-free "
                            "cold-start bandit")
    bench.set_defaults(func=cmd_bench)
    run = sub.add_parser("run", help="run a batch of jobs (JSON lines) through the router, resumably",
                         description="Run every job of a JSON-lines file through the router on asyncio, within "
                                     "the YAML's concurrency, rate limits and budget; one output line per job.",
                         epilog=RUN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--config", required=True, help="router YAML: candidates with a provider, run/limits settings")
    run.add_argument("--input", required=True, help="jobs, one JSON object a line")
    run.add_argument("--output", required=True, help="answers, one JSON line per finished job (appended on resume)")
    run.add_argument("--summary", help="write the run's summary JSON here")
    run.add_argument("--journal", help="the paid-answers journal (default: <output>.journal)")
    run.add_argument("--on-bad-line", choices=["skip", "stop"], default="skip",
                     help="a line that is not a valid job: report it and skip it (default), or stop before running")
    run.add_argument("--budget", type=float, help="USD for the whole batch (default: budget.run_budget_usd)")
    run.add_argument("--concurrency", type=int, help="jobs in flight at once (default: run.concurrency, 32)")
    run.add_argument("--simulated", action="store_true",
                     help="candidates without a provider are sls demo's SIMULATED models (for demo.yaml)")
    run.add_argument("--data", help="folder that replay paths are read from (default: $SLS_DATA or ../shared/data)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)
    stats = sub.add_parser("stats", help="what a router has learned: quality per task and model, spend, cache, savings",
                           description="Read a saved router state and report per task and model the learned "
                                       "quality with its uncertainty, calls, spend and latency; cache entries and "
                                       "hits per tier; savings against always calling the best-rated model; the "
                                       "near-duplicate thresholds learned.",
                           epilog=STATS_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    stats.add_argument("--state", required=True, help="the state folder (or SQLite file) of `state.path`")
    stats.add_argument("--json", action="store_true", help="print JSON instead of tables")
    stats.set_defaults(func=cmd_stats)
    report = sub.add_parser("report", help="markdown tables and an accuracy-cost plot from bench result JSON files",
                            epilog=REPORT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("results", nargs="+", help="result JSON files written by `sls bench --out`")
    report.add_argument("--out", help="write the markdown here (default: print it)")
    report.add_argument("--plot", help="write the accuracy-cost plot here (PNG; needs matplotlib: pip install sls[report])")
    report.set_defaults(func=cmd_report)
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
