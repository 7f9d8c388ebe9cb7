"""Where engine state persists. One small key-value interface, several backends."""

from .base import StateStore, dump_arrays, load_arrays
from .local import LocalDirStore
from .sqlite import SQLiteStore

__all__ = ["StateStore", "LocalDirStore", "SQLiteStore", "dump_arrays", "load_arrays", "open_store"]


def open_store(path: str, backend: str = "local") -> StateStore:
    if backend == "sqlite":
        return SQLiteStore(path)
    return LocalDirStore(path)
