"""Synthetic settlement inputs for tests, benchmarks and demos (deterministic with a seed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np

from cloud.settlement.model import FlatInfo, SettlementInputs
from cloud.settlement.periods import month_bounds
from cloud.settlement.series import ClimateSeries, FloatArray, WeatherSeries
from cloud.settlement.tariff import Method, Tariff, default_tariff


def month_period(year: int, month: int, months: int = 1) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of Danish local calendar months (March 743 h, October 745 h)."""
    return month_bounds(year, month, months)


def constant_inputs(
    flats: Sequence[FlatInfo],
    indoor_c: Sequence[float],
    *,
    outdoor_c: float = 2.0,
    days: int = 2,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    cost_ore: int = 1_000_000,
    tariff: Tariff | None = None,
    humidity_pct: Sequence[float] | None = None,
    co2_ppm: Sequence[float] | None = None,
) -> SettlementInputs:
    """Hourly inputs with each flat held at a constant climate (for property tests)."""
    n, hours = len(flats), days * 24
    t = np.repeat(np.asarray(indoor_c, dtype=float)[:, None], hours, axis=1)
    rh = np.repeat(np.asarray(humidity_pct or [45.0] * n, dtype=float)[:, None], hours, axis=1)
    co2 = np.repeat(np.asarray(co2_ppm or [800.0] * n, dtype=float)[:, None], hours, axis=1)
    return SettlementInputs(
        building_id="B1",
        period_start=start,
        period_end=start + timedelta(days=days),
        cost_ore=cost_ore,
        flats=tuple(flats),
        climate=ClimateSeries(tuple(f.flat_id for f in flats), start, 3600, t, rh, co2),
        weather=WeatherSeries(start, 3600, np.full(hours, outdoor_c)),
        tariff=tariff or default_tariff(),
        statement_date=date(2026, 5, 1),
    )


def random_month(
    n_flats: int,
    *,
    year: int = 2026,
    month: int = 1,
    step_s: int = 300,
    seed: int = 0,
    dtype: type[np.floating] = np.float64,
) -> tuple[tuple[FlatInfo, ...], ClimateSeries, WeatherSeries]:
    """A month of climate for ``n_flats`` flats: daily cycles, per-flat set points, airings."""
    rng = np.random.default_rng(seed)
    start, end = month_period(year, month)
    steps = int((end - start).total_seconds()) // step_s
    hours = np.arange(steps) * step_s / 3600.0
    daily = np.sin(2 * np.pi * hours / 24.0)
    setpoint = rng.normal(21.0, 1.5, n_flats).astype(dtype)
    t: FloatArray = (setpoint[:, None] + 0.8 * daily[None, :]).astype(dtype)
    t += rng.normal(0, 0.1, (n_flats, steps)).astype(dtype)
    rh = (45 + 8 * daily[None, :] + rng.normal(0, 2, (n_flats, 1))).astype(dtype)
    co2 = (700 + 300 * np.cos(2 * np.pi * hours / 24.0)[None, :]).astype(dtype)
    co2 = co2 + rng.normal(0, 150, (n_flats, 1)).astype(dtype)
    flats = tuple(
        FlatInfo(
            f"F{i:05d}",
            float(rng.choice([45.0, 62.5, 78.0, 95.0])),
            float(rng.choice([1.0, 1.0, 0.9])),
            aconto_ore=int(rng.integers(3_000, 9_000)) * 100,
            monthly_rent_ore=600_000,
        )
        for i in range(n_flats)
    )
    climate = ClimateSeries(tuple(f.flat_id for f in flats), start, step_s, t, rh, co2)
    te = 2.0 + 4.0 * np.sin(2 * np.pi * (np.arange(steps) * step_s / 3600.0 - 9) / 24.0)
    return flats, climate, WeatherSeries(start, step_s, te)


def tariff_with_method(method: str, fixed_share: float | None = None) -> Tariff:
    """The default tariff with another variable-share method (and optionally another f)."""
    base = default_tariff()
    update: dict[str, object] = {"method": Method(method)}
    if fixed_share is not None:
        update["fixed_share"] = fixed_share
    return base.model_copy(update=update)
