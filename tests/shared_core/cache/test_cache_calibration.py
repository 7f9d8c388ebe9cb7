"""ThresholdCalibrator: conservative without evidence, learns a lower threshold from
consistent correct evidence, refuses when no similarity is safe."""

from __future__ import annotations

import numpy as np
import pytest

from shared_core.cache.calibration import ThresholdCalibrator


def cal(**kw) -> ThresholdCalibrator:
    args = dict(target_error_rate=0.05, confidence=0.8, initial=0.99, floor=0.80, min_evidence=30)
    args.update(kw)
    return ThresholdCalibrator(**args)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_no_evidence_keeps_initial():
    assert cal().threshold == 0.99


def test_little_evidence_keeps_initial_even_if_all_correct(rng):
    c = cal()
    for s in rng.uniform(0.81, 0.99, size=29):
        c.add(s, True)
    assert len(c.pairs) == 29 and c.threshold == 0.99


def test_consistent_correct_evidence_lowers_threshold(rng):
    c = cal()
    for s in rng.uniform(0.85, 1.0, size=400):
        c.add(s, True)
    t = c.threshold
    assert 0.80 <= t < 0.87  # close to the lowest similarity seen, far below 0.99


def test_threshold_separates_errors_at_low_similarity(rng):
    c = cal()
    for s in rng.uniform(0.95, 1.0, size=300):
        c.add(s, True)
    for s in rng.uniform(0.82, 0.90, size=100):
        c.add(s, False)
    t = c.threshold
    assert 0.85 < t < 0.95  # well below the initial value, not down among the wrong pairs
    served = [ok for s, ok in c.pairs if s >= t]
    assert len(served) >= 300 and served.count(False) / len(served) <= 0.05  # meets the target above it


def test_errors_spread_across_all_similarities_refuse(rng):
    c = cal()
    sims = np.sort(rng.uniform(0.8, 1.0, size=400))[::-1]
    for i, s in enumerate(sims):
        c.add(s, i % 5 != 0)  # 20% wrong at every similarity, the highest included
    assert c.threshold > 1.0  # nothing is safe: no near-duplicate can clear it


def test_more_evidence_moves_threshold_back_up(rng):
    c = cal()
    for s in rng.uniform(0.85, 1.0, size=200):
        c.add(s, True)
    low = c.threshold
    for s in np.linspace(0.85, 0.999, 200):
        c.add(float(s), bool(int(s * 1000) % 3))  # now a third wrong, everywhere
    assert low < 0.87 and c.threshold > low


def test_pairs_below_floor_are_ignored():
    c = cal()
    for _ in range(100):
        c.add(0.5, False)
    assert len(c.pairs) == 0 and c.threshold == 0.99


def test_threshold_never_below_floor(rng):
    c = cal(floor=0.9, initial=0.95)
    for s in rng.uniform(0.9, 1.0, size=500):
        c.add(s, True)
    assert 0.9 <= c.threshold < 0.91


def test_equal_similarities_are_not_split():
    c = cal()
    for _ in range(60):
        c.add(0.95, True)
    for _ in range(60):
        c.add(0.95, False)  # same similarity as the correct ones: a cut cannot separate them
    assert c.threshold == c.initial  # not lowered to 0.95; nothing is known above it


def test_window_keeps_recent_pairs():
    c = cal(window=50)
    for i in range(80):
        c.add(0.9, i >= 30)  # the first 30 (wrong) fall out of the window
    assert len(c.pairs) == 50 and all(ok for _, ok in c.pairs)


def test_roundtrip(rng):
    c = cal()
    for s in rng.uniform(0.85, 1.0, size=100):
        c.add(float(s), bool(s > 0.9))
    again = cal()
    again.load(c.to_dict())
    assert list(again.pairs) == list(c.pairs) and again.threshold == c.threshold


def test_all_correct_evidence_never_raises_the_threshold_above_initial(rng):
    c = cal(target_error_rate=0.005)  # the config default: ~321 error-free pairs are needed to certify it
    assert c.threshold == 0.99
    for s in rng.uniform(0.85, 1.0, size=100):
        c.add(s, True)
    assert c.threshold <= 0.99  # 100 correct answers, no error: still serve what 0.99 served
