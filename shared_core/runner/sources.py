"""The models `sls run` calls, one per candidate, chosen by its `provider` spec:

    provider: {simulated: demo, sleep: true}          # sls demo's SIMULATED log parsers
    provider: {simulated: echo, fail_rate: 0.05}      # a SIMULATED model that echoes the query
    provider: {replay: qa/arc_challenge.csv.gz}       # recorded RouterBench answers of this model
    provider: {model: "openai:gpt-4o-mini", kwargs: {api_key: "${OPENAI_API_KEY}"}}   # LangChain
    provider: {class: "langchain_anthropic.ChatAnthropic", kwargs: {...}}             # LangChain
    provider: {class: "llama_index.llms.openai.OpenAI", kwargs: {...}}                # LlamaIndex

Simulated models model their time, and with `sleep: true` wait for it (off
the event loop's critical path: an asyncio sleep). A replay path is read
relative to the `data` folder ($SLS_DATA by default). `model` and `class`
specs go through the adapters' provider tables: LangChain's, or LlamaIndex's
for a LlamaIndex LLM class or a `llama_index:` spec (pip install sls[openai] etc.).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..candidates import Answer, Candidate, ReplayCandidate, SimulatedCandidate
from ..config import CandidateConfig, SLSConfig
from ..errors import ConfigError
from ..providers import redact
from ..request import Request
from ..tokens import count_message_tokens


class SimulatedAsync(SimulatedCandidate):
    """A simulated model whose async call waits its modelled time with asyncio,
    so thousands can be in flight without a thread each. `ledger` (a path) gets
    one line per answered call, the job's id: what a provider's bill would list."""

    def __init__(self, *args: Any, sleep_s: bool = False, ledger: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.sleep_s = sleep_s
        self.ledger = ledger

    async def ainvoke(self, request: Request) -> Answer:
        answer = self.invoke(request)
        if self.sleep_s:
            await asyncio.sleep(answer.latency_s)
        if self.ledger is not None:
            with open(self.ledger, "a", encoding="utf-8") as fh:
                fh.write(f"{request.metadata.get('sls_job', '')}\t{self.name}\n")
        return answer


def _echo(name: str) -> Callable[[Request, np.random.Generator], str]:
    return lambda request, rng: f"[{name}, SIMULATED] {request.query}"


def _demo(name: str) -> Callable[[Request, np.random.Generator], str]:
    from ..demo import SKILL, TEMPLATES, simulated_responder

    if name not in SKILL:
        raise KeyError(name)
    return simulated_responder(name, _TemplateTruth(TEMPLATES))


class _TemplateTruth(dict):
    """The demo's template of any line of its workload, found by matching, so
    the demo's simulated models can answer lines they were not built with."""

    def __init__(self, templates: list[str]):
        super().__init__()
        self.patterns = [(t, re.compile(".+?".join(map(re.escape, t.split("<*>"))) + "$")) for t in templates]

    def __missing__(self, line: str) -> str:
        found = next((t for t, rx in self.patterns if rx.match(line)), line)
        self[line] = found
        return found


RESPONDERS = {"echo": _echo, "demo": _demo}


def simulated(cand: CandidateConfig, spec: dict[str, Any], where: str, index: int, **_: Any) -> Candidate:
    kind = spec.get("simulated")
    if kind not in RESPONDERS:
        raise ConfigError(f"{where}.simulated", f"'{kind}' is not one of {', '.join(RESPONDERS)}")
    try:
        respond = RESPONDERS[kind](cand.name)
    except KeyError:
        from ..demo import SKILL

        raise ConfigError(f"{where}.simulated", f"the demo simulates only {', '.join(SKILL)}, "
                                                f"not '{cand.name}'") from None
    return SimulatedAsync(cand, respond, fail_rate=float(spec.get("fail_rate", 0.0)), seed=index,
                          sleep_s=bool(spec.get("sleep", False)), ledger=spec.get("ledger"))


def replay(cand: CandidateConfig, spec: dict[str, Any], where: str, data_dir: Path | None = None,
           **_: Any) -> Candidate:
    path = Path(spec["replay"])
    if not path.is_absolute() and data_dir is not None:
        path = data_dir / path
    if not path.exists():
        raise ConfigError(f"{where}.replay", f"{path} does not exist (relative paths are read from --data "
                                             "or $SLS_DATA)")
    column = spec.get("column", cand.name)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows and f"{column}.output" not in rows[0]:
        raise ConfigError(f"{where}.column", f"{path.name} has no recorded answers of '{column}'")
    records: dict[Any, dict[str, Any]] = {}
    for row in rows:
        rec = {"text": row[f"{column}.output"], "cost_usd": float(row.get(f"{column}.cost") or 0.0)}
        records[row["prompt"]] = records[row["id"]] = rec
    return ReplayCandidate(cand, records)


class LangChainCandidate(Candidate):
    """A LangChain chat model called with the job's messages; its usage is billed."""

    def __init__(self, config: CandidateConfig, model: Any):
        super().__init__(config)
        self.model = model

    def invoke(self, request: Request) -> Answer:
        return self._answer(self.model.invoke(request.messages))

    async def ainvoke(self, request: Request) -> Answer:
        return self._answer(await self.model.ainvoke(request.messages))

    @staticmethod
    def _answer(message: Any) -> Answer:
        content = message.content
        text = content if isinstance(content, str) else "".join(
            p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
        usage = getattr(message, "usage_metadata", None) or {}
        return Answer(text=text, input_tokens=usage.get("input_tokens"), output_tokens=usage.get("output_tokens"))


def langchain(cand: CandidateConfig, spec: dict[str, Any], where: str, index: int = 0, **_: Any) -> Candidate:
    if "class" in spec and _is_llama_index(str(spec["class"]), f"{where}.class"):
        return llama_index(cand, spec, where, index)
    try:
        from langchain_sls.candidates import build_chat_model, redact
    except ImportError as exc:
        raise ConfigError(where, f"real providers go through the LangChain adapter: {exc}") from None
    model = build_chat_model(spec, where)
    cand.provider = redact(spec)  # keys never reach the engine's config, state or logs
    return LangChainCandidate(cand, model)


def _is_llama_index(path: str, where: str) -> bool:
    from ..providers import import_class

    try:
        from llama_index.core.llms.llm import LLM
    except ImportError:
        return False
    cls = import_class(path, where)
    return isinstance(cls, type) and issubclass(cls, LLM)


class LlamaIndexCandidate(LangChainCandidate):
    """A LlamaIndex LLM called with the job's messages."""

    def invoke(self, request: Request) -> Answer:
        return self._reply(self.model.chat(self._messages(request)))

    async def ainvoke(self, request: Request) -> Answer:
        return self._reply(await self.model.achat(self._messages(request)))

    @staticmethod
    def _messages(request: Request) -> list[Any]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=m["role"], content=m.get("content", "")) for m in request.messages]

    @staticmethod
    def _reply(response: Any) -> Answer:
        return Answer(text=response.message.content or "")


def llama_index(cand: CandidateConfig, spec: dict[str, Any], where: str, index: int = 0, **_: Any) -> Candidate:
    try:
        from llama_index_sls.candidates import build_llm
    except ImportError as exc:
        raise ConfigError(where, f"LlamaIndex providers go through the LlamaIndex adapter: {exc}") from None
    llm = build_llm(cand, index)
    cand.provider = redact(spec)
    return LlamaIndexCandidate(cand, llm)


def _simulated_name(spec: dict[str, Any]) -> bool:
    return isinstance(spec.get("simulated"), str)  # a mapping is the LlamaIndex adapter's stand-in options


# the first key of a provider spec that names its kind -> how to build it
SOURCES = {"replay": replay, "model": langchain, "class": langchain, "llama_index": llama_index}


def build_candidates(config: SLSConfig, data_dir: Path | None = None,
                     simulate_missing: bool = False) -> dict[str, Candidate]:
    """One callable model per candidate of the config. A candidate without a
    provider is an error, or with `simulate_missing` the demo's simulated model
    (sls run --simulated, for shared_core/defaults/demo.yaml)."""
    out: dict[str, Candidate] = {}
    for i, cand in enumerate(config.candidates):
        where = f"candidates[{i}].provider"
        spec = dict(cand.provider or {})
        if not spec and simulate_missing:
            spec = {"simulated": "demo"}
        kind = next((k for k in SOURCES if k in spec), None)
        build = simulated if _simulated_name(spec) else SOURCES.get(kind)
        if build is None:
            raise ConfigError(where, f"candidate '{cand.name}' has no model to call: give simulated (demo, echo), "
                                     "replay, model or class (or run with --simulated for the demo's models)")
        out[cand.name] = build(cand, spec, where, index=i, data_dir=data_dir)
    return out


def estimated_tokens(request: Request, cand: CandidateConfig) -> int:
    """What a call is charged against a tokens-per-minute limit before it is made."""
    return count_message_tokens(request.messages) + cand.expected_output_tokens
