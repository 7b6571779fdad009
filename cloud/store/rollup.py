"""Hourly and daily rollups of the readings, so long ranges never scan raw 5-minute points.

Two measurements, written by the jobs (`refresh_rollups`, called from cloud/jobs/runner.py) into
either store through the `TimeSeriesStore` interface alone:

- ``climate_hourly``: tags building, flat, room; one point per UTC hour (time = the hour's
  start) with ``<quantity>_mean``, ``_min``, ``_max`` and ``_count`` for each of `QUANTITIES`
  that has values in that hour (several sensors in one room are pooled);
- ``climate_daily``: the same per *local* day (Europe/Copenhagen), time = local midnight in
  UTC, plus a string field ``day`` (``2026-03-29``). Built from the hourly rollups: Copenhagen's
  offset is a whole number of hours, so each UTC hour lies in exactly one local day (23 hours on
  the last Sunday of March, 25 on the last Sunday of October). The day's mean is the mean of the
  hourly means weighted by their counts — exactly the mean of the raw points — and min/max are
  the extremes of the hourly ones.

**Idempotent**: a rollup point's key is (measurement, building, flat, room, time), so rolling an
hour again overwrites it with the same values. **Incremental, late readings included**: each run
compares, hour by hour over a recheck window, how many raw values each (flat, room, quantity)
has now with the ``_count`` its rollup was made from, and re-rolls just the hours that differ
(new hours, and hours a late reading arrived in — a gateway's outbox delivers after an outage),
then the local days those hours lie in. Re-running with nothing new reads the counts and writes
nothing. Only complete hours are rolled; the hour in progress is left to the next run.

Why a job and not InfluxDB continuous queries: the SQLite store has none, so a job is needed
anyway and one job is tested alike against both stores; a continuous query only re-computes the
windows of its ``RESAMPLE FOR`` interval, so a reading that arrives later than that is never
rolled up, and it cannot make local-time days from whole-hour parts with count-weighted means.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from cloud.store.base import CLIMATE, Point, TimeSeriesStore

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

HOURLY: Final = "climate_hourly"
DAILY: Final = "climate_daily"
QUANTITIES: Final = ("temperature_c", "humidity_pct", "co2_ppm")
STATS: Final = ("mean", "min", "max")
LOCAL: Final = ZoneInfo("Europe/Copenhagen")
HOUR: Final = timedelta(hours=1)
ROLLUP_TAGS: Final = ("building", "flat", "room")
ROUND_DIGITS: Final = 3
"""Rollup values are stored rounded to 0.001 (finer than any sensor: 0.01 °C, 0.1 % RH, 1 ppm),
so readers pass them on as they are."""
MERGE_GAP: Final = timedelta(hours=24)
"""Dirty hours closer than this are re-rolled in one range (fewer queries, a few more hours)."""


def stat_field(quantity: str, stat: str) -> str:
    """``temperature_c`` + ``mean`` → ``temperature_c_mean``."""
    return f"{quantity}_{stat}"


def ns_of(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} is naive; give a timezone-aware UTC time")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def local_day_start(day: date) -> datetime:
    """Local midnight of `day` (Europe/Copenhagen) as UTC; midnight is never in a DST gap
    there (the clocks change at 02:00/03:00)."""
    return datetime.combine(day, time(0), tzinfo=LOCAL).astimezone(UTC)


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL).date()


def local_day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """[local midnight of `first`, local midnight after `last`) in UTC."""
    return local_day_start(first), local_day_start(last + timedelta(days=1))


# pure: frames → points


def hourly_points(
    stats: dict[str, pd.DataFrame], quantities: Sequence[str] = QUANTITIES
) -> list[Point]:
    """Rollup points from the store's hourly downsamples by (building, flat, room): `stats`
    maps ``mean``/``min``/``max``/``count`` to those frames. A quantity without values in an
    hour is left out of that hour's point; an hour with none at all gives no point."""

    keys = ["time", *ROLLUP_TAGS]
    merged: pd.DataFrame | None = None
    for stat in (*STATS, "count"):
        frame = stats[stat]
        present = [q for q in quantities if q in frame.columns]
        part = frame[keys + present].rename(columns={q: stat_field(q, stat) for q in present})
        merged = part if merged is None else merged.merge(part, on=keys, how="outer")
    assert merged is not None
    return _points(HOURLY, merged, quantities)


def daily_from_hourly(hourly: pd.DataFrame, quantities: Sequence[str] = QUANTITIES) -> list[Point]:
    """Daily rollup points per local day and (building, flat, room) from hourly rollup rows
    (columns time, building, flat, room and the ``_mean/_min/_max/_count`` fields)."""
    import pandas as pd

    if hourly.empty:
        return []
    frame = hourly.copy()
    local = frame["time"].dt.tz_convert(LOCAL)
    frame["day"] = local.dt.date
    group = ["building", "flat", "room", "day"]
    columns: dict[str, pd.Series] = {}
    for q in quantities:
        mean, low, high, n = (stat_field(q, s) for s in (*STATS, "count"))
        if mean not in frame.columns:
            continue
        weight = frame[n].where(frame[mean].notna())
        frame[f"_{q}_sum"] = frame[mean] * weight
        frame[f"_{q}_n"] = weight
        grouped = frame.groupby(group, sort=True)
        total = grouped[f"_{q}_n"].sum(min_count=1)
        columns[mean] = grouped[f"_{q}_sum"].sum(min_count=1) / total
        columns[low] = grouped[low].min()
        columns[high] = grouped[high].max()
        columns[n] = total
    if not columns:
        return []
    daily = pd.DataFrame(columns).reset_index()
    daily["time"] = [pd.Timestamp(local_day_start(d)) for d in daily["day"]]
    daily["day"] = [d.isoformat() for d in daily["day"]]
    return _points(DAILY, daily, quantities, extra=("day",))


def _points(
    measurement: str,
    frame: pd.DataFrame,
    quantities: Sequence[str],
    extra: Sequence[str] = (),
) -> list[Point]:
    import math

    names = [
        stat_field(q, s) for q in quantities for s in (*STATS, "count") if stat_field(q, s) in frame
    ]
    points: list[Point] = []
    for row in frame.to_dict("records"):
        fields: dict[str, float | str] = {}
        for name in names:
            value = row[name]
            if value is not None and not math.isnan(value):
                fields[name] = round(float(value), ROUND_DIGITS)
        if not fields:
            continue
        fields.update({k: str(row[k]) for k in extra})
        tags = {k: str(row[k]) for k in ROLLUP_TAGS}
        stamp = row["time"]
        points.append(Point(measurement, tags, fields, int(stamp.value)))
    return points


def dirty_hours(
    raw_counts: pd.DataFrame, rolled: pd.DataFrame, quantities: Sequence[str] = QUANTITIES
) -> list[datetime]:
    """Hours whose raw value counts (downsample ``count`` by building, flat, room) differ from
    the ``_count`` fields of their rollups: new hours and hours with late readings."""
    import pandas as pd

    keys = ["time", *ROLLUP_TAGS]
    if raw_counts.empty:
        return []
    present = [q for q in quantities if q in raw_counts.columns]
    raw = raw_counts[keys + present].rename(columns={q: stat_field(q, "count") for q in present})
    count_fields = [stat_field(q, "count") for q in present]
    if rolled.empty:
        return sorted({t.to_pydatetime() for t in raw["time"]})
    for c in count_fields:
        if c not in rolled.columns:
            rolled = rolled.assign(**{c: float("nan")})
    both = raw.merge(rolled[keys + count_fields], on=keys, how="left", suffixes=("", "_rolled"))
    differs = pd.Series(False, index=both.index)
    for c in count_fields:
        now, before = both[c].fillna(0.0), both[f"{c}_rolled"].fillna(0.0)
        differs |= now != before
    return sorted({t.to_pydatetime() for t in both.loc[differs, "time"]})


def hour_ranges(
    hours: Iterable[datetime], gap: timedelta = MERGE_GAP
) -> list[tuple[datetime, datetime]]:
    """Sorted hour starts → [start, end) ranges, joining hours less than `gap` apart."""
    ranges: list[tuple[datetime, datetime]] = []
    for hour in sorted(hours):
        if ranges and hour - ranges[-1][1] < gap:
            ranges[-1] = (ranges[-1][0], hour + HOUR)
        else:
            ranges.append((hour, hour + HOUR))
    return ranges


# I/O


@dataclass(frozen=True, slots=True)
class RollupResult:
    hours: int
    """Hours (per building) that were re-rolled."""
    hourly_points: int
    daily_points: int


def refresh_rollups(
    store: TimeSeriesStore, building: str, start: datetime, end: datetime
) -> RollupResult:
    """Bring the building's rollups of the complete hours in [start, end) up to date: roll the
    hours whose raw counts changed since their rollup (or that have none), then their local
    days. `start` and `end` are floored to whole hours. Safe to re-run (idempotent)."""
    start, end = floor_hour(start), floor_hour(end)
    if end <= start:
        return RollupResult(0, 0, 0)
    where = {"building": building}
    by = ("building", "flat", "room")
    counts = store.downsample(
        CLIMATE, start, end, HOUR, where=where, fields=list(QUANTITIES), by=by, aggregate="count"
    )
    count_fields = [stat_field(q, "count") for q in QUANTITIES]
    rolled = store.query(HOURLY, start, end, where=where, fields=count_fields)
    hours = dirty_hours(counts, rolled)
    if not hours:
        return RollupResult(0, 0, 0)
    hourly_written = 0
    for first, stop in hour_ranges(hours):
        stats = {
            aggregate: store.downsample(
                CLIMATE,
                first,
                stop,
                HOUR,
                where=where,
                fields=list(QUANTITIES),
                by=by,
                aggregate=aggregate,
            )
            for aggregate in ("mean", "min", "max", "count")
        }
        points = hourly_points(stats)
        store.write(points)
        hourly_written += len(points)
    days = sorted({local_day(h) for h in hours})
    daily_written = 0
    for first_day, last_day in _day_ranges(days):
        day_start, day_end = local_day_bounds(first_day, last_day)
        fields = [stat_field(q, s) for q in QUANTITIES for s in (*STATS, "count")]
        hourly = store.query(HOURLY, day_start, day_end, where=where, fields=fields)
        points = daily_from_hourly(hourly)
        store.write(points)
        daily_written += len(points)
    log.info(
        "rollups of %s: %d hours re-rolled (%d hourly, %d daily points)",
        building,
        len(hours),
        hourly_written,
        daily_written,
    )
    return RollupResult(len(hours), hourly_written, daily_written)


def _day_ranges(days: Sequence[date]) -> list[tuple[date, date]]:
    ranges: list[tuple[date, date]] = []
    for day in days:
        if ranges and (day - ranges[-1][1]).days <= 1:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges
