"""What an adapter adds to the engine's own time per call, measured in one run.

The `sls.route_probes` of the adapters (`langchain_sls._probe`,
`llama_index_sls._probe`) call the same engine, with the same candidate, two
ways, alternately: the engine alone (`engine_call`), and through the adapter
(`adapter_call`). Alternating pairs keep a noisy, shared machine's drift out
of the difference; the adapter's overhead is the per-pair difference.

Part of that is the framework's, not ours: an adapter is one of the
framework's chat models, and its `invoke` / `chat` runs the framework's
callbacks, tracing and result types whatever the model does. A probe may pass
`framework`: the framework's call of a model that does nothing, and that
model's body alone; their per-pair difference, measured in the same loop, is
the floor no adapter of that framework can go under.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def paired_overhead(name: str, engine_call: Callable[[], Any], adapter_call: Callable[[], Any], *,
                    framework: tuple[Callable[[], Any], Callable[[], Any]] | None = None,
                    calls: int = 2000, warmup: int = 200) -> dict[str, Any]:
    """p50 of the engine's time per call, p50 / p99 of what the adapter adds to it
    and, with `framework` (the framework's call, the bare body), the p50 of what
    the framework's own call costs (us)."""
    arms = [engine_call, adapter_call, *(framework or ())]
    for _ in range(warmup):
        for arm in arms:
            arm()
    times = np.empty((len(arms), calls))
    clock = time.perf_counter
    gc_was_on = gc.isenabled()
    gc.disable()  # a collection lands on one arm at random: it is noise, not overhead
    try:
        for i in range(calls):
            for k, arm in enumerate(arms):
                t0 = clock()
                arm()
                times[k, i] = clock() - t0
            if i % 256 == 255:
                gc.collect()
    finally:
        if gc_was_on:
            gc.enable()
    extra = (times[1] - times[0]) * 1e6
    out = {"name": name, "engine_p50_us": round(float(np.median(times[0])) * 1e6, 1),
           "adapter_p50_us": round(float(np.percentile(extra, 50)), 1),
           "adapter_p99_us": round(float(np.percentile(extra, 99)), 1)}
    if framework:
        out["framework_p50_us"] = round(float(np.median(times[2] - times[3])) * 1e6, 1)
    return out
