"""`sls bench route`: what the routing decision costs as the router's memory grows.

For each size N, one engine (the log-parsing candidates and settings) holds N
confirmed log lines in its cache and min(N, --max-observations) predictor
observations, as a router that has run for a while would. Then, per size:

- `plan()` for a new line: a held-out line with one literal word changed, so
  that no exact entry and no template fits it and the whole path runs (exact
  miss, template reuse, near-duplicate search, predictor, scheduler);
- of which the predictor (`Predictor.predict`) and the cache lookup, each timed
  alone on the same lines;
- `plan()` for an exact repeat of a stored request (the exact tier's hit, end
  to end).

Adapter overhead comes from probes that the adapters register under the
entry-point group `sls.route_probes` (shared_core imports no framework): each
is a zero-argument callable returning {"name", "engine_p50_us",
"adapter_p50_us", "adapter_p99_us"} measured in one run: the engine's own time
per call, and what the adapter adds to it (shared_core/overhead.py), and may
add "framework_p50_us": what the framework's own call of a model that does
nothing costs, the part of the adapter's figure no adapter can remove.
"""

from __future__ import annotations

import dataclasses
import json
import re
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..config import SLSConfig
from ..engine import Engine
from ..request import Request
from .scale import BenchArgumentError, load_corpus, parse_sizes, percentiles_us, timed
from .table import format_table

TASK = "logparsing"
PROBE_GROUP = "sls.route_probes"
# what a probe returns; framework_p50_us is optional (None: the probe does not measure it)
PROBE_FIELDS = ("name", "engine_p50_us", "adapter_p50_us", "adapter_p99_us", "framework_p50_us")
COLUMNS = ["entries", "observations", "plan_p50_us", "plan_p99_us", "predict_p50_us", "predict_p99_us",
           "lookup_p50_us", "lookup_p99_us", "exact_p50_us", "exact_p99_us"]
HEADERS = ["entries", "observations", "plan p50 us", "p99", "predictor p50", "p99", "cache lookup p50", "p99",
           "exact hit p50", "p99"]
_WORD = re.compile(r"\b[A-Za-z]{4,}\b")  # a whole word: a constant of the template, not part of a value


def bench_engine(data: str | None = None) -> Engine:
    """An engine with the log-parsing replay's candidates and settings (or the demo's)."""
    from .replay import load_candidates

    folder = Path(data) if data else None
    if folder is None:
        from . import default_data_dir

        folder = default_data_dir() / "logparsing"
    settings = yaml.safe_load(resources.files("shared_core.defaults").joinpath("bench_logparsing.yaml").read_text())
    if (folder / "models.yaml").is_file():
        candidates = load_candidates(folder / "models.yaml", expected_output_tokens=24)
        settings["candidates"] = [dataclasses.asdict(c) for c in candidates]
    else:
        demo = yaml.safe_load(resources.files("shared_core.defaults").joinpath("demo.yaml").read_text())
        settings["candidates"] = demo["candidates"]
    return Engine(SLSConfig.from_dict(settings))


def _request(line: str) -> Request:
    from .logparsing import SYSTEM_PROMPT

    return Request(messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": line}],
                   task=TASK)


def novel(line: str) -> str:
    """The line with its first whole word of 4+ letters changed: no stored template fits it."""
    return _WORD.sub(lambda m: m.group() + "q", line, count=1) if _WORD.search(line) else line + " novelq"


def fill(engine: Engine, lines: list[str], templates: list[str], vectors: np.ndarray, observations: int,
         seed: int) -> None:
    """N confirmed cache entries and the first `observations` lines as predictor evidence."""
    names = [c.name for c in engine.config.candidates]
    scope = _request(lines[0]).scope_key(names)
    for i, (line, template) in enumerate(zip(lines, templates)):
        req = _request(line)
        entry_id = engine.cache.store(req, scope, req.exact_key(scope), vectors[i], template, names[i % len(names)])
        engine.cache.judge_entry(entry_id, req, True)
    rng = np.random.default_rng(seed)
    skill = {m: 0.3 + 0.5 * k / max(1, len(names) - 1) for k, m in enumerate(names)}
    for i in range(observations):
        model = names[int(rng.integers(len(names)))]
        engine.predictor.observe(TASK, vectors[i % len(vectors)], model, float(rng.random() < skill[model]))


def measure(size: int, observations: int, corpus, queries: int, data: str | None, seed: int) -> dict[str, Any]:
    engine = bench_engine(data)
    lines, templates = corpus.stored(size, seed)
    vectors = engine.encoder.encode(lines)
    fill(engine, lines, templates, vectors, min(size, observations), seed)
    names = [c.name for c in engine.config.candidates]
    new = [_request(novel(q)) for q in corpus.queries(queries, seed + 1)]
    plans = [engine.plan(r) for r in new[:50]]  # warm-up: first-call costs are not the steady state
    plan_s = timed(engine.plan, [(r,) for r in new])
    plans = [engine.plan(r) for r in new[:200]]
    misses = sum(p.hit is None for p in plans)
    scope = plans[0].scope
    predict_s = timed(lambda p: engine.predictor.predict(TASK, p.vector, p.input_tokens, names),
                      [(p,) for p in plans])
    lookup_s = timed(lambda p: engine.cache.lookup(p.request, scope, p.exact_key, p.vector), [(p,) for p in plans])
    rng = np.random.default_rng(seed + 2)
    repeats = [_request(lines[int(i)]) for i in rng.integers(0, size, size=queries)]
    exact_s = timed(engine.plan, [(r,) for r in repeats])
    exact_hits = sum(engine.plan(r).hit is not None for r in repeats[:100])
    engine.close()
    row = {"entries": size, "observations": min(size, observations), "miss_share": round(misses / len(plans), 3),
           "exact_hit_share": round(exact_hits / 100, 3)}
    for name, seconds in (("plan", plan_s), ("predict", predict_s), ("lookup", lookup_s), ("exact", exact_s)):
        row[f"{name}_p50_us"], row[f"{name}_p99_us"] = percentiles_us(seconds)
    return row


def adapter_probes(only: set[str] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """What each registered probe (or those named in `only`) measured, and the probes
    that failed (with why)."""
    rows, failed = [], []
    for ep in metadata.entry_points(group=PROBE_GROUP):
        if only is not None and ep.name not in only:
            continue
        try:
            found = ep.load()()
            rows.append({k: found.get(k) for k in PROBE_FIELDS})
        except Exception as exc:  # a broken probe is reported, not fatal to the rest of the bench
            failed.append(f"{ep.name}: {type(exc).__name__}: {exc}")
    return rows, failed


def run(sizes: list[int], observations: int = 50_000, queries: int = 2000, seed: int = 0,
        data: str | None = None, progress=None, probes: bool = True) -> dict[str, Any]:
    corpus = load_corpus(data)
    rows = []
    for size in sizes:
        rows.append(measure(size, observations, corpus, queries, data, seed))
        if progress is not None:
            progress.update(1)
    probes, failed = adapter_probes() if probes else ([], [])
    return {"corpus": corpus.source, "queries": queries, "sizes": rows, "adapters": probes, "probe_errors": failed}


def main(sizes: str | list[int] | None = None, observations: int = 50_000, out: str | None = None,
         data: str | None = None, quiet: bool = False, probes: bool = True) -> int:
    sizes = parse_sizes(sizes) if not isinstance(sizes, list) else sizes
    if observations < 0:
        raise BenchArgumentError(f"--observations must be >= 0, got {observations}")
    from tqdm import tqdm

    with tqdm(total=len(sizes), desc="sls bench route", unit="size", disable=quiet) as bar:
        result = run(sizes, observations, data=data, progress=bar, probes=probes)
    print(f"\nrouting decision ({result['corpus']}; log-parsing candidates), {result['queries']} requests per figure")
    print(format_table(result["sizes"], COLUMNS, HEADERS))
    print("plan: a new line no entry or template fits (exact miss, reuse, near-duplicate search, predictor, "
          "scheduler); exact hit: plan() of a repeated request")
    if result["adapters"]:
        print(format_table(result["adapters"], list(PROBE_FIELDS),
                           ["adapter", "engine alone p50 us", "adapter adds p50 us", "p99",
                            "of which the framework's own call p50 us"]))
        print("framework's own call: its invoke/chat of a model that does nothing, less that model's body "
              "(callbacks, tracing, result types): the floor for any chat model of that framework")
    else:
        print(f"adapter overhead: no probe installed (entry-point group {PROBE_GROUP})")
    for line in result["probe_errors"]:
        print(f"adapter probe failed: {line}")
    if out:
        Path(out).write_text(json.dumps(result, indent=1))
        print(f"wrote {out}")
    return 0
