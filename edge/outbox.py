"""The gateway's durable outbox: every reading is committed here before anything else.

SQLite in WAL mode with ``synchronous=FULL``: a commit returns only after the WAL is fsynced, so
a reading that was accepted survives a power cut — the failure that matters on a Raspberry Pi
with an SD card. (``NORMAL`` would survive a SIGKILL of the gateway but may lose the last
transactions on power loss.) The cost is one fsync per commit; the gateway commits once per
group of samples, not per reading, so it stays far below the sensors' rate.

Readings leave only when ingest confirms their batch is stored (`confirm`). A batch keeps its id
across re-sends, so the idempotent store absorbs repeats. The outbox is bounded: when it holds
``max_readings`` the oldest are dropped, counted (`dropped`) and reported in the gateway status.

Window state messages (`edge.wire.WindowState`: the ventilation's decisions, command outcomes,
positions — the windows' audit trail) live in the same database, in their own table, with the same
guarantees: committed (fsynced) by `add_state` before anything else happens to them, numbered
(``seq``, in the message itself, kept across re-sends), sent one message per state, and deleted
only when ingest names their number in an ack (`confirm_states`). Bounded by ``max_states``: when
full, the oldest are dropped, counted (`states_dropped`, kept across restarts) and reported in the
gateway status (``window_states_dropped``) — the newest say where the windows are now.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import orjson

from edge.lifecycle import Closeable
from edge.sqlite_wal import enable_wal
from edge.wire import SCHEMA_VERSION, Reading, WindowState, encode

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payload BLOB NOT NULL,
    batch TEXT
);
CREATE INDEX IF NOT EXISTS readings_batch ON readings(batch);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    sent_at REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS last_seen (sensor TEXT PRIMARY KEY, time_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS states (
    seq INTEGER PRIMARY KEY,
    window TEXT NOT NULL,
    payload BLOB NOT NULL,
    sent_at REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS states_sent ON states(sent_at);
"""
_STATE_COUNTERS = ("states_added", "states_dropped", "states_confirmed")


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch as stored: its readings are kept as the JSON they were committed as."""

    id: str
    payloads: list[bytes]
    attempts: int

    def __len__(self) -> int:
        return len(self.payloads)

    def message(self, gateway_id: str) -> bytes:
        """The wire message (edge/wire.py `ReadingsBatch`), assembled without re-encoding."""
        head = orjson.dumps({"v": SCHEMA_VERSION, "gateway": gateway_id, "batch_id": self.id})
        return head[:-1] + b',"readings":[' + b",".join(self.payloads) + b"]}"


@dataclass(frozen=True, slots=True)
class PendingState:
    """A window state message as stored: its number, window and wire payload (``seq`` in it)."""

    seq: int
    window: str
    payload: bytes
    attempts: int


class Outbox(Closeable):
    """Thread-safe (one connection behind a lock): the sampler adds, the uplink sends/confirms."""

    def __init__(
        self,
        path: Path,
        gateway_id: str,
        *,
        max_readings: int = 2_000_000,
        max_states: int = 50_000,
    ) -> None:
        self.path = path
        self.gateway_id = gateway_id
        self.max_readings = max_readings
        self.max_states = max_states
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._closed_counters: dict[str, int] = {}
        self._db: sqlite3.Connection | None = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None
        )
        enable_wal(self._db)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._pending = self._scalar("SELECT count(*) FROM readings")
        self._unbatched = self._scalar("SELECT count(*) FROM readings WHERE batch IS NULL")
        self._states_pending = self._scalar("SELECT count(*) FROM states")

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"outbox {self.path} is closed")
        return self._db

    def _scalar(self, sql: str, params: Sequence[object] = ()) -> int:
        row = self._conn().execute(sql, params).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _counter(self, name: str) -> int:
        return self._scalar("SELECT value FROM counters WHERE name = ?", (name,))

    def _bump(self, name: str, by: int) -> int:
        self._conn().execute(
            "INSERT INTO counters(name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )
        return self._counter(name)

    # -- producer side -------------------------------------------------------------------------
    def add(self, readings: Iterable[Reading]) -> int:
        """Commit readings durably (one transaction); returns how many were added."""
        readings = list(readings)
        rows = [(encode(r),) for r in readings]
        if not rows:
            return 0
        newest: dict[str, int] = {}
        for r in readings:
            newest[r.sensor] = max(r.time_ms, newest.get(r.sensor, 0))
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT INTO readings(payload) VALUES (?)", rows)
                db.executemany(
                    "INSERT INTO last_seen(sensor, time_ms) VALUES (?, ?) ON CONFLICT(sensor) "
                    "DO UPDATE SET time_ms = max(time_ms, excluded.time_ms)",
                    list(newest.items()),
                )
                self._bump("added", len(rows))
                self._pending += len(rows)
                self._unbatched += len(rows)
                overflow = self._pending - self.max_readings
                if overflow > 0:
                    self._drop_oldest(overflow)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                self._pending = self._scalar("SELECT count(*) FROM readings")
                self._unbatched = self._scalar("SELECT count(*) FROM readings WHERE batch IS NULL")
                raise
        return len(rows)

    def _drop_oldest(self, n: int) -> None:
        db = self._conn()
        db.execute(
            "DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id LIMIT ?)", (n,)
        )
        db.execute(
            "DELETE FROM batches WHERE id NOT IN (SELECT DISTINCT batch FROM readings "
            "WHERE batch IS NOT NULL)"
        )
        self._bump("dropped", n)
        self._pending -= n
        self._unbatched = self._scalar("SELECT count(*) FROM readings WHERE batch IS NULL")

    # -- uplink side ---------------------------------------------------------------------------
    def next_batch(self, max_readings: int) -> Batch | None:
        """Put the oldest unbatched readings into a new batch (id ``<gateway>-<seq>``)."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute(
                    "SELECT id, payload FROM readings WHERE batch IS NULL ORDER BY id LIMIT ?",
                    (max_readings,),
                ).fetchall()
                if not rows:
                    db.execute("COMMIT")
                    return None
                seq = self._bump("batch_seq", 1)
                batch_id = f"{self.gateway_id}-{seq:010d}"
                db.execute("INSERT INTO batches(id) VALUES (?)", (batch_id,))
                db.executemany(
                    "UPDATE readings SET batch = ? WHERE id = ?", [(batch_id, r[0]) for r in rows]
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._unbatched -= len(rows)
        return Batch(batch_id, [bytes(r[1]) for r in rows], 0)

    def due_batches(self, resend_after_s: float, *, now: float | None = None) -> list[Batch]:
        """Unconfirmed batches never sent by this process or sent more than resend_after_s ago
        (after a restart every unconfirmed batch is due at once: ``sent_at`` is wall time)."""
        cutoff = (time.time() if now is None else now) - resend_after_s
        with self._lock:
            db = self._conn()
            ids = db.execute(
                "SELECT id, attempts FROM batches WHERE sent_at <= ? ORDER BY id", (cutoff,)
            ).fetchall()
            batches = []
            for batch_id, attempts in ids:
                rows = db.execute(
                    "SELECT payload FROM readings WHERE batch = ? ORDER BY id", (batch_id,)
                ).fetchall()
                if rows:
                    batches.append(Batch(batch_id, [bytes(r[0]) for r in rows], attempts))
                else:
                    db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
        return batches

    def mark_sent(self, batch_id: str, *, now: float | None = None) -> None:
        with self._lock:
            self._conn().execute(
                "UPDATE batches SET sent_at = ?, attempts = attempts + 1 WHERE id = ?",
                (time.time() if now is None else now, batch_id),
            )

    def unconfirmed(self) -> int:
        with self._lock:
            return self._scalar("SELECT count(*) FROM batches")

    def confirm(self, batch_ids: Iterable[str]) -> int:
        """Ingest stored these batches: delete their readings. Unknown ids are ignored (a
        repeated ack). Returns how many readings left the outbox."""
        ids = [(b,) for b in batch_ids]
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                before = db.total_changes
                db.executemany("DELETE FROM readings WHERE batch = ?", ids)
                removed = db.total_changes - before
                db.executemany("DELETE FROM batches WHERE id = ?", ids)
                self._pending -= removed
                self._bump("confirmed", removed)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return removed

    # -- figures -------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return self._pending

    @property
    def unbatched(self) -> int:
        """Readings not yet put into a batch."""
        return self._unbatched

    def last_seen(self) -> dict[str, datetime]:
        """Newest reading time per sensor id ever committed (kept across restarts): where a
        history backfill after an outage starts."""
        with self._lock:
            rows = self._conn().execute("SELECT sensor, time_ms FROM last_seen").fetchall()
        return {s: datetime.fromtimestamp(t / 1000, tz=UTC) for s, t in rows}

    def resend_all(self) -> None:
        """Make every unconfirmed batch and window state due now (after a reconnect the broker
        may have lost what it held)."""
        with self._lock:
            self._conn().execute("UPDATE batches SET sent_at = 0")
            self._conn().execute("UPDATE states SET sent_at = 0")

    @property
    def dropped(self) -> int:
        """Readings dropped (oldest first) because the outbox was full, ever."""
        with self._lock:
            return (
                self._closed_counters["dropped"] if self._db is None else self._counter("dropped")
            )

    @property
    def added(self) -> int:
        """Readings ever committed to this outbox."""
        with self._lock:
            return self._closed_counters["added"] if self._db is None else self._counter("added")

    # -- window state messages ---------------------------------------------------------------
    def add_state(self, window: str, message: WindowState) -> int:
        """Number `message` (``seq``) and commit it durably; returns its number. When the table
        holds ``max_states``, the oldest are dropped and counted."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._bump("state_seq", 1)
                payload = encode(msgspec.structs.replace(message, seq=seq))
                db.execute(
                    "INSERT INTO states(seq, window, payload) VALUES (?, ?, ?)",
                    (seq, window, payload),
                )
                self._bump("states_added", 1)
                overflow = self._states_pending + 1 - self.max_states
                if overflow > 0:
                    db.execute(
                        "DELETE FROM states WHERE seq IN "
                        "(SELECT seq FROM states ORDER BY seq LIMIT ?)",
                        (overflow,),
                    )
                    self._bump("states_dropped", overflow)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                self._states_pending = self._scalar("SELECT count(*) FROM states")
                raise
            self._states_pending += 1 - max(overflow, 0)
        return seq

    def due_states(
        self, resend_after_s: float, max_in_flight: int, *, now: float | None = None
    ) -> list[PendingState]:
        """The oldest window states never sent by this process or sent more than
        ``resend_after_s`` ago, in order, so that at most ``max_in_flight`` are sent and not
        yet overdue (an ack or a re-send is awaited for them)."""
        cutoff = (time.time() if now is None else now) - resend_after_s
        with self._lock:
            if not self._states_pending:
                return []
            db = self._conn()
            in_flight = self._scalar("SELECT count(*) FROM states WHERE sent_at > ?", (cutoff,))
            room = max_in_flight - in_flight
            if room <= 0:
                return []
            rows = db.execute(
                "SELECT seq, window, payload, attempts FROM states WHERE sent_at <= ? "
                "ORDER BY seq LIMIT ?",
                (cutoff, room),
            ).fetchall()
        return [PendingState(int(r[0]), str(r[1]), bytes(r[2]), int(r[3])) for r in rows]

    def mark_states_sent(self, seqs: Iterable[int], *, now: float | None = None) -> None:
        sent_at = time.time() if now is None else now
        with self._lock:
            self._conn().executemany(
                "UPDATE states SET sent_at = ?, attempts = attempts + 1 WHERE seq = ?",
                [(sent_at, s) for s in seqs],
            )

    def confirm_states(self, seqs: Iterable[int]) -> int:
        """Ingest stored these window states: delete them. Unknown numbers are ignored (a
        repeated ack, or a state dropped by the bound meanwhile). Returns how many left."""
        rows = [(s,) for s in seqs]
        if not rows:
            return 0
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                before = db.total_changes
                db.executemany("DELETE FROM states WHERE seq = ?", rows)
                removed = db.total_changes - before
                self._bump("states_confirmed", removed)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._states_pending -= removed
        return removed

    @property
    def states_pending(self) -> int:
        """Window state messages not yet confirmed by ingest."""
        return self._states_pending

    def _figure(self, name: str) -> int:
        with self._lock:
            return self._closed_counters[name] if self._db is None else self._counter(name)

    @property
    def states_dropped(self) -> int:
        """Window state messages dropped (oldest first) because the table was full, ever."""
        return self._figure("states_dropped")

    @property
    def states_added(self) -> int:
        """Window state messages ever committed to this outbox."""
        return self._figure("states_added")

    def flush(self) -> None:
        """Every `add` is already durable when it returns; kept for the buffer protocol."""

    def close(self) -> None:
        """Close the database; the figures stay readable. Safe to call twice."""
        with self._lock:
            if self._db is not None:
                self._closed_counters = {
                    n: self._counter(n) for n in ("added", "dropped", *_STATE_COUNTERS)
                }
                self._db.close()
                self._db = None
