"""The framework-neutral request the engine routes, and the keys that scope its cache."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import RequestError

ROLES = ("system", "user", "assistant", "tool")


@dataclass
class Request:
    """One chat request: messages plus everything that changes what a good answer is.

    `messages` are dicts with `role` and `content` (text); adapters convert their
    framework's messages to this shape. `task` tags the workload ("logparsing",
    "codegen", ...) so learning and task-aware reuse stay within it.
    """

    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] = field(default_factory=list)
    response_format: dict[str, Any] | None = None
    tenant: str = "default"
    task: str = "default"
    candidates: list[str] | None = None
    required_capabilities: frozenset[str] = frozenset()
    pinned_model: str | None = None
    allow_cache: bool | None = None
    max_output_tokens: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # What the cache and the predictor read, when it is not the last user turn
    # (a RAG prompt: the question, not the retrieved context around it).
    query_text: str | None = None
    # What else the answer depends on (a digest of that context): near-duplicate
    # hits need the same context_key; exact hits compare whole messages anyway.
    context_key: str | None = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise RequestError("empty messages: a request needs at least one message")
        for i, m in enumerate(self.messages):
            if not isinstance(m, dict) or "role" not in m:
                raise RequestError(f"message {i} has no role")
            if m["role"] not in ROLES:
                raise RequestError(f"message {i} has unknown role '{m['role']}' (expected one of {ROLES})")
            if not isinstance(m.get("content", ""), str):
                raise RequestError(f"message {i} content must be text, got {type(m['content']).__name__}")
            _check_text(m.get("content", ""), f"messages[{i}].content")
        _check_text(self.query_text or "", "query_text")
        self._check_options()
        if not any(str(m.get("content", "")).strip() or m.get("tool_calls") for m in self.messages):
            raise RequestError("empty messages: every message has empty content")
        needs = set(self.required_capabilities)
        if self.tools:
            needs.add("tools")
        if self.response_format and self.response_format.get("type") == "json_schema":
            needs.add("structured_output")
        self.required_capabilities = frozenset(needs)

    def _check_options(self) -> None:
        if self.candidates is not None and (isinstance(self.candidates, (str, bytes)) or not all(
                isinstance(c, str) for c in self.candidates)):
            raise RequestError(f"candidates (sls_candidates) must be a list of model names, got {self.candidates!r}")
        temperature = self.params.get("temperature")
        if temperature is not None and not (isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
                                            and 0 <= temperature < float("inf")):
            raise RequestError(f"params.temperature must be a number >= 0, got {temperature!r}")
        tokens = self.max_output_tokens
        if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1):
            raise RequestError(f"max_output_tokens must be a whole number >= 1, got {tokens!r}")

    @property
    def query(self) -> str:
        """The text the cache and the predictor look at: `query_text`, else the last user turn."""
        if self.query_text:
            return self.query_text
        for m in reversed(self.messages):
            if m["role"] == "user":
                return m.get("content", "")
        return self.messages[-1].get("content", "")

    @property
    def system_prompt(self) -> str:
        texts = [m.get("content", "") for m in self.messages if m["role"] == "system"]
        return texts[0] if len(texts) == 1 else "\n".join(texts)  # one system turn: no new string

    @property
    def temperature(self) -> float:
        return float(self.params.get("temperature") or 0.0)


    def scope_key(self, candidate_names: list[str]) -> str:
        """Answers are only shared between requests with the same scope: same candidate
        set, sampling parameters, tools, response format, system prompt and tenant.
        Without tools or a response format the digest is memoised: requests of one
        workload share their scope, and digesting it is most of an exact hit's time."""
        memo = None
        if not self.tools and self.response_format is None:
            params = tuple((k, type(v), v) for k, v in sorted(self.params.items()) if k != "stream") \
                if self.params else ()
            memo = (tuple(candidate_names), self.system_prompt, self.tenant, self.task, params)
            try:
                found = _SCOPES.get(memo)  # hashes the memo once: a tuple does not keep its hash
            except TypeError:  # a parameter value that cannot be a key (a list of stop words)
                memo = None
            else:
                if found is not None:
                    return found
        scope = {
            "candidates": sorted(candidate_names),
            "params": {k: v for k, v in sorted(self.params.items()) if k != "stream"},
            "tools": self.tools,
            "format": self.response_format,
            "system": _fold(self.system_prompt),
            "tenant": self.tenant,
            "task": self.task,
        }
        digest = _digest(scope)
        if memo is not None:
            if len(_SCOPES) >= 4096:
                _SCOPES.clear()
            _SCOPES[memo] = digest
        return digest

    def exact_key(self, scope: str) -> str:
        """Hash of the normalized conversation within its scope: every part length-
        prefixed, so no two conversations share a key by where their texts split;
        fed to the hash piece by piece, not through JSON (this is on every request,
        and an exact hit is little else). The hash of the scope alone is kept and
        copied: a workload has few scopes (4.1 -> 1.6 us a key, same digests)."""
        start = _SCOPE_HASHES.get(scope)
        if start is None:
            if len(_SCOPE_HASHES) >= 4096:
                _SCOPE_HASHES.clear()
            start = _SCOPE_HASHES[scope] = hashlib.blake2b(_framed(scope), digest_size=16)
        h = start.copy()  # the kept hash is never updated itself, so threads may share it
        for m in self.messages:
            role = m["role"]
            if role == "system":
                continue
            h.update(_ROLE_FRAMES[role] + _framed(_fold(str(m.get("content", "")))))
            if m.get("tool_call_id") is not None or m.get("tool_calls"):
                h.update(_framed(json.dumps([m.get("tool_call_id"), m.get("tool_calls")], sort_keys=True, default=str)))
        return h.hexdigest()

    def history_key(self) -> str:
        """Digest of the turns before the last user turn (the system prompt is in the
        scope): a near-duplicate hit needs the same earlier turns, not only a like question."""
        last = max((i for i, m in enumerate(self.messages) if m["role"] == "user"), default=len(self.messages))
        turns = [(m["role"], _fold(str(m.get("content", ""))), m.get("tool_call_id"), m.get("tool_calls"))
                 for m in self.messages[:last] if m["role"] != "system"]
        return _digest(turns) if turns else _NO_HISTORY

    def is_follow_up(self) -> bool:
        """True when the conversation already has assistant or tool turns: the last
        user text alone does not determine the answer, so only the exact tier applies."""
        return any(m["role"] in ("assistant", "tool") for m in self.messages)


ROUTING_OPTIONS = ("sls_task", "sls_tenant", "sls_candidates", "sls_allow_cache", "sls_max_cost_usd", "sls_metadata")


@dataclass
class RoutingOptions:
    """The `sls_*` keyword arguments of one adapter call: they steer routing and
    never reach the candidate. `metadata` holds `max_cost_usd` when one was given."""

    task: str
    tenant: str
    candidates: list[str] | None
    allow_cache: bool | None
    metadata: dict[str, Any]


def pop_routing_options(kwargs: dict[str, Any], *, task: str, tenant: str, candidates: list[str] | None = None,
                        allow_cache: bool | None = None) -> RoutingOptions:
    """Take the `sls_*` options out of a call's `kwargs` (what is left goes to the
    candidate); the keyword arguments here are the router's defaults."""
    unknown = sorted(k for k in kwargs if k.startswith("sls_") and k not in ROUTING_OPTIONS)
    if unknown:
        raise RequestError(f"unknown routing option {unknown[0]!r}; known: {', '.join(ROUTING_OPTIONS)}")
    metadata = kwargs.pop("sls_metadata", None) or {}
    if not isinstance(metadata, dict):
        raise RequestError(f"sls_metadata must be a dict, got {type(metadata).__name__}")
    metadata = dict(metadata)
    max_cost = kwargs.pop("sls_max_cost_usd", None)
    if max_cost is not None:
        if isinstance(max_cost, bool) or not isinstance(max_cost, (int, float)) or not max_cost >= 0:
            raise RequestError(f"sls_max_cost_usd must be a number >= 0 (USD), got {max_cost!r}")
        metadata["max_cost_usd"] = float(max_cost)
    return RoutingOptions(task=kwargs.pop("sls_task", None) or task, tenant=kwargs.pop("sls_tenant", None) or tenant,
                          candidates=kwargs.pop("sls_candidates", candidates),
                          allow_cache=kwargs.pop("sls_allow_cache", allow_cache), metadata=metadata)


_SCOPES: dict[tuple, str] = {}  # Request.scope_key's memo
_SCOPE_HASHES: dict[str, Any] = {}  # Request.exact_key's: a scope's blake2b state, to copy


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no model, cache key or log can take it
        raise RequestError(f"{where} is not valid text: {exc.reason} at position {exc.start}") from None


def _fold(text: str) -> str:
    return " ".join(text.split())  # white space runs folded, ends stripped


def _framed(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(8, "little") + data


def _digest(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


_NO_HISTORY = _digest([])  # a first question's history_key: most requests have no earlier turns
_ROLE_FRAMES = {r: _framed(r) for r in ROLES}  # exact_key frames a role on every turn
