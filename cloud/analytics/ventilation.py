"""Ventilation numbers for technicians: air change rate, moisture production, airing.

* **Air change rate** from CO2 tracer decay (ASTM E741 / ISO 12569 decay method): after
  occupants leave, indoor CO2 falls towards outdoor as C(t) − Cout = (C0 − Cout)·e^(−n t), so
  n = ln((C0 − Cout)/(C1 − Cout)) / Δt. DOMAIN.md example: 1200 → 800 ppm in 1 h with
  Cout = 420 gives n ≈ 0.72 h⁻¹. Decay events are found automatically (CO2 falling, allowing
  sensor noise, for at least 45 min from at least 200 ppm above outdoor) and fitted by a
  log-linear least-squares line; events faster than 3 h⁻¹ are airing, not background
  ventilation, and the flat's rate is the median of the rest.
* **Moisture production** from the humidity balance of a well-mixed flat (EN ISO 13788 Annex A
  vapour balance): V·dv/dt = G − n·V·(vi − ve) → G = V·(dv/dt + n·(vi − ve)) in g/h, with
  absolute humidity v = RH/100 · psat(T) / (Rv·T_K), Rv = 461.5 J/(kg·K), Magnus psat.
* **Airing events**: a sharp CO2 drop (≥ 50 ppm per 5 min) or temperature drop (≥ 0.3 K per
  5 min), merged when less than 10 min apart. Window-open hours are their summed durations.
  Heat cost Q = ρ·cp·n_open·V·(Ti − Te)·t (ρ·cp = 1.2 kg/m³ × 1005 J/(kg·K)): the energy carried
  out by the extra air while open; n_open is fitted from the CO2 drop in the event when there is
  one, else `DEFAULT_AIRING_ACH` = 10 h⁻¹ (a single tilted/half-open window, CIBSE AM10 order of
  magnitude). It ignores heat released by the walls, so it is an upper estimate.
* **Diagnosis**: too little ventilation when n < 0.5 h⁻¹ (BR18 § 443: 0.30 l/s per m² ≈ 0.5 air
  changes per hour, DOMAIN.md); too much moisture when G exceeds what 0.5 h⁻¹ would carry away
  at a vapour excess of 4 g/m³ — i.e. G > 2 g/h per m³. 4 g/m³ is of the order of the winter
  design vapour excess for dwellings in EN ISO 13788 Annex A (internal humidity classes); both
  limits are parameters of `diagnose`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from cloud.analytics.surface import saturation_vapour_pressure_pa

if TYPE_CHECKING:
    import pandas as pd

FloatArray = npt.NDArray[np.float64]

OUTDOOR_CO2_PPM: Final = 420.0
R_VAPOUR_J_PER_KG_K: Final = 461.5
RHO_CP_J_PER_M3_K: Final = 1.2 * 1005.0
BR18_MIN_ACH: Final = 0.5
"""BR18 § 443: 0.30 l/s per m² heated floor ≈ 0.5 air changes per hour (2.2 m room height)."""
MAX_VAPOUR_EXCESS_G_M3: Final = 4.0
"""Tolerable winter vapour excess in a dwelling (order of EN ISO 13788 Annex A for dwellings)."""
AIRING_ACH_THRESHOLD: Final = 3.0
DEFAULT_AIRING_ACH: Final = 10.0


def air_change_rate_two_point(
    c0_ppm: float, c1_ppm: float, hours: float, outdoor_ppm: float = OUTDOOR_CO2_PPM
) -> float:
    """n = ln((C0 − Cout)/(C1 − Cout)) / Δt in h⁻¹ (tracer decay, ISO 12569)."""
    if not (c0_ppm > c1_ppm > outdoor_ppm and hours > 0):
        raise ValueError(
            "kræver C0 > C1 > udeluft og Δt > 0 / needs C0 > C1 > outdoor CO2 and a positive time"
        )
    return math.log((c0_ppm - outdoor_ppm) / (c1_ppm - outdoor_ppm)) / hours


@dataclass(frozen=True, slots=True)
class DecayEvent:
    start: pd.Timestamp
    end: pd.Timestamp
    c0_ppm: float
    c1_ppm: float
    air_change_per_h: float
    baseline_ppm: float
    """The level the decay tends to: outdoor CO2, or higher while someone is still at home."""
    r_squared: float

    @property
    def is_airing(self) -> bool:
        return self.air_change_per_h > AIRING_ACH_THRESHOLD


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(first, last) index pairs of the True runs in `mask`."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def decay_events(
    co2: pd.Series[float],
    *,
    outdoor_ppm: float = OUTDOOR_CO2_PPM,
    min_minutes: float = 45.0,
    min_start_excess_ppm: float = 200.0,
    min_end_excess_ppm: float = 40.0,
    noise_ppm: float = 15.0,
    min_r_squared: float = 0.9,
    fit_level: bool = True,
) -> list[DecayEvent]:
    """CO2 decay events in a time-indexed series (UTC DatetimeIndex), each fitted by a
    log-linear line: ln(C − Cout) = a − n·t. A sample belongs to a decay while the CO2 half an
    hour later is more than `noise_ppm` lower (so single noisy rises do not end an event and a
    noisy plateau does not extend it); the event stops where C − Cout falls below
    `min_end_excess_ppm` (the log of sensor noise is no signal).

    ``fit_level=False`` fits the decay towards the outdoor level, as DOMAIN.md describes (the
    weekly diagnosis does: fitting the level as well was measured to be off by up to +179 % on
    noisy single decays); True also fits the level (someone still at home raises it)."""
    s = co2.dropna()
    if len(s) < 3:
        return []
    c = s.to_numpy(dtype=float)
    hours = (s.index - s.index[0]).total_seconds().to_numpy() / 3600.0
    excess = c - outdoor_ppm
    # "Falling" = the next half hour ends lower by more than the noise (a noisy plateau is not).
    k = max(1, round(0.5 / float(np.median(np.diff(hours)))))
    ahead = np.full(len(c), np.nan)  # a series shorter than half an hour has no "ahead"
    if k < len(c):
        ahead[: len(c) - k] = c[k:]
    with np.errstate(invalid="ignore"):
        falling = (ahead - c < -noise_ppm) & (excess > min_end_excess_ppm)
    events = []
    for first, last_falling in _runs(falling):
        last = min(last_falling + 1, len(c) - 1)
        while last > first and excess[last] <= min_end_excess_ppm:
            last -= 1
        peak = first + int(np.argmax(c[first : last + 1]))
        if last - peak < 2 or excess[peak] < min_start_excess_ppm:
            continue
        if (hours[last] - hours[peak]) * 60.0 < min_minutes - 1e-9:
            continue
        fit = _fit_decay(
            hours[peak : last + 1] - hours[peak],
            c[peak : last + 1],
            outdoor_ppm,
            grid=40 if fit_level else 1,
        )
        if fit is None or fit[2] < min_r_squared:
            continue
        n, baseline, r2 = fit
        events.append(DecayEvent(s.index[peak], s.index[last], c[peak], c[last], n, baseline, r2))
    return events


def _fit_decay(
    t: FloatArray, c: FloatArray, outdoor_ppm: float, grid: int = 40
) -> tuple[float, float, float] | None:
    """Least-squares fit of C(t) = Cb + (C0 − Cb)·e^(−n t) with Cb between outdoor CO2 and just
    below the lowest reading (grid search on Cb, log-linear fit of n for each): a constant CO2
    source during the decay (someone still at home) raises the level it decays towards, Cb, but
    not the rate n — fixing Cb = Cout would underestimate n. Returns (n, Cb, R²) or None."""
    top = float(c.min()) - 5.0
    if top <= outdoor_ppm:
        top = outdoor_ppm
    total = float(np.sum((c - c.mean()) ** 2))
    best: tuple[float, float, float] | None = None
    best_sse = math.inf
    for baseline in np.linspace(outdoor_ppm, top, grid):
        excess = c - baseline
        if np.any(excess <= 0):
            continue
        slope, intercept = np.polyfit(t, np.log(excess), 1)
        if slope >= 0:
            continue
        sse = float(np.sum((baseline + np.exp(intercept + slope * t) - c) ** 2))
        if sse < best_sse:
            best_sse = sse
            r2 = 1.0 - sse / total if total > 0 else 0.0
            best = (-float(slope), float(baseline), r2)
    return best


def air_change_rate(events: list[DecayEvent]) -> float | None:
    """The flat's background air change rate in h⁻¹: median of the non-airing decay events;
    None when there are none (say so, do not guess)."""
    rates = [e.air_change_per_h for e in events if not e.is_airing]
    return float(np.median(rates)) if rates else None


def absolute_humidity_gm3(temperature_c: npt.ArrayLike, humidity_pct: npt.ArrayLike) -> FloatArray:
    """Water vapour density in g/m³: RH/100 · psat(T) / (Rv · T_K) · 1000."""
    t = np.asarray(temperature_c, dtype=float)
    rh = np.asarray(humidity_pct, dtype=float)
    psat = saturation_vapour_pressure_pa(t)
    return rh / 100.0 * psat / (R_VAPOUR_J_PER_KG_K * (t + 273.15)) * 1000.0  # type: ignore[no-any-return]


def moisture_production_g_per_h(
    indoor: pd.DataFrame,
    outdoor: pd.DataFrame,
    air_change_per_h: float,
    volume_m3: float,
) -> pd.Series[float]:
    """Moisture production G (g/h) per interval from the vapour balance. Both frames are
    time-indexed with ``temperature_c`` and ``humidity_pct``; outdoor is interpolated to the
    indoor times. The mean over a day or more is the meaningful figure (single intervals carry
    sensor noise and the buffering of furniture and walls)."""
    import pandas as pd

    vi = pd.Series(
        absolute_humidity_gm3(indoor["temperature_c"], indoor["humidity_pct"]), index=indoor.index
    )
    ve_raw = pd.Series(
        absolute_humidity_gm3(outdoor["temperature_c"], outdoor["humidity_pct"]),
        index=outdoor.index,
    )
    ve = (
        ve_raw.reindex(ve_raw.index.union(vi.index))
        .interpolate(method="time", limit_direction="both")
        .reindex(vi.index)
    )
    hours = pd.Series(vi.index, index=vi.index).diff().dt.total_seconds() / 3600.0
    dvdt = vi.diff() / hours
    return volume_m3 * (dvdt + air_change_per_h * (vi - ve))


@dataclass(frozen=True, slots=True)
class AiringEvent:
    start: pd.Timestamp
    end: pd.Timestamp
    air_change_per_h: float
    """While open: fitted from the CO2 drop, else the default assumption."""
    heat_kwh: float

    @property
    def hours(self) -> float:
        return float((self.end - self.start).total_seconds()) / 3600.0


def airing_events(
    indoor: pd.DataFrame,
    outdoor_temperature_c: float | pd.Series[float],
    volume_m3: float,
    *,
    outdoor_ppm: float = OUTDOOR_CO2_PPM,
    co2_drop_ppm_per_5min: float = 50.0,
    temperature_drop_k_per_5min: float = 0.3,
    merge_minutes: float = 10.0,
) -> list[AiringEvent]:
    """Windows opened: sharp drops in CO2 and/or temperature (thresholds per 5 minutes, scaled
    to the sampling interval). `indoor` is time-indexed with ``temperature_c`` and optionally
    ``co2_ppm``. Each event's heat cost is in the module docstring."""
    import pandas as pd

    frame = indoor.sort_index()
    if len(frame) < 2:
        return []
    minutes = pd.Series(frame.index, index=frame.index).diff().dt.total_seconds() / 60.0
    scale = minutes / 5.0
    drop_t = -frame["temperature_c"].diff() / scale
    sharp = drop_t >= temperature_drop_k_per_5min
    if "co2_ppm" in frame.columns:
        sharp |= (-frame["co2_ppm"].diff() / scale) >= co2_drop_ppm_per_5min
    flags = sharp.to_numpy(dtype=bool)
    times = frame.index
    # a flagged sample marks the interval ending at it; merge runs closer than merge_minutes
    spans: list[list[int]] = []
    for first, last in _runs(flags):
        start = max(first - 1, 0)
        if spans and (times[start] - times[spans[-1][1]]).total_seconds() / 60 < merge_minutes:
            spans[-1][1] = last
        else:
            spans.append([start, last])
    if isinstance(outdoor_temperature_c, pd.Series):
        te = (
            outdoor_temperature_c.reindex(outdoor_temperature_c.index.union(times))
            .interpolate(method="time", limit_direction="both")
            .reindex(times)
        )
    else:
        te = pd.Series(float(outdoor_temperature_c), index=times)
    events = []
    for start, end in spans:
        hours = (times[end] - times[start]).total_seconds() / 3600.0
        n_open = DEFAULT_AIRING_ACH
        if "co2_ppm" in frame.columns:
            c0, c1 = frame["co2_ppm"].iloc[start], frame["co2_ppm"].iloc[end]
            if c0 > c1 > outdoor_ppm + 20.0 and hours > 0:
                n_open = air_change_rate_two_point(c0, c1, hours, outdoor_ppm)
        delta_t = float(frame["temperature_c"].iloc[start] - te.iloc[start : end + 1].mean())
        heat_j = RHO_CP_J_PER_M3_K * n_open * volume_m3 * max(delta_t, 0.0) * hours
        events.append(AiringEvent(times[start], times[end], n_open, heat_j / 3.6e6))
    return events


class Diagnosis(StrEnum):
    OK = "ok"
    TOO_LITTLE_VENTILATION = "too-little-ventilation"
    TOO_MUCH_MOISTURE = "too-much-moisture"
    BOTH = "too-little-ventilation-and-too-much-moisture"


DIAGNOSIS_TEXT: Final[dict[Diagnosis, tuple[str, str]]] = {
    Diagnosis.OK: (
        "Ventilation og fugtproduktion er normale.",
        "Ventilation and moisture are normal.",
    ),
    Diagnosis.TOO_LITTLE_VENTILATION: (
        "For lidt ventilation: tjek udsugning, friskluftventiler og vinduesåbning.",
        "Too little ventilation: check extract fans, fresh-air vents and window opening.",
    ),
    Diagnosis.TOO_MUCH_MOISTURE: (
        "For meget fugt: tøjtørring indendørs, bad, madlavning uden emhætte?",
        "More moisture than normal ventilation removes: laundry drying, showers, cooking?",
    ),
    Diagnosis.BOTH: (
        "Både for lidt ventilation og for meget fugt.",
        "Both too little ventilation and too much moisture.",
    ),
}


def diagnose(
    air_change_per_h: float,
    moisture_g_per_h: float,
    volume_m3: float,
    *,
    min_air_change_per_h: float = BR18_MIN_ACH,
    max_vapour_excess_gm3: float = MAX_VAPOUR_EXCESS_G_M3,
) -> Diagnosis:
    """Tell "too little ventilation" from "too much moisture" (thresholds in the module doc)."""
    low_ventilation = air_change_per_h < min_air_change_per_h
    tolerable = max_vapour_excess_gm3 * min_air_change_per_h * volume_m3
    much_moisture = moisture_g_per_h > tolerable
    if low_ventilation and much_moisture:
        return Diagnosis.BOTH
    if low_ventilation:
        return Diagnosis.TOO_LITTLE_VENTILATION
    if much_moisture:
        return Diagnosis.TOO_MUCH_MOISTURE
    return Diagnosis.OK
