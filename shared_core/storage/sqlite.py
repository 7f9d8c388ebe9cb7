"""State as rows of one SQLite table, written in one transaction."""

from __future__ import annotations

import os
import sqlite3
import threading

from .base import StateStore


class SQLiteStore(StateStore):
    def __init__(self, path: str | os.PathLike[str]):
        path = str(path)
        if os.path.isdir(path):
            path = os.path.join(path, "state.sqlite")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        self._db.commit()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM blobs WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def keys(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT key FROM blobs ORDER BY key")]

    def put_many(self, blobs: dict[str, bytes]) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM blobs")
            self._db.executemany("INSERT INTO blobs (key, value) VALUES (?, ?)", list(blobs.items()))

    def close(self) -> None:
        with self._lock:
            self._db.close()
