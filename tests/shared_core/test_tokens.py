"""Token counting, offline with the encodings llama-index-core ships."""

from __future__ import annotations

from shared_core.tokens import _shipped_cache_dir, count_message_tokens, count_tokens, get_encoding


def test_counts_with_cl100k_offline():
    assert get_encoding("cl100k_base") is not None
    assert count_tokens("hello world") == 2
    assert count_tokens("") == 0
    assert count_tokens("hello world " * 50) > count_tokens("hello world")


def test_special_tokens_are_counted_as_text():
    assert count_tokens("<|endoftext|>") > 1  # no error, and not a single special token


def test_shipped_cache_is_found():
    path = _shipped_cache_dir()
    assert path is not None and "tiktoken_cache" in path


def test_message_tokens_add_framing():
    one = [{"role": "user", "content": "hello world"}]
    assert count_message_tokens(one) == 2 + 4 + 2
    two = one + [{"role": "assistant", "content": "hello world"}]
    assert count_message_tokens(two) == 2 * (2 + 4) + 2
    assert count_message_tokens([{"role": "assistant"}]) == 0 + 4 + 2  # no content: framing only
    assert count_message_tokens([]) == 2


def test_unknown_encoding_falls_back_to_characters():
    assert get_encoding("no_such_encoding") is None
    assert count_tokens("abcdefgh", encoding="no_such_encoding") == 2
    assert count_tokens("abc", encoding="no_such_encoding") == 1
    assert count_tokens("", encoding="no_such_encoding") == 0
