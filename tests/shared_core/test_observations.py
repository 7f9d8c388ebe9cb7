"""ObservationMemory: exact kNN evidence below capacity, bounded clusters past it, round trips."""

from __future__ import annotations

import numpy as np
import pytest

from shared_core.observations import ObservationMemory

DIM = 32


def unit_rows(n, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def brute_force(vecs, models, rewards, times, q, k, bandwidth, t, half_life):
    """The evidence by definition: the k nearest observations, kernel- and age-weighted."""
    sims = vecs @ q
    out = {}
    for i in np.argsort(-sims, kind="stable")[:k]:
        w = np.exp((float(sims[i]) - 1.0) / bandwidth) * 0.5 ** ((t - times[i]) / half_life)
        s, n = out.get(models[i], (0.0, 0.0))
        out[models[i]] = (s + w * rewards[i], n + w)
    return out


def test_below_capacity_the_evidence_is_exact_knn_over_observations():
    vecs = unit_rows(600)
    models, rewards, times = [f"m{i % 3}" for i in range(600)], [float(i % 2) for i in range(600)], list(range(600))
    mem = ObservationMemory(DIM, capacity=1000, half_life=300.0)
    for v, m, r, t in zip(vecs, models, rewards, times):
        mem.add(v, m, r, t)
    assert len(mem) == 600
    for q in unit_rows(30, seed=1):
        want = brute_force(vecs, models, rewards, times, q, 24, 0.3, 650, 300.0)
        got = mem.evidence(q, 24, 0.3, 650)
        assert got.keys() == want.keys()
        for m in want:
            assert got[m] == pytest.approx(want[m], rel=1e-5)


def test_the_one_observation_a_cluster_shortcut_gives_what_the_general_count_gives():
    vecs = unit_rows(200)
    mem = ObservationMemory(DIM, capacity=500, half_life=80.0)
    for i, v in enumerate(vecs):
        mem.add(v, f"m{i % 4}", float(i % 3 == 0), i)
    assert mem.singles
    fast = [mem.evidence(q, 24, 0.3, 210) for q in unit_rows(20, seed=4)]
    mem.singles = False  # the general path: cluster counts, k budget, shares
    assert fast == [mem.evidence(q, 24, 0.3, 210) for q in unit_rows(20, seed=4)]
    merged = ObservationMemory(DIM, capacity=150, half_life=80.0)
    for i, v in enumerate(vecs):
        merged.add(v, "m0", 1.0, i)
        assert merged.singles == (i < 150)
    meta, arrays = merged.to_state()
    assert not ObservationMemory.from_state(DIM, meta, arrays, 150, 80.0).singles
    meta, arrays = mem.to_state()
    assert ObservationMemory.from_state(DIM, meta, arrays, 500, 80.0).singles


def test_past_capacity_observations_merge_into_their_nearest_cluster():
    rng = np.random.default_rng(3)
    a, b = unit_rows(2, seed=5)
    near = lambda c: (lambda v: v / np.linalg.norm(v))(c + 0.02 * rng.normal(size=DIM)).astype(np.float32)
    mem = ObservationMemory(DIM, capacity=2, half_life=1e9)
    mem.add(a, "x", 1.0, 1)
    mem.add(b, "x", 0.0, 2)
    for t in range(3, 203):  # around a "x" keeps succeeding, around b it keeps failing
        mem.add(near(a) if t % 2 else near(b), "x", float(t % 2), t)
    assert len(mem) == 2 and mem.observations == 202 and mem.count.sum() == 202
    s, n = mem.evidence(a, 50, 0.05, 203)["x"]
    assert s / n > 0.99  # a's cluster holds a's evidence only
    s, n = mem.evidence(b, 50, 0.05, 203)["x"]
    assert s / n < 0.01
    # the k budget: 50 observations of one cluster of 101, not the whole cluster
    _, n_a = mem.evidence(a, 101, 0.05, 203)["x"]
    assert n == pytest.approx(n_a * 50 / 101, rel=0.02)


def test_evidence_decays_by_age_within_a_cluster():
    v = unit_rows(1)[0]
    mem = ObservationMemory(DIM, capacity=1, half_life=10.0)
    mem.add(v, "x", 1.0, 0)
    mem.add(v, "x", 0.0, 10)  # merges; the first is now one half-life old
    s, n = mem.evidence(v, 24, 0.05, 10)["x"]
    assert n == pytest.approx(1.5, rel=1e-5) and s == pytest.approx(0.5, rel=1e-5)
    s, n = mem.evidence(v, 24, 0.05, 20)["x"]
    assert n == pytest.approx(0.75, rel=1e-5)


def test_round_trip_through_state_and_from_raw_observations():
    vecs = unit_rows(80)
    mem = ObservationMemory(DIM, capacity=50, half_life=40.0)
    for i, v in enumerate(vecs):
        mem.add(v, f"m{i % 2}", float(i % 3 == 0), i)
    meta, arrays = mem.to_state()
    back = ObservationMemory.from_state(DIM, meta, arrays, capacity=50, half_life=40.0)
    raw = ObservationMemory.from_observations(DIM, vecs, [f"m{i % 2}" for i in range(80)],
                                              [float(i % 3 == 0) for i in range(80)], list(range(80)), 50, 40.0)
    for q in unit_rows(10, seed=2):
        assert back.evidence(q, 24, 0.1, 90) == mem.evidence(q, 24, 0.1, 90) == raw.evidence(q, 24, 0.1, 90)
    back.add(vecs[0], "m9", 1.0, 91)  # and it keeps learning, a new model too
    assert "m9" in back.evidence(vecs[0], 24, 0.1, 91)


def test_capacity_must_be_positive():
    with pytest.raises(ValueError, match="capacity >= 1"):
        ObservationMemory(DIM, capacity=0)
