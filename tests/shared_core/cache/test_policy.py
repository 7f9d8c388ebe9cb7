"""Threshold policies by name: learned (per-scope bound plus per-entry evidence), static, none."""

from __future__ import annotations

import pytest

from shared_core.cache.entry import CacheEntry
from shared_core.cache.policy import POLICIES, make_policy
from shared_core.config import SemanticCacheConfig
from shared_core.errors import ConfigError


def entry() -> CacheEntry:
    return CacheEntry(1, "s", "k", "q", "a", "m")


def policy(name, **kw):
    return make_policy(SemanticCacheConfig(policy=name, **kw))


def test_registry_and_unknown_names():
    assert sorted(POLICIES) == ["learned", "none", "static"]
    with pytest.raises(ValueError, match="learned, none, static"):
        policy("vcache")
    with pytest.raises(ConfigError, match="policy"):
        SemanticCacheConfig(policy="vcache").validate("cache.semantic")


def test_static_serves_at_its_cosine_and_learns_nothing():
    p, e = policy("static", initial_threshold=0.9), entry()
    assert p.allows("s", e, 0.9) and not p.allows("s", e, 0.89)
    p.observe("s", e, 0.95, False)
    assert p.allows("s", e, 0.95)


def test_none_never_serves():
    assert not policy("none").allows("s", entry(), 1.0)


def test_learned_is_cold_then_serves_what_evidence_vouches_for():
    p, e = policy("learned", target_error_rate=0.02), entry()
    assert not p.allows("s", e, 0.999)
    for i in range(200):
        p.observe("s", None, 0.9 + i * 0.0005, True)
    assert p.allows("s", e, 0.95) and not p.allows("s", e, 0.85)
    assert not p.allows("other-scope", e, 0.999)


def test_learned_entry_wrong_at_a_similarity_never_serves_there_or_below():
    p, e = policy("learned", target_error_rate=0.05), entry()
    for i in range(200):
        p.observe("s", None, 0.9 + i * 0.0005, True)
    p.observe("s", e, 0.96, False)
    assert not p.allows("s", e, 0.96) and not p.allows("s", e, 0.93)
    assert p.allows("s", e, 0.97) and p.allows("s", entry(), 0.93)  # other entries are not blamed


def test_learned_state_roundtrip():
    p = policy("learned")
    for i in range(50):
        p.observe("s", None, 0.95, i % 10 != 0)
    q = policy("learned")
    q.load(p.to_dict())
    assert q.threshold("s") == p.threshold("s") and list(q.calibrator("s").pairs) == list(p.calibrator("s").pairs)


def test_learned_asks_for_the_margin_its_evidence_needs():
    p, e = policy("learned", target_error_rate=0.02), entry()
    for i in range(1000):
        between = i % 10 == 0  # these sit between two entries with different answers; half are wrong
        p.observe("s", None, 0.9 + (i % 100) * 0.001, not (between and i % 20 == 0), 0.0 if between else 0.2)
    assert p.allows("s", e, 0.95, margin=0.2) and not p.allows("s", e, 0.95, margin=0.0)
