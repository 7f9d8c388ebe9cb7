"""HashingEncoder: unit vectors, deterministic, digits folded."""

from __future__ import annotations

import numpy as np
import pytest

from shared_core.encoders import HashingEncoder, make_encoder

TEXTS = ["Connection to 10.0.0.1 port 80 closed", "What is the capital of France?", "def add(a, b): return a + b"]


def cos(enc, a, b):
    v = enc.encode([a, b])
    return float(v[0] @ v[1])


def test_shape_dtype_and_unit_norm():
    enc = HashingEncoder(dim=128)
    v = enc.encode(TEXTS)
    assert v.shape == (3, 128) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert enc.encode([]).shape == (0, 128)


def test_empty_text_is_a_zero_row():
    v = HashingEncoder().encode(["", "x"])
    assert not v[0].any() and np.linalg.norm(v[1]) == pytest.approx(1.0, abs=1e-5)


def test_deterministic_across_instances():
    a, b = HashingEncoder(dim=256), HashingEncoder(dim=256)
    np.testing.assert_array_equal(a.encode(TEXTS), b.encode(TEXTS))
    np.testing.assert_array_equal(a.encode_one(TEXTS[1]), b.encode(TEXTS)[1])
    np.testing.assert_array_equal(a.encode(TEXTS), a.encode(TEXTS))  # memo does not change results


def test_numbers_are_folded():
    enc = HashingEncoder()
    assert cos(enc, "open port 80 on host 10.0.0.1", "open port 8080 on host 192.168.1.20") > 0.999
    assert cos(enc, "PacketResponder 1 for block blk_-16 terminating",
               "PacketResponder 2 for block blk_-5009020203888190378 terminating") > 0.999


def test_different_texts_are_less_similar():
    enc = HashingEncoder()
    same_topic = cos(enc, "How do I reset my password?", "how can I reset my password")
    unrelated = cos(enc, "How do I reset my password?", "The quick brown fox jumps over the lazy dog")
    assert 0.6 < same_topic < 0.999
    assert unrelated < 0.3 and unrelated < same_topic
    v = enc.encode(TEXTS)
    sims = v @ v.T
    assert np.all(sims[~np.eye(3, dtype=bool)] < 0.5)


def test_case_and_whitespace_insensitive():
    enc = HashingEncoder()
    np.testing.assert_allclose(enc.encode_one("Hello   World\n"), enc.encode_one("hello world"), atol=1e-6)


def test_max_chars_keeps_both_ends():
    enc = HashingEncoder(max_chars=20)
    head, tail = "start of it ", " the question?"
    a = enc.encode_one(head + "x" * 50 + tail)
    np.testing.assert_array_equal(a, enc.encode_one(head + "y" * 50 + tail))  # the middle is dropped
    assert float(a @ enc.encode_one(head + "x" * 50 + " another ask!")) < 0.99  # the end still counts
    assert float(a @ enc.encode_one("other start" + "x" * 50 + tail)) < 0.99  # and so does the start


def test_make_encoder():
    enc = make_encoder("hashing", dim=64)
    assert isinstance(enc, HashingEncoder) and enc.dim == 64 and enc.name == "hashing-64"
    assert enc.encode_one("x").shape == (64,)
    with pytest.raises(ValueError, match="unknown encoder type 'bogus'"):
        make_encoder("bogus")


def test_lines_that_differ_in_numbers_share_one_memoised_vector_and_the_memo_stays_bounded():
    enc = HashingEncoder()
    enc.max_vectors = 3
    first = enc.encode(["port 8080 open"])[0]
    again = enc.encode(["port 443 open"])[0]
    assert np.array_equal(first, again) and len(enc._vectors) == 1
    again[0] = 99.0  # a caller's row is its own copy
    assert enc.encode(["port 1 open"])[0][0] != 99.0
    fresh = HashingEncoder().encode([f"line {w}" for w in ("alpha", "beta", "gamma", "delta")])
    assert np.array_equal(enc.encode([f"line {w}" for w in ("alpha", "beta", "gamma", "delta")]), fresh)
    assert len(enc._vectors) == 3  # the oldest dropped first
