"""LocalDirStore and SQLiteStore on real files; the npz array codec."""

from __future__ import annotations

import io

import numpy as np
import pytest

from shared_core.storage import LocalDirStore, SQLiteStore, dump_arrays, load_arrays, open_store

BLOBS = {"meta.json": b'{"version": 1}', "arrays.npz": bytes(range(256)) * 4, "empty": b""}


@pytest.fixture(params=["local", "sqlite"])
def backend(request):
    return request.param


def opened(backend, path):
    return LocalDirStore(path) if backend == "local" else SQLiteStore(path)


def test_fresh_store_is_empty(tmp_path, backend):
    store = opened(backend, tmp_path / "state")
    assert store.get("meta.json") is None and store.keys() == []
    store.close()


def test_put_many_get_keys_roundtrip(tmp_path, backend):
    store = opened(backend, tmp_path / "state")
    store.put_many(BLOBS)
    assert store.keys() == sorted(BLOBS)
    for key, blob in BLOBS.items():
        got = store.get(key)
        assert got == blob and isinstance(got, bytes)
    assert store.get("missing") is None
    store.close()


def test_second_put_many_replaces_the_set(tmp_path, backend):
    store = opened(backend, tmp_path / "state")
    store.put_many(BLOBS)
    store.put_many({"meta.json": b"v2", "other": b"x"})
    assert store.keys() == ["meta.json", "other"]
    assert store.get("meta.json") == b"v2" and store.get("arrays.npz") is None
    store.put_many({})
    assert store.keys() == []
    store.close()


def test_reopening_reads_what_was_written(tmp_path, backend):
    path = tmp_path / "state"
    store = opened(backend, path)
    store.put_many(BLOBS)
    store.put_many({**BLOBS, "meta.json": b'{"version": 2}'})
    store.close()
    again = opened(backend, path)
    assert again.keys() == sorted(BLOBS) and again.get("meta.json") == b'{"version": 2}'
    assert again.get("arrays.npz") == BLOBS["arrays.npz"]
    again.close()


def test_local_old_generations_are_removed(tmp_path):
    root = tmp_path / "state"
    store = LocalDirStore(root)
    for i in range(4):
        store.put_many({"meta.json": str(i).encode(), f"k{i}": b"x"})
        gens = sorted(p.name for p in root.iterdir() if p.name.startswith("gen-"))
        assert len(gens) == min(i + 1, 2)  # the current one and the one it replaced (a reader may hold it)
    assert store.keys() == ["k3", "meta.json"] and store.get("meta.json") == b"3"
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith("gen-")) == ["CURRENT", "LOCK"]


def test_local_failed_write_keeps_the_old_set(tmp_path):
    store = LocalDirStore(tmp_path / "state")
    store.put_many(BLOBS)
    with pytest.raises(TypeError):
        store.put_many({"meta.json": b"new", "bad": "not bytes"})
    assert store.keys() == sorted(BLOBS) and store.get("meta.json") == BLOBS["meta.json"]
    assert LocalDirStore(tmp_path / "state").get("meta.json") == BLOBS["meta.json"]


def test_local_failed_write_leaves_no_orphan_generation(tmp_path):
    root = tmp_path / "state"
    store = LocalDirStore(root)
    store.put_many(BLOBS)
    with pytest.raises(TypeError):
        store.put_many({"meta.json": b"new", "bad": "not bytes"})
    store.put_many(BLOBS)
    assert len([p for p in root.iterdir() if p.name.startswith("gen-")]) == 2  # this save and the last good one


def test_sqlite_failed_write_is_rolled_back(tmp_path):
    store = SQLiteStore(tmp_path / "state.sqlite")
    store.put_many(BLOBS)
    with pytest.raises(Exception):
        store.put_many({"meta.json": b"new", "bad": None})  # NOT NULL: the transaction fails
    assert store.keys() == sorted(BLOBS) and store.get("meta.json") == BLOBS["meta.json"]
    store.close()


def test_sqlite_paths(tmp_path):
    folder = tmp_path / "dir"
    folder.mkdir()
    s = SQLiteStore(folder)  # an existing folder gets state.sqlite inside
    s.put_many({"a": b"1"})
    s.close()
    assert (folder / "state.sqlite").is_file()
    nested = tmp_path / "x" / "y" / "db.sqlite"  # parents are created
    s = SQLiteStore(nested)
    s.put_many({"a": b"2"})
    s.close()
    assert nested.is_file() and SQLiteStore(nested).get("a") == b"2"


def test_open_store_picks_backend(tmp_path):
    assert isinstance(open_store(str(tmp_path / "l")), LocalDirStore)
    s = open_store(str(tmp_path / "s.sqlite"), backend="sqlite")
    assert isinstance(s, SQLiteStore)
    s.close()


def test_arrays_roundtrip():
    rng = np.random.default_rng(0)
    arrays = {"vectors": rng.normal(size=(5, 16)).astype(np.float32), "ids": np.arange(5, dtype=np.int64),
              "empty": np.zeros((0, 16), dtype=np.float32), "flags": np.array([True, False])}
    back = load_arrays(dump_arrays(arrays))
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k], v)
    assert load_arrays(dump_arrays({})) == {}


def test_arrays_through_a_store(tmp_path, backend):
    store = opened(backend, tmp_path / "state")
    vecs = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    store.put_many({"arrays.npz": dump_arrays({"v": vecs})})
    np.testing.assert_array_equal(load_arrays(opened(backend, tmp_path / "state").get("arrays.npz"))["v"], vecs)


def test_load_arrays_refuses_pickled_objects():
    buf = io.BytesIO()
    np.savez(buf, evil=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        load_arrays(buf.getvalue())
    blob = dump_arrays({"ok": np.arange(3), "obj": np.array([object()], dtype=object)})
    with pytest.raises(ValueError):
        load_arrays(blob)
