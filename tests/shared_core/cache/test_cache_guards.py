"""guard_veto: numbers, identifiers, negation and quoted text the embedding cannot see through."""

from __future__ import annotations

import pytest

from shared_core.cache.guards import guard_veto


@pytest.mark.parametrize("a, b, reason", [
    ("open port 80 on the firewall", "open port 8080 on the firewall", "numbers differ"),
    ("what is 2+2", "what is 2+3", "numbers differ"),
    ("price is 3.50 dollars", "price is 3.05 dollars", "numbers differ"),
    ("add 2 and 3", "add 2 and 3 and 4", "numbers differ"),
    ("restart the web_server process", "restart the db_server process", "identifiers differ"),
    ("what does parseConfig return", "what does parseConfigs return", "identifiers differ"),
    ("is it safe to delete this file", "is it not safe to delete this file", "negation differs"),
    ("is it safe", "isn't it safe", "negation differs"),
    ("a list with duplicates", "a list without duplicates", "negation differs"),
    ("rename 'alpha' to beta", "rename 'gamma' to beta", "quoted text differs"),
])
def test_vetoes(a, b, reason):
    assert guard_veto(a, b) == reason
    assert guard_veto(b, a) == reason  # symmetric


@pytest.mark.parametrize("a, b", [
    ("How do I reset my password?", "how can I reset my password"),
    ("open port 80 on the firewall", "please open port 80 on the firewall"),
    ("sum 3 and 5", "sum 5 and 3"),  # the same numbers, reordered
    ("is it not safe", "it is not safe?"),
    ("call parseConfig now", "now call parseConfig"),
    ("rename 'alpha' please", "please rename 'alpha'"),
    ("", ""),
])
def test_no_veto(a, b):
    assert guard_veto(a, b) is None
