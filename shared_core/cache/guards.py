"""Cheap checks that veto a near-duplicate hit the embedding cannot see through:
two queries that differ in a number, an identifier or a negation usually want
different answers ("port 80" vs "port 8080", "is X safe" vs "is X not safe")."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_IDENT = re.compile(r"\b(?=[A-Za-z0-9_]*[A-Za-z])(?=[A-Za-z0-9_]*(?:\d|_))[A-Za-z0-9_]{3,}\b|\b[a-z]+[A-Z]\w*\b")
_NEGATION = re.compile(r"\b(?:not|no|never|none|nothing|nobody|neither|nor|without|except|cannot)\b|n't\b", re.I)
_QUOTED = re.compile(r"[\"'`]([^\"'`]{1,80})[\"'`]")


def guard_veto(query: str, cached_query: str) -> str | None:
    """The reason the two queries must not share an answer, or None."""
    if sorted(_NUMBER.findall(query)) != sorted(_NUMBER.findall(cached_query)):
        return "numbers differ"
    if sorted(_IDENT.findall(query)) != sorted(_IDENT.findall(cached_query)):
        return "identifiers differ"
    if len(_NEGATION.findall(query)) != len(_NEGATION.findall(cached_query)):
        return "negation differs"
    if sorted(_QUOTED.findall(query)) != sorted(_QUOTED.findall(cached_query)):
        return "quoted text differs"
    return None
