"""Retrieval prompts: the question of a template call (`predict`, `stream`).

A query engine fills a template (`query_str`, `context_str`); the formatted
prompt is mostly retrieved context, so as the cache's and predictor's text it
makes different questions over the same chunks look alike. While a template
call turns into messages, its `query_str` is remembered here; the request's
query text is then that question, and the rest of the prompt becomes part of
the cache scope (`context_key`).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from llama_index.core.prompts import BasePromptTemplate

_QUESTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("sls_question", default=None)


def _template_question(prompt: BasePromptTemplate, prompt_args: dict[str, Any]) -> str | None:
    value = prompt_args.get("query_str")
    if value is None:
        value = (getattr(prompt, "kwargs", None) or {}).get("query_str")
    return value.strip() if isinstance(value, str) and value.strip() else None


@contextmanager
def asking(prompt: BasePromptTemplate, prompt_args: dict[str, Any]) -> Iterator[None]:
    """Remember a template call's question while LlamaIndex turns it into messages."""
    token = _QUESTION.set(_template_question(prompt, prompt_args))
    try:
        yield
    finally:
        _QUESTION.reset(token)


def question_and_context(engine_messages: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """(the template question, a digest of the rest of the prompt) when the last
    user turn is a prompt built around the question, else (None, None)."""
    question = _QUESTION.get()
    if question is None:
        return None, None
    last_user = next((m["content"] for m in reversed(engine_messages) if m["role"] == "user"), "")
    if question not in last_user or last_user.strip() == question:
        return None, None
    rest = [(m["role"], str(m.get("content", "")).replace(question, "{query_str}")) for m in engine_messages]
    return question, hashlib.sha256(json.dumps(rest, ensure_ascii=False).encode()).hexdigest()[:24]
