"""`sls bench cache`: how the cache's costs grow with its entries.

For each size, one scope is filled with N confirmed log lines (each put is a
store plus the confirmation that moves it into the near-duplicate index and
the log-template reuser, as feedback would), then new held-out lines are looked
up. Figures per size: lookup p50/p99, bytes of memory per entry beyond the
texts (the growth of the process's resident memory over the fill, the texts
and vectors being allocated before it), puts per second with template reuse
on, and recall@1 of the near-duplicate index where a hit is possible: among
lookups whose nearest stored line (by exact search) is at least the policy's
floor, the share where the index returns it or one as similar. Encoding is
the encoder's cost, not the cache's: it is done before the timed parts.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..cache import CacheManager
from ..cache.manager import near_key
from ..cache.reuse import make_reuser
from ..config import CacheConfig
from ..encoders import HashingEncoder
from ..request import Request
from .scale import load_corpus, parse_sizes, percentiles_us, release_freed_memory, rss_bytes
from .table import format_table

SCOPE = "bench"
TICK = 1000  # puts between two updates of the progress bar
COLUMNS = ["entries", "index", "lookup_p50_us", "lookup_p99_us", "hits", "bytes_per_entry", "puts_per_s",
           "recall_at_1", "possible"]
HEADERS = ["entries", "index", "lookup p50 us", "p99 us", "hit share", "bytes/entry", "puts/s", "recall@1",
           "hit possible"]


def _request(line: str) -> Request:
    return Request(messages=[{"role": "user", "content": line}], task="logparsing")


def fill(cache: CacheManager, lines: list[str], answers: list[str], vectors: np.ndarray, progress=None) -> float:
    """Store and confirm every line; seconds taken."""
    t0 = time.perf_counter()
    for i, (line, answer) in enumerate(zip(lines, answers)):
        req = _request(line)
        entry_id = cache.store(req, SCOPE, f"k{i}", vectors[i], answer, "model")
        cache.judge_entry(entry_id, req, True)
        if progress is not None and i % TICK == TICK - 1:
            progress.update(TICK)
    if progress is not None:
        progress.update(len(lines) % TICK)
    return time.perf_counter() - t0


def measure(size: int, corpus, encoder, lookups: int = 2000, seed: int = 0, progress=None,
            distinct: bool = False) -> dict:
    if progress is not None:
        progress.set_postfix_str(f"{size} entries: encoding")
    lines, answers = corpus.stored(size, seed, distinct)
    vectors = encoder.encode(lines)
    queries = corpus.queries(lookups, seed + 1)
    if distinct:  # near copies of stored lines: one's random word in front of a new line
        queries = [lines[i % size].split(" ", 1)[0] + " " + q for i, q in zip(range(0, 10**9, 7919), queries)]
    qvecs = encoder.encode(queries)
    cache = CacheManager(CacheConfig(), encoder.dim, [make_reuser("log_template")])
    release_freed_memory()
    before = rss_bytes()
    if progress is not None:
        progress.set_postfix_str(f"{size} entries: puts, then lookups")
    put_s = fill(cache, lines, answers, vectors, progress)
    gc.collect()
    grown = rss_bytes() - before
    key = near_key(_request(queries[0]), SCOPE)
    index = cache.semantic.scopes[key]
    times, hits = [], 0
    for j, q in enumerate(queries):
        req = _request(q)
        t = time.perf_counter()
        found = cache.lookup(req, SCOPE, f"new{j}", qvecs[j])
        times.append(time.perf_counter() - t)
        hits += found.hit is not None
        if progress is not None:
            progress.update(1)
    recall, possible = near_duplicate_recall(index, vectors, qvecs, cache.config.semantic.floor)
    p50, p99 = percentiles_us(times)
    return {"entries": size, "index": "hnsw" if index.is_hnsw else "flat", "lookup_p50_us": p50,
            "lookup_p99_us": p99, "hits": round(hits / lookups, 4), "bytes_per_entry": round(grown / size),
            "puts_per_s": round(size / put_s), "recall_at_1": recall, "possible": possible}


def near_duplicate_recall(index, vectors: np.ndarray, queries: np.ndarray, floor: float) -> tuple[float | None, int]:
    """Share of the queries with a stored line at or above `floor` (exact search)
    for which the index's first answer is that line or one as similar."""
    best = np.concatenate([(queries[i:i + 256] @ vectors.T).max(axis=1) for i in range(0, len(queries), 256)])
    agree, possible = 0, 0
    for j in np.flatnonzero(best >= floor):
        possible += 1
        found = index.search(queries[j], 1)
        agree += bool(found) and abs(found[0][1] - float(best[j])) < 1e-3
    return (round(agree / possible, 4) if possible else None), possible


def run(sizes: list[int], lookups: int = 2000, seed: int = 0, data: str | None = None, progress=None,
        distinct: bool = False) -> dict:
    corpus = load_corpus(data)
    encoder = HashingEncoder()
    rows = []
    if progress is not None:  # a bar over every put and lookup: the largest size is most of the time
        progress.reset(total=sum(sizes) + lookups * len(sizes))
    for size in sizes:
        rows.append(measure(size, corpus, encoder, lookups, seed, progress, distinct))
    return {"corpus": corpus.source, "lookups": lookups, "distinct": distinct, "sizes": rows}


def main(sizes: str | list[int] | None = None, out: str | None = None, data: str | None = None,
         quiet: bool = False, distinct: bool = False) -> int:
    sizes = parse_sizes(sizes) if not isinstance(sizes, list) else sizes
    from tqdm import tqdm

    with tqdm(desc="sls bench cache", unit="op", unit_scale=True, disable=quiet, file=sys.stderr) as bar:
        result = run(sizes, data=data, progress=bar, distinct=distinct)
    shared = ("a random word in front of every line: no two vectors alike" if distinct
              else "lines that differ only in numbers share a vector")
    print(f"\ncache, one scope of confirmed log lines ({result['corpus']}; {shared}), template reuse on, "
          f"{result['lookups']} new lines looked up per size")
    print(format_table(result["sizes"], COLUMNS, HEADERS))
    print("recall@1: near-duplicate index against exact search, over the lookups whose nearest stored line "
          "is at or above the policy's floor ('hit possible')")
    if out:
        Path(out).write_text(json.dumps(result, indent=1))
        print(f"wrote {out}")
    return 0
