"""A flat's climate series as JSON (columnar: one list per field, what chart libraries such as
uPlot take), served by a route with a couple of lines; the service is
`cloud.analytics.climate_series.climate_series`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from fastapi import HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.analytics.climate_series import (
    ClimateRangeError,
    Resolution,
    climate_series,
)
from cloud.registry import Building
from cloud.store.base import TimeSeriesStore

DEFAULT_RANGE = timedelta(hours=24)


class RoomSeriesOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    room: str
    time_s: list[int] = Field(
        description="periodens start, Unix-sekunder (UTC) / start of each period, Unix seconds"
    )
    temperature_c_mean: list[float | None]
    temperature_c_min: list[float | None]
    temperature_c_max: list[float | None]
    humidity_pct_mean: list[float | None]
    humidity_pct_min: list[float | None]
    humidity_pct_max: list[float | None]
    co2_ppm_mean: list[float | None]
    co2_ppm_min: list[float | None]
    co2_ppm_max: list[float | None]


class ClimateSeriesOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    building: str
    flat: str
    start: datetime
    end: datetime
    resolution: Resolution = Field(
        description="raw (≤ 2 dage/days), hourly (≤ 62 dage/days), daily (lokale døgn / local "
        "days) — valgt ud fra perioden / picked from the range"
    )
    step_s: int
    rooms: list[RoomSeriesOut]


def flat_climate_response(
    store: TimeSeriesStore,
    building: Building,
    flat: str,
    start: datetime | None,
    end: datetime | None,
    *,
    not_before: datetime | None = None,
) -> Response:
    """The route's body (`ClimateSeriesOut` as JSON, written with orjson: a month is ~20,000
    numbers, too many for a per-value encoder): 404 for a flat the building does not have,
    422 for a bad range; default the last 24 hours. `not_before`: see `climate_series`."""
    if flat not in building.flat_ids:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"Lejligheden {flat!r} findes ikke i bygning {building.id!r} / flat {flat!r} is not "
            f"in building {building.id!r}",
        )
    try:
        end = end or datetime.now(UTC)
        start = start or end - DEFAULT_RANGE
        series = climate_series(store, building.id, flat, start, end, not_before=not_before)
    except ClimateRangeError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    body = {
        "building": series.building,
        "flat": series.flat,
        "start": series.start.isoformat(),
        "end": series.end.isoformat(),
        "resolution": series.resolution.value,
        "step_s": int(series.step.total_seconds()),
        "rooms": [{"room": r.room, "time_s": r.time_s, **r.values} for r in series.rooms],
    }
    return Response(orjson.dumps(body), media_type="application/json")
