"""Synthetic weather: deterministic, step-size independent, plausible for a Danish winter."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.weather import MONTHLY_MEAN_C, Weather

DEC_1 = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
WINTER = DEC_1 + np.arange(0, 90 * 86_400, 600.0)  # Dec–Feb, 10-minute grid


def test_same_seed_same_weather_other_seed_other_weather() -> None:
    a, b, c = Weather(7).arrays(WINTER), Weather(7).arrays(WINTER), Weather(8).arrays(WINTER)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert np.abs(a["temperature_c"] - c["temperature_c"]).mean() > 1.0


def test_sample_does_not_depend_on_step_size_or_history() -> None:
    t = DEC_1 + 3 * 86_400
    fine = Weather(3)
    for k in range(0, 3600, 60):  # stepped minute by minute
        fine.sample(t + k)
    coarse = Weather(3)
    coarse.sample(t + 40 * 86_400)  # asked about another day first
    assert coarse.sample(t + 1800) == fine.sample(t + 1800)
    exact = Weather(3).arrays([t + 1800])["temperature_c"][0]
    assert coarse.sample(t + 1800).temperature_c == pytest.approx(exact, abs=1e-9)


def test_off_grid_times_interpolate_between_grid_points() -> None:
    w = Weather(1)
    a, b, mid = w.sample(DEC_1), w.sample(DEC_1 + 60), w.sample(DEC_1 + 30)
    assert mid.temperature_c == pytest.approx((a.temperature_c + b.temperature_c) / 2)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_danish_winter_ranges(seed: int) -> None:
    a = Weather(seed).arrays(WINTER)
    t = a["temperature_c"]
    assert t.min() > -16 and t.max() < 13
    assert np.percentile(t, 2) > -9 and np.percentile(t, 98) < 10
    assert -1.5 < t.mean() < 4.0  # normals 2.5 / 1 / 1 °C
    daily_range = np.ptp(t.reshape(90, -1), axis=1)
    assert 1.0 < np.median(daily_range) < 7.0
    rh = a["humidity_pct"]
    assert 80 < rh.mean() < 95 and rh.max() <= 100
    assert 3.5 < a["wind_ms"].mean() < 8.5
    assert np.all(a["gust_ms"] >= a["wind_ms"])
    rainy_days = (a["rain_mmh"].reshape(90, -1) > 0).any(axis=1).mean()
    assert 0.2 < rainy_days < 0.9
    mm_per_month = a["rain_mmh"].sum() / 6 / 3
    assert 20 < mm_per_month < 120  # DMI normals: ~45–60 mm per winter month
    assert a["pressure_hpa"].min() > 960 and a["pressure_hpa"].max() < 1060


@pytest.mark.parametrize(
    ("name", "month_start", "normal"),
    [
        ("November", datetime(2026, 11, 1, tzinfo=UTC), MONTHLY_MEAN_C[10]),
        ("January", datetime(2027, 1, 1, tzinfo=UTC), MONTHLY_MEAN_C[0]),
        ("March", datetime(2027, 3, 1, tzinfo=UTC), MONTHLY_MEAN_C[2]),
    ],
)
def test_monthly_means_follow_the_normals_on_average_over_seeds(
    name: str, month_start: datetime, normal: float
) -> None:
    t = month_start.timestamp() + np.arange(0, 30 * 86_400, 1800.0)
    means = [Weather(seed).arrays(t)["temperature_c"].mean() for seed in range(12)]
    assert float(np.mean(means)) == pytest.approx(normal, abs=1.2), name


def test_mild_spells_are_windier_and_lower_pressure() -> None:
    """Danish winter lows bring mild, wet, windy weather (shared 'system' signal)."""
    a = Weather(5).arrays(DEC_1 + np.arange(0, 365 * 86_400, 3600.0))
    assert np.corrcoef(a["pressure_hpa"], a["wind_ms"])[0, 1] < -0.2


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1.6e9, max_value=2.2e9), st.integers(0, 2**31))
def test_every_instant_is_physical(t: float, seed: int) -> None:
    w = Weather(seed).sample(t)
    assert -30 < w.temperature_c < 40
    assert 0 <= w.humidity_pct <= 100
    assert 0 <= w.wind_ms <= w.gust_ms
    assert w.rain_mmh >= 0
    assert 940 < w.pressure_hpa < 1080
