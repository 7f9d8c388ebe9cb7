"""Offline token counting with tiktoken.

tiktoken downloads its encodings on first use; llama-index-core ships
cl100k_base and o200k_base, so point TIKTOKEN_CACHE_DIR there when the user has
not set it. Without any encoding, fall back to characters / 4 (and say so once).
"""

from __future__ import annotations

import functools
import json
import importlib.util
import logging
import os
from pathlib import Path

log = logging.getLogger("sls.tokens")
DEFAULT_ENCODING = "cl100k_base"


def _shipped_cache_dir() -> str | None:
    try:
        spec = importlib.util.find_spec("llama_index.core")
    except ModuleNotFoundError:  # llama-index-core is an extra (sls[llamaindex])
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "_static" / "tiktoken_cache"
    return str(path) if path.is_dir() else None


def get_encoding(name: str = DEFAULT_ENCODING):
    """The tiktoken encoding, or None when it cannot be loaded offline."""
    return _load_encoding(name)  # one cache entry per name, however it is passed


@functools.lru_cache(maxsize=4)
def _load_encoding(name: str):
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        shipped = _shipped_cache_dir()
        if shipped:
            os.environ["TIKTOKEN_CACHE_DIR"] = shipped
    try:
        import tiktoken

        return tiktoken.get_encoding(name)
    except Exception as exc:  # no file and no network: degrade, don't fail a request
        log.warning("tiktoken cannot load encoding %s (%s: no network and no cached copy?); counting tokens as "
                    "characters/4. llama-index-core ships the encodings (pip install 'sls[llamaindex]'), or set "
                    "TIKTOKEN_CACHE_DIR", name, type(exc).__name__)
        return None


# system prompts and few-shot blocks come back with every request: their counts are
# memoised; texts longer than this are counted afresh (the memo stays under ~32 MB)
MEMO_CHARS = 16_384


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    if len(text) <= MEMO_CHARS:
        return _count_memo(text, encoding)
    return _count(text, encoding)


@functools.lru_cache(maxsize=2048)
def _count_memo(text: str, encoding: str) -> int:
    return _count(text, encoding)


def _count(text: str, encoding: str) -> int:
    enc = get_encoding(encoding)
    if enc is None:
        return max(1, len(text) // 4) if text else 0
    return len(enc.encode(text, disallowed_special=()))


def count_message_tokens(messages: list[dict], encoding: str = DEFAULT_ENCODING,
                         tools: list[dict] | None = None) -> int:
    """Tokens of a chat: content, tool calls and tool schemas (sent as JSON),
    plus the few tokens each message's framing costs."""
    total = 2
    for m in messages:
        total += count_tokens(str(m.get("content", "")), encoding) + 4
        if m.get("tool_calls"):
            total += count_tokens(json.dumps(m["tool_calls"], default=str), encoding)
    if tools:
        total += count_tokens(json.dumps(tools, default=str), encoding)
    return total
