"""The missing-data rule (TARIFF.md "Missing data"): interpolate short gaps, substitute long ones,
flag them, report coverage — never a silent zero."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from cloud.settlement.engine import settle
from cloud.settlement.model import FlatInfo
from cloud.settlement.periods import local_hours
from cloud.settlement.series import ClimateSeries, fill_gaps, fill_weather, hourly_mean
from cloud.settlement.synthetic import constant_inputs

MONDAY = datetime(2026, 1, 5, tzinfo=UTC)


def _how(hours: int) -> np.ndarray:
    """Local hour of the week of each hour from MONDAY (the missing-data rule is local)."""
    return local_hours(MONDAY, hours).hour_of_week


def _gap(row: list[float], lo: int, hi: int) -> np.ndarray:
    x = np.array([row], dtype=float)
    x[0, lo:hi] = np.nan
    return x


@pytest.mark.parametrize(
    ("name", "gap_h", "expected_interpolated", "expected_substituted"),
    [
        ("one hour", 1, 1, 0),
        ("three hours (the limit)", 3, 3, 0),
        ("four hours", 4, 0, 4),
    ],
)
def test_gap_size_decides_interpolation_or_substitution(
    name: str, gap_h: int, expected_interpolated: int, expected_substituted: int
) -> None:
    ramp = [20.0 + 0.1 * i for i in range(48)]
    filled = fill_gaps(_gap(ramp, 10, 10 + gap_h), _how(48), interpolate_max_h=3)
    assert int(filled.interpolated.sum()) == expected_interpolated, name
    assert int(filled.substituted.sum()) == expected_substituted, name
    assert not np.isnan(filled.values).any()
    if expected_interpolated:  # linear between neighbours: a ramp is restored exactly
        np.testing.assert_allclose(filled.values[0], ramp)


def test_long_gap_takes_the_flats_own_mean_for_the_same_hour_of_the_week() -> None:
    week = [18.0 + (h % 24) / 4 for h in range(168)]
    values = _gap(week + [v + 1.0 for v in week], 168 + 30, 168 + 40)  # 10 h gap in week 2
    filled = fill_gaps(values, _how(values.shape[1]), interpolate_max_h=3)
    np.testing.assert_allclose(filled.values[0, 198:208], week[30:40])  # week 1, same hours
    assert filled.substituted.sum() == 10


def test_gap_at_the_start_falls_back_to_the_buildings_mean_for_that_hour() -> None:
    a = [21.0] * 24
    b = [19.0] * 24
    values = np.array([a, b], dtype=float)
    values[1, :2] = np.nan  # no earlier value to interpolate from; no other week
    filled = fill_gaps(values, _how(values.shape[1]), interpolate_max_h=3)
    np.testing.assert_allclose(filled.values[1, :2], [21.0, 21.0])
    assert filled.substituted[1].sum() == 2 and filled.interpolated[1].sum() == 0


def test_a_flat_without_any_data_gets_the_building_mean_and_is_flagged_not_zero() -> None:
    flats = [FlatInfo("A", 60.0), FlatInfo("B", 60.0), FlatInfo("SILENT", 60.0)]
    inputs = constant_inputs(flats, [20.0, 24.0, 0.0])
    inputs.climate.temperature_c[2, :] = np.nan
    result = settle(inputs)
    silent = result.statement("SILENT")
    assert silent.coverage_pct == 0.0
    assert "no_data" in silent.flags
    assert silent.mean_temperature_c == pytest.approx(22.0)
    assert silent.amount_ore > 0
    assert silent.substituted_h == 48


def test_coverage_and_flags_are_reported_per_flat() -> None:
    flats = [FlatInfo("A", 60.0, aconto_ore=10**7), FlatInfo("B", 60.0, aconto_ore=10**7)]
    inputs = constant_inputs(flats, [20.0, 21.0])
    inputs.climate.temperature_c[0, 5:7] = np.nan  # 2 h: interpolated
    inputs.climate.temperature_c[0, 20:30] = np.nan  # 10 h: substituted
    result = settle(inputs)
    a, b = result.statement("A"), result.statement("B")
    assert a.coverage_pct == pytest.approx(100 * 36 / 48)
    assert a.flags == ("low_coverage", "interpolated=2h", "substituted=10h")
    assert b.coverage_pct == 100.0 and b.flags == ()


def test_five_minute_samples_average_to_hours_and_a_partly_measured_hour_counts() -> None:
    x = np.arange(24, dtype=float).reshape(1, 24)  # two hours of 5-minute samples
    x[0, 12:23] = np.nan  # second hour has one sample left
    mean, measured = hourly_mean(x, 300)
    np.testing.assert_allclose(mean[0], [5.5, 23.0])
    assert measured.all()


def test_weather_gaps_are_interpolated_and_noted() -> None:
    te, filled = fill_weather(np.array([0.0, np.nan, np.nan, 3.0]))
    np.testing.assert_allclose(te, [0.0, 1.0, 2.0, 3.0])
    assert filled == 2
    inputs = constant_inputs([FlatInfo("A", 50.0)], [21.0])
    inputs.weather.temperature_c[3:5] = np.nan
    assert "weather_interpolated=2h" in settle(inputs).notes


def test_no_weather_at_all_is_an_error_that_says_what_to_do() -> None:
    inputs = constant_inputs([FlatInfo("A", 50.0)], [21.0])
    inputs.weather.temperature_c[:] = np.nan
    with pytest.raises(ValueError, match="hent vejrdata / no outdoor temperature"):
        settle(inputs)


def test_band_hours_coverage_needs_every_quantity() -> None:
    from cloud.settlement.synthetic import tariff_with_method

    inputs = constant_inputs([FlatInfo("A", 50.0)], [21.0], tariff=tariff_with_method("band_hours"))
    c = inputs.climate
    co2 = c.co2_ppm.copy()
    co2[0, :12] = np.nan
    climate = ClimateSeries(c.flat_ids, c.start, c.step_s, c.temperature_c, c.humidity_pct, co2)
    result = settle(replace(inputs, climate=climate))
    assert result.statement("A").coverage_pct == pytest.approx(75.0)
