"""Comfort classes per reading (EN 16798-1; Danish guidance) and the monthly index per flat."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cloud.analytics.comfort import (
    ComfortBands,
    IndexThresholds,
    Light,
    band_level,
    classify,
    co2_level,
    monthly_index,
    traffic_light,
)


@pytest.mark.parametrize(
    ("co2_ppm", "level"),
    [
        pytest.param(420.0, 1, id="outdoor air"),
        pytest.param(970.0, 1, id="550 above outdoor: still category I"),
        pytest.param(971.0, 2, id="just above category I"),
        pytest.param(1200.0, 2, id="≈1200 absolute: category II, the design class"),
        pytest.param(1220.0, 2, id="800 above: category II limit"),
        pytest.param(1770.0, 3, id="1350 above: category III limit"),
        pytest.param(1771.0, 4, id="category IV"),
    ],
)
def test_co2_categories_en_16798_1(co2_ppm: float, level: int) -> None:
    assert co2_level([co2_ppm]).tolist() == [level]


@pytest.mark.parametrize(
    ("rh", "level"),
    [
        pytest.param(30.0, 1, id="30 %: Danish band"),
        pytest.param(60.0, 1, id="60 %: Danish band"),
        pytest.param(27.0, 2, id="27 %: EN cat II"),
        pytest.param(65.0, 3, id="65 %: EN cat III"),
        pytest.param(19.0, 4, id="19 %: too dry"),
        pytest.param(75.0, 4, id="75 %: too humid"),
    ],
)
def test_humidity_bands(rh: float, level: int) -> None:
    assert band_level([rh], ComfortBands().humidity_pct).tolist() == [level]


def test_missing_values_stay_missing() -> None:
    assert np.isnan(co2_level([np.nan])).all()
    assert np.isnan(band_level([np.nan], ComfortBands().temperature_c)).all()


def _frame(times: pd.DatetimeIndex, **columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"time": times, "flat": "A", **columns})


def test_worst_of_three_and_temperature_ignored_in_summer() -> None:
    winter = pd.date_range("2026-01-10", periods=2, freq="5min", tz="UTC")
    summer = pd.date_range("2026-07-10", periods=2, freq="5min", tz="UTC")
    frame = _frame(
        winter.append(summer),
        co2_ppm=[600.0, 600.0, 600.0, 600.0],
        humidity_pct=[45.0, 45.0, 45.0, 65.0],
        temperature_c=[20.0, 27.0, 27.0, 20.0],
    )
    worst = classify(frame)["worst_level"].tolist()
    assert worst == [1.0, 4.0, 1.0, 3.0]  # 27 °C counts in January, not in July


def test_configurable_bands() -> None:
    frame = _frame(pd.date_range("2026-01-10", periods=1, tz="UTC"), temperature_c=[18.5])
    assert classify(frame)["worst_level"].tolist() == [2.0]
    lenient = ComfortBands(temperature_c=((18.0, 22.0), (17.0, 23.0), (16.0, 25.0)))
    assert classify(frame, lenient)["worst_level"].tolist() == [1.0]


@pytest.mark.parametrize(
    ("share_3", "share_4", "light"),
    [
        pytest.param(0.0, 0.0, Light.GREEN, id="all good"),
        pytest.param(0.05, 0.0, Light.GREEN, id="5 % poor: still green"),
        pytest.param(0.06, 0.0, Light.YELLOW, id="6 % poor: yellow"),
        pytest.param(0.06, 0.06, Light.RED, id="6 % bad: red"),
        pytest.param(0.26, 0.0, Light.RED, id="26 % poor: red"),
    ],
)
def test_traffic_light_rule(share_3: float, share_4: float, light: Light) -> None:
    assert traffic_light(share_3, share_4, IndexThresholds()) is light


def test_monthly_index_per_flat_in_local_months() -> None:
    # 2026-01-31 23:30 UTC is already February in Copenhagen.
    times = pd.DatetimeIndex(
        ["2026-01-15T12:00Z", "2026-01-15T12:05Z", "2026-01-31T23:30Z"]
    ).tz_convert("UTC")
    good = _frame(times, co2_ppm=[600.0] * 3, humidity_pct=[45.0] * 3, temperature_c=[21.0] * 3)
    stuffy = good.assign(flat="B", co2_ppm=[2000.0, 600.0, 600.0])
    result = monthly_index(pd.concat([good, stuffy], ignore_index=True))
    rows = {(r.flat, r.month): r for r in result.itertuples()}
    assert set(rows) == {("A", "2026-01"), ("A", "2026-02"), ("B", "2026-01"), ("B", "2026-02")}
    assert rows["A", "2026-01"].intervals == 2
    assert rows["A", "2026-01"].light == "green"
    assert rows["B", "2026-01"].share_level_4 == 0.5
    assert rows["B", "2026-01"].light == "red"


def test_monthly_index_of_nothing_is_empty() -> None:
    empty = _frame(pd.DatetimeIndex([], tz="UTC"), co2_ppm=[])
    assert monthly_index(empty).empty
