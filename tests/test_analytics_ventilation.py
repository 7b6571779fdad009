"""Ventilation numbers (DOMAIN.md "Comfort classes and ventilation") on series with known values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cloud.analytics.ventilation import (
    Diagnosis,
    absolute_humidity_gm3,
    air_change_rate,
    air_change_rate_two_point,
    airing_events,
    decay_events,
    diagnose,
    moisture_production_g_per_h,
)

FIVE_MIN = pd.Timedelta(minutes=5)


def _decay(n_per_h: float, c0: float, hours: float, cout: float = 420.0) -> np.ndarray:
    t = np.arange(0, hours * 12 + 1) / 12
    return cout + (c0 - cout) * np.exp(-n_per_h * t)


def test_domain_example_1200_to_800_in_one_hour() -> None:
    assert air_change_rate_two_point(1200, 800, 1.0, 420) == pytest.approx(0.72, abs=0.005)


def test_two_point_refuses_impossible_input() -> None:
    with pytest.raises(ValueError, match="outdoor CO2"):
        air_change_rate_two_point(800, 400, 1.0)


def _series(values: np.ndarray, start: str = "2026-01-05T08:00Z") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq=FIVE_MIN))


@pytest.mark.parametrize("n_true", [0.3, 0.5, 0.72, 1.2])
def test_decay_event_found_and_fitted(n_true: float) -> None:
    rng = np.random.default_rng(1)
    rise = np.linspace(600, 1400, 24)  # occupants in: CO2 builds up
    decay = _decay(n_true, 1400, 3.0)  # they leave
    flat = np.full(24, decay[-1])
    co2 = _series(np.concatenate([rise, decay, flat]) + rng.normal(0, 5, 24 + len(decay) + 24))
    events = decay_events(co2)
    assert len(events) == 1
    assert events[0].air_change_per_h == pytest.approx(n_true, rel=0.1)
    assert air_change_rate(events) == pytest.approx(n_true, rel=0.1)


def test_short_or_small_decays_are_not_events() -> None:
    short = _decay(0.7, 1400, 0.5)  # 30 min only
    small = _decay(0.7, 550, 2.0)  # starts only 130 ppm above outdoor
    assert decay_events(_series(short)) == []
    assert decay_events(_series(small)) == []


@pytest.mark.parametrize("samples", [3, 5, 6, 7])
def test_a_series_shorter_than_half_an_hour_has_no_events(samples: int) -> None:
    """The demo's first minutes: fewer 5-minute samples than the half-hour look-ahead (6)."""
    index = pd.date_range("2026-01-05 08:00", periods=samples, freq="5min", tz="UTC")
    co2 = pd.Series(np.linspace(1600.0, 1500.0, samples), index=index)
    assert decay_events(co2) == []


def test_airing_is_excluded_from_the_background_rate() -> None:
    background = _decay(0.5, 1300, 2.0)
    airing = _decay(4.0, 1800, 1.5)  # a long airing: 53 min until 40 ppm above outdoor
    co2 = _series(np.concatenate([background, np.linspace(background[-1], 1800, 12), airing]))
    events = decay_events(co2)
    assert [e.is_airing for e in events] == [False, True]
    assert air_change_rate(events) == pytest.approx(0.5, rel=0.05)
    assert air_change_rate([events[1]]) is None


def test_moisture_production_from_the_humidity_balance() -> None:
    """Steady state: G = n·V·(vi − ve). Build vi from a known G and check it comes back."""
    n, volume, g_true = 0.5, 180.0, 300.0
    times = pd.date_range("2026-01-05", periods=48, freq="h", tz="UTC")
    outdoor = pd.DataFrame({"temperature_c": 0.0, "humidity_pct": 90.0}, index=times)
    ve = float(absolute_humidity_gm3(0.0, 90.0))
    vi = ve + g_true / (n * volume)
    t_in = 21.0
    rh_in = vi / float(absolute_humidity_gm3(t_in, 100.0)) * 100.0
    indoor = pd.DataFrame({"temperature_c": t_in, "humidity_pct": rh_in}, index=times)
    g = moisture_production_g_per_h(indoor, outdoor, n, volume)
    assert g.iloc[1:].mean() == pytest.approx(g_true, rel=1e-6)


def test_moisture_production_counts_the_storage_term() -> None:
    n, volume = 0.5, 100.0
    times = pd.date_range("2026-01-05", periods=3, freq="h", tz="UTC")
    outdoor = pd.DataFrame({"temperature_c": 20.0, "humidity_pct": 40.0}, index=times)
    rh_steps = [40.0, 50.0, 50.0]
    indoor = pd.DataFrame({"temperature_c": 20.0, "humidity_pct": rh_steps}, index=times)
    g = moisture_production_g_per_h(indoor, outdoor, n, volume)
    dv = float(absolute_humidity_gm3(20.0, 50.0) - absolute_humidity_gm3(20.0, 40.0))
    assert g.iloc[1] == pytest.approx(volume * (dv + n * dv))
    assert g.iloc[2] == pytest.approx(volume * n * dv)


def test_airing_events_count_duration_and_heat() -> None:
    """A 10-minute airing at 6 h⁻¹ in a 150 m³ flat at 21 °C indoors, 1 °C outdoors."""
    volume, n_open = 150.0, 6.0
    quiet = np.full(12, 1000.0)
    open_ = 420 + 580 * np.exp(-n_open * np.arange(1, 3) / 12)
    co2 = np.concatenate([quiet, open_, np.full(12, open_[-1]), open_ + 0, quiet])
    co2[26:28] = 420 + (co2[25] - 420) * np.exp(-n_open * np.arange(1, 3) / 12)
    times = pd.date_range("2026-01-05T08:00Z", periods=len(co2), freq=FIVE_MIN)
    temps = np.full(len(co2), 21.0)
    indoor = pd.DataFrame({"co2_ppm": co2, "temperature_c": temps}, index=times)
    events = airing_events(indoor, 1.0, volume)
    assert len(events) == 2
    first = events[0]
    assert first.hours == pytest.approx(10 / 60)
    assert first.air_change_per_h == pytest.approx(n_open, rel=1e-6)
    expected_kwh = 1.2 * 1005 * n_open * volume * 20.0 * (10 / 60) / 3.6e6
    assert first.heat_kwh == pytest.approx(expected_kwh, rel=1e-6)  # ≈ 0.6 kWh
    assert sum(e.hours for e in events) == pytest.approx(20 / 60)


def test_temperature_drop_alone_is_an_airing_without_co2() -> None:
    temps = np.array([21.0] * 6 + [20.4, 19.8, 19.5] + [19.6] * 6)
    times = pd.date_range("2026-01-05T08:00Z", periods=len(temps), freq=FIVE_MIN)
    events = airing_events(pd.DataFrame({"temperature_c": temps}, index=times), 0.0, 100.0)
    assert len(events) == 1
    assert events[0].air_change_per_h == 10.0  # the stated default assumption
    assert events[0].hours == pytest.approx(15 / 60)


def test_no_airing_in_a_quiet_flat() -> None:
    times = pd.date_range("2026-01-05T08:00Z", periods=50, freq=FIVE_MIN)
    indoor = pd.DataFrame({"co2_ppm": 800.0, "temperature_c": 21.0}, index=times)
    assert airing_events(indoor, 0.0, 100.0) == []


@pytest.mark.parametrize(
    ("ach", "moisture", "expected"),
    [
        pytest.param(0.6, 200.0, Diagnosis.OK, id="normal"),
        pytest.param(0.25, 200.0, Diagnosis.TOO_LITTLE_VENTILATION, id="tight flat"),
        pytest.param(0.6, 500.0, Diagnosis.TOO_MUCH_MOISTURE, id="laundry indoors"),
        pytest.param(0.25, 500.0, Diagnosis.BOTH, id="both"),
    ],
)
def test_diagnosis(ach: float, moisture: float, expected: Diagnosis) -> None:
    # 180 m³: tolerable production 4 g/m³ × 0.5 h⁻¹ × 180 m³ = 360 g/h
    assert diagnose(ach, moisture, 180.0) is expected


def test_air_change_rate_against_the_simulator_ground_truth() -> None:
    """firmware_sim's building: each flat's background air change rate is known. Decays while
    all windows stay closed must give it within 20 %, also for the flat whose residents stay at
    home (the decay then tends to a raised level, not to outdoor CO2). The flat-average CO2
    (volume-weighted over rooms) is used: one room's sensor also sees mixing between rooms."""
    from datetime import UTC, datetime

    from firmware_sim.building import Building
    from firmware_sim.scenario import default_scenario

    building = Building(default_scenario(), seed=1, start=datetime(2027, 1, 4, tzinfo=UTC))
    run = building.run_until(datetime(2027, 1, 7, tzinfo=UTC))
    estimated = 0
    for i, flat_id in enumerate(building.layout.flat_ids):
        rows = run.flats[run.flats["flat"] == flat_id].set_index("time")
        events = [
            e
            for e in decay_events(rows["co2_mean_ppm"])
            if rows["window_open"][e.start : e.end].max() == 0
        ]
        rate = air_change_rate(events)
        if rate is None:
            continue
        estimated += 1
        truth = float(building.layout.air_change_h[i])
        assert rate == pytest.approx(truth, rel=0.2), flat_id
    assert estimated >= 8
