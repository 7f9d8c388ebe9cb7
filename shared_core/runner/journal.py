"""What `sls run` has done, on disk as it happens, so that a killed run resumes.

Two append-only JSON-lines files:
- the output: one line per finished job, written when it finishes;
- the journal (`<output>.journal`): one line per answer a model returned,
  written the moment it returns, before anything else runs. It is the bill.

A resumed run skips the jobs in the output, and serves a job the journal has
an answer for from that answer instead of calling (and paying) again. Each
line goes out in a single write, so a kill -9 leaves at most a torn last line,
which the next run cuts off. What no client can keep is an answer the provider
has billed and the process has not yet written down: a kill in that window
(on the wire for a remote model, microseconds for an in-process one) buys that
answer again on resume.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import SLSError


class Journal:
    def __init__(self, output: str | Path, journal: str | Path | None = None):
        self.output = Path(output)
        self.journal = Path(journal) if journal else self.output.with_name(self.output.name + ".journal")
        self._out: int | None = None
        self._jrn: int | None = None

    def resume(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], float]:
        """(finished jobs by id, answers paid for but not yet written by id,
        USD paid so far over every run)."""
        done = {row["id"]: row for row in _read(self.output)}
        paid: dict[str, dict[str, Any]] = {}
        paid_usd = 0.0
        for row in _read(self.journal):
            paid_usd += row.get("cost_usd") or 0.0
            if row["id"] not in done:
                paid[row["id"]] = row
        return done, paid, paid_usd

    def open(self) -> None:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self._out = os.open(self.output, flags, 0o644)
        self._jrn = os.open(self.journal, flags, 0o644)

    def paid(self, row: dict[str, Any]) -> None:
        _append(self._jrn, row)

    def done(self, row: dict[str, Any]) -> None:
        _append(self._out, row)

    def close(self) -> None:
        for fd in (self._out, self._jrn):
            if fd is not None:
                os.close(fd)
        self._out = self._jrn = None


def _append(fd: int | None, row: dict[str, Any]) -> None:
    if fd is None:
        raise SLSError("the journal is not open")
    os.write(fd, (json.dumps(row, ensure_ascii=False) + "\n").encode())


def _read(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file; a torn last line (a killed write) is cut off."""
    if not path.exists():
        return []
    blob = path.read_bytes()
    end = blob.rfind(b"\n") + 1
    if end < len(blob):
        with open(path, "r+b") as fh:
            fh.truncate(end)
    rows = []
    for number, line in enumerate(blob[:end].splitlines(), start=1):
        try:
            rows.append(json.loads(line))
        except ValueError as exc:
            raise SLSError(f"{path} line {number} is not JSON ({exc}); it was not written by sls run") from None
        if not isinstance(rows[-1], dict) or "id" not in rows[-1]:
            raise SLSError(f"{path} line {number} has no job id; it was not written by sls run")
    return rows
