"""SQLite files several processes open at the same moment: two ingests share the dead-letter
file; API workers share the accounts and store files. `enable_wal` waits for the other
connection instead of failing "database is locked", and the dead-letter schema is made by one
writer while the others wait (before, two processes both added the same column)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from cloud.deadletter import DeadLetters
from edge.sqlite_wal import enable_wal


def test_enable_wal_waits_for_a_writer_that_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # a writer in the middle of its transaction
    holder.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    opener = sqlite3.connect(path, timeout=0, isolation_level=None)  # no busy handler at all
    try:
        enable_wal(opener, timeout_s=10)
        assert opener.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        release.join()
        opener.close()
        holder.close()


def test_enable_wal_gives_up_after_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "held.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    opener = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        enable_wal(opener, timeout_s=0.2)
    opener.close()
    holder.close()


def _open_dead_letters(path: str, barrier: object, errors: object) -> None:
    assert hasattr(barrier, "wait") and hasattr(errors, "put")
    barrier.wait()
    try:
        DeadLetters(Path(path)).close()
    except Exception as exc:  # reported to the test, which fails with it
        errors.put(repr(exc))


def test_processes_opening_a_new_dead_letter_file_together(tmp_path: Path) -> None:
    """Four processes open each of ten new files at once (before: 'database is locked' or
    'duplicate column name: kind' in about half the rounds)."""
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    for round_ in range(10):
        path = tmp_path / f"dead-{round_}.sqlite"
        barrier = ctx.Barrier(4)
        workers = [
            ctx.Process(target=_open_dead_letters, args=(str(path), barrier, errors))
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [w.exitcode for w in workers] == [0, 0, 0, 0]
        with DeadLetters(path) as letters:
            assert letters.count() == 0
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
