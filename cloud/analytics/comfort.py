"""Comfort classes per reading and a monthly indoor-climate index per flat.

Every 5-minute reading gets a level per quantity on one scale, 1 (good) … 4 (bad):

* CO2 above outdoor (≈ 420 ppm), EN 16798-1:2019 Annex B (default design CO2 concentrations
  above outdoor, people as the pollution source; DOMAIN.md): level 1 ≤ 550 ppm (category I),
  2 ≤ 800 (II, the normal design class), 3 ≤ 1350 (III), 4 above (IV).
* Relative humidity: level 1 within 30–60 % (Danish guidance, e.g. Sundhedsstyrelsen/SBi
  "luftfugtighed 30-60 %"); level 2 within 25–60 % (EN 16798-1 Annex B design limits for
  (de)humidification, category II 25/60 %); level 3 within 20–70 % (category III); level 4
  outside.
* Temperature, heating season only: level 1 within 19–22 °C (the target told to residents in
  the Danish dynamic heat accounting trials); level 2 within 18–23 °C (some trials use 18–22);
  level 3 within 17–25 °C; level 4 outside. Outside the heating season temperature is ignored
  (residents cannot cool; summer heat is not an indoor-climate fault of the flat).

All bands are configurable (`ComfortBands`). The per-interval index is the worst of the
quantities measured in that interval (the Danish indoor-climate index concept: one bad quantity
makes a bad interval); a missing quantity is left out, never counted as good or bad.

Monthly traffic light per flat (`IndexThresholds`, configurable): **red** when more than 5 % of
the intervals are level 4 or more than 25 % are level ≥ 3; **yellow** when more than 5 % are
level ≥ 3; else **green**. Months are calendar months in Danish local time (Europe/Copenhagen),
as residents and the monthly report read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

OUTDOOR_CO2_PPM: Final = 420.0
"""Outdoor CO2 (global mean ≈ 420 ppm in 2024, NOAA Mauna Loa)."""
DEFAULT_HEATING_SEASON: Final = (1, 2, 3, 4, 5, 9, 10, 11, 12)
"""Months counted as heating season (Danish practice: September to May)."""
LOCAL_TZ: Final = "Europe/Copenhagen"

Band = tuple[float, float]


@dataclass(frozen=True, slots=True)
class ComfortBands:
    """Thresholds of the 1…4 scale. `co2_above_outdoor_ppm`: upper limits of levels 1-3;
    humidity/temperature: inclusive (low, high) bands of levels 1-3, each containing the last."""

    co2_above_outdoor_ppm: tuple[float, float, float] = (550.0, 800.0, 1350.0)
    outdoor_co2_ppm: float = OUTDOOR_CO2_PPM
    humidity_pct: tuple[Band, Band, Band] = ((30.0, 60.0), (25.0, 60.0), (20.0, 70.0))
    temperature_c: tuple[Band, Band, Band] = ((19.0, 22.0), (18.0, 23.0), (17.0, 25.0))
    heating_season_months: tuple[int, ...] = DEFAULT_HEATING_SEASON


@dataclass(frozen=True, slots=True)
class IndexThresholds:
    """Traffic-light rule on the shares of intervals per level (fractions 0-1)."""

    red_share_level_4: float = 0.05
    red_share_level_3_or_worse: float = 0.25
    yellow_share_level_3_or_worse: float = 0.05


class Light(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def co2_level(
    co2_ppm: npt.ArrayLike, bands: ComfortBands = ComfortBands()
) -> npt.NDArray[np.float64]:
    """EN 16798-1 category (1-4) of each CO2 reading; NaN stays NaN."""
    excess = np.asarray(co2_ppm, dtype=float) - bands.outdoor_co2_ppm
    level = 1.0 + np.searchsorted(np.asarray(bands.co2_above_outdoor_ppm), excess, side="left")
    return np.where(np.isnan(excess), np.nan, level)


def band_level(values: npt.ArrayLike, band_list: Sequence[Band]) -> npt.NDArray[np.float64]:
    """Level 1…len+1: the first (low, high) band containing the value; NaN stays NaN."""
    v = np.asarray(values, dtype=float)
    level = np.full(v.shape, float(len(band_list) + 1))
    for i in range(len(band_list) - 1, -1, -1):  # innermost band last, so it wins
        low, high = band_list[i]
        level = np.where((v >= low) & (v <= high), float(i + 1), level)
    return np.where(np.isnan(v), np.nan, level)


def classify(frame: pd.DataFrame, bands: ComfortBands = ComfortBands()) -> pd.DataFrame:
    """Add ``co2_level``, ``humidity_level``, ``temperature_level`` and ``worst_level`` to a
    frame with a UTC ``time`` column and any of ``co2_ppm``, ``humidity_pct``,
    ``temperature_c`` (missing columns count as not measured)."""
    out = frame.copy()
    n = len(out)

    def col(name: str) -> npt.NDArray[np.float64]:
        values: npt.NDArray[np.float64] = (
            out[name].to_numpy(dtype=float, na_value=np.nan)
            if name in out.columns
            else np.full(n, np.nan)
        )
        return values

    out["co2_level"] = co2_level(col("co2_ppm"), bands)
    out["humidity_level"] = band_level(col("humidity_pct"), bands.humidity_pct)
    temperature = band_level(col("temperature_c"), bands.temperature_c)
    months = out["time"].dt.tz_convert(LOCAL_TZ).dt.month.to_numpy()
    in_season = np.isin(months, bands.heating_season_months)
    out["temperature_level"] = np.where(in_season, temperature, np.nan)
    levels = out[["co2_level", "humidity_level", "temperature_level"]].to_numpy()
    with np.errstate(invalid="ignore"):
        all_missing = np.isnan(levels).all(axis=1)
        worst = np.where(all_missing, np.nan, np.nanmax(np.where(np.isnan(levels), -1, levels), 1))
    out["worst_level"] = worst
    return out


def traffic_light(share_level_3: float, share_level_4: float, t: IndexThresholds) -> Light:
    """Rule in the module docstring; `share_level_3` is the share at level 3 or worse."""
    if share_level_4 > t.red_share_level_4 or share_level_3 > t.red_share_level_3_or_worse:
        return Light.RED
    if share_level_3 > t.yellow_share_level_3_or_worse:
        return Light.YELLOW
    return Light.GREEN


def monthly_index(
    frame: pd.DataFrame,
    bands: ComfortBands = ComfortBands(),
    thresholds: IndexThresholds = IndexThresholds(),
) -> pd.DataFrame:
    """Per flat and local calendar month: ``flat, month, intervals, share_level_1..4, light``.
    `frame` needs ``time`` (UTC), ``flat`` and the quantities (see `classify`)."""
    import pandas as pd

    classified = classify(frame, bands)
    classified = classified[classified["worst_level"].notna()]
    columns = ["flat", "month", "intervals", *(f"share_level_{i}" for i in range(1, 5)), "light"]
    if classified.empty:
        return pd.DataFrame(columns=columns)
    local = classified["time"].dt.tz_convert(LOCAL_TZ)
    keyed = pd.DataFrame(
        {
            "flat": classified["flat"].astype(str).to_numpy(),
            "month": local.dt.strftime("%Y-%m").to_numpy(),
            "level": classified["worst_level"].astype(int).to_numpy(),
        }
    )
    counts = pd.crosstab([keyed["flat"], keyed["month"]], keyed["level"])
    counts = counts.reindex(columns=[1, 2, 3, 4], fill_value=0)
    totals = counts.sum(axis=1)
    shares = counts.div(totals, axis=0)
    result = pd.DataFrame(
        {
            "flat": counts.index.get_level_values(0),
            "month": counts.index.get_level_values(1),
            "intervals": totals.to_numpy(),
            **{f"share_level_{i}": shares[i].to_numpy() for i in range(1, 5)},
        }
    )
    result["light"] = [
        traffic_light(s3 + s4, s4, thresholds).value
        for s3, s4 in zip(result["share_level_3"], result["share_level_4"], strict=True)
    ]
    return result[columns].reset_index(drop=True)
