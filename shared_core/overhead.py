"""What an adapter adds to the engine's own time per call, measured in one run.

The `sls.route_probes` of the adapters (`langchain_sls._probe`,
`llama_index_sls._probe`) call the same engine, with the same candidate, two
ways, alternately: the engine alone (`engine_call`), and through the adapter
(`adapter_call`). Alternating pairs keep a noisy, shared machine's drift out
of the difference; the adapter's overhead is the per-pair difference.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def paired_overhead(name: str, engine_call: Callable[[], Any], adapter_call: Callable[[], Any], *,
                    calls: int = 2000, warmup: int = 200) -> dict[str, Any]:
    """p50 of the engine's time per call, and p50 / p99 of what the adapter adds to it (us)."""
    for _ in range(warmup):
        engine_call()
        adapter_call()
    engine = np.empty(calls)
    adapter = np.empty(calls)
    clock = time.perf_counter
    gc_was_on = gc.isenabled()
    gc.disable()  # a collection lands on one arm at random: it is noise, not overhead
    try:
        for i in range(calls):
            t0 = clock()
            engine_call()
            t1 = clock()
            adapter_call()
            t2 = clock()
            engine[i], adapter[i] = t1 - t0, t2 - t1
            if i % 256 == 255:
                gc.collect()
    finally:
        if gc_was_on:
            gc.enable()
    extra = (adapter - engine) * 1e6
    return {"name": name, "engine_p50_us": round(float(np.median(engine)) * 1e6, 1),
            "adapter_p50_us": round(float(np.percentile(extra, 50)), 1),
            "adapter_p99_us": round(float(np.percentile(extra, 99)), 1)}
