"""Indoor-climate points: pure, vectorised functions over hourly (flats x hours) matrices.

Degree-hours (``Method.DEGREE_HOURS``)::

    points = area x sum over heating hours of (max(Ti, floor) - Te)
             + airing_area x sum over open hours beyond the advice of (max(Ti, floor) - Te)

A heating hour is an hour in a heating-season month with the outdoor temperature below the
degree-day base (17 °C, the base of the Danish Meteorological Institute's *graddage*). The floor
makes a flat held colder than the floor pay as if held at it: it is heated through the
uninsulated walls by its neighbours (DOMAIN.md: a flat 2 °C colder can take ~70 % of its heat
from them). Airing: residents are advised to air 2-3 times a day for 5-10 minutes (DOMAIN.md);
open time beyond ``allowance_h_per_day`` on a day costs the heat an open window loses, expressed as
the degree-hours of an ``equivalent_area_m2`` (an open window ~50 W/K, ventilation loss
0.34 Wh/(m³ K) x ~150 m³/h, against ~1 W/(m² K) for a flat) — see TARIFF.md.

Band-hours (``Method.BAND_HOURS``), as in the Danish trials (Moserne: a base per m² plus
surcharges for time too warm, too cold, too humid, too dry or with high CO2)::

    points = area x sum over heating hours of (base + sum_k weight_k x [outside band k])

Bands from DOMAIN.md: 19-22 °C, 30-60 % RH, CO2 <= 1200 ppm (EN 16798-1 category II).
Every method's points are finally multiplied by the flat's position factor (see engine).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cloud.settlement.series import CHUNK_ROWS, HOUR_S, FloatArray, hourly_mean
from cloud.settlement.tariff import Airing, BandHours, DegreeHours

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Measures:
    """Per-flat figures behind the points (vectors of length n_flats), shown on statements."""

    mean_temperature_c: FloatArray
    degree_hours: FloatArray
    """sum of (max(Ti, floor) - Te) over heating hours, K h (not yet times area)."""
    airing_excess_h: FloatArray
    airing_degree_hours: FloatArray
    hours_too_warm: FloatArray
    hours_too_cold: FloatArray
    hours_too_humid: FloatArray
    hours_too_dry: FloatArray
    hours_high_co2: FloatArray


def heating_mask(te: FloatArray, season: BoolArray, limit_c: float) -> BoolArray:
    """Heating hours: heating-season month and outdoor temperature below the degree-day base."""
    return season & (te < limit_c)


def derived_open_fraction(
    temperature_c: FloatArray, co2_ppm: FloatArray, step_s: int, airing: Airing
) -> FloatArray | None:
    """Hourly open share (0..1) derived from the climate at sample resolution: a step counts as
    open while the temperature falls at least ``detect_temp_drop_k_per_h`` and CO2 at least
    ``detect_co2_drop_ppm_per_h`` (an open window's cold, outdoor-CO2 air; occupants leaving
    lower CO2 but not the temperature this fast). A lower bound: a window left open after the
    room has cooled is no longer seen. Returns None for hourly data (too coarse to tell)."""
    if step_s >= HOUR_S:
        return None
    per_hour = HOUR_S // step_s
    dt_max = -airing.detect_temp_drop_k_per_h * step_s / HOUR_S
    dc_max = -airing.detect_co2_drop_ppm_per_h * step_s / HOUR_S
    n, steps = temperature_c.shape
    hours = steps // per_hour
    out = np.empty((n, hours))
    for lo in range(0, n, CHUNK_ROWS):
        t = temperature_c[lo : lo + CHUNK_ROWS, : hours * per_hour]
        c = co2_ppm[lo : lo + CHUNK_ROWS, : hours * per_hour]
        is_open = np.zeros(t.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            is_open[:, 1:] = ((t[:, 1:] - t[:, :-1]) <= dt_max) & ((c[:, 1:] - c[:, :-1]) <= dc_max)
        out[lo : lo + CHUNK_ROWS] = is_open.reshape(-1, hours, per_hour).mean(axis=2)
    return out


def airing_excess(
    open_fraction: FloatArray,
    day_starts: npt.NDArray[np.int64],
    day_season: BoolArray,
    allowance_h_per_day: float,
) -> tuple[FloatArray, FloatArray]:
    """Share of each open hour that lies beyond the day's allowance, and excess hours per flat.

    ``open_fraction`` is hourly (flats x hours), 0..1; ``day_starts`` the index of each local
    day's first hour (days of 23, 24 or 25 hours across summer time); ``day_season`` marks
    heating-season days. Returns (flats x hours) weights and (flats,) hours.
    """
    open_h = np.add.reduceat(open_fraction, day_starts, axis=1)
    excess_h = np.maximum(open_h - allowance_h_per_day, 0.0) * day_season[np.newaxis, :]
    ratio = np.zeros_like(open_h)
    np.divide(excess_h, open_h, out=ratio, where=open_h > 0)
    day_of_hour = np.repeat(
        np.arange(day_starts.size), np.diff(day_starts, append=open_fraction.shape[1])
    )
    weights = open_fraction * ratio[:, day_of_hour]
    return weights, excess_h.sum(axis=1)


def degree_hour_measures(
    ti: FloatArray,
    te: FloatArray,
    heating: BoolArray,
    open_weight: FloatArray | None,
    excess_h: FloatArray,
    dh: DegreeHours,
) -> tuple[FloatArray, FloatArray]:
    """(degree_hours, airing_degree_hours) per flat, in K h."""
    delta = np.maximum(np.maximum(ti, dh.floor_c) - te[np.newaxis, :], 0.0)
    delta = np.where(heating[np.newaxis, :], delta, 0.0)
    degree = delta.sum(axis=1)
    if open_weight is None:
        return degree, np.zeros_like(degree)
    return degree, (delta * open_weight).sum(axis=1)


def band_counts(
    ti: FloatArray, rh: FloatArray, co2: FloatArray, heating: BoolArray, bands: BandHours
) -> dict[str, FloatArray]:
    """Heating hours outside each band, per flat."""
    h = heating[np.newaxis, :]
    return {
        "too_warm": ((ti > bands.temperature_max_c) & h).sum(axis=1).astype(float),
        "too_cold": ((ti < bands.temperature_min_c) & h).sum(axis=1).astype(float),
        "too_humid": ((rh > bands.humidity_max_pct) & h).sum(axis=1).astype(float),
        "too_dry": ((rh < bands.humidity_min_pct) & h).sum(axis=1).astype(float),
        "high_co2": ((co2 > bands.co2_max_ppm) & h).sum(axis=1).astype(float),
    }


def band_points(counts: dict[str, FloatArray], heating_hours: int, bands: BandHours) -> FloatArray:
    """sum over heating hours of (base + weighted out-of-band indicators), per m²."""
    return (
        bands.base_weight * heating_hours
        + bands.weight_too_warm * counts["too_warm"]
        + bands.weight_too_cold * counts["too_cold"]
        + bands.weight_too_humid * counts["too_humid"]
        + bands.weight_too_dry * counts["too_dry"]
        + bands.weight_high_co2 * counts["high_co2"]
    )


def hourly_open_fraction(window_open_pct: FloatArray, step_s: int) -> FloatArray:
    """Hourly mean open share 0..1 (hours without a window signal count as closed)."""
    with np.errstate(invalid="ignore"):
        is_open = (window_open_pct > 0.0).astype(np.float64)
    mean, _ = hourly_mean(is_open, step_s)
    return np.nan_to_num(mean, nan=0.0)
