"""Surface conditions at a thermal bridge (DOMAIN.md "Mould risk") and fRsi calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cloud.analytics.surface import (
    CalibrationError,
    calibrate_frsi,
    saturation_vapour_pressure_pa,
    surface_conditions,
    surface_humidity_pct,
    surface_temperature_c,
)


@pytest.mark.parametrize(
    ("temperature_c", "psat_pa"),
    [
        pytest.param(0.0, 611.2, id="0 °C: the Magnus constant"),
        pytest.param(20.0, 2337.0, id="20 °C: ≈ 2.34 kPa (steam tables 2339 Pa)"),
        pytest.param(12.5, 1449.0, id="12.5 °C: ≈ 1.45 kPa"),
        pytest.param(-5.0, 421.6, id="-5 °C over water"),
    ],
)
def test_magnus_saturation_pressure(temperature_c: float, psat_pa: float) -> None:
    assert saturation_vapour_pressure_pa(temperature_c) == pytest.approx(psat_pa, rel=2e-3)


@pytest.mark.parametrize(
    ("room_t", "room_rh", "outdoor_t", "frsi", "surface_t", "surface_rh"),
    [
        pytest.param(20.0, 60.0, -5.0, 0.7, 12.5, 96.7, id="DOMAIN.md worked example"),
        pytest.param(20.0, 50.0, -5.0, 0.7, 12.5, 80.6, id="DIN 4108-2 design case: ~80 %"),
        pytest.param(21.0, 50.0, 21.0, 0.7, 21.0, 50.0, id="no temperature difference"),
        pytest.param(20.0, 60.0, 0.0, 1.0, 20.0, 60.0, id="fRsi 1: surface = room"),
    ],
)
def test_worked_examples(
    room_t: float,
    room_rh: float,
    outdoor_t: float,
    frsi: float,
    surface_t: float,
    surface_rh: float,
) -> None:
    theta_si, rh_si = surface_conditions(room_t, room_rh, outdoor_t, frsi)
    assert theta_si == pytest.approx(surface_t, abs=1e-9)
    assert rh_si == pytest.approx(surface_rh, abs=0.1)


def test_works_on_arrays_and_series_alike() -> None:
    room = pd.Series([20.0, 22.0], index=["a", "b"])
    outdoor = pd.Series([-5.0, 0.0], index=["a", "b"])
    theta = surface_temperature_c(room, outdoor, 0.7)
    assert isinstance(theta, pd.Series)
    assert list(theta.index) == ["a", "b"]
    rh = surface_humidity_pct(room, pd.Series([60.0, 50.0], index=["a", "b"]), theta)
    as_array = surface_humidity_pct(room.to_numpy(), np.array([60.0, 50.0]), theta.to_numpy())
    np.testing.assert_allclose(rh.to_numpy(), as_array)
    assert rh["a"] == pytest.approx(96.7, abs=0.1)


def test_calibration_recovers_a_known_frsi() -> None:
    rng = np.random.default_rng(7)
    hours = 24 * 14
    outdoor = -2.0 + 4.0 * np.sin(np.arange(hours) / 24 * 2 * np.pi) + rng.normal(0, 1, hours)
    room = 21.0 + rng.normal(0, 0.5, hours)
    surface = outdoor + 0.62 * (room - outdoor) + rng.normal(0, 0.3, hours)
    estimate = calibrate_frsi(room, outdoor, surface)
    assert estimate.frsi == pytest.approx(0.62, abs=0.01)
    assert estimate.reliable
    assert estimate.samples_used == hours
    assert estimate.rmse_k == pytest.approx(0.3, abs=0.1)


def test_calibration_uses_only_large_differences() -> None:
    room = np.array([21.0] * 30 + [21.0] * 30)
    outdoor = np.array([-4.0] * 30 + [18.0] * 30)  # the warm half is too close to the room
    surface = np.where(outdoor < 0, outdoor + 0.75 * (room - outdoor), 20.9)
    estimate = calibrate_frsi(room, outdoor, surface)
    assert estimate.samples_used == 30
    assert estimate.frsi == pytest.approx(0.75)


def test_calibration_refuses_a_mild_period() -> None:
    room = np.full(100, 21.0)
    outdoor = np.full(100, 15.0)
    with pytest.raises(CalibrationError, match=r"koldere periode.*colder weather"):
        calibrate_frsi(room, outdoor, outdoor + 0.7 * (room - outdoor))


def test_calibration_refuses_an_impossible_fit() -> None:
    room = np.full(48, 21.0)
    outdoor = np.full(48, -5.0)
    with pytest.raises(CalibrationError, match="outside 0-1"):
        calibrate_frsi(room, outdoor, np.full(48, 25.0))
