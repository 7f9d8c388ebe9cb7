"""`sls run`: big batches of jobs through the engine (see batch.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ..config import SLSConfig
from ..engine import Engine
from .batch import BadInputError, BatchRunner, RunOptions
from .jobs import BadLine, Job, parse_job, read_jobs
from .journal import Journal
from .sources import build_candidates

__all__ = ["BadInputError", "BadLine", "BatchRunner", "Job", "Journal", "RunOptions", "build_candidates",
           "parse_job", "read_jobs", "run_batch"]


def run_batch(config: SLSConfig, options: RunOptions, data_dir: Path | None = None,
              simulated: bool = False) -> dict[str, Any]:
    """Run the batch to its end (or to the budget) and return its summary; the
    engine's state is saved even when the run is interrupted."""
    engine = Engine(config, build_candidates(config, data_dir, simulate_missing=simulated))
    try:
        runner = BatchRunner(engine, options)
        return asyncio.run(runner.run())
    finally:
        engine.close()
