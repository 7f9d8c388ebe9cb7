"""ThresholdCalibrator: serves nothing without evidence; the threshold it learns keeps
wrong hits, counted over all judged lookups, under the target."""

from __future__ import annotations

import numpy as np
import pytest

from shared_core.cache.calibration import NEVER, ThresholdCalibrator


def cal(**kw) -> ThresholdCalibrator:
    args = dict(target_error_rate=0.05, confidence=0.8, floor=0.80, min_evidence=30)
    args.update(kw)
    return ThresholdCalibrator(**args)


def wrong_share(c: ThresholdCalibrator) -> float:
    """Share of all pairs that the learned threshold would have served wrongly."""
    t, need = c.rule
    return sum(1 for s, ok, m in c.pairs if s >= t and m >= need and not ok) / len(c.pairs)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_cold_serves_nothing():
    assert cal().threshold == NEVER > 1.0


def test_little_evidence_serves_nothing_even_if_all_correct(rng):
    c = cal()
    for s in rng.uniform(0.81, 0.99, size=29):
        c.add(s, True)
    assert c.threshold == NEVER


def test_consistent_correct_evidence_lowers_threshold_to_the_lowest_seen(rng):
    c = cal()
    sims = rng.uniform(0.85, 1.0, size=400)
    for s in sims:
        c.add(s, True)
    assert c.threshold == pytest.approx(sims.min())


def test_wrong_pairs_at_low_similarity_are_mostly_kept_out(rng):
    c = cal()
    for s in rng.uniform(0.95, 1.0, size=300):
        c.add(s, True)
    for s in rng.uniform(0.82, 0.90, size=100):
        c.add(s, False)
    assert 0.82 < c.threshold < 0.95  # below every right pair, above most wrong ones
    assert 0.0 < wrong_share(c) <= 0.05  # uses the error budget, not more


@pytest.mark.parametrize("target", [0.01, 0.05, 0.1])
def test_errors_at_every_similarity_stay_under_the_target_share(rng, target):
    c = cal(target_error_rate=target)
    for s in rng.uniform(0.8, 1.0, size=2000):
        c.add(s, rng.random() > 0.2 + (1.0 - s))  # wrong more often the lower the similarity
    assert c.threshold < NEVER and wrong_share(c) <= target


def test_more_errors_move_the_threshold_back_up(rng):
    c = cal()
    for s in rng.uniform(0.85, 1.0, size=200):
        c.add(s, True)
    low = c.threshold
    for s in np.linspace(0.85, 0.999, 200):
        c.add(float(s), bool(int(s * 1000) % 3))  # now a third wrong, everywhere
    assert low < 0.86 and c.threshold > low


def test_threshold_never_below_floor(rng):
    c = cal(floor=0.9)
    for s in rng.uniform(0.8, 1.0, size=500):
        c.add(s, True)
    assert 0.9 <= c.threshold < 0.901


def test_equal_similarities_are_not_split():
    c = cal(target_error_rate=0.02)
    for _ in range(60):
        c.add(0.95, True)
    for _ in range(60):
        c.add(0.95, False)  # a cut cannot separate them, and together they are half wrong
    assert c.threshold == NEVER


def test_window_keeps_recent_pairs():
    c = cal(window=50)
    for i in range(80):
        c.add(0.9, i >= 30)  # the first 30 (wrong) fall out of the window
    assert len(c.pairs) == 50 and all(ok for _, ok, _ in c.pairs)


def test_a_margin_lets_more_through_where_wrong_hits_sit_between_two_entries(rng):
    c = cal(target_error_rate=0.02)
    for s in rng.uniform(0.85, 1.0, size=1000):
        between = rng.random() < 0.1  # a tenth of queries sit as close to a second entry with another answer
        c.add(s, not (between and rng.random() < 0.5), 0.0 if between else 0.2)
    threshold, need = c.rule
    assert need > 0 and threshold < 0.86  # asks for a margin, and then serves almost every clear query
    assert wrong_share(c) <= 0.02


def test_old_pairs_without_a_margin_load_as_clear():
    c = cal()
    c.load({"pairs": [[0.9, True]] * 40})
    assert list(c.pairs)[0] == (0.9, True, 1.0) and c.threshold == 0.9


def test_roundtrip(rng):
    c = cal()
    for s in rng.uniform(0.85, 1.0, size=100):
        c.add(float(s), bool(s > 0.9))
    again = cal()
    again.load(c.to_dict())
    assert list(again.pairs) == list(c.pairs) and again.threshold == c.threshold
