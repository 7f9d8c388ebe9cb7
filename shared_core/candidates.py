"""Candidates the engine can call directly, and what a call returns.

Adapters call their own framework's models and hand the engine an `Answer`;
the candidates here serve the engine's own jobs: replays of recorded answers
(benchmarks); simulated models (the demo and offline examples) are in
`simulator.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from .config import CandidateConfig
from .request import Request
from .tokens import count_message_tokens, count_tokens

log = logging.getLogger("sls.candidates")
_USAGE = ("input_tokens", "output_tokens", "cost_usd", "latency_s")


def _usable(value: Any) -> bool:
    """A count or amount SLS can add up: a finite, non-negative number."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


@dataclass
class Answer:
    """What one model call produced. Unset usage is counted; unset cost is
    billed at the candidate's prices; unset latency is the measured wall time."""

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    latency_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-able, cached with the text (tool calls)
    raw: Any = None  # the framework's own object; never cached or persisted
    cacheable: bool = True

    def complete_usage(self, request: Request, cand: CandidateConfig, elapsed_s: float,
                       input_tokens: int | None = None) -> "Answer":
        """Fill in what the call did not report; `input_tokens` is the count the
        caller already made of this request, so it is not counted twice.

        A provider's numbers are untrusted: a NaN, infinite or negative one
        would poison the run's spend (and with it the budget) and the learned
        cost and latency, so it is dropped with a warning and counted here."""
        for name in _USAGE:
            value = getattr(self, name)
            if value is not None and not _usable(value):
                log.warning("candidate %s reported %s=%r: not a finite non-negative number; SLS counts it itself",
                            cand.name, name, value)
                setattr(self, name, None)
        if self.input_tokens is None:
            self.input_tokens = input_tokens if input_tokens is not None else count_message_tokens(
                request.messages, tools=request.tools)
        if self.output_tokens is None:
            self.output_tokens = count_tokens(self.text)
        if self.cost_usd is None:
            self.cost_usd = cand.cost_usd(self.input_tokens, self.output_tokens)
        if self.latency_s is None:
            self.latency_s = elapsed_s
        return self


    def problem(self, request: Request) -> str | None:
        """Why this answer must not be served as good (nor cached), or None: an empty
        answer, or text that is not JSON under a JSON response format."""
        if self.extra.get("tool_calls"):
            return None  # a tool-call turn: its text may well be empty
        if not (self.text or "").strip():
            return "empty answer"
        kind = (request.response_format or {}).get("type")
        if kind in ("json_object", "json_schema"):
            try:
                json.loads(_FENCED_JSON.sub(r"\1", self.text.strip()))
            except ValueError as exc:
                return f"answer is not JSON under response_format {kind} ({exc})"
        return None


# A JSON answer wrapped in a Markdown fence is still JSON (LangChain's parsers agree).
_FENCED_JSON = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


class Candidate(ABC):
    """A model the engine calls itself."""

    def __init__(self, config: CandidateConfig):
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    @abstractmethod
    def invoke(self, request: Request) -> Answer:
        ...

    async def ainvoke(self, request: Request) -> Answer:
        return await asyncio.to_thread(self.invoke, request)

    def stream(self, request: Request) -> Iterator[str]:
        """Chunks of the answer. Default: the whole answer, word by word."""
        yield from split_for_stream(self.invoke(request).text)

    async def astream(self, request: Request) -> AsyncIterator[str]:
        for chunk in await asyncio.to_thread(lambda: list(self.stream(request))):
            yield chunk


def split_for_stream(text: str) -> list[str]:
    """Word-sized pieces that join back to exactly `text`."""
    return re.findall(r"\s*\S+\s*|\s+", text) or [text]


class ReplayCandidate(Candidate):
    """Returns the answer a real model gave to this query when it was recorded,
    and bills its recorded usage. The request's `metadata["replay_key"]` names
    the recorded row; time is modelled from the config's latency hint."""

    def __init__(self, config: CandidateConfig, records: dict[Any, dict[str, Any]]):
        super().__init__(config)
        self.records = records

    def invoke(self, request: Request) -> Answer:
        key = request.metadata.get("replay_key")
        if key not in self.records:
            raise KeyError(f"replay candidate {self.name} has no recorded answer for key {key!r}")
        rec = self.records[key]
        out_tokens = rec.get("output_tokens")
        if out_tokens is None:
            out_tokens = max(1, len(rec["text"]) // 4)
        in_tokens = rec.get("input_tokens")
        cost = rec.get("cost_usd")
        if cost is None and in_tokens is not None:
            cost = self.config.cost_usd(in_tokens, out_tokens)
        return Answer(text=rec["text"], input_tokens=in_tokens, output_tokens=out_tokens, cost_usd=cost,
                      latency_s=self.config.modelled_latency_s(out_tokens))


def __getattr__(name: str) -> Any:
    """`SimulatedCandidate` lives in the simulator core (`simulator.py`); it stays
    importable from here, where it was first defined."""
    if name == "SimulatedCandidate":
        from .simulator import SimulatedCandidate

        return SimulatedCandidate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
