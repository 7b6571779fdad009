"""Airing beyond the advice costs (degree-hours tariff); within the advice it is free."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cloud.settlement.engine import settle
from cloud.settlement.model import FlatInfo, SettlementInputs
from cloud.settlement.points import derived_open_fraction
from cloud.settlement.series import ClimateSeries
from cloud.settlement.synthetic import constant_inputs
from cloud.settlement.tariff import Airing, default_tariff


def with_window(inputs: SettlementInputs, open_h_per_day: list[int]) -> SettlementInputs:
    """Windows open (any opening > 0 %) for whole hours each morning."""
    c = inputs.climate
    window = np.zeros_like(c.temperature_c)
    for i, hours in enumerate(open_h_per_day):
        for day in range(c.steps // 24):
            window[i, day * 24 + 8 : day * 24 + 8 + hours] = 30.0
    climate = ClimateSeries(
        c.flat_ids, c.start, c.step_s, c.temperature_c, c.humidity_pct, c.co2_ppm, window
    )
    return replace(inputs, climate=climate)


@pytest.mark.parametrize(
    ("name", "open_h", "allowance_h", "excess_h_per_day"),
    [
        ("never open", 0, 0.5, 0.0),
        ("within the advice", 1, 1.0, 0.0),
        ("one hour against half an hour's advice", 1, 0.5, 0.5),
        ("three hours a day", 3, 0.5, 2.5),
    ],
)
def test_airing_beyond_the_advice_costs(
    name: str, open_h: int, allowance_h: float, excess_h_per_day: float
) -> None:
    flats = [FlatInfo("AIRS", 60.0), FlatInfo("CLOSED", 60.0)]
    tariff = default_tariff()
    airing = tariff.airing.model_copy(update={"allowance_h_per_day": allowance_h})
    tariff = tariff.model_copy(update={"airing": airing})
    inputs = with_window(constant_inputs(flats, [21.0, 21.0], tariff=tariff), [open_h, 0])
    result = settle(inputs)
    airs, closed = result.statement("AIRS"), result.statement("CLOSED")
    assert (airs.share > closed.share) is (excess_h_per_day > 0), name
    assert airs.airing_excess_h == pytest.approx(excess_h_per_day * 2)  # two days
    assert "airing_source=window_open_pct" in result.notes


def test_airing_outside_the_heating_season_is_free() -> None:
    from datetime import UTC, datetime

    flats = [FlatInfo("AIRS", 60.0), FlatInfo("CLOSED", 60.0)]
    july = datetime(2026, 7, 1, tzinfo=UTC)
    inputs = with_window(constant_inputs(flats, [21.0, 21.0], start=july), [6, 0])
    result = settle(inputs)
    assert result.statement("AIRS").share == result.statement("CLOSED").share
    assert result.heating_hours == 0 and "no_points_variable_part_by_area" in result.notes


def test_airing_is_derived_from_fast_temperature_and_co2_drops() -> None:
    steps = 24  # two hours of 5-minute samples
    t = np.full((2, steps), 21.0)
    co2 = np.full((2, steps), 900.0)
    t[0, 3:9] = 21.0 - 0.5 * np.arange(1, 7)  # window: -6 K/h and ...
    co2[0, 3:9] = 900.0 - 80.0 * np.arange(1, 7)  # ... -960 ppm/h for 30 minutes
    co2[1, 3:9] = 900.0 - 80.0 * np.arange(1, 7)  # occupants left: CO2 falls, T does not
    frac = derived_open_fraction(t, co2, 300, Airing())
    assert frac is not None
    np.testing.assert_allclose(frac, [[6 / 12, 0.0], [0.0, 0.0]])
    assert derived_open_fraction(t[:, :2], co2[:, :2], 3600, Airing()) is None
