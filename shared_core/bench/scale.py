"""What `sls bench cache` and `sls bench route` share: log lines at any count,
the sizes a run grows through, percentiles and the process's memory.

Lines are Loghub's (the logparsing data, with their true templates as the
confirmed answers) when the data folder is there, else generated from the
demo's templates. Past the lines there are, a line comes back with every
number re-drawn: a distinct request with the same shape, as a log stream has.
The last tenth of each system's lines is held out as the new queries.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SLSError
from . import default_data_dir
from .logparsing import read_columns

class BenchArgumentError(SLSError, ValueError):
    """A bench option that cannot be used as given."""


DEFAULT_SIZES = (1_000, 10_000, 100_000)
_NUMBER = re.compile(r"\d+")


@dataclass
class LogCorpus:
    """Lines with their templates: a part to store and a held-out part to ask."""

    lines: list[str]
    templates: list[str]
    held_lines: list[str]
    held_templates: list[str]
    source: str

    def stored(self, n: int, seed: int = 0, distinct: bool = False) -> tuple[list[str], list[str]]:
        """n lines to store and their templates; past the corpus, numbers re-drawn.
        `distinct`: each line also gets a word of random letters in front, so that no
        two lines share a vector (the hashing encoder folds numbers, not letters)."""
        rng = np.random.default_rng(seed)
        lines, templates = [], []
        for i in range(n):
            j = i % len(self.lines)
            line = self.lines[j]
            if i >= len(self.lines):
                line = _NUMBER.sub(lambda _m: str(int(rng.integers(0, 10**6))), line)
            if distinct:
                line = _random_word(rng) + " " + line
            lines.append(line)
            templates.append(self.templates[j])
        return lines, templates

    def queries(self, n: int, seed: int = 1) -> list[str]:
        """n new lines (held out, numbers re-drawn so none repeats a stored one)."""
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(self.held_lines), size=n)
        return [_NUMBER.sub(lambda _m: str(int(rng.integers(0, 10**6))), self.held_lines[int(j)]) for j in picks]


def _random_word(rng: np.random.Generator) -> str:
    return "".join(chr(97 + int(c)) for c in rng.integers(0, 26, size=8))


def load_corpus(data: str | Path | None = None) -> LogCorpus:
    """Loghub's lines from `data` (a folder of <System>.csv.gz); without `data`,
    from the shared data if it is there, else the demo's generated lines."""
    folder = Path(data) if data else default_data_dir() / "logparsing"
    files = sorted(folder.glob("*.csv.gz")) if folder.is_dir() else []
    if not files and data:
        raise BenchArgumentError(f"--data {data}: no Loghub <System>.csv.gz files in that folder")
    if not files:
        return _demo_corpus()
    lines, templates, held_lines, held_templates = [], [], [], []
    for f in files:
        cols = read_columns(f, ["content", "event_template"])
        rows = list(zip(cols["content"], cols["event_template"]))
        cut = len(rows) - len(rows) // 10
        for pos, (line, template) in enumerate(rows):
            (lines if pos < cut else held_lines).append(line)
            (templates if pos < cut else held_templates).append(template)
    return LogCorpus(lines, templates, held_lines, held_templates, f"Loghub ({len(files)} systems, {folder})")


def _demo_corpus() -> LogCorpus:
    from ..demo import TEMPLATES, WORDS

    rng = np.random.default_rng(0)
    fill = lambda t: re.sub(r"<\*>", lambda _m: f"{rng.choice(WORDS)}{int(rng.integers(0, 10**6))}", t)
    lines = [fill(TEMPLATES[i % len(TEMPLATES)]) for i in range(2000)]
    templates = [TEMPLATES[i % len(TEMPLATES)] for i in range(2000)]
    return LogCorpus(lines[:1800], templates[:1800], lines[1800:], templates[1800:], "generated (demo templates)")


def parse_sizes(text: str | None) -> list[int]:
    if not text:
        return list(DEFAULT_SIZES)
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise BenchArgumentError(f"--sizes must be comma-separated whole numbers (e.g. 1000,10000,100000), "
                                 f"got {text!r}") from None
    if not sizes or any(s < 1 for s in sizes):
        raise BenchArgumentError(f"--sizes must be whole numbers >= 1, got {text!r}")
    return sorted(set(sizes))


def percentiles_us(seconds: list[float]) -> tuple[float, float]:
    us = np.asarray(seconds) * 1e6
    return round(float(np.percentile(us, 50)), 1), round(float(np.percentile(us, 99)), 1)


def timed(fn, args_list) -> list[float]:
    """Seconds each call of fn(*args) took, one call per args."""
    out = []
    clock = time.perf_counter
    for args in args_list:
        t = clock()
        fn(*args)
        out.append(clock() - t)
    return out


def release_freed_memory() -> None:
    """Collect garbage and hand freed heap back to the OS (glibc), so that the next
    fill's growth is not hidden by reusing what an earlier size freed."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the figure may then read low
        pass


def rss_bytes() -> int:
    """Resident memory of this process (Linux; 0 where /proc is not there)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")
