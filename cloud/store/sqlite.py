"""The embedded time-series store: one SQLite file, same behaviour as `InfluxStore`.

Tables:

- ``series(id, measurement, series_key)``: one row per tag set; ``series_key`` is the tags as
  canonical JSON (keys sorted), unique per measurement. A query finds its series here, then reads
  each series' time range from the points' primary key.
- ``points(series_id, time_ns, fields)``, primary key (series_id, time_ns), ``WITHOUT ROWID``;
  fields as JSON. The key (measurement, tags, time) is thus (series_id, time_ns): an integer
  series id rather than the tag text in every row writes about 1.5 times faster and keeps the
  file small. Writing a key again merges the fields with ``json_patch`` (RFC 7396): the given
  fields are overwritten, the others kept — what InfluxDB does with a point written twice.
- ``rollups(series_id, time_ns, <one typed column per rollup field>, extra)``: the points of the
  rollup measurements (``climate_hourly``, ``climate_daily``, `cloud.store.rollup`), primary key
  as ``points``, each known field in its own column (REAL for the ``_mean/_min/_max/_count``
  numbers, TEXT for the daily ``day``) and any other field, or a known one written with another
  type, in the JSON column ``extra``. A chart's month or year reads these columns straight, with
  no JSON to parse (`query_columns`): that was a third of a chart request's time. Writing a key
  again overwrites the given fields and keeps the others, as in ``points``.
- ``field_types(measurement, field, type)``: a field keeps the type it was first written with
  (float, boolean, string); a point that would change it is refused with `StoreRejected`, as
  InfluxDB refuses a field type conflict. Unlike InfluxDB (per shard, partial writes), the check
  is per measurement and a refused batch stores nothing.

**Schema versions** (``PRAGMA user_version``): 0 kept every point in ``points``; 1 keeps the
rollup measurements in ``rollups``. Opening a version-0 file migrates it in one transaction (the
rollup rows are copied, the copy is counted against the original, then the originals are
deleted; on any mismatch nothing changes and the store refuses to open), so an existing
database keeps every point. A file of a newer version than this code knows is refused.

Names follow line protocol's rules (`cloud.store.lineprotocol.check_name`) so that the two stores
accept the same points; ints are stored as floats; empty tag values are no tag.

WAL journal with ``synchronous=NORMAL``: a committed write survives the process being killed;
only an OS crash or power cut can lose the last transactions
(https://www.sqlite.org/pragma.html#pragma_synchronous, https://www.sqlite.org/wal.html).
Each thread uses its own connection (ingest writes from a worker thread while the web app reads);
writers wait up to `busy_timeout_s` for each other.
"""

from __future__ import annotations

import itertools
import logging
import math
import operator
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

import orjson

from cloud.store.base import (
    Aggregate,
    FieldValue,
    Point,
    SeriesColumns,
    StoreRejected,
    StoreUnavailable,
    check_aggregate,
    points_frame,
    points_from_readings,
)
from cloud.store.lineprotocol import LineProtocolError, check_name
from cloud.store.rollup import DAILY, HOURLY, QUANTITIES, STATS, stat_field
from edge.sqlite_wal import enable_wal

if TYPE_CHECKING:
    import pandas as pd

    from edge.wire import Reading

log = logging.getLogger(__name__)

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_IN_BATCH: Final = 500
"""Series ids per ``IN (…)`` list (SQLite allows 32,766 parameters since 3.32)."""
_CACHE_KIB: Final = 32_768
"""Page cache per connection: 32 MiB makes big batches about 1.6 times faster than the 2 MiB
default (measured here, 200k points in 10k batches)."""
_MAX_SELECTIONS: Final = 10_000
"""Cached `query_columns` series selections (one per flat and measurement, say) at most."""
_NUMERIC_AGGREGATES: Final = frozenset({"mean", "min", "max", "sum"})
_AGGREGATED_TYPES: Final = {
    "mean": {"float"},
    "sum": {"float"},
    "min": {"float", "boolean"},
    "max": {"float", "boolean"},
}
"""Field types each aggregate takes when no fields are named (InfluxDB's ``mean(*)`` skips
strings and booleans, ``max(*)`` skips strings); ``count``/``last`` take every type."""
_TYPE_NAMES: Final[dict[type, str]] = {float: "float", int: "float", bool: "boolean", str: "string"}

SCHEMA_VERSION: Final = 1
"""``PRAGMA user_version`` of the current layout (0: every point in ``points``)."""
TYPED_MEASUREMENTS: Final = frozenset({HOURLY, DAILY})
"""Measurements kept in the ``rollups`` table with a typed column per known field."""
TYPED_COLUMNS: Final[dict[str, str]] = {
    **{stat_field(q, s): "float" for q in QUANTITIES for s in (*STATS, "count")},
    "day": "string",
}
"""Field → the field type its column holds (`field_types` names: float → REAL, string → TEXT)."""
_SQL_TYPES: Final = {"float": "REAL", "string": "TEXT"}
_PYTHON_TYPES: Final = {"float": float, "string": str}
_COLUMN_LIST: Final = ", ".join(f'"{c}"' for c in TYPED_COLUMNS)

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    measurement TEXT NOT NULL,
    series_key TEXT NOT NULL,
    UNIQUE (measurement, series_key)
);
CREATE TABLE IF NOT EXISTS points (
    series_id INTEGER NOT NULL REFERENCES series (id),
    time_ns INTEGER NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (series_id, time_ns)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollups (
    series_id INTEGER NOT NULL REFERENCES series (id),
    time_ns INTEGER NOT NULL,
    {typed_columns}
    extra TEXT,
    PRIMARY KEY (series_id, time_ns)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS field_types (
    measurement TEXT NOT NULL,
    field TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (measurement, field)
) WITHOUT ROWID;
""".replace(
    "{typed_columns}",
    "\n    ".join(f'"{c}" {_SQL_TYPES[kind]},' for c, kind in TYPED_COLUMNS.items()),
)
_UPSERT: Final = (
    "INSERT INTO points (series_id, time_ns, fields) VALUES (?, ?, ?) "
    "ON CONFLICT (series_id, time_ns) "
    "DO UPDATE SET fields = json_patch(points.fields, excluded.fields)"
)
_UPSERT_TYPED: Final = (
    f"INSERT INTO rollups (series_id, time_ns, {_COLUMN_LIST}, extra) "
    f"VALUES (?, ?, {', '.join('?' * len(TYPED_COLUMNS))}, ?) "
    "ON CONFLICT (series_id, time_ns) DO UPDATE SET "
    + ", ".join(f'"{c}" = coalesce(excluded."{c}", rollups."{c}")' for c in TYPED_COLUMNS)
    + ", extra = CASE WHEN excluded.extra IS NULL THEN rollups.extra "
    "WHEN rollups.extra IS NULL THEN excluded.extra "
    "ELSE json_patch(rollups.extra, excluded.extra) END"
)


def _epoch_ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} is a naive datetime; give a timezone-aware UTC time")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000


def _series_key(measurement: str, tags: Mapping[str, str]) -> str:
    check_name("measurement", measurement)
    for key, value in tags.items():
        check_name("tag key", key)
        check_name("tag value", value)
    return orjson.dumps({k: v for k, v in tags.items() if v}, option=orjson.OPT_SORT_KEYS).decode()


class SqliteStore:
    """A `TimeSeriesStore` in one SQLite file; thread-safe; `close()` safe to call twice."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._types: dict[tuple[str, str], str] = {}
        self._series_ids: dict[tuple[str, str], int] = {}
        self._tags_of: dict[str, dict[int, dict[str, str]]] = {}
        self._float_fields: dict[str, frozenset[str]] = {}
        self._selections: dict[
            tuple[str, tuple[tuple[str, str], ...]], tuple[int, dict[int, dict[str, str]]]
        ] = {}
        try:
            conn = self._connection()
            conn.executescript(SCHEMA)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                with self._write() as locked:
                    _migrate(locked, self.path)
        except sqlite3.Error as exc:
            self.close()
            raise StoreUnavailable(f"cannot set up {self.path}: {exc}; check the file") from exc
        except StoreUnavailable:
            self.close()
            raise
        if version > SCHEMA_VERSION:
            self.close()
            raise StoreUnavailable(
                f"{self.path} has schema version {version}, newer than this program's "
                f"{SCHEMA_VERSION}; upgrade indeklima"
            )

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable(f"{self!r} is closed; make a new store")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path,
                    timeout=self.busy_timeout_s,
                    isolation_level=None,
                    check_same_thread=False,
                )
                enable_wal(conn)
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            except (sqlite3.Error, OSError) as exc:
                raise StoreUnavailable(f"cannot open {self.path}: {exc}; check the path") from exc
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _write(self) -> _Transaction:
        return _Transaction(self, self._connection())

    # TimeSeriesStore

    def write(self, points: Sequence[Point]) -> None:
        if not points:
            return
        keys: dict[tuple[str, ...], tuple[str, str]] = {}
        seen_types: dict[tuple[str, str], str] = {}
        float_fields: set[tuple[str, ...]] = set()
        rows: list[tuple[tuple[str, str], int, bytes]] = []
        typed: list[tuple[tuple[str, str], int, Mapping[str, FieldValue]]] = []
        try:
            for point in points:
                tags, fields = point.tags, point.fields
                cache_key = (point.measurement, *tags, *tags.values())
                series = keys.get(cache_key)
                if series is None:
                    series = keys[cache_key] = (
                        point.measurement,
                        _series_key(point.measurement, tags),
                    )
                clean: Mapping[str, FieldValue]
                for value in fields.values():
                    if type(value) is not float or value - value != 0.0:  # not finite
                        clean = _clean_fields(point, seen_types)
                        break
                else:  # all finite floats: the common case, checked once per set of names
                    names = (point.measurement, *fields)
                    if names not in float_fields:
                        _clean_fields(point, seen_types)
                        float_fields.add(names)
                    clean = fields
                if point.measurement in TYPED_MEASUREMENTS:
                    typed.append((series, int(point.time_ns), clean))
                else:
                    blob = orjson.dumps(clean if type(clean) is dict else dict(clean))
                    rows.append((series, int(point.time_ns), blob))
        except LineProtocolError as exc:
            raise StoreRejected(str(exc)) from exc
        try:
            with self._write() as conn:
                self._check_types(conn, seen_types)
                ids = self._ids(conn, set(keys.values()))
                if rows:
                    conn.executemany(_UPSERT, [(ids[k], t, blob) for k, t, blob in rows])
                if typed:
                    conn.executemany(
                        _UPSERT_TYPED, [(ids[k], t, *_typed_row(f)) for k, t, f in typed]
                    )
        except BaseException:
            self._types.clear()  # they may hold what the rolled-back transaction wrote
            raise
        self._series_ids.update(ids)

    def _ids(
        self, conn: sqlite3.Connection, series: set[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """Series ids, making rows for new series (in the caller's transaction)."""
        ids = {k: self._series_ids[k] for k in series if k in self._series_ids}
        for measurement, key in series.difference(ids):
            conn.execute(
                "INSERT OR IGNORE INTO series (measurement, series_key) VALUES (?, ?)",
                (measurement, key),
            )
            row = conn.execute(
                "SELECT id FROM series WHERE measurement = ? AND series_key = ?",
                (measurement, key),
            ).fetchone()
            ids[measurement, key] = int(row[0])
        return ids

    def _check_types(self, conn: sqlite3.Connection, seen: Mapping[tuple[str, str], str]) -> None:
        """Refuse fields whose type differs from the stored one; record new fields' types."""
        unknown = [key for key in seen if key not in self._types]
        for measurement, field in unknown:
            conn.execute(
                "INSERT OR IGNORE INTO field_types (measurement, field, type) VALUES (?, ?, ?)",
                (measurement, field, seen[measurement, field]),
            )
            row = conn.execute(
                "SELECT type FROM field_types WHERE measurement = ? AND field = ?",
                (measurement, field),
            ).fetchone()
            self._types[measurement, field] = row[0]
        for (measurement, field), kind in seen.items():
            stored = self._types[measurement, field]
            if stored != kind:
                raise StoreRejected(
                    f"field type conflict: field {field!r} of {measurement!r} is {kind}, "
                    f"already stored as {stored}; write it as {stored} or rename the field"
                )

    def write_readings(
        self, readings: Sequence[Reading], gateways: Sequence[str] | None = None
    ) -> None:
        """`CLIMATE` points from readings (same as ``write(points_from_readings(...))``)."""
        self.write(points_from_readings(readings, gateways))

    def query(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        *,
        where: Mapping[str, str] | None = None,
        fields: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        field_keys = list(fields) if fields else list(self._field_types(measurement))
        times, tags, values = self._columns(
            measurement, _epoch_ns(start), _epoch_ns(end), where, field_keys
        )
        return points_frame(times, tags, values)

    def query_columns(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        *,
        fields: Sequence[str],
        where: Mapping[str, str] | None = None,
    ) -> list[SeriesColumns]:
        start_ns, end_ns = _epoch_ns(start), _epoch_ns(end)
        series = self._selected(measurement, where)
        if measurement in TYPED_MEASUREMENTS and self._in_columns(measurement, fields):
            found = self._typed_columns(series, start_ns, end_ns, fields)
            return sorted(found, key=lambda c: _tag_sort_key(c.tags))
        wanted = frozenset(fields)
        found = []
        for batch in _batches(sorted(series)):
            rows = self._rows(measurement, batch, start_ns, end_ns, ordered=True)
            for key, group in itertools.groupby(rows, key=operator.itemgetter(0)):
                times: list[int] = []
                points: list[dict[str, FieldValue]] = []
                for _, time_ns, point_fields in group:
                    if not wanted.isdisjoint(point_fields):
                        times.append(time_ns)
                        points.append(point_fields)
                if times:
                    values = {f: _numbers(f, [p.get(f) for p in points]) for f in fields}
                    found.append(SeriesColumns(series[key], times, values))
        return sorted(found, key=lambda c: _tag_sort_key(c.tags))

    def _in_columns(self, measurement: str, fields: Sequence[str]) -> bool:
        """Whether every field is held in its ``rollups`` column (a float field, stored as
        such: never in ``extra``)."""
        if not fields or any(TYPED_COLUMNS.get(f) != "float" for f in fields):
            return False
        if self._float_fields.get(measurement, frozenset()).issuperset(fields):
            return True  # cached: a field's type never changes
        types = self._field_types(measurement)
        self._float_fields[measurement] = frozenset(f for f, t in types.items() if t == "float")
        return all(types.get(f, "float") == "float" for f in fields)  # unwritten: no values

    def _typed_columns(
        self,
        series: Mapping[int, dict[str, str]],
        start_ns: int,
        end_ns: int,
        fields: Sequence[str],
    ) -> list[SeriesColumns]:
        """`query_columns` from the ``rollups`` columns: no JSON, one list per column."""
        conn = self._connection()
        columns = ", ".join(f'"{f}"' for f in fields)
        present = " OR ".join(f'"{f}" IS NOT NULL' for f in fields)
        query = (
            f"SELECT time_ns, {columns} FROM rollups WHERE series_id = ? AND time_ns >= ? "
            f"AND time_ns < ? AND ({present}) ORDER BY time_ns"
        )
        found: list[SeriesColumns] = []
        for key in sorted(series):  # a query per series: a flat has a few (its rooms)
            rows = conn.execute(query, (key, start_ns, end_ns)).fetchall()
            if rows:
                times, *values = map(list, zip(*rows, strict=True))
                found.append(
                    SeriesColumns(series[key], times, dict(zip(fields, values, strict=True)))
                )
        return found

    def _rows(
        self,
        measurement: str,
        batch: Sequence[int],
        start_ns: int,
        end_ns: int,
        *,
        ordered: bool = False,
    ) -> Iterator[tuple[int, int, dict[str, FieldValue]]]:
        """(series id, time, fields) of the points of the series in `batch` in [start, end),
        from whichever table holds the measurement."""
        conn = self._connection()
        marks = ",".join("?" * len(batch))
        order = " ORDER BY series_id, time_ns" if ordered else ""
        loads = orjson.loads
        if measurement not in TYPED_MEASUREMENTS:
            for series_id, time_ns, text in conn.execute(
                "SELECT series_id, time_ns, fields FROM points "
                f"WHERE series_id IN ({marks}) AND time_ns >= ? AND time_ns < ?{order}",
                (*batch, start_ns, end_ns),
            ):
                yield series_id, time_ns, loads(text)
            return
        names = tuple(TYPED_COLUMNS)
        for series_id, time_ns, *values, extra in conn.execute(
            f"SELECT series_id, time_ns, {_COLUMN_LIST}, extra FROM rollups "
            f"WHERE series_id IN ({marks}) AND time_ns >= ? AND time_ns < ?{order}",
            (*batch, start_ns, end_ns),
        ):
            point = {n: v for n, v in zip(names, values, strict=True) if v is not None}
            if extra is not None:
                point.update(loads(extra))
            yield series_id, time_ns, point

    def _selected(
        self, measurement: str, where: Mapping[str, str] | None
    ) -> dict[int, dict[str, str]]:
        """Series ids → tags of the measurement's series matching `where`, cached until a new
        series of the measurement appears (a chart asks for one flat of hundreds)."""
        known = self._series_tags(measurement)
        key = (measurement, tuple(sorted((where or {}).items())))
        newest = max(known, default=0)
        cached = self._selections.get(key)
        if cached is not None and cached[0] == newest:
            return cached[1]
        series = {k: t for k, t in list(known.items()) if _matches(t, where)}
        with self._lock:
            if len(self._selections) >= _MAX_SELECTIONS:
                self._selections.clear()
            self._selections[key] = (newest, series)
        return series

    def _series_tags(self, measurement: str) -> dict[int, dict[str, str]]:
        """Series ids → tags of the measurement, cached: a series' tags never change, and
        new series are read incrementally (ids only grow)."""
        with self._lock:
            known = self._tags_of.setdefault(measurement, {})
            last = max(known, default=0)
        rows = (
            self._connection()
            .execute(
                "SELECT id, series_key FROM series WHERE measurement = ? AND id > ?",
                (measurement, last),
            )
            .fetchall()
        )
        if rows:
            with self._lock:
                for series_id, key in rows:
                    known[int(series_id)] = orjson.loads(key)
        return known

    def downsample(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        every: timedelta,
        *,
        where: Mapping[str, str] | None = None,
        fields: Sequence[str] | None = None,
        by: Sequence[str] = ("building", "flat"),
        aggregate: Aggregate = "mean",
    ) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        check_aggregate(aggregate)
        every_ns = every // timedelta(microseconds=1) * 1_000
        if every_ns <= 0:
            raise ValueError(f"every must be at least 1 µs, got {every}")
        if fields:
            field_keys = list(fields)
        else:
            types = self._field_types(measurement)
            wanted = _AGGREGATED_TYPES.get(aggregate)
            field_keys = [k for k, t in types.items() if wanted is None or t in wanted]
        times, tags, values = self._columns(
            measurement, _epoch_ns(start), _epoch_ns(end), where, field_keys
        )
        n = len(times)
        data: dict[str, object] = {
            "window": np.asarray(times, dtype=np.int64) // every_ns * every_ns
        }
        for key in by:
            data[key] = tags.get(key, [""] * n)
        for key in field_keys:
            if aggregate in _NUMERIC_AGGREGATES:
                try:
                    data[key] = np.asarray(values[key], dtype=np.float64)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{aggregate} of non-numeric field {key!r}") from exc
            else:
                data[key] = pd.Series(values[key], dtype=object)
        frame = pd.DataFrame(data, index=pd.RangeIndex(n))
        grouped = frame.groupby(["window", *by], sort=True)[field_keys]
        result = grouped.sum(min_count=1) if aggregate == "sum" else grouped.agg(aggregate)
        for key in field_keys:
            if aggregate in ("min", "max") and any(type(v) is bool for v in values[key]):
                result[key] = [v if math.isnan(v) else bool(v) for v in result[key]]
        if aggregate == "count":
            result = result.where(result > 0)  # as InfluxDB: no values, no count
        result = result.dropna(how="all").reset_index()
        return points_frame(
            result["window"].to_numpy(dtype=np.int64),
            {k: result[k].tolist() for k in by},
            {k: result[k].tolist() for k in field_keys},
        )

    def count(self, measurement: str, *, where: Mapping[str, str] | None = None) -> int:
        conn = self._connection()
        table = "rollups" if measurement in TYPED_MEASUREMENTS else "points"
        total = 0
        for batch in _batches(list(self._matching_series(measurement, where))):
            marks = ",".join("?" * len(batch))
            row = conn.execute(
                f"SELECT count(*) FROM {table} WHERE series_id IN ({marks})", batch
            ).fetchone()
            total += int(row[0])
        return total

    def delete_flat(self, building: str, flat: str, start: datetime, end: datetime) -> None:
        where = {"building": building, "flat": flat}
        series = [
            int(series_id)
            for series_id, key in self._connection().execute("SELECT id, series_key FROM series")
            if _matches(orjson.loads(key), where)
        ]
        start_ns, end_ns = _epoch_ns(start), _epoch_ns(end)
        with self._write() as conn:
            for batch in _batches(series):
                marks = ",".join("?" * len(batch))
                for table in ("points", "rollups"):
                    conn.execute(
                        f"DELETE FROM {table} WHERE series_id IN ({marks}) "
                        "AND time_ns >= ? AND time_ns < ?",
                        [*batch, start_ns, end_ns],
                    )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # reading

    def _field_types(self, measurement: str) -> dict[str, str]:
        rows = self._connection().execute(
            "SELECT field, type FROM field_types WHERE measurement = ? ORDER BY field",
            (measurement,),
        )
        return {str(field): str(kind) for field, kind in rows}

    def _matching_series(
        self, measurement: str, where: Mapping[str, str] | None
    ) -> dict[int, dict[str, str]]:
        """Series ids → tags of the series whose tags match `where` (absent tag = ``""``)."""
        rows = self._connection().execute(
            "SELECT id, series_key FROM series WHERE measurement = ?", (measurement,)
        )
        matching = {}
        for series_id, key in rows:
            tags: dict[str, str] = orjson.loads(key)
            if _matches(tags, where):
                matching[int(series_id)] = tags
        return matching

    def _columns(
        self,
        measurement: str,
        start_ns: int,
        end_ns: int,
        where: Mapping[str, str] | None,
        field_keys: Sequence[str],
    ) -> tuple[list[int], dict[str, list[str]], dict[str, list[FieldValue | None]]]:
        """Columns of the points in [start, end) of the matching series that carry at least one
        of `field_keys`; tag columns for every tag key of the measurement."""
        all_series = self._matching_series(measurement, None)
        tag_keys = sorted({k for tags in all_series.values() for k in tags})
        series = {k: t for k, t in all_series.items() if _matches(t, where)}
        times: list[int] = []
        tags: dict[str, list[str]] = {k: [] for k in tag_keys}
        values: dict[str, list[FieldValue | None]] = {k: [] for k in field_keys}
        for batch in _batches(list(series)):
            for key, time_ns, point_fields in self._rows(measurement, batch, start_ns, end_ns):
                if not any(k in point_fields for k in field_keys):
                    continue
                times.append(time_ns)
                point_tags = series[key]
                for tag, column in tags.items():
                    column.append(point_tags.get(tag, ""))
                for field, value_column in values.items():
                    value_column.append(point_fields.get(field))
        return times, tags, values


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Version 0 → 1 (in the caller's write transaction; another process may have done it
    meanwhile): move the rollup measurements' points from ``points`` to ``rollups``, each field
    into its column when it has the column's type, every other field into ``extra``. Raises
    `StoreUnavailable` (and the transaction is rolled back) if the copy does not hold every
    point."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    moved = 0
    for measurement in sorted(TYPED_MEASUREMENTS):
        types = {
            str(f): str(t)
            for f, t in conn.execute(
                "SELECT field, type FROM field_types WHERE measurement = ?", (measurement,)
            )
        }
        into = [c for c, kind in TYPED_COLUMNS.items() if types.get(c) == kind]
        values = ", ".join(
            f"json_extract(p.fields, '$.\"{c}\"')" if c in into else "NULL" for c in TYPED_COLUMNS
        )
        removed = "".join(f", '$.\"{c}\"'" for c in into)
        extra = f"nullif(json_remove(p.fields{removed}), '{{}}')"
        of_measurement = (
            "FROM points p WHERE p.series_id IN (SELECT id FROM series WHERE measurement = ?)"
        )
        before = conn.execute(f"SELECT count(*) {of_measurement}", (measurement,)).fetchone()[0]
        if not before:
            continue
        copied = conn.execute(
            f"INSERT INTO rollups (series_id, time_ns, {_COLUMN_LIST}, extra) "
            f"SELECT p.series_id, p.time_ns, {values}, {extra} {of_measurement}",
            (measurement,),
        ).rowcount
        deleted = conn.execute(
            "DELETE FROM points WHERE series_id IN (SELECT id FROM series WHERE measurement = ?)",
            (measurement,),
        ).rowcount
        if not before == copied == deleted:
            raise StoreUnavailable(
                f"migrating {path} to schema {SCHEMA_VERSION}: {measurement} has {before} "
                f"points, {copied} copied, {deleted} deleted; nothing was changed — keep the "
                "file and report this"
            )
        moved += copied
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    if moved:
        log.info("%s: %d rollup points moved to typed columns (schema %d)", path, moved, 1)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on error; SQLite errors → StoreUnavailable."""

    def __init__(self, store: SqliteStore, conn: sqlite3.Connection) -> None:
        self.store = store
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.store!r} is busy or broken: {exc}; retry") from exc
        return self.conn

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreUnavailable(f"{self.store!r} failed: {exc}; retry") from exc
            return
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as error:
            self.conn.execute("ROLLBACK")
            raise StoreUnavailable(f"{self.store!r} could not commit: {error}; retry") from error


def _typed_row(fields: Mapping[str, FieldValue]) -> tuple[FieldValue | bytes | None, ...]:
    """A rollup point's values for the ``rollups`` columns, then ``extra`` (JSON of the fields
    without a column of their type, or None)."""
    values: list[FieldValue | bytes | None] = [None] * len(TYPED_COLUMNS)
    extra: dict[str, FieldValue] = {}
    for key, value in fields.items():
        index = _COLUMN_INDEX.get(key)
        if index is not None and type(value) is _COLUMN_PYTHON[index]:
            values[index] = value
        else:
            extra[key] = value
    values.append(orjson.dumps(extra) if extra else None)
    return tuple(values)


_COLUMN_INDEX: Final = {c: i for i, c in enumerate(TYPED_COLUMNS)}
_COLUMN_PYTHON: Final = tuple(_PYTHON_TYPES[kind] for kind in TYPED_COLUMNS.values())


def _clean_fields(point: Point, seen_types: dict[tuple[str, str], str]) -> dict[str, FieldValue]:
    """The point's fields (ints as floats), checked as line protocol would be; records each
    field's type in `seen_types` and refuses a type change within the batch."""
    if not point.fields:
        raise LineProtocolError(f"point {point.tags} at {point.time_ns} has no fields")
    clean: dict[str, FieldValue] = {}
    for key, value in point.fields.items():
        name = _TYPE_NAMES.get(type(value))
        if name is None:
            if not isinstance(value, float | int):
                raise LineProtocolError(f"field {key}={value!r}: use float, bool or str")
            name = "float"
        if name == "float":
            value = float(value)
            if not math.isfinite(value):
                raise LineProtocolError(f"field {key}={value!r} is not finite")
        check_name("field key", key)
        previous = seen_types.setdefault((point.measurement, key), name)
        if previous != name:
            raise LineProtocolError(
                f"field type conflict within the batch: {key!r} is both {previous} and {name}"
            )
        clean[key] = value
    return clean


_NUMBER_TYPES: Final = frozenset({float, type(None)})


def _numbers(field: str, column: list[FieldValue | None]) -> list[float | None]:
    """The column as it is when it holds only floats and gaps (ints are stored as floats)."""
    if not _NUMBER_TYPES.issuperset(map(type, column)):
        bad = next(v for v in column if type(v) not in _NUMBER_TYPES)
        raise ValueError(f"field {field!r} holds {bad!r}, not a number; query it with query()")
    return column  # type: ignore[return-value]


def _tag_sort_key(tags: Mapping[str, str]) -> tuple[str, ...]:
    from cloud.store.base import tag_order

    return tuple(tags.get(k, "") for k in tag_order(tags))


def _matches(tags: Mapping[str, str], where: Mapping[str, str] | None) -> bool:
    return all(tags.get(k, "") == v for k, v in (where or {}).items())


def _batches(keys: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(keys), _IN_BATCH):
        yield keys[start : start + _IN_BATCH]
