"""Synthetic Danish weather as a pure, seeded function of absolute UTC time.

The outdoor state at time *t* is a sum of (1) a seasonal mean interpolated between monthly
climate normals, (2) multi-day "weather systems" built from a seeded sum of slow sinusoids
(periods 1.5–16 days), (3) a diurnal cycle, and (4) faster wiggles (periods 3–18 h). Nothing
depends on the step size or on what was asked before: the same seed gives the same weather for
the same timestamps, whatever window of time is simulated.

Monthly normals (Copenhagen-like, rounded): DMI climate normals 1991–2020 for Denmark
("Klimanormaler", dmi.dk; DMI Report 21-xx series) — temperature Jan 1.0, Feb 1.0, Mar 3.0,
Apr 7.0, May 11.5, Jun 15.0, Jul 17.5, Aug 17.5, Sep 14.0, Oct 10.0, Nov 5.0, Dec 2.5 °C; mean
relative humidity 85–90 % in winter, ~75 % in summer; mean wind ≈ 5–6 m/s in winter. Day-to-day
spread of daily means in a Danish winter is ≈ 3–3.5 °C (standard deviation), giving the usual
−8…+8 °C range in Dec–Feb. Low pressure brings mild, wet and windy weather in a Danish winter,
so the slow components share one "system" signal that drives temperature up, pressure down,
wind and rain up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MONTHLY_MEAN_C = (1.0, 1.0, 3.0, 7.0, 11.5, 15.0, 17.5, 17.5, 14.0, 10.0, 5.0, 2.5)
MONTHLY_RH_PCT = (88.0, 86.0, 82.0, 76.0, 72.0, 73.0, 74.0, 76.0, 80.0, 84.0, 88.0, 89.0)
MONTHLY_WIND_MS = (6.0, 5.7, 5.5, 4.8, 4.4, 4.2, 4.2, 4.3, 4.8, 5.3, 5.7, 6.0)
DIURNAL_AMPLITUDE_K = (1.5, 2.0, 3.0, 4.0, 4.5, 4.5, 4.5, 4.0, 3.5, 2.5, 1.7, 1.3)
"""Half the mean daily range; Danish winter days vary little (DMI normals, daily max − min)."""

_DAY_S = 86_400.0
_YEAR_S = 365.2425 * _DAY_S
_GRID_S = 60.0
_BLOCK = 1440  # grid points per cached table (one day)
_UTC_OFFSET_H = 1.0  # diurnal phase follows local solar time in Denmark (≈ UTC+0.8 h)


@dataclass(frozen=True, slots=True)
class WeatherSample:
    temperature_c: float
    humidity_pct: float
    wind_ms: float
    gust_ms: float
    rain_mmh: float
    pressure_hpa: float


def _monthly(table: tuple[float, ...], t_s: FloatArray) -> FloatArray:
    """Smooth (periodic linear) interpolation between mid-month values at epoch seconds."""
    year_frac = np.mod(t_s / _YEAR_S, 1.0)  # 0 at 1 January (to within a day)
    x = year_frac * 12.0 - 0.5  # table values sit at mid-month
    lo = np.floor(x).astype(np.int64)
    w = x - lo
    arr = np.asarray(table, dtype=np.float64)
    return arr[np.mod(lo, 12)] * (1 - w) + arr[np.mod(lo + 1, 12)] * w


class Weather:
    """Deterministic weather; ``Weather(seed).sample(t)`` or ``.arrays(times)``."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng([seed, 0x3EA7])
        n_slow, n_fast = 16, 6
        self._slow_w = (
            2 * math.pi / (_DAY_S * np.exp(rng.uniform(math.log(1.5), math.log(16), n_slow)))
        )
        self._slow_p = rng.uniform(0, 2 * math.pi, (4, n_slow))
        amp = self._slow_w**-0.5
        self._slow_a = amp / math.sqrt(float(np.sum(amp**2)) / 2)  # unit variance
        self._fast_w = 2 * math.pi / (3600 * rng.uniform(3, 18, n_fast))
        self._fast_p = rng.uniform(0, 2 * math.pi, (3, n_fast))
        self._fast_a = np.full(n_fast, 1 / math.sqrt(n_fast / 2))
        self._block = -(2**62)
        self._rows: list[list[float]] = []

    def _slow(self, t_s: FloatArray, k: int) -> FloatArray:
        phase = np.multiply.outer(t_s, self._slow_w) + self._slow_p[k]
        out: FloatArray = np.sin(phase) @ self._slow_a
        return out

    def _fast(self, t_s: FloatArray, k: int) -> FloatArray:
        phase = np.multiply.outer(t_s, self._fast_w) + self._fast_p[k]
        out: FloatArray = np.sin(phase) @ self._fast_a
        return out

    def arrays(self, t_s: npt.ArrayLike) -> dict[str, FloatArray]:
        """Weather at epoch seconds ``t_s`` (any shape-1 array), keyed like WeatherSample."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        system = self._slow(t, 0)  # +1 = mild, wet, windy low; −1 = cold, calm high
        own_t = self._slow(t, 1)
        own_w = self._slow(t, 2)
        own_r = self._slow(t, 3)
        hour = np.mod(t / 3600.0 + _UTC_OFFSET_H, 24.0)
        diurnal = np.cos(2 * math.pi * (hour - 14.5) / 24.0)  # max mid-afternoon
        clear = np.clip(0.5 - 0.5 * system, 0.0, 1.0)  # highs are clearer: larger daily range
        temperature = (
            _monthly(MONTHLY_MEAN_C, t)
            + 2.4 * system
            + 2.2 * own_t
            + _monthly(DIURNAL_AMPLITUDE_K, t) * (0.5 + clear) * diurnal
            + 0.5 * self._fast(t, 0)
        )
        wind_mean = _monthly(MONTHLY_WIND_MS, t)
        wind = wind_mean * np.exp(0.28 * system + 0.25 * own_w + 0.15 * self._fast(t, 1) - 0.07)
        wind = wind * (1 + 0.1 * diurnal)
        gust = wind * (1.45 + 0.1 * np.abs(self._fast(t, 2)))
        wetness = 0.9 * system + 0.6 * own_r + 0.5 * self._fast(t, 2)
        rain = 0.8 * np.maximum(wetness - 1.0, 0.0) ** 1.5  # mm/h; ≈ 50 mm/month in winter
        humidity = (
            _monthly(MONTHLY_RH_PCT, t)
            - 7.0 * _monthly(DIURNAL_AMPLITUDE_K, t) / 3 * (0.5 + clear) * diurnal
            + 4.0 * own_r
            + np.where(rain > 0, 6.0, 0.0)
        )
        pressure = 1012.0 - 12.0 * system + 4.0 * own_t
        return {
            "temperature_c": temperature,
            "humidity_pct": np.clip(humidity, 45.0, 100.0),
            "wind_ms": np.maximum(wind, 0.0),
            "gust_ms": np.maximum(gust, 0.0),
            "rain_mmh": rain,
            "pressure_hpa": pressure,
        }

    def sample(self, t_s: float) -> WeatherSample:
        """Weather at one epoch second, interpolated linearly on a fixed 60-s grid of absolute
        time (exact on the grid; tables are computed a day at a time and cached)."""
        x = t_s / _GRID_S
        block = math.floor(x / _BLOCK)
        if block != self._block:
            t = (block * _BLOCK + np.arange(_BLOCK + 1)) * _GRID_S
            self._rows = np.stack(list(self.arrays(t).values()), axis=1).tolist()
            self._block = block
        i = math.floor(x) - block * _BLOCK
        w = x - math.floor(x)
        if not w:
            return WeatherSample(*self._rows[i])
        a, b = self._rows[i], self._rows[i + 1]
        return WeatherSample(*(p * (1 - w) + q * w for p, q in zip(a, b, strict=True)))
