"""`sls bench cache`: lookup latency and put throughput of the cache at scale.

Fills one scope with N confirmed entries (each put is a store plus the
confirmation that moves it into the FAISS index, as feedback would), then
times lookups of new queries. Queries are distinct generated log lines
encoded by the default encoder (the structure real traffic has); encoding is
timed apart, as it is the encoder's cost, not the cache's. Recall is the share
of lookups whose nearest entry is the one an exact brute-force search finds.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from ..cache import CacheManager
from ..cache.manager import near_key
from ..config import CacheConfig
from ..demo import TEMPLATES, WORDS
from ..encoders import HashingEncoder
from ..request import Request


def lines(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        template = TEMPLATES[i % len(TEMPLATES)]
        out.append(re.sub(r"<\*>", lambda _m: f"{rng.choice(WORDS)}{int(rng.integers(0, 10**6))}", template))
    return out


def run(entries: int = 100_000, lookups: int = 2000, seed: int = 0) -> dict:
    encoder = HashingEncoder()
    t0 = time.perf_counter()
    vecs = encoder.encode(lines(entries, seed))
    encode_us = (time.perf_counter() - t0) / entries * 1e6
    queries = encoder.encode(lines(lookups, seed + 1))
    cache = CacheManager(CacheConfig(reuse=[]), encoder.dim)
    scope = "bench"
    t0 = time.perf_counter()
    for i in range(entries):
        req = Request(messages=[{"role": "user", "content": f"query {i}"}])
        entry_id = cache.store(req, scope, f"k{i}", vecs[i], f"answer {i}", "model")
        cache.judge_entry(entry_id, req, True)
    put_s = time.perf_counter() - t0
    times, agree = [], []
    for j, q in enumerate(queries):
        req = Request(messages=[{"role": "user", "content": f"new query {j}"}])
        t = time.perf_counter()
        cache.lookup(req, scope, f"miss{j}", q)
        times.append(time.perf_counter() - t)
        found = cache.semantic.nearest(near_key(req, scope), q, 1)
        exact = int(np.argmax(vecs @ q)) + 1  # entry ids start at 1
        agree.append(bool(found) and (found[0][0] == exact or abs(found[0][1] - float(vecs[exact - 1] @ q)) < 1e-6))
    ms = np.array(times) * 1000
    return {"entries": entries, "index": "hnsw" if cache.semantic.scope(near_key(req, scope)).is_hnsw else "flat",
            "lookup_ms": {"p50": round(float(np.percentile(ms, 50)), 4), "p99": round(float(np.percentile(ms, 99)), 4)},
            "puts_per_s": round(entries / put_s), "recall_at_1": round(float(np.mean(agree)), 4),
            "encode_us": round(encode_us, 1)}


def main(entries: int = 100_000, out: str | None = None) -> int:
    result = run(entries)
    print(f"cache at {result['entries']} entries ({result['index']} index): lookup p50 "
          f"{result['lookup_ms']['p50']} ms, p99 {result['lookup_ms']['p99']} ms; {result['puts_per_s']} puts/s; "
          f"recall@1 vs exact search {result['recall_at_1']}; encoding {result['encode_us']} us a line")
    if out:
        Path(out).write_text(json.dumps(result, indent=1))
    return 0
