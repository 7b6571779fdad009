"""The time-series store interface both implementations pass (tests/test_store_contract.py).

A point's key is (measurement, tags, time): writing the same key again overwrites the fields,
so a redelivered reading stores once (at-least-once delivery, exactly-once storage).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal, Protocol, cast, get_args

from edge.wire import Reading

if TYPE_CHECKING:
    import pandas as pd

CLIMATE: Final = "climate"
"""Measurement of the readings; tags building, flat, room, sensor; fields named with units."""
READING_TAGS: Final = ("building", "flat", "room", "sensor")
GATEWAY_TAG: Final = "gateway"
"""Tag of `CLIMATE` points written by ingest: the gateway that sent the reading."""

FieldValue = float | int | str | bool
Aggregate = Literal["mean", "min", "max", "last", "count", "sum"]
AGGREGATES: Final = frozenset(get_args(Aggregate))


def check_aggregate(aggregate: str) -> None:
    if aggregate not in AGGREGATES:
        raise ValueError(f"unknown aggregate {aggregate!r}; use one of {sorted(AGGREGATES)}")


class StoreUnavailable(RuntimeError):
    """The store cannot be reached or is overloaded now; retry later with the same points."""


class StoreRejected(ValueError):
    """The store will never accept these points (e.g. a field type conflict); dead-letter them."""


@dataclass(frozen=True, slots=True)
class Point:
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int
    """UTC epoch nanoseconds."""


def points_from_readings(
    readings: Iterable[Reading], gateways: Iterable[str] | None = None
) -> list[Point]:
    """Readings as `CLIMATE` points; plausibility flags go in a string field ``flags``.
    `gateways` (one per reading, as ingest knows them) adds the tag ``gateway``: health per
    gateway on the dashboards.

    Hot path of ingest: points of one series share one (read-only) tags mapping, and the
    reading's own values mapping is used as the fields unless flags must be added."""
    tags_of: dict[tuple[str, str, str, str, str], dict[str, str]] = {}
    points: list[Point] = []
    append = points.append
    for r, gateway in zip(readings, _gateways(gateways), strict=False):
        key = (r.building, r.flat, r.room, r.sensor, gateway)
        tags = tags_of.get(key)
        if tags is None:
            tags = tags_of[key] = {
                "building": key[0],
                "flat": key[1],
                "room": key[2],
                "sensor": key[3],
            }
            if gateway:
                tags[GATEWAY_TAG] = gateway
        # the reading's mapping itself (read-only by convention): no copy on the hot path
        fields = cast(Mapping[str, FieldValue], r.values)
        if r.flags:
            fields = {**fields, "flags": ",".join(r.flags)}
        append(Point(CLIMATE, tags, fields, r.time_ms * 1_000_000))
    return points


def _gateways(gateways: Iterable[str] | None) -> Iterable[str]:
    """The per-reading gateways, or endless "" (no tag) when not given."""
    return itertools.repeat("") if gateways is None else gateways


@dataclass(frozen=True, slots=True)
class SeriesColumns:
    """One series (tag set) of a `TimeSeriesStore.query_columns` answer, without pandas."""

    tags: Mapping[str, str]
    time_ns: list[int]
    """UTC epoch nanoseconds, ascending."""
    values: dict[str, list[float | None]]
    """Each requested field → one number per time (None where the point lacks it)."""


class TimeSeriesStore(Protocol):
    """What every store does. Times are timezone-aware UTC; DataFrames use a ``time`` column."""

    def write(self, points: Sequence[Point]) -> None:
        """Store points (idempotent per key). Raises StoreUnavailable or StoreRejected."""

    def write_readings(
        self, readings: Sequence[Reading], gateways: Sequence[str] | None = None
    ) -> None:
        """Store readings as `CLIMATE` points: ``write(points_from_readings(readings,
        gateways))``, or a faster path with the same result."""

    def query(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        *,
        where: Mapping[str, str] | None = None,
        fields: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Points with start <= time < end as a frame: ``time`` (UTC), one column per tag and
        per field (NaN where a point lacks a field), sorted by time then tags."""

    def query_columns(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        *,
        fields: Sequence[str],
        where: Mapping[str, str] | None = None,
    ) -> list[SeriesColumns]:
        """The numeric `fields` of the points with start <= time < end, one entry per series
        (tag set) matching `where`, sorted by tags; points that lack all of `fields` are left
        out, and so are series without any point. No DataFrame: the fast path for small reads
        such as a chart's rollups. A non-numeric value raises ValueError."""

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
        """Aggregates per `every`-long window (aligned to the epoch) per group of tags ``by``:
        columns ``time`` (window start), the ``by`` tags and the fields; empty windows left out."""

    def count(self, measurement: str, *, where: Mapping[str, str] | None = None) -> int:
        """Distinct points (keys) stored in the measurement."""

    def delete_flat(self, building: str, flat: str, start: datetime, end: datetime) -> None:
        """Delete the points of every measurement tagged with this `building` and `flat` with
        start <= time < end (GDPR erasure); nothing else. Idempotent."""

    def close(self) -> None:
        """Release connections; safe to call twice."""


def tag_order(keys: Iterable[str]) -> list[str]:
    """Tag columns in a stable order: `READING_TAGS` first as listed there, then others sorted."""
    keys = set(keys)
    return [k for k in READING_TAGS if k in keys] + sorted(keys.difference(READING_TAGS))


def points_frame(
    time_ns: Sequence[int],
    tags: Mapping[str, Sequence[str]],
    fields: Mapping[str, Sequence[FieldValue | None]],
) -> pd.DataFrame:
    """The frame both stores return, from columns of equal length: ``time`` (UTC), the tags in
    `tag_order` (``""`` where a point lacks the tag), then the fields in the given order — float64
    where every value is a number or missing (NaN), object otherwise — sorted by time then tags."""
    import numpy as np
    import pandas as pd

    data: dict[str, object] = {
        "time": pd.to_datetime(np.asarray(time_ns, dtype=np.int64), unit="ns", utc=True)
    }
    tag_keys = tag_order(tags)
    for key in tag_keys:
        data[key] = pd.Series(tags[key], dtype=object).fillna("")
    for key, values in fields.items():
        column = pd.Series(values, dtype=object)
        if column.isna().all():
            data[key] = np.full(len(column), np.nan)
            continue
        inferred = pd.Series(values)
        if inferred.dtype.kind in "iuf":
            data[key] = inferred.astype(np.float64)
        else:
            data[key] = column.where(column.notna(), np.nan)
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(time_ns)))
    return frame.sort_values(["time", *tag_keys], kind="stable", ignore_index=True)
