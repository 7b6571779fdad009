"""Dead letters: what can never be stored, kept with the reason, never blocking the stream.

A SQLite file (WAL, busy timeout) so that several ingest processes can share one.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from edge.lifecycle import Closeable


@dataclass(frozen=True, slots=True)
class DeadLetter:
    time_s: float
    topic: str
    gateway: str | None
    reason: str
    payload: bytes


class DeadLetters(Closeable):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY, time_s REAL, "
            "topic TEXT, gateway TEXT, reason TEXT, payload BLOB)"
        )
        self._db.commit()

    def record(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        with self._lock:
            self._db.executemany(
                "INSERT INTO dead_letters(time_s, topic, gateway, reason, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                [(d.time_s, d.topic, d.gateway, d.reason, d.payload) for d in letters],
            )
            self._db.commit()

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM dead_letters").fetchone()[0])

    def all(self) -> list[DeadLetter]:
        with self._lock:
            rows = self._db.execute(
                "SELECT time_s, topic, gateway, reason, payload FROM dead_letters ORDER BY id"
            ).fetchall()
        return [DeadLetter(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def now_s() -> float:
    return time.time()
