"""The monthly running estimate residents see, and the ``heat_share`` points Grafana shows.

For an open period the estimate settles the data so far (whole local days from the period's
start up to ``as_of``; the period is a Danish calendar month, as in the settlement) under the
tariff, and applies each flat's share so far to the expected cost of the
whole period (e.g. the budget, or the sum of the aconto payments). It is an estimate: the final
settlement uses the whole period's data and the final heating bill.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cloud.settlement.engine import SettlementError, settle
from cloud.settlement.model import SettlementInputs
from cloud.settlement.money import largest_remainder
from cloud.settlement.periods import floor_local_day
from cloud.settlement.series import HOUR_S, ClimateSeries, WeatherSeries
from cloud.store.base import Point

HEAT_SHARE = "heat_share"
"""Measurement of running estimates; tags building, flat; fields share_pct, estimated_dkk."""


@dataclass(frozen=True, slots=True)
class FlatEstimate:
    flat_id: str
    share_pct: float
    estimated_ore: int
    coverage_pct: float


def truncate(inputs: SettlementInputs, end: datetime) -> SettlementInputs:
    """The inputs cut to [period_start, end) with ``end`` rounded down to a local midnight
    (Danish days: 23, 24 or 25 hours)."""
    new_end = min(floor_local_day(end), inputs.period_end)
    if new_end <= inputs.period_start:
        raise SettlementError(
            "mindst én hel dag af perioden skal være gået / at least one whole day must have passed"
        )
    hours = int((new_end - inputs.period_start) / timedelta(hours=1))
    c, w = inputs.climate, inputs.weather
    n_c, n_w = hours * HOUR_S // c.step_s, hours * HOUR_S // w.step_s
    window = None if c.window_open_pct is None else c.window_open_pct[:, :n_c]
    climate = ClimateSeries(
        c.flat_ids,
        c.start,
        c.step_s,
        c.temperature_c[:, :n_c],
        c.humidity_pct[:, :n_c],
        c.co2_ppm[:, :n_c],
        window,
    )
    weather = WeatherSeries(w.start, w.step_s, w.temperature_c[:n_w])
    return replace(inputs, period_end=new_end, climate=climate, weather=weather)


def running_estimate(inputs: SettlementInputs, as_of: datetime) -> list[FlatEstimate]:
    """Each flat's share so far and its estimated amount of ``inputs.cost_ore`` (the expected
    cost of the whole period); estimates add up to the expected cost exactly."""
    result = settle(truncate(inputs, as_of))
    shares = [s.share for s in result.statements]
    amounts = largest_remainder(inputs.cost_ore, shares) if sum(shares) else [0] * len(shares)
    return [
        FlatEstimate(s.flat_id, float(s.share * 100), a, s.coverage_pct)
        for s, a in zip(result.statements, amounts, strict=True)
    ]


def heat_share_points(
    building_id: str, estimates: list[FlatEstimate], as_of: datetime
) -> list[Point]:
    """Points for the store (measurement ``heat_share``), stamped ``as_of`` (UTC)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware UTC")
    time_ns = int(as_of.timestamp()) * 1_000_000_000
    return [
        Point(
            HEAT_SHARE,
            {"building": building_id, "flat": e.flat_id},
            {"share_pct": e.share_pct, "estimated_dkk": e.estimated_ore / 100},
            time_ns,
        )
        for e in estimates
    ]
