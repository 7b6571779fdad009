"""A flat's monthly statistics and key figures — what staff see without the residents'
consent — from the month's readings (pure functions; the route does the I/O).

Months are local calendar months (Europe/Copenhagen), as in `cloud.analytics.comfort`. Mould
risk is the highest VTT mould index of the flat's rooms in the month (the ``mould`` series the
jobs write): below 1 low, 1 to below 3 elevated, 3 or more high (VTT M = 3: growth visible to
the eye; Hukka & Viitanen 1999).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

import numpy as np

from cloud.analytics.comfort import LOCAL_TZ, IndexThresholds, classify, traffic_light
from cloud.api.schemas import ComfortOut, MouldOut, SensorHealthOut

if TYPE_CHECKING:
    import pandas as pd

QUANTITIES: Final = ("temperature_c", "humidity_pct", "co2_ppm")
SILENT_AFTER: Final = timedelta(hours=1)


def month_window(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` (validated) → [start, end) of the local calendar month, in UTC."""
    zone = ZoneInfo(LOCAL_TZ)
    year, number = int(month[:4]), int(month[5:7])
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def this_month(now: datetime) -> str:
    return now.astimezone(ZoneInfo(LOCAL_TZ)).strftime("%Y-%m")


def mean(frame: pd.DataFrame, column: str) -> float | None:
    if frame.empty or column not in frame.columns:
        return None
    value = float(frame[column].astype(float).mean())
    return None if math.isnan(value) else round(value, 2)


def comfort(frame: pd.DataFrame) -> ComfortOut:
    """Comfort-class shares and the light of one flat's readings of one local month — the rule
    of `cloud.analytics.comfort` (`classify`, `traffic_light`), counted with numpy."""
    if not frame.empty:
        worst = classify(frame)["worst_level"].to_numpy(dtype=float)
        levels = worst[~np.isnan(worst)].astype(int)
        if levels.size:
            counts = np.bincount(levels, minlength=5)[1:5]
            shares = counts / levels.size
            return ComfortOut(
                intervals=int(levels.size),
                **{f"share_level_{i}": round(float(shares[i - 1]), 4) for i in range(1, 5)},
                light=traffic_light(
                    float(shares[2] + shares[3]), float(shares[3]), IndexThresholds()
                ).value,
            )
    return ComfortOut(
        intervals=0, share_level_1=0, share_level_2=0, share_level_3=0, share_level_4=0, light=None
    )


def mould(frame: pd.DataFrame) -> MouldOut:
    if frame.empty or "mould_index" not in frame.columns:
        return MouldOut(mould_index_max=None, risk="ukendt/unknown")
    top = float(frame["mould_index"].astype(float).max())
    if math.isnan(top):
        return MouldOut(mould_index_max=None, risk="ukendt/unknown")
    risk = "lav/low" if top < 1 else "forhøjet/elevated" if top < 3 else "høj/high"
    return MouldOut(mould_index_max=round(top, 2), risk=risk)


def sensors(frame: pd.DataFrame, until: datetime) -> list[SensorHealthOut]:
    """Per (room, sensor): last reading, readings this month, silent for the last hour."""
    if frame.empty:
        return []
    out = []
    for (room, sensor), rows in frame.groupby(["room", "sensor"], sort=True):
        last = rows["time"].max().to_pydatetime().astimezone(UTC)
        out.append(
            SensorHealthOut(
                room=str(room),
                sensor=str(sensor),
                last_seen=last,
                readings=len(rows),
                silent=until - last > SILENT_AFTER,
            )
        )
    return out
