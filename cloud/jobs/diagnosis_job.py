"""The weekly flat diagnosis from the store (cloud/analytics/diagnosis.py does the thinking).

Reads the flat's last 7 days: ``climate`` 5-minute means per room (temperature, RH, CO2, surface
temperature from a temporary surface sensor), ``weather`` hourly (temperature, RH; tag
building), ``window`` points (commanded/reported, for window faults). Writes measurement
``diagnosis`` (tags building, flat; time = the end of the week): the key figures, the causes
(comma-separated), advice in Danish and English and the evidence as JSON (`evidence_json`).
The key figures are the housing organisation's; the evidence series (the readings) stay behind
consent in the API.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from cloud.analytics.diagnosis import FlatDiagnosis, diagnose_flat
from cloud.jobs.actuator_job import WINDOW_MEASUREMENT, actuator_faults
from cloud.registry import Building
from cloud.store.base import CLIMATE, FieldValue, Point, TimeSeriesStore

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

DIAGNOSIS_MEASUREMENT: Final = "diagnosis"
WEEK: Final = timedelta(days=7)
ROOM_HEIGHT_M: Final = 2.5
FIVE_MIN: Final = timedelta(minutes=5)


def diagnose_building(
    store: TimeSeriesStore, building: Building, end: datetime
) -> dict[str, FlatDiagnosis]:
    """Every flat of `building` with readings in the 7 days before `end`."""

    start = end - WEEK
    where = {"building": building.id}
    weather = store.downsample(
        "weather", start, end, timedelta(hours=1), where=where,
        fields=["temperature_c", "humidity_pct"], by=("building",),
    )  # fmt: skip
    if weather.empty or "temperature_c" not in weather.columns:
        log.error(
            "bygning %s: ingen vejrdata — diagnose sprunget over / no weather: diagnosis skipped",
            building.id,
        )
        return {}
    outdoor = weather.set_index("time")[["temperature_c", "humidity_pct"]].astype(float)
    climate = store.downsample(
        CLIMATE, start, end, FIVE_MIN, where=where,
        fields=["temperature_c", "humidity_pct", "co2_ppm", "surface_temperature_c"],
        by=("building", "flat", "room"),
    )  # fmt: skip
    if climate.empty:
        return {}
    windows = store.query(WINDOW_MEASUREMENT, start, end, where=where)
    faults: dict[str, int] = {}
    automated: set[str] = set()
    if not windows.empty:
        automated = set(windows["flat"].astype(str))
        conditions = actuator_faults(windows, end)
        if not conditions.empty:
            faults = conditions[conditions["fault"]].groupby("flat").size().to_dict()
    result: dict[str, FlatDiagnosis] = {}
    for flat in building.flats:
        rows = climate[climate["flat"] == flat.id]
        if rows.empty:
            continue
        per_room = {str(room): g.set_index("time").sort_index() for room, g in rows.groupby("room")}
        diagnosis = _diagnose(per_room, outdoor, flat, faults.get(flat.id, 0), flat.id in automated)
        if diagnosis is not None:
            result[flat.id] = diagnosis
    return result


def _diagnose(
    per_room: dict[str, pd.DataFrame],
    outdoor: pd.DataFrame,
    flat: Any,
    window_faults: int,
    automated: bool,
) -> FlatDiagnosis | None:
    def count(room: str, column: str) -> int:
        frame = per_room[room]
        return int(frame[column].notna().sum()) if column in frame.columns else 0

    co2_room = max(per_room, key=lambda r: count(r, "co2_ppm"))
    if count(co2_room, "co2_ppm") == 0:
        return None
    main = per_room[co2_room]
    hourly = {
        room: frame[["temperature_c", "humidity_pct"]].resample("1h").mean().dropna()
        for room, frame in per_room.items()
        if count(room, "temperature_c") and count(room, "humidity_pct")
    }
    surface_rooms = [r for r in per_room if count(r, "surface_temperature_c") > 0]
    surface = None
    if surface_rooms:
        room = surface_rooms[0]
        surface = (room, per_room[room]["surface_temperature_c"].resample("1h").mean().dropna())
    return diagnose_flat(
        co2_ppm=main["co2_ppm"].dropna(),
        main_room=main[["temperature_c", "humidity_pct", "co2_ppm"]].dropna(),
        rooms=hourly,
        outdoor=outdoor,
        volume_m3=flat.area_m2 * ROOM_HEIGHT_M,
        configured_frsi=flat.frsi,
        surface=surface,
        window_faults=window_faults,
        windows_automated=automated,
    )


def diagnosis_points(
    building_id: str, end: datetime, diagnoses: dict[str, FlatDiagnosis]
) -> list[Point]:
    points = []
    for flat, d in diagnoses.items():
        fields: dict[str, FieldValue] = {
            "causes": ",".join(d.causes) or "none",
            "airing_events": d.airing_events,
            "airing_hours": d.airing_hours,
            "surface_rh_hours_above_75": d.surface_rh_hours_above_75,
            "surface_rh_hours_above_80": d.surface_rh_hours_above_80,
            "frsi": d.frsi,
            "frsi_fitted": d.frsi_fitted,
            "window_faults": d.window_faults,
            "advice_da": d.advice_da,
            "advice_en": d.advice_en,
            "evidence_json": json.dumps([asdict(e) for e in d.evidence], ensure_ascii=False),
        }
        for name in ("air_change_per_h", "moisture_g_per_h", "mean_temperature_c"):
            value = getattr(d, name)
            if value is not None:
                fields[name] = round(float(value), 3)
        tags = {"building": building_id, "flat": flat}
        points.append(Point(DIAGNOSIS_MEASUREMENT, tags, fields, int(end.timestamp()) * 10**9))
    return points
