"""What the pages show, as pure functions of plain data (no I/O, no request): the traffic light
and one sentence of advice per room, the mould level, chart series for uPlot, navigation.

The thresholds are those of `cloud.analytics.comfort` (EN 16798-1 CO2 categories above outdoor,
30–60 % RH, 19–22 °C in the heating season) so that a room's colour now and the flat's monthly
colour tell the same story. Per quantity: level 1 is green (for CO2 levels 1 and 2: category II
is the normal design class), the levels between are yellow, level 4 is red.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from cloud.analytics.comfort import ComfortBands, band_level, co2_level
from cloud.web.texts import ADVICE, MOULD_ADVICE

LOCAL_TZ: Final = ZoneInfo("Europe/Copenhagen")
STALE_AFTER: Final = timedelta(hours=1)
QUANTITIES: Final = ("temperature_c", "humidity_pct", "co2_ppm")
BANDS: Final = ComfortBands()
_RANK: Final = {"green": 0, "yellow": 1, "red": 2}


@dataclass(frozen=True, slots=True)
class Latest:
    """The newest reading of each quantity in a room (None: not measured there)."""

    time: datetime
    temperature_c: float | None = None
    humidity_pct: float | None = None
    co2_ppm: float | None = None


@dataclass(frozen=True, slots=True)
class QuantityNow:
    quantity: str
    value: float | None
    light: str | None
    """green / yellow / red, or None when not rated (missing, or temperature in summer)."""
    direction: str | None = None
    """"high" or "low" when not green."""


@dataclass(frozen=True, slots=True)
class RoomNow:
    room: str
    time: datetime
    stale: bool
    quantities: tuple[QuantityNow, ...]
    light: str | None
    advice: str
    """An English message id from `cloud.web.texts.ADVICE`, translated on the page."""


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _level_light(level: float, yellow_from: int) -> str:
    if level >= 4:
        return "red"
    return "yellow" if level >= yellow_from else "green"


def rate(
    quantity: str, value: float | None, moment: datetime, bands: ComfortBands = BANDS
) -> QuantityNow:
    """The light of one value, by the comfort module's bands."""
    value = _finite(value)
    if value is None:
        return QuantityNow(quantity, None, None)
    if quantity == "co2_ppm":
        level = float(co2_level([value], bands)[0])
        light = _level_light(level, yellow_from=3)
        return QuantityNow(quantity, value, light, None if light == "green" else "high")
    if quantity == "humidity_pct":
        band = bands.humidity_pct
    elif quantity == "temperature_c":
        if moment.astimezone(LOCAL_TZ).month not in bands.heating_season_months:
            return QuantityNow(quantity, value, None)
        band = bands.temperature_c
    else:
        raise ValueError(f"unknown quantity {quantity!r}")
    level = float(band_level([value], band)[0])
    light = _level_light(level, yellow_from=2)
    low = band[0][0]
    direction = None if light == "green" else ("low" if value < low else "high")
    return QuantityNow(quantity, value, light, direction)


def _advice(quantities: Sequence[QuantityNow]) -> str:
    rated = [q for q in quantities if q.light in ("yellow", "red")]
    if not rated:
        return ADVICE["good"]
    worst = max(rated, key=lambda q: _RANK[q.light or "green"])  # first of the worst wins
    if worst.quantity == "co2_ppm":
        return ADVICE["co2_very_high" if worst.light == "red" else "co2_high"]
    if worst.quantity == "humidity_pct":
        return ADVICE["humid" if worst.direction == "high" else "dry"]
    return ADVICE["warm" if worst.direction == "high" else "cold"]


def room_now(room: str, latest: Latest, now: datetime, bands: ComfortBands = BANDS) -> RoomNow:
    """A room's lights and advice. Readings older than `STALE_AFTER` are shown but not rated:
    an old reading must not tell a resident that all is well."""
    stale = now - latest.time > STALE_AFTER
    quantities = tuple(rate(q, getattr(latest, q), latest.time, bands) for q in QUANTITIES)
    if stale:
        quantities = tuple(QuantityNow(q.quantity, q.value, None) for q in quantities)
        return RoomNow(room, latest.time, True, quantities, None, ADVICE["no_data"])
    lights = [q.light for q in quantities if q.light]
    light = max(lights, key=_RANK.__getitem__) if lights else None
    return RoomNow(room, latest.time, False, quantities, light, _advice(quantities))


def rooms_now(
    latest: Mapping[str, Latest], now: datetime, bands: ComfortBands = BANDS
) -> list[RoomNow]:
    return [room_now(room, latest[room], now, bands) for room in sorted(latest)]


@dataclass(frozen=True, slots=True)
class MouldNow:
    room: str
    time: datetime
    mould_index: float
    surface_rh_pct: float | None
    level: str
    """none / low / warn / alarm (VTT index: warn at M ≥ 1, alarm at M ≥ 3; DOMAIN.md)."""
    advice: str


def mould_level(mould_index: float) -> str:
    if mould_index >= 3.0:
        return "alarm"
    if mould_index >= 1.0:
        return "warn"
    return "low" if mould_index >= 0.1 else "none"


def mould_now(
    room: str, time: datetime, mould_index: float, surface_rh_pct: float | None
) -> MouldNow:
    level = mould_level(mould_index)
    return MouldNow(room, time, mould_index, _finite(surface_rh_pct), level, MOULD_ADVICE[level])


@dataclass(frozen=True, slots=True)
class Series:
    """One room's values over time (plain data: what `climate_series` returns per room)."""

    room: str
    time: Sequence[datetime]
    values: Mapping[str, Sequence[float | None]]


def chart_payload(series: Iterable[Series], field: str) -> dict[str, object]:
    """uPlot's columnar data for one field: ``x`` (epoch seconds, the union of the rooms'
    times) and one list per room aligned to it (None where a room has no value)."""
    rooms = list(series)
    times = sorted({t for s in rooms for t in s.time})
    index = {t: i for i, t in enumerate(times)}
    columns = []
    for s in rooms:
        column: list[float | None] = [None] * len(times)
        for t, v in zip(s.time, s.values.get(field, ()), strict=False):
            column[index[t]] = None if v is None or not math.isfinite(v) else round(v, 2)
        columns.append({"label": s.room, "values": column})
    return {"x": [int(t.timestamp()) for t in times], "series": columns}


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    text: str
    current: bool


def nav(items: Sequence[tuple[str, str]], path: str) -> list[NavItem]:
    """Menu entries (href, translated text); the longest matching prefix is the current one."""
    best = max(
        (h for h, _t in items if path == h or (h != "/" and path.startswith(h + "/"))),
        key=len,
        default=None,
    )
    return [NavItem(h, t, h == best) for h, t in items]
