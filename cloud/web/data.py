"""Reads for the pages from the same services the API uses (the time-series store, the alert
store, the settlement estimate): thin I/O that returns the plain data `cloud.web.views` takes.
Whether the person may see the flat is decided before these are called (`cloud.accounts.scope`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from cloud.store.base import CLIMATE, TimeSeriesStore
from cloud.web.views import QUANTITIES, Latest, MouldNow, Series, mould_now

LATEST_WINDOW: Final = timedelta(hours=6)
"""How far back "now" looks for a room's newest reading (older shows as no reading)."""
MOULD_MEASUREMENT: Final = "mould"  # written by cloud.jobs.mould_job
LOCAL_TZ: Final = ZoneInfo("Europe/Copenhagen")


def _value(raw: object) -> float | None:
    try:
        number = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def latest_by_room(
    store: TimeSeriesStore,
    building: str,
    flat: str,
    now: datetime,
    not_before: datetime | None = None,
) -> dict[str, Latest]:
    """Each room's newest value per quantity within `LATEST_WINDOW` and not before
    `not_before` (a resident's move-in: `cloud.accounts.scope.readable_window`); the time is the
    newest of them."""
    start = now - LATEST_WINDOW if not_before is None else max(now - LATEST_WINDOW, not_before)
    if start >= now:
        return {}
    frame = store.query(
        CLIMATE,
        start,
        now,
        where={"building": building, "flat": flat},
        fields=list(QUANTITIES),
    )
    rooms: dict[str, Latest] = {}
    if frame.empty:
        return rooms
    for room, rows in frame.groupby("room", sort=True):
        values: dict[str, float | None] = {}
        for q in QUANTITIES:
            if q in rows.columns:
                present = rows[rows[q].notna()]
                values[q] = _value(present[q].iloc[-1]) if not present.empty else None
            else:
                values[q] = None
        newest = rows["time"].max().to_pydatetime()
        rooms[str(room)] = Latest(newest, **values)
    return rooms


def mould_by_room(
    store: TimeSeriesStore, building: str, flat: str, now: datetime
) -> list[MouldNow]:
    """The newest hourly mould index per room (the jobs write it hourly)."""
    frame = store.query(
        MOULD_MEASUREMENT,
        now - timedelta(days=2),
        now,
        where={"building": building, "flat": flat},
        fields=["mould_index", "surface_rh_pct"],
    )
    out: list[MouldNow] = []
    if frame.empty or "mould_index" not in frame.columns:
        return out
    for room, rows in frame.groupby("room", sort=True):
        last = rows[rows["mould_index"].notna()]
        if last.empty:
            continue
        row = last.iloc[-1]
        index = _value(row["mould_index"])
        if index is None:
            continue
        surface = _value(row["surface_rh_pct"]) if "surface_rh_pct" in row else None
        out.append(mould_now(str(room), row["time"].to_pydatetime(), index, surface))
    return out


def climate_rooms(
    store: TimeSeriesStore,
    building: str,
    flat: str,
    start: datetime,
    end: datetime,
    *,
    not_before: datetime | None = None,
) -> tuple[list[Series], str]:
    """Per-room series over [start, end) for the charts, from `climate_series` (the same
    service as the API's climate endpoint: raw, hourly or daily rollups by the range's
    length, never a year of raw points; `not_before` as there), and the resolution it chose."""
    from cloud.analytics.climate_series import climate_series

    found = climate_series(store, building, flat, start, end, not_before=not_before)
    return (
        [Series(r.room, r.time, r.values) for r in found.rooms],
        found.resolution.value,
    )


COMFORT_MEASUREMENT: Final = "comfort_index"  # written by cloud.jobs.runner, one point a month
SILENT_AFTER: Final = timedelta(minutes=30)


def month_start(now: datetime) -> datetime:
    """00:00 local time on the first of `now`'s month, as UTC."""
    local = now.astimezone(LOCAL_TZ)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def monthly_lights(store: TimeSeriesStore, building: str, now: datetime) -> dict[str, str]:
    """This month's green/yellow/red per flat (the monthly index the jobs write)."""
    start = month_start(now)
    frame = store.query(
        COMFORT_MEASUREMENT,
        start,
        now + timedelta(seconds=1),
        where={"building": building},
        fields=["light"],
    )
    if frame.empty or "light" not in frame.columns:
        return {}
    last = frame.sort_values("time").groupby("flat").tail(1)
    return {str(r.flat): str(r.light) for r in last.itertuples(index=False)}


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: str
    light: str
    intervals: int
    share_level_1: float
    share_level_2: float
    share_level_3: float
    share_level_4: float


def monthly_figures(
    store: TimeSeriesStore, building: str, flat: str, now: datetime, months: int = 12
) -> list[MonthFigures]:
    """The flat's monthly index for the last `months` months, newest first (staff may always
    see these: the housing organisation's key figures)."""
    start = month_start(now - timedelta(days=31 * (months - 1)))
    frame = store.query(
        COMFORT_MEASUREMENT,
        start,
        now + timedelta(seconds=1),
        where={"building": building, "flat": flat},
    )
    out: list[MonthFigures] = []
    if frame.empty or "light" not in frame.columns:
        return out
    for row in frame.sort_values("time", ascending=False).itertuples(index=False):
        out.append(
            MonthFigures(
                month=str(getattr(row, "month", "")),
                light=str(row.light),
                intervals=int(getattr(row, "intervals", 0) or 0),
                **{
                    f"share_level_{i}": float(getattr(row, f"share_level_{i}", 0.0) or 0.0)
                    for i in range(1, 5)
                },
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class SensorHealth:
    flat: str
    room: str
    sensor: str
    last_seen: datetime
    silent: bool
    battery_mv: float | None = None
    battery_pct: float | None = None
    """The newest battery reading of the last day, where the sensor reports one."""


def sensor_health(store: TimeSeriesStore, building: str, now: datetime) -> list[SensorHealth]:
    """Every sensor heard in the last day with when it was last heard; silent after
    `SILENT_AFTER` (the jobs raise sensor-silent alerts on the same rule)."""
    frame = store.downsample(
        CLIMATE,
        now - timedelta(days=1),
        now,
        timedelta(minutes=5),
        where={"building": building},
        fields=["temperature_c"],
        by=("flat", "room", "sensor"),
        aggregate="count",
    )
    if frame.empty:
        return []
    battery = store.downsample(
        CLIMATE,
        now - timedelta(days=1),
        now,
        timedelta(days=1),
        where={"building": building},
        fields=["battery_mv", "battery_pct"],
        by=("flat", "room", "sensor"),
        aggregate="last",
    )
    levels: dict[tuple[str, str, str], tuple[float | None, float | None]] = {}
    if not battery.empty:
        for row in battery.sort_values("time").to_dict("records"):
            key = (str(row["flat"]), str(row["room"]), str(row["sensor"]))
            mv, pct = _value(row.get("battery_mv")), _value(row.get("battery_pct"))
            old = levels.get(key, (None, None))
            levels[key] = (mv if mv is not None else old[0], pct if pct is not None else old[1])
    last = frame.groupby(["flat", "room", "sensor"], sort=True)["time"].max()
    out = []
    for (flat, room, sensor), seen in last.items():
        moment = seen.to_pydatetime() + timedelta(minutes=5)
        key = (str(flat), str(room), str(sensor))
        mv, pct = levels.get(key, (None, None))
        out.append(
            SensorHealth(*key, moment, now - moment > SILENT_AFTER, battery_mv=mv, battery_pct=pct)
        )
    return out
