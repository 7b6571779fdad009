"""The incremental mould job for one building (see cloud/jobs/runner.py for the whole flow)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from cloud.analytics import vtt
from cloud.analytics.surface import surface_conditions
from cloud.registry import Building
from cloud.store.base import CLIMATE, Point, TimeSeriesStore

if TYPE_CHECKING:
    from cloud.jobs.runner import JobsConfig

log = logging.getLogger(__name__)

MOULD_MEASUREMENT = "mould"
WEATHER_MEASUREMENT = "weather"
HOUR = timedelta(hours=1)
OUTDOOR_GAP_FILL_HOURS = 3


@dataclass(slots=True)
class MouldResult:
    points: list[Point] = field(default_factory=list)
    state: dict[str, Any] | None = None
    hours: int = 0
    flat_hours: list[tuple[datetime, dict[str, tuple[float, float]]]] = field(default_factory=list)
    """Per processed hour (its end): flat → (worst room's M, worst room's surface RH)."""
    skipped: str | None = None


def _hour_floor(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def mould_for_building(
    store: TimeSeriesStore,
    building: Building,
    now: datetime,
    state: dict[str, Any] | None,
    config: JobsConfig,
) -> MouldResult:
    """Run the VTT model on the complete hours since the last run."""
    import pandas as pd

    end = _hour_floor(now)
    start = datetime.fromisoformat(state["until"]) if state else _hour_floor(now - config.lookback)
    if start >= end:
        return MouldResult(state=state)
    where = {"building": building.id}
    outdoor = store.downsample(
        WEATHER_MEASUREMENT,
        start,
        end,
        HOUR,
        where=where,
        fields=["temperature_c"],
        by=("building",),
    )
    if outdoor.empty or "temperature_c" not in outdoor.columns:
        message = (
            f"bygning {building.id}: ingen udetemperatur (måling 'weather', felt temperature_c, "
            f"tag building={building.id}) fra {start:%Y-%m-%d %H:%M} til {end:%Y-%m-%d %H:%M} "
            "UTC; skimmelberegning sprunget over / no outdoor temperature for building "
            f"{building.id}: mould job skipped — write the weather into the store"
        )
        log.error(message)
        return MouldResult(state=state, skipped=message)
    climate = store.downsample(
        CLIMATE,
        start,
        end,
        HOUR,
        where=where,
        fields=["temperature_c", "humidity_pct"],
        by=("building", "flat", "room"),
    )
    hours = pd.date_range(start, end, freq="h", inclusive="left")
    te = (
        outdoor.set_index("time")["temperature_c"]
        .reindex(hours)
        .interpolate(limit=OUTDOOR_GAP_FILL_HOURS, limit_area="inside")
        .to_numpy(dtype=float)
    )
    frsi_of = {f.id: f.frsi for f in building.flats}
    keys = list(state["keys"]) if state else []
    if not climate.empty:
        climate = climate[climate["flat"].isin(frsi_of)]
        for flat, room in climate[["flat", "room"]].drop_duplicates().itertuples(index=False):
            key = f"{flat}/{room}"
            if key not in keys:
                keys.append(key)
    if not keys:
        return MouldResult(state=state, skipped=None)
    previous = vtt.VttState.from_dict(state["vtt"]) if state else vtt.VttState.initial(0)
    grown = vtt.VttState.initial(len(keys) - len(previous))
    vtt_state = vtt.VttState(
        *(np.concatenate([getattr(previous, f), getattr(grown, f)]) for f in _STATE_FIELDS)
    )
    t_room = _matrix(climate, "temperature_c", hours, keys)
    rh_room = _matrix(climate, "humidity_pct", hours, keys)
    frsi = np.array([frsi_of.get(_flat_of(k), 0.7) for k in keys])
    t_si, rh_si = surface_conditions(t_room, rh_room, te[:, None], frsi[None, :])
    m, vtt_state = vtt.run(t_si, rh_si, config.sensitivity, config.cmat, vtt_state)
    result = MouldResult(
        state={"until": end.isoformat(), "keys": keys, "vtt": vtt_state.to_dict()},
        hours=len(hours),
    )
    result.points = _points(building.id, keys, hours, m, t_si, rh_si)
    result.flat_hours = _worst_per_flat(keys, hours, m, rh_si)
    return result


def _flat_of(key: str) -> str:
    """The flat of a ``flat/room`` key. Split at the last ``/``: a flat id is text and may hold
    ``/`` (``Østergade 1/2 th``), a room id never does (`edge.wire.ID_PATTERN`)."""
    return key.rsplit("/", 1)[0]


_STATE_FIELDS = ("m", "dry_hours", "last_temperature_c", "last_humidity_pct", "stale_hours")


def _matrix(
    frame: Any, column: str, hours: Any, keys: list[str]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """(hours × keys) matrix of one field, NaN where there is no reading."""
    import pandas as pd

    if frame.empty or column not in frame.columns:
        return np.full((len(hours), len(keys)), np.nan)
    key = frame["flat"].astype(str) + "/" + frame["room"].astype(str)
    wide = pd.DataFrame({"time": frame["time"], "key": key, "v": frame[column]}).pivot_table(
        index="time", columns="key", values="v", aggfunc="mean"
    )
    out: np.ndarray[Any, np.dtype[np.float64]] = wide.reindex(index=hours, columns=keys).to_numpy(
        dtype=float
    )
    return out


def _points(
    building: str,
    keys: list[str],
    hours: Any,
    m: Any,
    t_si: Any,
    rh_si: Any,
) -> list[Point]:
    points = []
    for j, key in enumerate(keys):
        flat, room = key.rsplit("/", 1)
        tags = {"building": building, "flat": flat, "room": room}
        for i in np.flatnonzero(np.isfinite(t_si[:, j]) & np.isfinite(rh_si[:, j])):
            points.append(
                Point(
                    MOULD_MEASUREMENT,
                    tags,
                    {
                        "mould_index": float(m[i, j]),
                        "surface_rh_pct": float(rh_si[i, j]),
                        "surface_temperature_c": float(t_si[i, j]),
                    },
                    int(hours[i].timestamp()) * 1_000_000_000,
                )
            )
    return points


def _worst_per_flat(
    keys: list[str], hours: Any, m: Any, rh_si: Any
) -> list[tuple[datetime, dict[str, tuple[float, float]]]]:
    flats = sorted({_flat_of(k) for k in keys})
    columns = {f: [j for j, k in enumerate(keys) if _flat_of(k) == f] for f in flats}
    out = []
    for i, hour in enumerate(hours):
        row: dict[str, tuple[float, float]] = {}
        for flat, cols in columns.items():
            rh = rh_si[i, cols]
            if not np.isfinite(rh).any():
                continue  # no reading this hour: the alert machine sees nothing
            row[flat] = (float(np.max(m[i, cols])), float(np.nanmax(rh)))
        out.append((hour.to_pydatetime().astimezone(UTC) + HOUR, row))
    return out
