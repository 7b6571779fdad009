"""Dead letters: what could not be stored, kept with the reason, never blocking the stream.

A SQLite file (WAL, busy timeout) so that several ingest processes can share one. Bounded
(DESIGN.md rule 5): at most ``max_count`` letters and ``max_bytes`` of payload, each kept at most
``retention_s``; when a bound is reached the OLDEST letters are dropped, counted (``dropped``,
kept in the file) and logged — never silently.

Each letter has a ``kind``. Two kinds are *replayable*: their readings were good but refused
for a reason that can go away —

* ``unregistered``: the gateway, or the flat it sent for, is not (yet) in the registry;
* ``future``: dated further in the future than the allowed clock skew.

``indeklima deadletters replay`` (cloud/deadletter_cli.py) checks them again against the current
registry and clock and stores what now passes. Everything else (``invalid``: malformed, wrong
schema, oversize, bad ids, batches that claim another gateway; ``rejected``: refused by the store)
can be inspected and purged.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from edge.lifecycle import Closeable
from edge.sqlite_wal import enable_wal

log = logging.getLogger(__name__)

Kind = Literal["invalid", "unregistered", "future", "rejected"]
REPLAYABLE: Final[frozenset[str]] = frozenset({"unregistered", "future"})
MAX_COUNT: Final = 100_000
MAX_BYTES: Final = 256 * 1024 * 1024
RETENTION_S: Final = 90 * 86_400.0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    time_s: float
    topic: str
    gateway: str | None
    reason: str
    payload: bytes
    kind: Kind = "invalid"
    id: int | None = None
    """Row id once stored (None before)."""


@dataclass(frozen=True, slots=True)
class Summary:
    count: int
    bytes: int
    dropped: int
    """Letters dropped by the bounds or the retention time since the file was made."""
    by_kind: dict[str, int]


_COLUMNS: Final = "id, time_s, topic, gateway, reason, payload, kind"


class DeadLetters(Closeable):
    def __init__(
        self,
        path: Path,
        *,
        max_count: int = MAX_COUNT,
        max_bytes: int = MAX_BYTES,
        retention_s: float = RETENTION_S,
    ) -> None:
        if max_count < 1 or max_bytes < 1 or retention_s <= 0:
            raise ValueError("dead-letter bounds must be positive")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.retention_s = retention_s
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        enable_wal(self._db)
        # one writer makes or upgrades the schema; another process opening the file at the same
        # moment (two ingests share it) waits here and then finds it done
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY, time_s REAL, "
            "topic TEXT, gateway TEXT, reason TEXT, payload BLOB)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(dead_letters)")}
        if "kind" not in columns:  # files from before the bounds: everything counted invalid
            self._db.execute("ALTER TABLE dead_letters ADD COLUMN kind TEXT DEFAULT 'invalid'")
        if "size" not in columns:
            self._db.execute("ALTER TABLE dead_letters ADD COLUMN size INTEGER DEFAULT 0")
            self._db.execute("UPDATE dead_letters SET size = length(payload)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS totals (one INTEGER PRIMARY KEY CHECK (one = 1), "
            "count INTEGER NOT NULL, bytes INTEGER NOT NULL, dropped INTEGER NOT NULL)"
        )
        self._db.execute(
            "INSERT OR IGNORE INTO totals SELECT 1, count(*), coalesce(sum(size), 0), 0 "
            "FROM dead_letters"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS dead_letters_kind ON dead_letters(kind)")
        self._db.execute("CREATE INDEX IF NOT EXISTS dead_letters_time ON dead_letters(time_s)")
        self._db.commit()

    def record(self, letters: Iterable[DeadLetter], now_s: float | None = None) -> int:
        """Store `letters`, then apply the bounds; returns how many letters were dropped."""
        rows = [
            (d.time_s, d.topic, d.gateway, d.reason, d.payload, d.kind, len(d.payload))
            for d in letters
        ]
        if not rows:
            return 0
        with self._lock, self._db:
            self._db.executemany(
                "INSERT INTO dead_letters(time_s, topic, gateway, reason, payload, kind, size) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._db.execute(
                "UPDATE totals SET count = count + ?, bytes = bytes + ?",
                (len(rows), sum(r[6] for r in rows)),
            )
            dropped = self._enforce(time.time() if now_s is None else now_s)
        if dropped:
            log.warning(
                "dødbrevs-grænsen nået: %d ældste droppet / dead-letter bound reached: %d oldest "
                "dropped (bounds %d letters, %d bytes, %.0f days)",
                dropped, dropped, self.max_count, self.max_bytes, self.retention_s / 86_400,
            )  # fmt: skip
        return dropped

    def _enforce(self, now_s: float) -> int:
        """Drop expired letters, then the oldest until within both bounds (in a transaction)."""
        dropped = self._delete("time_s < ?", (now_s - self.retention_s,))
        count, size = self._db.execute("SELECT count, bytes FROM totals").fetchone()
        if count > self.max_count or size > self.max_bytes:
            over_count, over_bytes = count - self.max_count, size - self.max_bytes
            last_id, n, freed = None, 0, 0
            for row_id, row_size in self._db.execute(
                "SELECT id, size FROM dead_letters ORDER BY id"
            ):
                if n >= over_count and freed >= over_bytes:
                    break
                last_id, n, freed = row_id, n + 1, freed + row_size
            if last_id is not None:
                dropped += self._delete("id <= ?", (last_id,))
        return dropped

    def _delete(self, where: str, params: tuple[object, ...]) -> int:
        n, size = self._db.execute(
            f"SELECT count(*), coalesce(sum(size), 0) FROM dead_letters WHERE {where}", params
        ).fetchone()
        if n:
            self._db.execute(f"DELETE FROM dead_letters WHERE {where}", params)
            self._db.execute(
                "UPDATE totals SET count = count - ?, bytes = bytes - ?, dropped = dropped + ?",
                (n, size, n),
            )
        return int(n)

    # -- for the operator ------------------------------------------------------------------------
    def summary(self) -> Summary:
        with self._lock:
            count, size, dropped = self._db.execute(
                "SELECT count, bytes, dropped FROM totals"
            ).fetchone()
            kinds = dict(
                self._db.execute("SELECT kind, count(*) FROM dead_letters GROUP BY kind").fetchall()
            )
        return Summary(int(count), int(size), int(dropped), kinds)

    def count(self) -> int:
        return self.summary().count

    def select(
        self,
        *,
        kinds: Iterable[str] = (),
        gateway: str | None = None,
        ids: Iterable[int] = (),
        limit: int | None = None,
    ) -> list[DeadLetter]:
        """Letters oldest first, filtered by kind, gateway and row id (all when none given)."""
        where, params = self._where(kinds, gateway, ids)
        sql = f"SELECT {_COLUMNS} FROM dead_letters{where} ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [DeadLetter(r[1], r[2], r[3], r[4], bytes(r[5]), r[6], r[0]) for r in rows]

    def all(self) -> list[DeadLetter]:
        return self.select()

    def remove(self, ids: Iterable[int]) -> int:
        """Delete these letters (replayed or purged by the operator; not counted as dropped)."""
        id_list = list(ids)
        if not id_list:
            return 0
        with self._lock, self._db:
            removed = 0
            for start in range(0, len(id_list), 500):
                chunk = id_list[start : start + 500]
                marks = ",".join("?" * len(chunk))
                n, size = self._db.execute(
                    f"SELECT count(*), coalesce(sum(size), 0) FROM dead_letters "
                    f"WHERE id IN ({marks})",
                    chunk,
                ).fetchone()
                self._db.execute(f"DELETE FROM dead_letters WHERE id IN ({marks})", chunk)
                self._db.execute(
                    "UPDATE totals SET count = count - ?, bytes = bytes - ?", (n, size)
                )
                removed += int(n)
        return removed

    def update_reason(self, letter_id: int, kind: str, reason: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE dead_letters SET kind = ?, reason = ? WHERE id = ?",
                (kind, reason, letter_id),
            )

    @staticmethod
    def _where(
        kinds: Iterable[str], gateway: str | None, ids: Iterable[int]
    ) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        kind_list, id_list = list(kinds), list(ids)
        if kind_list:
            clauses.append(f"kind IN ({','.join('?' * len(kind_list))})")
            params += kind_list
        if gateway is not None:
            clauses.append("gateway = ?")
            params.append(gateway)
        if id_list:
            clauses.append(f"id IN ({','.join('?' * len(id_list))})")
            params += id_list
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def close(self) -> None:
        with self._lock:
            self._db.close()


def now_s() -> float:
    return time.time()
