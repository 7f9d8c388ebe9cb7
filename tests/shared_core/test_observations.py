"""ObservationMemory: segmented kNN that matches exact search, bounded size, round trip."""

from __future__ import annotations

import numpy as np

from shared_core.observations import ObservationMemory

DIM = 32


def unit_rows(n, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_search_over_sealed_and_active_segments_finds_the_exact_neighbours():
    vecs = unit_rows(1000)
    mem = ObservationMemory(DIM, segment=128)  # 7 full segments and the active one
    for i, v in enumerate(vecs):
        mem.add(v, f"m{i % 3}", float(i % 2), i)
    assert len(mem.segments) == 8 and len(mem) == 1000
    queries = unit_rows(50, seed=1)
    hits = 0
    for q in queries:
        exact = set(np.argsort(-(vecs @ q))[:10].tolist())
        found = mem.search(q, 10)
        assert [s for s, _ in found] == sorted((s for s, _ in found), reverse=True)
        hits += len(exact & {i for _, i in found})
    assert hits == 50 * 10  # exact over every segment


def test_trim_drops_whole_old_segments_and_keeps_positions_aligned():
    mem = ObservationMemory(DIM, segment=10)
    vecs = unit_rows(55)
    for i, v in enumerate(vecs):
        mem.add(v, "m", float(i), i)
        mem.trim(40)
    assert 30 <= len(mem) <= 40 and mem.time[-1] == 54
    sim, pos = mem.search(vecs[54], 1)[0]
    assert sim > 0.999 and mem.time[pos] == 54 and mem.reward[pos] == 54.0


def test_round_trip_through_arrays():
    mem = ObservationMemory(DIM, segment=16)
    vecs = unit_rows(40)
    for i, v in enumerate(vecs):
        mem.add(v, f"m{i % 2}", 0.5, i)
    back = ObservationMemory.from_arrays(DIM, mem.vectors(), mem.model, mem.reward, mem.time, segment=16)
    assert np.allclose(back.vectors(), vecs) and back.model == mem.model and back.time == mem.time
    assert back.search(vecs[7], 1)[0][1] == 7
