"""Climate and weather on the period's time grid, as (flats x time) numpy matrices.

Everything here is vectorised over the whole matrix so that 10,000 flats x a month of 5-minute
samples settle in seconds (bench/bench_settlement.py). The missing-data rule (TARIFF.md):

1. Samples are averaged to hours; an hour with at least one sample is *measured*.
2. A gap of at most ``interpolate_max_h`` hours between two measured hours is filled by linear
   interpolation (a BLE dropout or a gateway restart).
3. A longer gap, or one at the start or end of the period, is *substituted*: the flat's own mean
   for the same hour of the week over its measured hours; where the flat never had that hour of
   the week, the building's mean for that very hour (over flats measured then); where no flat was
   measured then, the flat's own period mean; a flat without any data gets the building's
   period mean. Every substituted hour is counted and flagged on the statement.
4. ``coverage_pct`` is the share of the period's hours that were measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
HOUR_S = 3600


@dataclass(frozen=True, eq=False)
class ClimateSeries:
    """Indoor climate per flat on a regular grid starting at ``start`` (UTC).

    Arrays are (flats x steps), NaN where no sample (a quantity a sensor does not measure, e.g.
    CO2 on a RuuviTag, is NaN throughout); ``window_open_pct`` may be None (no window
    signal: airing is then derived from the climate, see :mod:`cloud.settlement.points`).
    """

    flat_ids: tuple[str, ...]
    start: datetime
    step_s: int
    temperature_c: FloatArray
    humidity_pct: FloatArray
    co2_ppm: FloatArray
    window_open_pct: FloatArray | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("ClimateSeries.start must be timezone-aware UTC")
        if HOUR_S % self.step_s:
            raise ValueError(f"step_s={self.step_s} must divide one hour (e.g. 300 or 3600)")
        shape = (len(self.flat_ids), self.temperature_c.shape[1])
        arrays = [self.temperature_c, self.humidity_pct, self.co2_ppm]
        if self.window_open_pct is not None:
            arrays.append(self.window_open_pct)
        if any(a.shape != shape for a in arrays):
            raise ValueError(f"every climate matrix must have shape {shape}")

    @property
    def steps(self) -> int:
        return int(self.temperature_c.shape[1])


@dataclass(frozen=True, eq=False)
class WeatherSeries:
    """Outdoor temperature on a regular grid (hourly or finer)."""

    start: datetime
    step_s: int
    temperature_c: FloatArray


CHUNK_ROWS = 256
"""Rows per block in the big-matrix passes: keeps each block in the CPU cache."""


def hourly_mean(matrix: FloatArray, step_s: int) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Hourly means of a (flats x steps) matrix ignoring NaN, and the measured-hour mask.

    Fast path: a plain reshape-mean per block of rows; only the hours whose mean came out NaN
    (some sample missing) are recomputed NaN-aware.
    """
    per_hour = HOUR_S // step_s
    n, steps = matrix.shape
    hours = steps // per_hour
    mean = np.empty((n, hours))
    for lo in range(0, n, CHUNK_ROWS):
        block = matrix[lo : lo + CHUNK_ROWS, : hours * per_hour]
        mean[lo : lo + CHUNK_ROWS] = block.reshape(-1, hours, per_hour).mean(axis=2)
    gaps = np.isnan(mean)
    if gaps.any():
        rows, cols = np.nonzero(gaps)
        blocks = matrix[rows[:, None], cols[:, None] * per_hour + np.arange(per_hour)]
        valid = ~np.isnan(blocks)
        count = valid.sum(axis=1)
        total = np.where(valid, blocks, 0.0).sum(axis=1)
        fixed = np.full(rows.size, np.nan)
        np.divide(total, count, out=fixed, where=count > 0)
        mean[rows, cols] = fixed
    return mean, ~np.isnan(mean)


def _interpolate_short_gaps(
    x: FloatArray, max_gap: int
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Linear interpolation inside gaps of at most ``max_gap`` hours; returns filled mask too."""
    n, h = x.shape
    valid = ~np.isnan(x)
    idx = np.broadcast_to(np.arange(h), (n, h))
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(valid, idx, h)[:, ::-1], axis=1)[:, ::-1]
    gap_len = nxt - prev - 1
    fill = ~valid & (prev >= 0) & (nxt < h) & (gap_len <= max_gap)
    if not fill.any():
        return x, fill
    rows = np.nonzero(fill)[0]
    p, q, t = prev[fill], nxt[fill], idx[fill]
    xp, xq = x[rows, p], x[rows, q]
    out = x.copy()
    out[fill] = xp + (xq - xp) * (t - p) / (q - p)
    return out, fill


def _nanmean_axis(x: FloatArray, axis: int) -> FloatArray:
    valid = ~np.isnan(x)
    count = valid.sum(axis=axis)
    total = np.where(valid, x, 0.0).sum(axis=axis)
    out = np.full(count.shape, np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


@dataclass(frozen=True, eq=False)
class Filled:
    values: FloatArray
    measured: npt.NDArray[np.bool_]
    interpolated: npt.NDArray[np.bool_]
    substituted: npt.NDArray[np.bool_]


def fill_gaps(
    hourly: FloatArray, hour_of_week: npt.NDArray[np.int64], interpolate_max_h: int
) -> Filled:
    """Apply the missing-data rule (module docstring) to an hourly (flats x hours) matrix;
    ``hour_of_week`` is each hour's local hour of the week (residents live in local time)."""
    measured = ~np.isnan(hourly)
    x, interpolated = _interpolate_short_gaps(hourly, interpolate_max_h)
    missing = np.isnan(x)
    if not missing.any():
        return Filled(x, measured, interpolated, missing)
    out = x.copy()
    how = hour_of_week
    own_how = np.full((hourly.shape[0], 168), np.nan)
    for k in np.unique(how):
        own_how[:, k] = _nanmean_axis(hourly[:, how == k], axis=1)
    sub = own_how[:, how]
    building_hour = _nanmean_axis(hourly, axis=0)
    sub = np.where(np.isnan(sub), building_hour[np.newaxis, :], sub)
    own_mean = _nanmean_axis(hourly, axis=1)
    sub = np.where(np.isnan(sub), own_mean[:, np.newaxis], sub)
    building_mean = float(np.nanmean(hourly)) if measured.any() else float("nan")
    sub = np.where(np.isnan(sub), building_mean, sub)
    out[missing] = sub[missing]
    return Filled(out, measured, interpolated, missing)


def fill_weather(te: FloatArray) -> tuple[FloatArray, int]:
    """Outdoor temperature: interpolate every gap linearly, hold the ends; returns filled hours.

    Raises ValueError when there is no outdoor temperature at all.
    """
    valid = ~np.isnan(te)
    if not valid.any():
        raise ValueError(
            "ingen udetemperatur i perioden – hent vejrdata / "
            "no outdoor temperature in the period – fetch weather data"
        )
    hours = np.arange(te.size)
    filled = np.interp(hours, hours[valid], te[valid])
    return filled, int((~valid).sum())


def hour_times(start: datetime, hours: int) -> list[datetime]:
    return [start + timedelta(hours=i) for i in range(hours)]
