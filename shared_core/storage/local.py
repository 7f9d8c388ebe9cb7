"""State as files in a folder, swapped in atomically.

Blobs go to a fresh generation folder, which is then published by an atomic
rename of a pointer file: readers see either the previous generation or the
new one, never half of each. A lock file serialises writers across processes.
A save keeps the generation it replaces (a reader may be in the middle of
it) and deletes only older ones, so the last good save is never removed by
the next. Files are private to their owner (0600, folders 0700).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

from ..errors import StateError
from .base import WAY_OUT, StateStore

try:
    import fcntl
except ImportError:  # Windows: single-writer only
    fcntl = None

_COMPLETE = ".complete"  # written last in a generation: all its blobs are on disk
_READ_TRIES = 20  # a reader retries when saves delete the generation it was reading


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class LocalDirStore(StateStore):
    def __init__(self, path: str | os.PathLike[str]):
        self.root = Path(path)
        self.path = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise StateError(f"state path {self.root} is a file, not a folder; {WAY_OUT}")
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._pointer = self.root / "CURRENT"

    def _no_pointer(self, retry: bool) -> None:
        """No CURRENT: a fresh store, or saves that crashed before publishing, unless a
        complete generation exists (the pointer was lost, or the first save is
        publishing right now: look again once)."""
        if not any(self.root.glob(f"gen-*/{_COMPLETE}")):
            return None
        if retry:
            time.sleep(0.05)
            return self._current(retry=False)
        raise StateError(f"state at {self.root} has a complete save but no CURRENT pointer; {WAY_OUT}")

    def _current(self, retry: bool = True) -> Path | None:
        try:
            text = self._pointer.read_text()
        except FileNotFoundError:
            return self._no_pointer(retry)
        except OSError as exc:
            raise StateError(f"cannot read {self._pointer}: {exc}; {WAY_OUT}") from exc
        try:
            name = json.loads(text)["generation"]
            if not (isinstance(name, str) and name.startswith("gen-") and "/" not in name):
                raise ValueError(name)
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError(f"{self._pointer} is corrupt ({text[:80]!r}); {WAY_OUT}") from exc
        return self.root / name

    def get(self, key: str) -> bytes | None:
        return self.get_many([key])[key]

    def get_many(self, keys: list[str]) -> dict[str, bytes | None]:
        last = None
        for _ in range(_READ_TRIES):
            gen = self._current()
            if gen is None:
                return dict.fromkeys(keys)
            try:
                blobs = {key: self._read(gen, key) for key in keys}
                if None in blobs.values() and self._current() != gen:
                    raise _Vanished()  # read while a newer save was deleting it
                return blobs
            except _Vanished:
                if gen == last:  # the pointer still names it: not a race, a broken state
                    raise StateError(f"{self._pointer} names {gen.name}, which is missing; {WAY_OUT}") from None
                last = gen  # a save removed this generation as we read it: read the newer one
        raise StateError(f"state at {self.root} changed under {_READ_TRIES} reads in a row; try again")

    @staticmethod
    def _read(gen: Path, key: str) -> bytes | None:
        try:
            return (gen / key).read_bytes()
        except FileNotFoundError:
            if not gen.is_dir():
                raise _Vanished() from None
            return None
        except OSError as exc:
            raise StateError(f"cannot read {gen / key}: {exc}; {WAY_OUT}") from exc

    def keys(self) -> list[str]:
        gen = self._current()
        return sorted(p.name for p in gen.iterdir() if p.name != _COMPLETE) if gen and gen.is_dir() else []

    def put_many(self, blobs: dict[str, bytes]) -> None:
        fd = os.open(self.root / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a+") as lock:
            if fcntl:
                fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                previous = self._current()
            except StateError:
                previous = None  # an unreadable pointer is replaced; the generations stay
            gen = self.root / f"gen-{uuid.uuid4().hex[:12]}"
            tmp = self.root / f"CURRENT.{uuid.uuid4().hex[:8]}"
            try:
                gen.mkdir(mode=0o700)
                for key, blob in blobs.items():
                    _write_private(gen / key, blob)
                _write_private(gen / _COMPLETE, b"")
                _write_private(tmp, json.dumps({"generation": gen.name}).encode())
                os.replace(tmp, self._pointer)
            except BaseException:
                shutil.rmtree(gen, ignore_errors=True)  # the previous generation stays current
                tmp.unlink(missing_ok=True)
                raise
            if previous is None:
                return  # nothing is known to be good but this save: delete nothing
            for stale in self.root.glob("gen-*"):  # older generations, and any a crash left behind
                if stale not in (gen, previous):
                    shutil.rmtree(stale, ignore_errors=True)


class _Vanished(Exception):
    """The generation being read was deleted by a newer save."""
