"""A flat's climate over any range at a resolution that keeps the answer small and fast.

`pick_resolution` is the rule (a pure function of the range's length):

| range length          | resolution | points per room and quantity |
|-----------------------|------------|------------------------------|
| up to 2 days          | raw (the 5-minute readings) | ≤ 576 |
| over 2, up to 62 days | hourly rollups (``climate_hourly``) | ≤ 1,488 |
| over 62 days          | daily rollups, local days (``climate_daily``) | 366 a year |

so a resident's day/week/month/year charts read at most about 1,500 points per series, never a
year of raw points. `climate_series` is the one service the API and the pages call.

Hourly and daily points are as fresh as the jobs' last run (hourly); the hour in progress shows in
the raw view. Each point has the mean, min and max of the period (at raw resolution, of the
room's sensors at that instant — one sensor per quantity makes them equal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from cloud.store.base import CLIMATE, SeriesColumns, TimeSeriesStore
from cloud.store.rollup import (
    DAILY,
    HOURLY,
    QUANTITIES,
    STATS,
    floor_hour,
    local_day,
    local_day_start,
    stat_field,
)


class Resolution(StrEnum):
    RAW = "raw"
    HOURLY = "hourly"
    DAILY = "daily"


RAW_UP_TO: Final = timedelta(days=2)
HOURLY_UP_TO: Final = timedelta(days=62)
MAX_RANGE: Final = timedelta(days=3660)
"""Ten years of daily points at most per request (about 11,000 per room and quantity)."""
STEP: Final = {
    Resolution.RAW: timedelta(minutes=5),
    Resolution.HOURLY: timedelta(hours=1),
    Resolution.DAILY: timedelta(days=1),
}
"""Nominal spacing (a local day is 23–25 h long)."""
EARLIEST: Final = datetime(1970, 1, 2, tzinfo=UTC)
LATEST: Final = datetime(2200, 1, 1, tzinfo=UTC)
"""The stores count nanoseconds since 1970 in 64 bits (to 2262)."""
SERIES_FIELDS: Final = tuple(stat_field(q, s) for q in QUANTITIES for s in STATS)


class ClimateRangeError(ValueError):
    """The requested range cannot be served; the message says why and what to ask instead
    (Danish, then English)."""


def pick_resolution(start: datetime, end: datetime) -> Resolution:
    """Raw up to 2 days, hourly up to 62 days (two months), daily beyond."""
    span = end - start
    if span <= RAW_UP_TO:
        return Resolution.RAW
    if span <= HOURLY_UP_TO:
        return Resolution.HOURLY
    return Resolution.DAILY


def check_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The range as UTC, or `ClimateRangeError` for naive, reversed or over-long ranges."""
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None:
            raise ClimateRangeError(
                f"{name} mangler tidszone: skriv fx 2026-01-31T00:00:00Z / {name} has no time "
                "zone: write e.g. 2026-01-31T00:00:00Z"
            )
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if not (start >= EARLIEST and end <= LATEST):
        raise ClimateRangeError(
            f"Perioden skal ligge mellem {EARLIEST:%Y-%m-%d} og {LATEST:%Y-%m-%d} / the range "
            f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"
        )
    if end <= start:
        raise ClimateRangeError("start skal ligge før end / start must be before end")
    if end - start > MAX_RANGE:
        raise ClimateRangeError(
            f"Højst {MAX_RANGE.days} dage ad gangen / at most {MAX_RANGE.days} days at a time"
        )
    return start, end


@dataclass(frozen=True, slots=True)
class RoomSeries:
    room: str
    time_s: list[int]
    """Start of each period, Unix seconds (UTC) — what chart libraries such as uPlot take."""
    values: dict[str, list[float | None]]
    """`SERIES_FIELDS` → one value per time (None where the room lacks it then)."""

    @property
    def time(self) -> list[datetime]:
        """`time_s` as timezone-aware UTC datetimes."""
        return [datetime.fromtimestamp(t, UTC) for t in self.time_s]


@dataclass(frozen=True, slots=True)
class ClimateSeries:
    building: str
    flat: str
    start: datetime
    """Start of the first period that may be included (floored to the resolution)."""
    end: datetime
    resolution: Resolution
    step: timedelta
    rooms: list[RoomSeries]


def climate_series(
    store: TimeSeriesStore,
    building: str,
    flat: str,
    start: datetime,
    end: datetime,
    *,
    resolution: Resolution | None = None,
    not_before: datetime | None = None,
) -> ClimateSeries:
    """The flat's per-room series over [start, end) at `resolution` (default: by
    `pick_resolution`). Raises `ClimateRangeError` for a range it will not serve. Whether the
    caller may see the flat is the caller's (the authorisation function's) business.

    Reads with `TimeSeriesStore.query_columns` (no DataFrame): a month of hourly rollups is
    about 2,000 rows for a flat of three rooms.

    `not_before` (a resident's move-in, `scope.readable_window`): periods that begin before it
    are left out, as an hourly or daily point then holds an earlier resident's readings; the
    resolution is still picked from the range asked for."""
    start, end = check_range(start, end)
    chosen = resolution or pick_resolution(start, end)
    where = {"building": building, "flat": flat}
    if chosen is Resolution.RAW:
        raw = store.query_columns(CLIMATE, start, end, fields=QUANTITIES, where=where)
        rooms = _raw_rooms(raw)
    else:
        if chosen is Resolution.HOURLY:
            start, measurement = floor_hour(start), HOURLY
        else:
            start, measurement = local_day_start(local_day(start)), DAILY
        found = store.query_columns(measurement, start, end, fields=SERIES_FIELDS, where=where)
        rooms = [
            RoomSeries(c.tags.get("room", ""), [t // 10**9 for t in c.time_ns], c.values)
            for c in found
        ]
    if not_before is not None and not_before > start:
        rooms = [_from(room, not_before) for room in rooms]
    return ClimateSeries(building, flat, start, end, chosen, STEP[chosen], rooms)


def _from(room: RoomSeries, not_before: datetime) -> RoomSeries:
    """The room's periods that begin at or after `not_before`."""
    first = not_before.timestamp()
    keep = [i for i, t in enumerate(room.time_s) if t >= first]
    return RoomSeries(
        room.room,
        [room.time_s[i] for i in keep],
        {field: [values[i] for i in keep] for field, values in room.values.items()},
    )


def _raw_rooms(found: Sequence[SeriesColumns]) -> list[RoomSeries]:
    """Raw series (one per sensor) → per room mean/min/max over its sensors at each time."""
    by_room: dict[str, list[SeriesColumns]] = {}
    for c in found:
        by_room.setdefault(c.tags.get("room", ""), []).append(c)
    rooms = []
    for room in sorted(by_room):
        sensors = by_room[room]
        if len(sensors) == 1:  # the usual case: one sensor per room
            (only,) = sensors
            values = {stat_field(q, stat): only.values[q] for q in QUANTITIES for stat in STATS}
            rooms.append(RoomSeries(room, [t // 10**9 for t in only.time_ns], values))
            continue
        pooled: dict[int, dict[str, list[float]]] = {}
        for c in sensors:
            for i, t in enumerate(c.time_ns):
                slot = pooled.setdefault(t, {q: [] for q in QUANTITIES})
                for q in QUANTITIES:
                    v = c.values[q][i]
                    if v is not None:
                        slot[q].append(v)
        times = sorted(pooled)
        values = {name: [] for name in SERIES_FIELDS}
        for t in times:
            for q in QUANTITIES:
                got = pooled[t][q]
                values[stat_field(q, "mean")].append(sum(got) / len(got) if got else None)
                values[stat_field(q, "min")].append(min(got) if got else None)
                values[stat_field(q, "max")].append(max(got) if got else None)
        rooms.append(RoomSeries(room, [t // 10**9 for t in times], values))
    return rooms
