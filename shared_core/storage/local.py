"""State as files in a folder, swapped in atomically.

Blobs go to a fresh generation folder, which is then published by an atomic
rename of a pointer file: readers see either the previous generation or the
new one, never half of each. A lock file serialises writers across processes.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from .base import StateStore

try:
    import fcntl
except ImportError:  # Windows: single-writer only
    fcntl = None


class LocalDirStore(StateStore):
    def __init__(self, path: str | os.PathLike[str]):
        self.root = Path(path)
        self.root.mkdir(parents=True, exist_ok=True)
        self._pointer = self.root / "CURRENT"

    def _current(self) -> Path | None:
        try:
            name = json.loads(self._pointer.read_text())["generation"]
        except (FileNotFoundError, ValueError, KeyError):
            return None
        return self.root / name

    def get(self, key: str) -> bytes | None:
        gen = self._current()
        if gen is None:
            return None
        try:
            return (gen / key).read_bytes()
        except FileNotFoundError:
            return None

    def keys(self) -> list[str]:
        gen = self._current()
        return sorted(p.name for p in gen.iterdir()) if gen and gen.is_dir() else []

    def put_many(self, blobs: dict[str, bytes]) -> None:
        with open(self.root / "LOCK", "a+") as lock:
            if fcntl:
                fcntl.flock(lock, fcntl.LOCK_EX)
            gen = self.root / f"gen-{uuid.uuid4().hex[:12]}"
            tmp = self.root / f"CURRENT.{uuid.uuid4().hex[:8]}"
            try:
                gen.mkdir()
                for key, blob in blobs.items():
                    with open(gen / key, "wb") as fh:
                        fh.write(blob)
                        fh.flush()
                        os.fsync(fh.fileno())
                tmp.write_text(json.dumps({"generation": gen.name}))
                os.replace(tmp, self._pointer)
            except BaseException:
                shutil.rmtree(gen, ignore_errors=True)  # the previous generation stays current
                tmp.unlink(missing_ok=True)
                raise
            for stale in self.root.glob("gen-*"):  # older generations, and any a crash left behind
                if stale != gen:
                    shutil.rmtree(stale, ignore_errors=True)
