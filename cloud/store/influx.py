"""InfluxDB over the 1.x HTTP API: line protocol to ``/write``, InfluxQL from ``/query``.

The one API InfluxDB 1.x serves, and 2.x/3.x serve as compatibility endpoints
(https://docs.influxdata.com/influxdb/v1/tools/api/,
https://docs.influxdata.com/influxdb/v2/reference/api/influxdb-1x/). Authentication: user and
password as HTTP basic auth (1.x), or a token as ``Authorization: Token …`` (2.x/3.x; 1.8+ also
takes ``Token user:password``).

Errors: unreachable, timed out, 5xx, 429, unknown database and refused credentials raise
`StoreUnavailable` (retry later with the same points — every write is idempotent per key);
a request the server will never accept (400: field type conflict, unparsable line, a reserved
name) raises `StoreRejected` with the server's message. InfluxDB applies the good lines of a
refused request ("partial write"), so after `StoreRejected` some of the points may be stored.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import orjson
import requests
from requests.adapters import HTTPAdapter

from cloud.store.base import (
    Aggregate,
    FieldValue,
    Point,
    SeriesColumns,
    StoreRejected,
    StoreUnavailable,
    check_aggregate,
    points_frame,
    tag_order,
)
from cloud.store.lineprotocol import (
    CHUNK_LINES,
    LineProtocolError,
    duration_literal,
    encode_lines,
    encode_readings,
    quote_ident,
    quote_string,
)

if TYPE_CHECKING:
    import pandas as pd

    from edge.wire import Reading

log = logging.getLogger(__name__)

COUNT_CHUNK_ROWS: Final = 50_000
"""Rows per chunk when `InfluxStore.count` streams a measurement."""
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_AGGREGATED_TYPES: Final = {
    "mean": {"float", "integer"},
    "sum": {"float", "integer"},
    "min": {"float", "integer", "boolean"},
    "max": {"float", "integer", "boolean"},
}
"""Field types ``mean(*)`` etc. take (InfluxDB skips the others); ``count``/``last`` take all."""


class InfluxAuthError(StoreUnavailable):
    """InfluxDB refused the credentials; writing can resume once they are fixed."""


def _epoch_ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} is a naive datetime; give a timezone-aware UTC time")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000


def _matches_nothing(where: Mapping[str, str] | None) -> bool:
    """A NUL cannot be quoted in InfluxQL, and no stored tag holds one (`check_name`)."""
    return any("\x00" in k or "\x00" in v for k, v in (where or {}).items())


def _where_clause(start: datetime, end: datetime, where: Mapping[str, str] | None) -> str:
    conditions = [f"time >= {_epoch_ns(start)}", f"time < {_epoch_ns(end)}"]
    conditions += [f"{quote_ident(k)} = {quote_string(v)}" for k, v in (where or {}).items()]
    return " AND ".join(conditions)


class InfluxStore:
    """A `TimeSeriesStore` on an InfluxDB server; thread-safe; `close()` safe to call twice."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        gzip: bool = True,
        timeout_s: float = 10,
        create_database: bool = True,
        chunk_lines: int = CHUNK_LINES,
        concurrency: int = 4,
    ) -> None:
        """`concurrency` requests are in flight at once per `write`, so the server stores some
        chunks while the next is formatted and sent (4 measured best on 2 cores: 2 gave 79k,
        4 gave 93–101k, 6 gave 90k readings/s through ingest).

        `gzip` compresses request bodies (level 1, about 15 times smaller) and asks for
        compressed answers: worth it across a network, but on the same machine it costs CPU on
        both sides — bench/bench_influx_raw.py measured about 20–35 % fewer points/s with it
        on 2 cores, so pass ``gzip=False`` for a server on localhost."""
        self.url = url.rstrip("/")
        self.database = database
        self.timeout_s = timeout_s
        self.chunk_lines = chunk_lines
        self._gzip = gzip
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(4, concurrency + 2))
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        if not gzip:  # nor ask the server to compress answers (costs it CPU)
            self._session.headers["Accept-Encoding"] = "identity"
        if token is not None:
            self._session.headers["Authorization"] = f"Token {token}"
        elif username is not None:
            self._session.auth = (username, password or "")
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="influx-write")
        self._float_texts: dict[float, str] = {}
        """Formatted float values, kept across writes (see `encode_readings`)."""
        self._concurrency = concurrency
        self._create_database = create_database
        self._database_ready = not create_database
        self._lock = threading.Lock()
        self._closed = False
        if create_database:
            try:
                self._ensure_database()
            except StoreUnavailable as exc:
                log.warning("%s; will create database %r before the next write", exc, database)

    def __repr__(self) -> str:
        return f"InfluxStore({self.url!r}, {self.database!r})"

    # HTTP

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        if self._closed:
            raise StoreUnavailable(f"{self!r} is closed; make a new store")
        where = f"InfluxDB at {self.url}"
        try:
            response = self._session.request(
                method, self.url + path, timeout=self.timeout_s, **kwargs
            )
        except requests.Timeout as exc:
            raise StoreUnavailable(
                f"{where} did not answer in {self.timeout_s} s; it may be overloaded — retry"
            ) from exc
        except requests.RequestException as exc:
            raise StoreUnavailable(
                f"cannot reach {where} ({type(exc).__name__}); is it running? Check the URL"
            ) from exc
        status = response.status_code
        if status < 300:
            return response
        message = _server_error(response)
        if status in (401, 403):
            raise InfluxAuthError(
                f"{where} refused the credentials ({status}: {message}); check the user name "
                "and password or token"
            )
        if status == 404 and "database not found" in message:
            self._database_ready = not self._create_database
            raise StoreUnavailable(
                f"{where} has no database {self.database!r} ({message}); create it, or let the "
                "store create it (create_database=True)"
            )
        if status in (400, 413, 422):
            raise StoreRejected(f"{where} refused the request ({status}): {message}")
        raise StoreUnavailable(f"{where} failed ({status}): {message}; retry later")

    def _ensure_database(self) -> None:
        if self._database_ready:
            return
        with self._lock:
            if not self._database_ready:
                self._statements(f"CREATE DATABASE {quote_ident(self.database)}", database=False)
                self._database_ready = True

    def _statements(self, query: str, *, database: bool = True) -> list[dict[str, Any]]:
        """Run InfluxQL; return the results, raising on an error in any of them."""
        params = {"epoch": "ns", **({"db": self.database} if database else {})}
        response = self._request("POST", "/query", params=params, data={"q": query})
        try:
            results: list[dict[str, Any]] = orjson.loads(response.content)["results"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise StoreUnavailable(
                f"{self.url}/query did not answer like InfluxDB ({response.text[:200]!r}); "
                "check the URL"
            ) from exc
        for result in results:
            if "error" in result:
                _raise_query_error(self, query, str(result["error"]))
        return results

    def _series(self, query: str) -> list[dict[str, Any]]:
        return [s for r in self._statements(query) for s in r.get("series", [])]

    def _post_body(self, body: bytes) -> None:
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self._gzip:
            compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: gzip container
            body = compressor.compress(body) + compressor.flush()
            headers["Content-Encoding"] = "gzip"
        params = {"db": self.database, "precision": "ns"}
        self._request("POST", "/write", params=params, data=body, headers=headers)

    # TimeSeriesStore

    def write(self, points: Sequence[Point]) -> None:
        """Chunks of `chunk_lines` points, each formatted while the previous ones are in flight.
        A point line protocol cannot carry raises `StoreRejected`; chunks before it may be
        stored, as in InfluxDB's own partial writes."""
        self._write_chunks(len(points), lambda a, b: encode_lines(points[a:b]))

    def write_readings(
        self, readings: Sequence[Reading], gateways: Sequence[str] | None = None
    ) -> None:
        """`CLIMATE` points straight from readings (ingest's hot path; same result as
        ``write(points_from_readings(readings, gateways))``)."""
        self._write_chunks(
            len(readings),
            lambda a, b: encode_readings(
                readings[a:b], self._float_texts, None if gateways is None else gateways[a:b]
            ),
        )

    def _write_chunks(self, count: int, encode: Callable[[int, int], list[str]]) -> None:
        if not count:
            return
        self._ensure_database()
        pending: deque[Future[None]] = deque()
        errors: list[BaseException] = []
        for start in range(0, count, self.chunk_lines):
            try:
                lines = encode(start, start + self.chunk_lines)
            except LineProtocolError as exc:
                errors.append(StoreRejected(str(exc)))
                break
            body = "\n".join(lines).encode()
            if start == 0 and count <= self.chunk_lines:
                self._post_body(body)  # one chunk: no thread hop
                return
            while len(pending) >= self._concurrency and not errors:
                _collect(pending.popleft(), errors)
            if errors:
                break
            pending.append(self._executor.submit(self._post_body, body))
        for future in pending:
            _collect(future, errors)
        if errors:
            rejected = [e for e in errors if isinstance(e, StoreRejected)]
            raise (rejected or errors)[0]

    def query(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        *,
        where: Mapping[str, str] | None = None,
        fields: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        selected = ", ".join(map(quote_ident, fields)) if fields else "*"
        series = (
            []
            if _matches_nothing(where)
            else self._series(
                f"SELECT {selected} FROM {quote_ident(measurement)} "
                f"WHERE {_where_clause(start, end, where)} GROUP BY *"
            )
        )
        if series:
            return _frame(series, fields)
        tag_keys = self._tag_keys(measurement)
        field_keys = list(fields) if fields else list(self._field_types(measurement))
        return _frame([], field_keys, tag_keys)

    def query_columns(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        *,
        fields: Sequence[str],
        where: Mapping[str, str] | None = None,
    ) -> list[SeriesColumns]:
        if _matches_nothing(where) or not fields:
            return []
        selected = ", ".join(map(quote_ident, fields))
        found = []
        for s in self._series(
            f"SELECT {selected} FROM {quote_ident(measurement)} "
            f"WHERE {_where_clause(start, end, where)} GROUP BY *"
        ):
            rows = s.get("values") or []
            if not rows:
                continue
            columns = s["columns"]
            index = {name: columns.index(name) for name in fields if name in columns}
            values: dict[str, list[float | None]] = {}
            for name in fields:
                i = index.get(name)
                values[name] = (
                    [_number(name, row[i]) for row in rows] if i is not None else [None] * len(rows)
                )
            found.append(SeriesColumns(s.get("tags") or {}, [row[0] for row in rows], values))
        return sorted(found, key=lambda c: tuple(c.tags.get(k, "") for k in tag_order(c.tags)))

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
        check_aggregate(aggregate)
        if fields:
            selected = ", ".join(
                f"{aggregate}({quote_ident(f)}) AS {quote_ident(f)}" for f in fields
            )
        else:
            selected = f"{aggregate}(*)"
        every_ns = every // timedelta(microseconds=1) * 1_000
        group = ", ".join([f"time({duration_literal(every_ns)})", *map(quote_ident, by)])
        series = (
            []
            if _matches_nothing(where)
            else self._series(
                f"SELECT {selected} FROM {quote_ident(measurement)} "
                f"WHERE {_where_clause(start, end, where)} GROUP BY {group} fill(none)"
            )
        )
        prefix = f"{aggregate}_"
        for s in series:
            if not fields:
                s["columns"] = [c.removeprefix(prefix) for c in s["columns"]]
        if series:
            return _frame(series, fields)
        if fields:
            field_keys = list(fields)
        else:
            types = self._field_types(measurement)
            wanted = _AGGREGATED_TYPES.get(aggregate)
            field_keys = [k for k, t in types.items() if wanted is None or t in wanted]
        return _frame([], field_keys, list(by))

    def count(self, measurement: str, *, where: Mapping[str, str] | None = None) -> int:
        """Distinct points, counted by streaming every point's row in chunks.

        InfluxQL counts field values, not points: ``count(*)`` gives one count per field and a
        point lacking a field is not counted for it, so no single figure is exact when readings
        carry different quantities. Streaming rows is exact and needs no extra field written to
        every point, but it reads every point: InfluxDB 1.6 served about 100,000 rows/s here
        (2 cores), so keep `where` narrow on big databases."""
        if _matches_nothing(where):
            return 0
        conditions = [f"{quote_ident(k)} = {quote_string(v)}" for k, v in (where or {}).items()]
        query = f"SELECT * FROM {quote_ident(measurement)}"
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        params = {
            "db": self.database,
            "epoch": "ns",
            "chunked": "true",
            "chunk_size": str(COUNT_CHUNK_ROWS),
        }
        total = 0
        response = self._request("POST", "/query", params=params, data={"q": query}, stream=True)
        with response:
            for line in _json_lines(response):
                for result in orjson.loads(line).get("results", []):
                    if "error" in result:
                        _raise_query_error(self, query, str(result["error"]))
                    total += sum(len(s.get("values", ())) for s in result.get("series", ()))
        return total

    def delete_flat(self, building: str, flat: str, start: datetime, end: datetime) -> None:
        where = {"building": building, "flat": flat}
        if _matches_nothing(where):
            return
        # without FROM, DELETE covers every measurement of the database
        self._statements(f"DELETE WHERE {_where_clause(start, end, where)}")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True)
        self._session.close()

    def __enter__(self) -> InfluxStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # schema

    def _tag_keys(self, measurement: str) -> list[str]:
        series = self._series(f"SHOW TAG KEYS FROM {quote_ident(measurement)}")
        return [str(row[0]) for s in series for row in s.get("values", ())]

    def _field_types(self, measurement: str) -> dict[str, str]:
        series = self._series(f"SHOW FIELD KEYS FROM {quote_ident(measurement)}")
        return {str(row[0]): str(row[1]) for s in series for row in s.get("values", ())}


def _number(field: str, value: object) -> float | None:
    if value is None or type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise ValueError(f"field {field!r} holds {value!r}, not a number; query it with query()")


def _collect(future: Future[None], errors: list[BaseException]) -> None:
    error = future.exception()
    if error is not None:
        errors.append(error)


def _server_error(response: requests.Response) -> str:
    try:
        return str(orjson.loads(response.content)["error"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return response.text.strip()[:500] or response.reason


def _raise_query_error(store: InfluxStore, query: str, error: str) -> None:
    if "database not found" in error:
        raise StoreUnavailable(f"{store!r}: {error}; write something first or create it")
    raise StoreRejected(f"{store!r} refused the query {query!r}: {error}")


def _json_lines(response: requests.Response) -> Iterator[bytes]:
    """The JSON objects of a chunked ``/query`` answer, one per line."""
    for line in response.iter_lines(chunk_size=1 << 16):
        if line.strip():
            yield line


def _frame(
    series: Sequence[Mapping[str, Any]],
    fields: Sequence[str] | None,
    empty_tags: Sequence[str] = (),
) -> pd.DataFrame:
    """Series of a ``GROUP BY`` answer (tags per series, columns time + fields) as one frame.
    With no series, `fields` and `empty_tags` give the columns."""
    tag_keys: dict[str, None] = dict.fromkeys(empty_tags)
    field_keys: dict[str, None] = dict.fromkeys(fields or ())
    for s in series:
        tag_keys.update(dict.fromkeys(s.get("tags") or {}))
        field_keys.update(dict.fromkeys(s["columns"][1:]))
    if not fields:
        field_keys = dict.fromkeys(sorted(field_keys))
    times: list[int] = []
    tags: dict[str, list[str]] = {k: [] for k in tag_keys}
    values: dict[str, list[FieldValue | None]] = {k: [] for k in field_keys}
    for s in series:
        rows = s.get("values") or []
        n = len(rows)
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(s["columns"])
        times.extend(columns[0])
        series_tags = s.get("tags") or {}
        for key, tag_column in tags.items():
            tag_column.extend([series_tags.get(key, "")] * n)
        present = dict(zip(s["columns"], columns, strict=True))
        for key, value_column in values.items():
            value_column.extend(present.get(key, (None,) * n))
    return points_frame(times, tags, values)
