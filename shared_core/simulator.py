"""The simulator core: SIMULATED models for offline demos, examples and tests,
in no framework. They are not language models, and every answer they give is
labelled simulated by the skin that shows it.

- answers: rules (keyword -> answer), or a responder `respond(request, rng)`
  such as `extractive_responder` (the context sentence that best fits the query);
- tools: rules (`choose_tool_calls`: name, args, keyword) or the scripted policy
  of `plan_tool_calls` (the best-matching tool, arguments from the query);
- latency: modelled from the candidate's latency hint, never slept unless asked;
- scripted failures (`Failures`): the first N calls, a seeded share of calls,
  or mid-stream after N chunks, as provider-like errors.

`SimulatedCandidate` is the engine-facing model (`sls demo`, `sls run
--simulated`); `langchain_sls/simulated.py` and `llama_index_sls/simulated.py`
are the two framework skins over the same functions.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .candidates import Answer, Candidate
from .config import CandidateConfig
from .request import Request
from .tokens import count_message_tokens, count_tokens

Responder = Callable[[Request, np.random.Generator], str]


# -- scripted failures ----------------------------------------------------------------------
class SimulatedProviderError(Exception):
    """A provider-like failure raised by a simulated model."""

    status_code: int = 500


class SimulatedRateLimitError(SimulatedProviderError):
    status_code = 429


class SimulatedServerError(SimulatedProviderError):
    status_code = 503


ERRORS: dict[str, Callable[[str], Exception]] = {
    "rate_limit": lambda who: SimulatedRateLimitError(f"simulated 429 rate limit from {who}"),
    "server": lambda who: SimulatedServerError(f"simulated 503 from {who}"),
    "timeout": lambda who: TimeoutError(f"simulated timeout from {who}"),
    "connection": lambda who: ConnectionError(f"simulated provider error from {who}"),
}


@dataclass
class Failures:
    """When a simulated model fails like a provider: on its first `first` calls,
    on a share `rate` of calls (drawn from the model's seeded rng), and when
    streaming, after `after_chunks` chunks."""

    first: int = 0
    rate: float = 0.0
    after_chunks: int | None = None
    error: str = "server"
    calls: int = 0

    def __post_init__(self) -> None:
        if self.error not in ERRORS:
            raise ValueError(f"unknown simulated error {self.error!r}; known: {', '.join(ERRORS)}")

    def on_call(self, who: str, rng: np.random.Generator | None = None) -> None:
        """Count a call; raise its scripted failure, if it has one."""
        self.calls += 1
        if self.calls <= self.first or (self.rate and rng is not None and rng.random() < self.rate):
            raise ERRORS[self.error](who)

    def on_chunk(self, index: int, who: str) -> None:
        if self.after_chunks is not None and index >= self.after_chunks:
            raise ERRORS[self.error](who)


# -- answers ---------------------------------------------------------------------------------
def keyword_answer(rules: dict[str, str], default: str, model: str, query: str) -> str:
    """The answer of the first rule whose keyword (case-insensitive) is in the
    query, else `default`; `{model}` and `{query}` are filled in."""
    low = query.lower()
    answer = next((a for keyword, a in rules.items() if keyword.lower() in low), default)
    return answer.format(model=model, query=query)


_STOP = frozenset(
    "a an the is are was were be been to of in on for and or what which who whom how when where why does do did "
    "can could should would will with by from at as it its this that these those about tell me please much many "
    "there their they them than then into any some our your you we i my get give".split())
_WORD = re.compile(r"[a-z0-9]+")
_DASHED = re.compile(r"-{5,}\n(.*?)\n-{5,}", re.S)
_DOCS = re.compile(r"relevant documents for the context:\s*(.*?)\s*Instruction:", re.S | re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_QUOTED = re.compile(r"[\"']([^\"']{1,60})[\"']")
_CAPITAL = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)")


def words(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(text.lower()):
        if w in _STOP or len(w) < 2:
            continue
        out.append(w[:-1] if len(w) > 4 and w.endswith("s") else w)
    return out


def query_and_context(messages: Sequence[dict[str, Any]]) -> tuple[str, str | None, bool]:
    """(query, context or None, is_condense) from engine-style message dicts."""
    last_user = next((m.get("content", "") for m in reversed(messages) if m["role"] == "user"),
                     messages[-1].get("content", ""))
    if "Standalone question:" in last_user and "Follow Up Input:" in last_user:
        follow = last_user.split("Follow Up Input:", 1)[1].split("Standalone question:", 1)[0]
        return follow.strip(), None, True
    query = last_user
    if "Query:" in last_user:
        query = last_user.rsplit("Query:", 1)[1].split("\nAnswer", 1)[0].strip()
    elif "The original query is as follows:" in last_user:
        query = last_user.split("The original query is as follows:", 1)[1].split("\n", 1)[0].strip()
    everything = "\n".join(str(m.get("content", "")) for m in messages if m["role"] in ("system", "user"))
    blocks = _DASHED.findall(everything) or _DOCS.findall(everything)
    return query, ("\n".join(blocks) if blocks else None), False


def extractive_responder(skill: float = 0.9, label: str = "") -> Responder:
    """A responder that answers retrieval prompts from their context: the
    sentence that best matches the query; with probability `1 - skill` a
    plausible but worse one, so weaker simulated models are wrong more often."""

    def respond(request: Request, rng: np.random.Generator) -> str:
        query, context, condense = query_and_context(request.messages)
        if condense:
            return query
        if context is None:
            return f"{label}I can only answer questions about the documents I am given; you asked: {query}".strip()
        qwords = set(words(query))
        sentences = [s.strip() for s in _SENTENCE.split(context) if len(s.split()) >= 4 and ":" not in s[:20]]
        if not sentences or not qwords:
            return "I don't know; the context does not say."
        scores = [len(qwords & set(words(s))) for s in sentences]
        ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
        if scores[ranked[0]] == 0:
            return "I don't know; the context does not say."
        pick = ranked[0]
        if rng.random() > skill and len(ranked) > 1:
            pick = ranked[1 + int(rng.integers(0, min(3, len(ranked) - 1)))]
        return sentences[pick]

    return respond


# -- tools -------------------------------------------------------------------------------------
def choose_tool_calls(rules: list[dict[str, Any]], schemas: dict[str, dict[str, Any]], tool_choice: Any,
                      query: str) -> list[dict[str, Any]]:
    """Tool calls by rule (`{name, args?, when?}`, `when` a keyword of the query)
    among the bound tools (`{name: parameters schema}`), as `tool_choice` allows;
    a forced tool no rule names is called with placeholder arguments."""
    if not schemas:
        return []
    forced = _forced_tool(tool_choice, list(schemas))
    low = query.lower()
    for rule in rules:
        name = rule.get("name")
        if name in schemas and (forced in (None, "*") or forced == name) and \
                (not rule.get("when") or str(rule["when"]).lower() in low):
            return [{"name": name, "args": dict(rule.get("args") or example_for(schemas[name]))}]
    if forced:
        name = next(iter(schemas)) if forced == "*" else forced
        return [{"name": name, "args": example_for(schemas.get(name, {}))}]
    return []


def _forced_tool(tool_choice: Any, names: list[str]) -> str | None:
    """'*' when any tool must be called, a name when that one must, None when free."""
    if tool_choice in (None, False, "auto", "none"):
        return None
    if tool_choice in (True, "any", "required"):
        return "*"
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
        return name if name in names else "*"
    return tool_choice if tool_choice in names else "*"


def example_for(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A placeholder value that fits a JSON schema (how a simulated model fills tool args)."""
    defs = defs if defs is not None else schema.get("$defs", schema.get("definitions", {}))
    if "$ref" in schema:
        return example_for(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_for(options[0], defs)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        return {k: example_for(v, defs) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [example_for(schema.get("items") or {}, defs)]
    return {"integer": 1, "number": 1.0, "boolean": True, "null": None}.get(kind, "simulated")


def plan_tool_calls(query: str, tools: Sequence[dict[str, Any]], salt: str = "") -> list[dict[str, Any]]:
    """The scripted tool policy: among `tools` (`{name, description, parameters}`)
    the one whose name and description best match the query, its arguments
    filled from the query; `[{id, name, kwargs}]`, or [] when none matches."""
    qwords = set(words(query))
    best, best_score = None, 0
    for tool in tools:
        score = len(qwords & set(words(tool["name"].replace("_", " ") + " " + (tool.get("description") or ""))))
        if score > best_score:
            best, best_score = tool, score
    if best is None:
        return []
    args = fill_arguments(query, best.get("parameters") or {})
    call_id = "call_" + hashlib.sha1(f"{salt}|{query}|{best['name']}".encode()).hexdigest()[:12]
    return [{"id": call_id, "name": best["name"], "kwargs": args}]


def fill_arguments(query: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Arguments for a JSON-schema `parameters` from the numbers and names in the query."""
    props = parameters.get("properties", {})
    required = parameters.get("required", list(props))
    numbers = _NUMBER.findall(query)
    names = _QUOTED.findall(query) or _CAPITAL.findall(query)
    args: dict[str, Any] = {}
    for name, spec in props.items():
        kind = spec.get("type")
        if kind in ("integer", "number") and numbers:
            raw = numbers.pop(0)
            args[name] = int(float(raw)) if kind == "integer" else float(raw)
        elif kind == "string" and names:
            args[name] = names.pop(0)
        elif kind == "string" and name in required:
            content = [w for w in _WORD.findall(query.lower()) if w not in _STOP]
            if content:
                args[name] = max(content, key=len)
    return args


# -- usage and latency ----------------------------------------------------------------------------
def simulated_usage(messages: list[dict[str, Any]], text: str, extra: str = "") -> tuple[int, int]:
    """(input, output) tokens of a simulated answer: the conversation in, the
    text and `extra` (serialised tool calls) out."""
    return count_message_tokens(messages), count_tokens(text) + (count_tokens(extra) if extra else 0)


def modelled_answer(config: CandidateConfig, messages: list[dict[str, Any]], text: str, extra: str = "") -> Answer:
    """An answer of `text` (and `extra`, serialised tool calls) with counted usage
    and the latency `config` models for it."""
    tin, tout = simulated_usage(messages, text, extra)
    return Answer(text=text, input_tokens=tin, output_tokens=tout, latency_s=config.modelled_latency_s(tout))


class SimulatedCandidate(Candidate):
    """A stand-in model for offline demos and examples, labelled as simulated.

    `respond(request, rng)` produces the answer; `fail_rate` raises provider-like
    errors (ConnectionError) so fallback can be seen at work. Time is modelled,
    not slept (unless `sleep`)."""

    def __init__(self, config: CandidateConfig, respond: Responder, fail_rate: float = 0.0, seed: int = 0,
                 sleep: bool = False):
        super().__init__(config)
        self.respond = respond
        self.failures = Failures(rate=fail_rate, error="connection")
        self.rng = np.random.default_rng(seed)
        self.sleep = sleep

    @property
    def fail_rate(self) -> float:
        return self.failures.rate

    @fail_rate.setter
    def fail_rate(self, rate: float) -> None:
        self.failures.rate = rate

    @property
    def calls(self) -> int:
        return self.failures.calls

    def check_failure(self) -> None:
        """Count a call and raise its scripted failure, if it has one (the skins
        call this for answers they make themselves, such as tool calls)."""
        self.failures.on_call(self.name, self.rng)

    def invoke(self, request: Request) -> Answer:
        self.check_failure()
        answer = modelled_answer(self.config, request.messages, self.respond(request, self.rng))
        if self.sleep:
            time.sleep(answer.latency_s)
        return answer
