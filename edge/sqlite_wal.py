"""Switch a SQLite connection to write-ahead logging, also when another process opens the same
file at the same moment.

Changing the journal mode needs the file to itself for an instant. When two processes open one
file together (two ingests sharing the dead-letter file, API workers starting at once), SQLite
may answer the second one "database is locked" at once instead of calling its busy handler
(it does so where waiting could deadlock: https://www.sqlite.org/c3ref/busy_handler.html), so
the connection's timeout does not help. `enable_wal` retries for a bounded time, then raises.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Final

WAL_TIMEOUT_S: Final = 30.0


def enable_wal(conn: sqlite3.Connection, timeout_s: float = WAL_TIMEOUT_S) -> None:
    """``PRAGMA journal_mode=WAL`` on `conn`, retried while another connection holds the file
    (at most `timeout_s`; then the last ``sqlite3.OperationalError`` is raised)."""
    deadline = time.monotonic() + timeout_s
    pause = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
