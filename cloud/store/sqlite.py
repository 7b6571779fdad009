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
- ``field_types(measurement, field, type)``: a field keeps the type it was first written with
  (float, boolean, string); a point that would change it is refused with `StoreRejected`, as
  InfluxDB refuses a field type conflict. Unlike InfluxDB (per shard, partial writes), the check
  is per measurement and a refused batch stores nothing.

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
CREATE TABLE IF NOT EXISTS field_types (
    measurement TEXT NOT NULL,
    field TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (measurement, field)
) WITHOUT ROWID;
"""
_UPSERT: Final = (
    "INSERT INTO points (series_id, time_ns, fields) VALUES (?, ?, ?) "
    "ON CONFLICT (series_id, time_ns) "
    "DO UPDATE SET fields = json_patch(points.fields, excluded.fields)"
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
        try:
            self._connection().executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot set up {self.path}: {exc}; check the file") from exc

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
                conn.execute("PRAGMA journal_mode=WAL")
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
                for value in fields.values():
                    if type(value) is not float or value - value != 0.0:  # not finite
                        blob = _clean_fields(point, seen_types)
                        break
                else:  # all finite floats: the common case, checked once per set of names
                    names = (point.measurement, *fields)
                    if names not in float_fields:
                        _clean_fields(point, seen_types)
                        float_fields.add(names)
                    blob = orjson.dumps(fields if type(fields) is dict else dict(fields))
                rows.append((series, int(point.time_ns), blob))
        except LineProtocolError as exc:
            raise StoreRejected(str(exc)) from exc
        try:
            with self._write() as conn:
                self._check_types(conn, seen_types)
                ids = self._ids(conn, set(keys.values()))
                conn.executemany(_UPSERT, [(ids[k], t, blob) for k, t, blob in rows])
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
        series = {k: t for k, t in self._series_tags(measurement).items() if _matches(t, where)}
        wanted = frozenset(fields)
        conn = self._connection()
        found: list[SeriesColumns] = []
        loads = orjson.loads
        for batch in _batches(sorted(series)):
            marks = ",".join("?" * len(batch))
            rows = conn.execute(
                "SELECT series_id, time_ns, fields FROM points "
                f"WHERE series_id IN ({marks}) AND time_ns >= ? AND time_ns < ? "
                "ORDER BY series_id, time_ns",
                (*batch, start_ns, end_ns),
            ).fetchall()
            for key, group in itertools.groupby(rows, key=operator.itemgetter(0)):
                times: list[int] = []
                points: list[dict[str, FieldValue]] = []
                for _, time_ns, text in group:
                    point_fields = loads(text)
                    if not wanted.isdisjoint(point_fields):
                        times.append(time_ns)
                        points.append(point_fields)
                if times:
                    values = {f: _numbers(f, [p.get(f) for p in points]) for f in fields}
                    found.append(SeriesColumns(series[key], times, values))
        return sorted(found, key=lambda c: _tag_sort_key(c.tags))

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
        total = 0
        for batch in _batches(list(self._matching_series(measurement, where))):
            marks = ",".join("?" * len(batch))
            row = conn.execute(
                f"SELECT count(*) FROM points WHERE series_id IN ({marks})", batch
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
                conn.execute(
                    f"DELETE FROM points WHERE series_id IN ({marks}) "
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
        conn = self._connection()
        for batch in _batches(list(series)):
            marks = ",".join("?" * len(batch))
            rows = conn.execute(
                "SELECT series_id, time_ns, fields FROM points "
                f"WHERE series_id IN ({marks}) AND time_ns >= ? AND time_ns < ?",
                (*batch, start_ns, end_ns),
            )
            for key, time_ns, text in rows:
                point_fields = orjson.loads(text)
                if not any(k in point_fields for k in field_keys):
                    continue
                times.append(time_ns)
                point_tags = series[key]
                for tag, column in tags.items():
                    column.append(point_tags.get(tag, ""))
                for field, value_column in values.items():
                    value_column.append(point_fields.get(field))
        return times, tags, values


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


def _clean_fields(point: Point, seen_types: dict[tuple[str, str], str]) -> bytes:
    """The point's fields as JSON (ints as floats), checked as line protocol would be; records
    each field's type in `seen_types` and refuses a type change within the batch."""
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
    return orjson.dumps(clean)


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
