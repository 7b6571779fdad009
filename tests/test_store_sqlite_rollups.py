"""The SQLite store keeps the rollup measurements in typed columns (table ``rollups``), and opens
a database of the old layout (every point as JSON in ``points``) by moving its rollups there
without losing a point. The behaviour both stores share is in tests/test_store_contract.py."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest

from cloud.store.base import CLIMATE, FieldValue, Point, StoreUnavailable
from cloud.store.rollup import DAILY, HOURLY
from cloud.store.sqlite import SCHEMA_VERSION, SqliteStore

T0: Final = datetime(2026, 3, 1, tzinfo=UTC)
HOUR: Final = timedelta(hours=1)
TAGS: Final = {"building": "B1", "flat": "A", "room": "stue"}


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 10**9


def hourly(hour: int, **fields: FieldValue) -> Point:
    return Point(HOURLY, TAGS, fields, ns(T0 + hour * HOUR))


STATS: Final = {"temperature_c_mean": 21.5, "temperature_c_min": 20.0, "temperature_c_max": 23.0}


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def test_rollup_fields_are_stored_in_their_columns_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with SqliteStore(path) as store:
        store.write([hourly(0, **STATS, temperature_c_count=12.0), hourly(1, **STATS)])
        store.write([Point(DAILY, TAGS, {"temperature_c_mean": 21.0, "day": "2026-03-01"}, ns(T0))])
        store.write([Point(CLIMATE, {**TAGS, "sensor": "s1"}, {"temperature_c": 21.0}, ns(T0))])
        (found,) = store.query_columns(HOURLY, T0, T0 + 2 * HOUR, fields=list(STATS))
        assert found.values == {k: [v, v] for k, v in STATS.items()}
        daily = store.query(DAILY, T0, T0 + HOUR)
        assert daily.loc[0, "day"] == "2026-03-01" and daily.loc[0, "temperature_c_mean"] == 21.0
        assert (store.count(HOURLY), store.count(DAILY), store.count(CLIMATE)) == (2, 1, 1)
    stored = rows(
        path, 'SELECT time_ns, "temperature_c_mean", "temperature_c_count", extra FROM rollups'
    )
    assert stored[:2] == [(ns(T0), 21.5, 12.0, None), (ns(T0 + HOUR), 21.5, None, None)]
    assert rows(path, 'SELECT "day", extra FROM rollups WHERE "day" IS NOT NULL') == [
        ("2026-03-01", None)
    ]
    assert rows(path, "SELECT count(*) FROM points") == [(1,)]  # the reading only
    assert rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_writing_a_rollup_key_again_overwrites_the_given_fields_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    with SqliteStore(tmp_path / "store.sqlite") as store:
        store.write([hourly(0, **STATS, note="first")])
        store.write([hourly(0, temperature_c_mean=22.0, humidity_pct_mean=40.0, note="second")])
        frame = store.query(HOURLY, T0, T0 + HOUR)
        assert len(frame) == 1
        row = frame.loc[0]
        assert (row["temperature_c_mean"], row["temperature_c_min"]) == (22.0, 20.0)
        assert (row["humidity_pct_mean"], row["note"]) == (40.0, "second")


def test_fields_without_a_column_of_their_type_go_to_extra_and_come_back(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with SqliteStore(path) as store:
        # a field the table has no column for, and a known name first written as a boolean
        store.write([hourly(0, temperature_c_mean=21.0, co2_ppm_max=True, source="backfill")])
        frame = store.query(HOURLY, T0, T0 + HOUR)
        assert frame.loc[0, "co2_ppm_max"] is True
        assert frame.loc[0, "source"] == "backfill"
        with pytest.raises(ValueError, match="co2_ppm_max"):
            store.query_columns(HOURLY, T0, T0 + HOUR, fields=["co2_ppm_max"])
        (found,) = store.query_columns(HOURLY, T0, T0 + HOUR, fields=["temperature_c_mean"])
        assert found.values == {"temperature_c_mean": [21.0]}
        store.delete_flat("B1", "A", T0, T0 + HOUR)
        assert store.count(HOURLY) == 0
    assert rows(path, "SELECT count(*) FROM rollups") == [(0,)]


# migration of a database of the old layout (schema version 0)

OLD_SCHEMA: Final = """
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    measurement TEXT NOT NULL,
    series_key TEXT NOT NULL,
    UNIQUE (measurement, series_key)
);
CREATE TABLE points (
    series_id INTEGER NOT NULL REFERENCES series (id),
    time_ns INTEGER NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (series_id, time_ns)
) WITHOUT ROWID;
CREATE TABLE field_types (
    measurement TEXT NOT NULL,
    field TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (measurement, field)
) WITHOUT ROWID;
"""
"""The layout before schema version 1, as the store made it (cloud/store/sqlite.py then)."""
SERIES_KEY: Final = '{"building":"B1","flat":"A","room":"stue"}'
OLD_ROWS: Final = [
    # (series id, measurement, time, fields as the old store wrote them)
    (
        1,
        HOURLY,
        T0,
        '{"temperature_c_mean":21.5,"temperature_c_min":20.0,"temperature_c_count":12.0}',
    ),
    (1, HOURLY, T0 + HOUR, '{"temperature_c_mean":22.5,"flag":true,"source":"backfill"}'),
    (2, DAILY, T0, '{"temperature_c_mean":22.0,"day":"2026-03-01"}'),
    (3, CLIMATE, T0, '{"temperature_c":21.25,"humidity_pct":40.0}'),
]
OLD_TYPES: Final = [
    (HOURLY, "temperature_c_mean", "float"),
    (HOURLY, "temperature_c_min", "float"),
    (HOURLY, "temperature_c_count", "float"),
    (HOURLY, "flag", "boolean"),
    (HOURLY, "source", "string"),
    (DAILY, "temperature_c_mean", "float"),
    (DAILY, "day", "string"),
    (CLIMATE, "temperature_c", "float"),
    (CLIMATE, "humidity_pct", "float"),
]


def old_database(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.executescript(OLD_SCHEMA)
        db.executemany(
            "INSERT INTO series (id, measurement, series_key) VALUES (?, ?, ?)",
            [
                (1, HOURLY, SERIES_KEY),
                (2, DAILY, SERIES_KEY),
                (3, CLIMATE, SERIES_KEY.replace("}", ',"sensor":"s1"}')),
            ],
        )
        db.executemany(
            "INSERT INTO points (series_id, time_ns, fields) VALUES (?, ?, ?)",
            [(series, ns(at), fields) for series, _, at, fields in OLD_ROWS],
        )
        db.executemany("INSERT INTO field_types VALUES (?, ?, ?)", OLD_TYPES)
        db.commit()


def test_an_old_database_is_migrated_without_losing_a_point(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old_database(path)
    assert rows(path, "PRAGMA user_version") == [(0,)]
    with SqliteStore(path) as store:
        assert (store.count(HOURLY), store.count(DAILY), store.count(CLIMATE)) == (2, 1, 1)
        frame = store.query(HOURLY, T0, T0 + 2 * HOUR)
        first, second = frame.to_dict("records")
        assert (first["temperature_c_mean"], first["temperature_c_min"]) == (21.5, 20.0)
        assert first["temperature_c_count"] == 12.0
        assert (second["temperature_c_mean"], second["flag"], second["source"]) == (
            22.5,
            True,
            "backfill",
        )
        (series,) = store.query_columns(
            HOURLY, T0, T0 + 2 * HOUR, fields=["temperature_c_mean", "temperature_c_min"]
        )
        assert series.values == {
            "temperature_c_mean": [21.5, 22.5],
            "temperature_c_min": [20.0, None],
        }
        daily = store.query(DAILY, T0, T0 + HOUR).to_dict("records")
        assert [(d["temperature_c_mean"], d["day"]) for d in daily] == [(22.0, "2026-03-01")]
        raw = store.query(CLIMATE, T0, T0 + HOUR).to_dict("records")
        assert [(r["temperature_c"], r["humidity_pct"]) for r in raw] == [(21.25, 40.0)]
        store.write([hourly(2, temperature_c_mean=23.0)])  # and it goes on as a new one
        assert store.count(HOURLY) == 3
    assert rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(path, "SELECT series_id FROM points") == [(3,)]  # raw readings stay
    assert rows(path, f"SELECT extra FROM rollups WHERE time_ns = {ns(T0 + HOUR)}") == [
        ('{"flag":true,"source":"backfill"}',)
    ]
    with SqliteStore(path) as again:  # opening again changes nothing
        assert (again.count(HOURLY), again.count(CLIMATE)) == (3, 1)


def test_a_database_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite"
    with SqliteStore(path):
        pass
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreUnavailable, match="upgrade indeklima"):
        SqliteStore(path)
