"""Settlement inputs from the time-series store (thin I/O around the pure engine).

Climate: measurement ``climate``, fields temperature_c / humidity_pct / co2_ppm, hourly means per
flat (``TimeSeriesStore.downsample`` at 1 h, grouped by building and flat; rooms averaged).
Weather: measurement ``weather``, tag ``building``, field temperature_c, hourly means.
Hourly data are too coarse to see airing, so store-based runs carry ``airing_not_available``
unless the tariff switches airing off.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from cloud.registry import Registry
from cloud.settlement.engine import settle
from cloud.settlement.model import FlatInfo, SettlementInputs, SettlementResult
from cloud.settlement.money import to_ore
from cloud.settlement.periods import local_date
from cloud.settlement.series import ClimateSeries, FloatArray, WeatherSeries
from cloud.settlement.tariff import Tariff, default_tariff
from cloud.store.base import CLIMATE, Point, TimeSeriesStore

WEATHER = "weather"
QUANTITIES = ("temperature_c", "humidity_pct", "co2_ppm")


def _matrix(
    frame: pd.DataFrame, column: str, rows: dict[str, int], start: datetime, hours: int
) -> FloatArray:
    out = np.full((len(rows), hours), np.nan)
    if frame.empty or column not in frame.columns:
        return out
    t = pd.to_datetime(frame["time"], utc=True)
    col = ((t - pd.Timestamp(start)).dt.total_seconds() // 3600).to_numpy(dtype=np.int64)
    row = frame["flat"].astype(str).map(rows).to_numpy(dtype=float)
    v = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    ok = ~np.isnan(row) & (col >= 0) & (col < hours) & ~np.isnan(v)
    out[row[ok].astype(np.int64), col[ok]] = v[ok]
    return out


def inputs_from_store(
    store: TimeSeriesStore,
    registry: Registry,
    building_id: str,
    period_start: datetime,
    period_end: datetime,
    total_cost_dkk: Decimal | str | int | float,
    *,
    tariff: Tariff | None = None,
    statement_date: date | None = None,
    bill_received: date | None = None,
) -> SettlementInputs:
    building = registry.building(building_id)
    if not building.flats:
        raise ValueError(f"bygning {building_id} har ingen lejligheder i registret / no flats")
    flats = tuple(
        FlatInfo(
            flat_id=f.id,
            area_m2=f.area_m2,
            position_factor=f.position_factor,
            aconto_ore=to_ore(Decimal(str(f.aconto_dkk)).quantize(Decimal("0.01"))),
        )
        for f in sorted(building.flats, key=lambda f: f.id)
    )
    hours = int((period_end - period_start) / timedelta(hours=1))
    rows = {f.flat_id: i for i, f in enumerate(flats)}
    hour = timedelta(hours=1)
    climate = store.downsample(
        CLIMATE,
        period_start,
        period_end,
        hour,
        where={"building": building_id},
        fields=list(QUANTITIES),
        by=("building", "flat"),
    )
    mats = [_matrix(climate, q, rows, period_start, hours) for q in QUANTITIES]
    weather = store.downsample(
        WEATHER,
        period_start,
        period_end,
        hour,
        where={"building": building_id},
        fields=["temperature_c"],
        by=("building",),
    )
    te = np.full(hours, np.nan)
    if not weather.empty:
        w = weather.assign(flat="_")
        te = _matrix(w, "temperature_c", {"_": 0}, period_start, hours)[0]
    return SettlementInputs(
        building_id=building_id,
        building_name=building.name,
        period_start=period_start,
        period_end=period_end,
        cost_ore=to_ore(total_cost_dkk),
        flats=flats,
        climate=ClimateSeries(tuple(rows), period_start, 3600, *mats),
        weather=WeatherSeries(period_start, 3600, te),
        tariff=tariff or default_tariff(),
        statement_date=statement_date or local_date(period_end),
        bill_received=bill_received,
    )


def settle_from_store(
    store: TimeSeriesStore,
    registry: Registry,
    building_id: str,
    period_start: datetime,
    period_end: datetime,
    total_cost_dkk: Decimal | str | int | float,
    tariff: Tariff | None = None,
    *,
    statement_date: date | None = None,
    bill_received: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> SettlementResult:
    """Settle one building for [period_start, period_end) from the store's data.

    ``result.total_dkk`` (the sum of the flats' amounts) equals ``result.cost_dkk``.
    The statement date defaults to the period's end, so repeated calls give the same result.
    """
    inputs = inputs_from_store(
        store,
        registry,
        building_id,
        period_start,
        period_end,
        total_cost_dkk,
        tariff=tariff,
        statement_date=statement_date,
        bill_received=bill_received,
    )
    return settle(inputs, progress)


def heat_shares_from_store(
    store: TimeSeriesStore,
    registry: Registry,
    building_id: str,
    period_start: datetime,
    period_end: datetime,
    expected_cost_dkk: Decimal | str | int | float,
    as_of: datetime,
    tariff: Tariff | None = None,
) -> list[Point]:
    """The job's step: running estimates for the open period as ``heat_share`` points
    (write them with ``store.write``). ``expected_cost_dkk`` is the period's expected cost."""
    from cloud.settlement.estimate import heat_share_points, running_estimate

    inputs = inputs_from_store(
        store, registry, building_id, period_start, period_end, expected_cost_dkk, tariff=tariff
    )
    return heat_share_points(building_id, running_estimate(inputs, as_of), as_of)
