"""The storage interface: named blobs written together or not at all.

The engine snapshots itself as JSON (metadata) and npz (vectors) blobs; no
pickle anywhere, so state written by one version is only ever parsed, never run.
A Redis backend needs only these four methods.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod

import numpy as np


# What every error about saved state tells the user to do.
WAY_OUT = "move it aside (keep it to inspect) and start again with an empty state path"


class StateStore(ABC):
    path: str = ""  # where the state lives, named in every error about it

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The blob saved under `key`, or None."""

    def get_many(self, keys: list[str]) -> dict[str, bytes | None]:
        """The blobs under `keys`, all from the same save; backends whose `get`
        may see a newer save between two calls override this."""
        return {key: self.get(key) for key in keys}

    @abstractmethod
    def put_many(self, blobs: dict[str, bytes]) -> None:
        """Write all blobs atomically: a crash leaves the old set or the new one."""

    @abstractmethod
    def keys(self) -> list[str]:
        ...

    def close(self) -> None:
        pass


def dump_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_arrays(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
