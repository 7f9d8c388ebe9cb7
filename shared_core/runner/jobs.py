"""Jobs of `sls run`: one JSON object a line, read with the line number kept so
that a bad line can be named.

    {"id": "a1", "prompt": "Parse: User bob logged in", "task": "logparsing"}
    {"id": "a2", "messages": [{"role": "user", "content": "..."}], "max_cost": 0.01,
     "tenant": "acme", "verify": {"tests": ["assert f(1) == 2"]}}

`verify` is merged into the request's metadata, where the configured verifiers
look for what they check against (python_tests reads `tests`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RequestError
from ..request import Request

FIELDS = frozenset({"id", "prompt", "messages", "task", "tenant", "max_cost", "verify", "replay_key"})


@dataclass
class Job:
    id: str
    line: int
    request: Request


@dataclass
class BadLine:
    line: int
    error: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.error}"


def parse_job(text: str, line: int) -> Job:
    """A job from one input line; ValueError naming the problem otherwise."""
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    unknown = set(row) - FIELDS
    if unknown:
        raise ValueError(f"unknown field '{sorted(unknown)[0]}'; known: {', '.join(sorted(FIELDS))}")
    job_id = row.get("id")
    if not isinstance(job_id, (str, int)) or isinstance(job_id, bool) or str(job_id) == "":
        raise ValueError("'id' is missing or not a string or integer")
    return Job(str(job_id), line, _request(row))


def _request(row: dict[str, Any]) -> Request:
    if ("prompt" in row) == ("messages" in row):
        raise ValueError("give exactly one of 'prompt' and 'messages'")
    if "prompt" in row:
        if not isinstance(row["prompt"], str):
            raise ValueError("'prompt' must be text")
        messages = [{"role": "user", "content": row["prompt"]}]
    else:
        messages = row["messages"]
        if not isinstance(messages, list):
            raise ValueError("'messages' must be a list of {role, content}")
    metadata: dict[str, Any] = {}
    if row.get("max_cost") is not None:
        cap = row["max_cost"]
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not cap > 0:
            raise ValueError(f"'max_cost' must be a positive number of USD, got {cap!r}")
        metadata["max_cost_usd"] = float(cap)
    verify = row.get("verify")
    if verify is not None:
        if not isinstance(verify, dict):
            raise ValueError("'verify' must be a mapping (e.g. {\"tests\": [...]})")
        metadata.update(verify)
    if "replay_key" in row:
        metadata["replay_key"] = row["replay_key"]
    for name in ("task", "tenant"):
        if name in row and not isinstance(row[name], str):
            raise ValueError(f"'{name}' must be text")
    try:
        request = Request(messages=[dict(m) if isinstance(m, dict) else m for m in messages],
                          task=row.get("task", "default"), tenant=row.get("tenant", "default"), metadata=metadata)
    except RequestError as exc:
        raise ValueError(str(exc)) from None
    # a replayed model looks its recorded answer up by the prompt unless the job names the row
    request.metadata.setdefault("replay_key", request.query)
    return request


def read_jobs(path: str | Path) -> Iterator[Job | BadLine]:
    """Every non-blank line as a Job, or a BadLine saying what is wrong with it
    (a repeated id too: resuming needs ids to be unique)."""
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                job = parse_job(text, number)
            except ValueError as exc:
                yield BadLine(number, str(exc))
                continue
            if job.id in seen:
                yield BadLine(number, f"id '{job.id}' repeats the id of line {seen[job.id]}")
                continue
            seen[job.id] = number
            yield job
