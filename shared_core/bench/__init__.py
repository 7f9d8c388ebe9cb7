"""Replay benchmarks on recorded LLM answers, and the micro-benchmarks."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """SLS_DATA, else ../shared/data beside the working directory."""
    return Path(os.environ.get("SLS_DATA", Path.cwd().parent / "shared" / "data"))
