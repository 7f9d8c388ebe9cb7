"""State as rows of one SQLite table, written in one transaction.

Reads of several keys share one read transaction, so they see one save (WAL
gives each reader a snapshot). The database file is private (0600)."""

from __future__ import annotations

import os
import sqlite3
import threading

from ..errors import StateError
from .base import WAY_OUT, StateStore


class SQLiteStore(StateStore):
    def __init__(self, path: str | os.PathLike[str]):
        path = str(path)
        if os.path.isdir(path):
            path = os.path.join(path, "state.sqlite")
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # SQLite gives -wal/-shm the same mode
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{path} is not a readable SLS state database ({exc}); {WAY_OUT}") from exc

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StateError(f"cannot read {self.path} ({exc}); {WAY_OUT}") from exc

    def get(self, key: str) -> bytes | None:
        rows = self._query("SELECT value FROM blobs WHERE key = ?", (key,))
        return bytes(rows[0][0]) if rows else None

    def get_many(self, keys: list[str]) -> dict[str, bytes | None]:
        try:
            with self._lock:
                self._db.execute("BEGIN")
                try:
                    rows = dict(self._db.execute("SELECT key, value FROM blobs").fetchall())
                finally:
                    self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise StateError(f"cannot read {self.path} ({exc}); {WAY_OUT}") from exc
        return {key: bytes(rows[key]) if key in rows else None for key in keys}

    def keys(self) -> list[str]:
        return [r[0] for r in self._query("SELECT key FROM blobs ORDER BY key")]

    def put_many(self, blobs: dict[str, bytes]) -> None:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute("DELETE FROM blobs")
                    self._db.executemany("INSERT INTO blobs (key, value) VALUES (?, ?)", list(blobs.items()))
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise StateError(f"cannot write {self.path} ({exc})") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()
