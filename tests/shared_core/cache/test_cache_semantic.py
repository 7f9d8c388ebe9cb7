"""ScopeIndex / SemanticTier on real FAISS: flat -> HNSW, removal, rebuilds, scope isolation."""

from __future__ import annotations

import numpy as np
import pytest

from shared_core.cache.semantic import ScopeIndex, SemanticTier
from shared_core.config import SemanticCacheConfig

DIM = 32


def unit(rng, n):
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def near(rng, v, eps):
    w = v + eps * unit(rng, 1)[0]
    return (w / np.linalg.norm(w)).astype(np.float32)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def filled(rng, n, **cfg) -> tuple[ScopeIndex, np.ndarray]:
    idx = ScopeIndex(DIM, SemanticCacheConfig(**cfg))
    vecs = unit(rng, n)
    for i, v in enumerate(vecs):
        idx.add(i, v)
    return idx, vecs


def test_flat_search_finds_self_with_similarity_one(rng):
    idx, vecs = filled(rng, 20, hnsw_from=50)
    assert not idx.is_hnsw and len(idx) == 20 and idx.index.ntotal == 20
    for i in (0, 7, 19):
        top = idx.search(vecs[i])
        assert top[0][0] == i and top[0][1] == pytest.approx(1.0, abs=1e-5)
        assert len(top) == 4 and [s for _, s in top] == sorted((s for _, s in top), reverse=True)


def test_empty_index_searches_to_nothing(rng):
    assert ScopeIndex(DIM, SemanticCacheConfig()).search(unit(rng, 1)[0]) == []


def test_auto_switches_to_hnsw_at_hnsw_from(rng):
    idx, vecs = filled(rng, 49, hnsw_from=50)
    assert not idx.is_hnsw
    v = unit(rng, 1)[0]
    idx.add(49, v)
    assert idx.is_hnsw and idx.index.ntotal == 50 and len(idx) == 50
    for i in range(50):
        probe = v if i == 49 else vecs[i]
        assert idx.search(probe)[0][0] == i  # every entry survived the move
    np.testing.assert_allclose(idx.export()[2][:49], vecs, atol=1e-3)  # HNSW keeps float16
    idx.add(50, unit(rng, 1)[0])
    assert idx.is_hnsw and idx.index.ntotal == 51


def test_add_many_crossing_hnsw_from_switches(rng):
    idx = ScopeIndex(DIM, SemanticCacheConfig(hnsw_from=50))
    vecs = unit(rng, 80)
    idx.add_many(list(range(30)), vecs[:30])
    assert not idx.is_hnsw and idx.index.ntotal == 30
    idx.add_many(list(range(30, 80)), vecs[30:])
    assert idx.is_hnsw and idx.index.ntotal == 80
    assert all(idx.search(vecs[i])[0][0] == i for i in range(0, 80, 7))


def test_forced_modes(rng):
    flat, _ = filled(rng, 120, index="flat", hnsw_from=50)
    assert not flat.is_hnsw
    hnsw, vecs = filled(rng, 5, index="hnsw")
    assert hnsw.is_hnsw and hnsw.search(vecs[3])[0][0] == 3


@pytest.mark.parametrize("n", [20, 120])  # flat, then HNSW (hnsw_from=50)
def test_remove_is_never_returned(rng, n):
    idx, vecs = filled(rng, n, hnsw_from=50)
    assert idx.is_hnsw == (n >= 50)
    idx.remove(3)
    idx.remove(11)
    assert len(idx) == n - 2
    for i in (3, 11):
        found = [eid for eid, _ in idx.search(vecs[i], k=10)]
        assert i not in found and found  # still finds the others
    assert idx.search(vecs[5])[0][0] == 5


@pytest.mark.parametrize("n", [20, 120])
def test_removed_neighbours_do_not_hide_live_ones(rng, n):
    idx, _ = filled(rng, n, hnsw_from=50)
    centre = unit(rng, 1)[0]
    for j in range(5):  # five near-copies, the first four then removed
        idx.add(1000 + j, near(rng, centre, 0.01 * j))
    for j in range(4):
        idx.remove(1000 + j)
    top = idx.search(centre)
    assert top and top[0][0] == 1004 and top[0][1] > 0.99


@pytest.mark.parametrize("mode", ["flat", "hnsw"])
def test_rebuild_after_many_removals(rng, mode):
    idx, vecs = filled(rng, 200, index=mode)
    removed = list(range(0, 130, 2))  # 65 > max(64, 200 // 5)
    for i in removed[:-1]:
        idx.remove(i)
    assert len(idx.dead) == 64 and idx.index.ntotal == 200  # tombstoned, not yet rebuilt
    idx.remove(removed[-1])
    assert idx.dead == set() and idx.index.ntotal == 135 and len(idx) == 135
    assert idx.is_hnsw == (mode == "hnsw")
    assert len(idx.export()[2]) == 135
    for i in range(200):
        if i % 7:
            continue
        top = idx.search(vecs[i], k=4)
        if i in removed:
            assert i not in [eid for eid, _ in top]
        else:
            assert top[0] == (i, pytest.approx(1.0, abs=1e-3))


def test_rows_of_vectors_follow_ids_after_rebuild(rng):
    idx, vecs = filled(rng, 100, index="flat")
    for i in range(0, 100, 3):
        idx.remove(i)
    for i in range(1, 100, 3)[:31]:
        idx.remove(i)
    ids, sizes, vectors = idx.export()
    assert not idx.dead and idx.index.ntotal == 35 and sizes == [1] * 35  # 65 removals: rebuilt
    for row, eid in enumerate(ids):
        np.testing.assert_array_equal(vectors[row], vecs[eid])


def test_identical_vectors_share_one_position_and_come_back_oldest_first(rng):
    idx, vecs = filled(rng, 10)
    for eid in (100, 101, 102):  # the same vector as entry 4 (a line whose numbers changed)
        idx.add(eid, vecs[4].copy())
    assert idx.index.ntotal == 10 and len(idx) == 13 and 101 in idx
    assert [eid for eid, _ in idx.search(vecs[4], k=4)] == [4, 100, 101, 102]
    assert [eid for eid, _ in idx.search(vecs[4], k=2)] == [4, 100]
    idx.remove(4)
    idx.remove(101)
    assert [eid for eid, _ in idx.search(vecs[4], k=2)] == [100, 102]
    ids, sizes, vectors = idx.export()
    assert len(vectors) == 10 and sorted(sizes, reverse=True)[:2] == [2, 1] and len(ids) == 11
    back = ScopeIndex(DIM, SemanticCacheConfig())
    back.load(ids, sizes, vectors)
    assert back.index.ntotal == 10 and back.search(vecs[4], k=2) == idx.search(vecs[4], k=2)


@pytest.mark.parametrize("mode", ["flat", "hnsw"])
def test_identical_vectors_are_shared_in_both_modes_and_after_a_rebuild(rng, mode):
    idx, vecs = filled(rng, 100, index=mode)
    idx.add(500, vecs[10].copy())
    assert idx.index.ntotal == 100
    for i in range(66):  # 65 positions emptied (10 keeps entry 500): past max(64, 100 // 5), rebuilt
        idx.remove(i)
    assert not idx.dead and idx.index.ntotal == 35 and 500 in idx and 10 not in idx
    idx.add(501, vecs[80].copy())  # its stored copy came back out of the rebuilt index
    assert idx.index.ntotal == 35 and [e for e, _ in idx.search(vecs[80], k=2)] == [80, 501]


def test_a_vector_whose_entries_all_went_is_revived_not_added_again(rng):
    idx, vecs = filled(rng, 5)
    idx.remove(2)
    assert idx.search(vecs[2], k=1)[0][0] != 2
    idx.add(50, vecs[2].copy())
    assert idx.index.ntotal == 5 and idx.search(vecs[2], k=1)[0][0] == 50 and not idx.dead


def test_tier_scopes_are_isolated(rng):
    tier = SemanticTier(DIM, SemanticCacheConfig(initial_threshold=0.97))
    v = unit(rng, 1)[0]
    tier.scope("tenant-a").add(1, v)
    assert tier.nearest("tenant-a", v)[0][0] == 1
    assert tier.nearest("tenant-b", v) == []
    tier.scope("tenant-b")  # an empty scope, once created, still finds nothing
    assert tier.nearest("tenant-b", v) == []
    assert tier.scope("tenant-a") is tier.scope("tenant-a")
