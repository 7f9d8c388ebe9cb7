"""Saved state: what is saved loads back, and a save that cannot be read is one
clear error that names its path, with nothing of it loaded."""

from __future__ import annotations

import json
import os
import stat
import zipfile

import pytest

from shared_core import Engine, Request, SimulatedCandidate, SLSConfig
from shared_core.errors import StateError
from shared_core.storage import LocalDirStore


def config(path, backend="local") -> SLSConfig:
    return SLSConfig.from_dict({
        "candidates": [{"name": "m", "price_in": 1.0, "price_out": 1.0, "context_window": 4000,
                        "quality_prior": 0.5}],
        "state": {"path": str(path), "backend": backend}, "seed": 0})


def saved_engine(path, backend="local", n=3) -> Engine:
    cfg = config(path, backend)
    eng = Engine(cfg, [SimulatedCandidate(cfg.candidate("m"), lambda r, rng: f"answer to {r.query}")])
    for i in range(n):
        res = eng.run(Request(messages=[{"role": "user", "content": f"question {i}"}]))
        eng.feedback(res.request_id, 1.0)
    eng.save()
    return eng


def reopen(path, backend="local") -> Engine:
    return Engine(config(path, backend))


@pytest.fixture(params=["local", "sqlite"])
def backend(request):
    return request.param


def test_a_request_with_an_empty_user_turn_is_saved_and_loads_back(tmp_path, backend):
    cfg = config(tmp_path / "s", backend)
    eng = Engine(cfg, [SimulatedCandidate(cfg.candidate("m"), lambda r, rng: "ok")])
    eng.run(Request(messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": ""}]))
    eng.close()
    again = reopen(tmp_path / "s", backend)
    assert len(again.updater.pending) == 1
    again.close()


def _gen(path):
    return path / json.loads((path / "CURRENT").read_text())["generation"]


def _truncate(p):
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])


def _flip(p):
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


def _zip_without(p, member):
    with zipfile.ZipFile(p) as z:
        kept = {n: z.read(n) for n in z.namelist() if n != member}
    with zipfile.ZipFile(p, "w") as z:
        for n, data in kept.items():
            z.writestr(n, data)


LOCAL_CORRUPTIONS = {
    "CURRENT garbage": lambda s: (s / "CURRENT").write_text("{not json"),
    "CURRENT names a missing generation": lambda s: (s / "CURRENT").write_text('{"generation": "gen-gone"}'),
    "CURRENT removed": lambda s: (s / "CURRENT").unlink(),
    "CURRENT a list": lambda s: (s / "CURRENT").write_text("[1]"),
    "state.json truncated": lambda s: _truncate(_gen(s) / "state.json"),
    "state.json empty": lambda s: (_gen(s) / "state.json").write_bytes(b""),
    "state.json a list": lambda s: (_gen(s) / "state.json").write_text("[]"),
    "state.json without cache": lambda s: (_gen(s) / "state.json").write_text(json.dumps(
        {k: v for k, v in json.loads((_gen(s) / "state.json").read_text()).items() if k != "cache"})),
    "state.json version 99": lambda s: (_gen(s) / "state.json").write_text(json.dumps(
        {**json.loads((_gen(s) / "state.json").read_text()), "version": 99})),
    "arrays.npz truncated": lambda s: _truncate(_gen(s) / "arrays.npz"),
    "arrays.npz flipped byte": lambda s: _flip(_gen(s) / "arrays.npz"),
    "arrays.npz removed": lambda s: (_gen(s) / "arrays.npz").unlink(),
    "arrays.npz empty": lambda s: (_gen(s) / "arrays.npz").write_bytes(b""),
    "arrays.npz lacks the index vectors": lambda s: _zip_without(
        _gen(s) / "arrays.npz", next(n for n in zipfile.ZipFile(_gen(s) / "arrays.npz").namelist()
                                     if n.startswith("cache__scope_"))),
    "state.json is a folder": lambda s: ((_gen(s) / "state.json").unlink(), (_gen(s) / "state.json").mkdir()),
}


@pytest.mark.parametrize("name", sorted(LOCAL_CORRUPTIONS))
def test_every_local_corruption_is_one_state_error_naming_the_path(tmp_path, name):
    state = tmp_path / "s"
    saved_engine(state).close()
    LOCAL_CORRUPTIONS[name](state)
    with pytest.raises(StateError) as err:
        reopen(state)
    assert str(state) in str(err.value) and "move it aside" in str(err.value)


SQLITE_CORRUPTIONS = {
    "garbage file": lambda p: p.write_bytes(b"not a database at all" * 100),
    "truncated": lambda p: _truncate(p),
    "header flipped": lambda p: p.write_bytes(b"\0" * 16 + p.read_bytes()[16:]),
}


@pytest.mark.parametrize("name", sorted(SQLITE_CORRUPTIONS))
def test_every_sqlite_corruption_is_one_state_error_naming_the_path(tmp_path, name):
    db = tmp_path / "s.sqlite"
    saved_engine(db, "sqlite").close()
    for side in ("-wal", "-shm"):
        (tmp_path / f"s.sqlite{side}").unlink(missing_ok=True)
    SQLITE_CORRUPTIONS[name](db)
    with pytest.raises(StateError) as err:
        reopen(db, "sqlite")
    assert str(db) in str(err.value)


def test_a_state_path_that_is_a_file_is_a_clear_error(tmp_path):
    path = tmp_path / "state"
    path.write_text("x")
    with pytest.raises(StateError, match=f"state path {path} is a file"):
        LocalDirStore(path)  # the config refuses it too (tests/shared_core/test_validation.py)


def test_an_unreadable_pointer_does_not_delete_the_saves(tmp_path):
    state = tmp_path / "s"
    saved_engine(state).close()
    gens = sorted(p.name for p in state.glob("gen-*"))
    (state / "CURRENT").write_text("{oops")
    with pytest.raises(StateError):
        reopen(state)
    LocalDirStore(state).put_many({"state.json": b"{}"})  # a later save replaces the pointer only
    assert set(gens) <= {p.name for p in state.glob("gen-*")}


def test_state_files_are_private(tmp_path, backend):
    path = tmp_path / ("s" if backend == "local" else "s.sqlite")
    saved_engine(path, backend).close()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for p in files:
        assert stat.S_IMODE(os.stat(p).st_mode) & 0o077 == 0, p


def test_what_the_models_already_learned_from_a_request_survives_a_save(tmp_path, backend):
    eng = saved_engine(tmp_path / "s", backend, n=1)
    rid = next(iter(eng.updater.pending))
    eng.updater.pending[rid].learned = True  # as the agreement cascade marks what it credited
    eng.close()
    again = reopen(tmp_path / "s", backend)
    assert again.updater.pending[rid].learned is True
    row = again.updater.pending[rid].to_dict()
    del row["learned"]  # state saved before the field existed
    from shared_core.updater import Pending
    assert Pending.from_dict(row, None).learned is False
    again.close()
