"""Why is this flat damp, cold or stuffy? A weekly diagnosis that separates the causes.

From one flat's week of readings (pure: frames in, `FlatDiagnosis` out):

* **air change** from CO2 decays fitted towards the *outdoor* level (DOMAIN.md: n = ln((C0 −
  Cout)/(C1 − Cout))/Δt; fitting the level as well was measured to be off by up to +179 % on
  noisy single decays), median of the non-airing decays;
* **moisture production** from the vapour balance with that air change (EN ISO 13788 Annex A;
  cloud/analytics/ventilation.py), the week's mean;
* **airing events** (sharp CO2/temperature drops) and their hours;
* **hours above 75 % and 80 % surface RH** at the thermal bridge (DS/EN ISO 13788: θsi = θe +
  fRsi (θi − θe)), worst room;
* **fRsi fitted** from a (temporary) surface temperature sensor with the existing calibration
  routine (cloud/analytics/surface.py `calibrate_frsi`), when one was on the wall;
* **window faults** (commanded ≠ reported after the travel time, cloud/jobs/actuator_job.py).

Causes, each only with its evidence:

* ``envelope`` — a cold thermal bridge: a reliably fitted fRsi below 0.70 (DIN 4108-2 minimum);
* ``ventilation`` — the installations: background air change below 0.5 h⁻¹ (BR18 § 443), or a
  motorised window that does not move;
* ``habits`` — more moisture than 0.5 h⁻¹ carries away at a 4 g/m³ excess (the limit of
  `ventilation.diagnose`), fewer than 3 airings in the week (not counted where the gateway
  drives the windows), or a main room kept below 18 °C on average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import numpy as np

from cloud.analytics.surface import CalibrationError, calibrate_frsi, surface_conditions
from cloud.analytics.ventilation import (
    BR18_MIN_ACH,
    MAX_VAPOUR_EXCESS_G_M3,
    air_change_rate,
    airing_events,
    decay_events,
    moisture_production_g_per_h,
)

if TYPE_CHECKING:
    import pandas as pd

MIN_FRSI: Final = 0.70
"""DIN 4108-2 minimum temperature factor at thermal bridges."""
LOW_TEMPERATURE_C: Final = 18.0
MIN_AIRINGS_PER_WEEK: Final = 3
"""Fewer airings than this in a week is "rarely airs" (the advice is 2–3 a day)."""
ACH_MARGIN: Final = 0.8
"""Air change counts as too little below 0.8 × 0.5 h⁻¹: single-sensor decay estimates are
within about ±20 % of the truth (tests/test_analytics_ventilation.py), so only a clear shortfall
is evidence."""


class Cause(StrEnum):
    ENVELOPE = "envelope"
    VENTILATION = "ventilation"
    HABITS = "habits"


ADVICE: Final[dict[Cause, tuple[str, str]]] = {
    Cause.ENVELOPE: (
        "Kuldebro: efterisolér eller udbedr hjørnet/samlingen; indtil da hold møbler 10 cm fra "
        "ydervæggen og hold 20 °C.",
        "Thermal bridge: insulate or repair the corner/joint; until then keep furniture 10 cm "
        "from the outer wall and keep 20 °C.",
    ),
    Cause.VENTILATION: (
        "Ventilationen er for lille eller et vindue bevæger sig ikke: tjek udsugning, "
        "friskluftventiler og vinduesmotoren.",
        "Too little ventilation or a window that does not move: check the extract fans, "
        "fresh-air vents and the window motor.",
    ),
    Cause.HABITS: (
        "Vaner: luft ud 2-3 gange dagligt i 5-10 minutter, tør ikke tøj indendørs uden "
        "udluftning, brug emhætten og hold mindst 18-20 °C.",
        "Habits: air out 2-3 times a day for 5-10 minutes, do not dry laundry indoors without "
        "airing, use the cooker hood and keep at least 18-20 °C.",
    ),
}


@dataclass(frozen=True, slots=True)
class Evidence:
    cause: Cause
    name: str
    value: float
    limit: float
    unit: str
    text_da: str
    text_en: str


@dataclass(frozen=True, slots=True)
class FlatDiagnosis:
    causes: tuple[Cause, ...]
    air_change_per_h: float | None
    moisture_g_per_h: float | None
    airing_events: int
    airing_hours: float
    surface_rh_hours_above_75: float
    surface_rh_hours_above_80: float
    frsi: float
    frsi_fitted: bool
    mean_temperature_c: float | None
    window_faults: int
    evidence: tuple[Evidence, ...] = field(default=())

    @property
    def advice_da(self) -> str:
        return " ".join(ADVICE[c][0] for c in self.causes) or "Ingen fund."

    @property
    def advice_en(self) -> str:
        return " ".join(ADVICE[c][1] for c in self.causes) or "Nothing found."


def fitted_frsi(
    room_temperature_c: pd.Series[float],
    surface_temperature_c: pd.Series[float],
    outdoor_temperature_c: pd.Series[float],
) -> float | None:
    """fRsi from hourly means (a reliable fit only; None otherwise)."""
    import pandas as pd

    frame = pd.concat(
        [room_temperature_c, surface_temperature_c, outdoor_temperature_c], axis=1, join="inner"
    ).dropna()
    if frame.empty:
        return None
    try:
        estimate = calibrate_frsi(frame.iloc[:, 0], frame.iloc[:, 2], frame.iloc[:, 1])
    except CalibrationError:
        return None
    return estimate.frsi if estimate.reliable else None


def diagnose_flat(
    *,
    co2_ppm: pd.Series[float],
    main_room: pd.DataFrame,
    rooms: dict[str, pd.DataFrame],
    outdoor: pd.DataFrame,
    volume_m3: float,
    configured_frsi: float,
    surface: tuple[str, pd.Series[float]] | None = None,
    window_faults: int = 0,
    windows_automated: bool = False,
) -> FlatDiagnosis:
    """One flat's week. `co2_ppm`: 5-minute means (time index) of its CO2 room; `main_room`:
    temperature_c/humidity_pct (and co2_ppm) there; `rooms`: hourly temperature_c/humidity_pct
    per room; `outdoor`: hourly temperature_c/humidity_pct; `surface`: (room, hourly surface
    temperature) of a surface sensor, if one was on the wall; `window_faults`: windows whose
    commanded and reported positions disagree."""
    evidence: list[Evidence] = []
    te = outdoor["temperature_c"]
    # fRsi: fitted from a surface sensor where there was one, else the registry's value
    frsi, fitted = configured_frsi, False
    if surface is not None and surface[0] in rooms:
        value = fitted_frsi(rooms[surface[0]]["temperature_c"], surface[1], te)
        if value is not None:
            frsi, fitted = value, True
    if fitted and frsi < MIN_FRSI:
        evidence.append(
            Evidence(
                Cause.ENVELOPE,
                "frsi",
                round(frsi, 3),
                MIN_FRSI,
                "",
                f"Kuldebro: målt fRsi {frsi:.2f} under {MIN_FRSI:.2f} (DIN 4108-2)",
                f"Thermal bridge: measured fRsi {frsi:.2f} below {MIN_FRSI:.2f} (DIN 4108-2)",
            )
        )
    above75 = above80 = 0.0
    for frame in rooms.values():
        joined = frame.join(te.rename("te"), how="inner").dropna()
        if joined.empty:
            continue
        _t_si, rh_si_raw = surface_conditions(
            joined["temperature_c"].to_numpy(),
            joined["humidity_pct"].to_numpy(),
            joined["te"].to_numpy(),
            frsi,
        )
        rh_si = np.asarray(rh_si_raw)
        above75 = max(above75, float((rh_si > 75).sum()))
        above80 = max(above80, float((rh_si > 80).sum()))
    # air change towards the outdoor level; moisture with it
    events = decay_events(co2_ppm, fit_level=False)
    n = air_change_rate(events)
    if n is not None and n < ACH_MARGIN * BR18_MIN_ACH:
        evidence.append(
            Evidence(
                Cause.VENTILATION,
                "air_change_per_h",
                round(n, 3),
                BR18_MIN_ACH,
                "1/h",
                f"Luftskifte {n:.2f}/h med lukkede vinduer, under {BR18_MIN_ACH}/h (BR18 § 443)",
                f"Air change {n:.2f}/h with windows closed, below {BR18_MIN_ACH}/h (BR18 § 443)",
            )
        )
    if window_faults:
        evidence.append(
            Evidence(
                Cause.VENTILATION,
                "window_faults",
                float(window_faults),
                0.0,
                "",
                f"{window_faults} vindue(r) står ikke hvor de blev sendt hen (motor/kæde)",
                f"{window_faults} window(s) not where they were sent (motor/chain)",
            )
        )
    g: float | None = None
    if n is not None:
        production = moisture_production_g_per_h(main_room, outdoor, n, volume_m3)
        g = float(production.mean()) if production.notna().any() else None
    tolerable = MAX_VAPOUR_EXCESS_G_M3 * BR18_MIN_ACH * volume_m3
    if g is not None and g > tolerable:
        evidence.append(
            Evidence(
                Cause.HABITS,
                "moisture_g_per_h",
                round(g, 1),
                round(tolerable, 1),
                "g/h",
                f"Fugtproduktion {g:.0f} g/h, mere end {tolerable:.0f} g/h som normal "
                "ventilation fjerner (tøjtørring, bad, madlavning)",
                f"Moisture production {g:.0f} g/h, more than the {tolerable:.0f} g/h normal "
                "ventilation removes (laundry, showers, cooking)",
            )
        )
    # a sharp drop whose CO2 fit shows background air change is not an airing (a door, a gust)
    airings = [a for a in airing_events(main_room, te, volume_m3) if a.air_change_per_h > 3.0]
    airing_hours = sum(a.hours for a in airings)
    if len(airings) < MIN_AIRINGS_PER_WEEK and not windows_automated:
        evidence.append(
            Evidence(
                Cause.HABITS,
                "airing_events",
                float(len(airings)),
                float(MIN_AIRINGS_PER_WEEK),
                "",
                f"Kun {len(airings)} udluftninger på en uge (rådet er 2-3 om dagen)",
                f"Only {len(airings)} airings in a week (the advice is 2-3 a day)",
            )
        )
    mean_t = float(main_room["temperature_c"].mean()) if len(main_room) else None
    if mean_t is not None and math.isfinite(mean_t) and mean_t < LOW_TEMPERATURE_C:
        evidence.append(
            Evidence(
                Cause.HABITS,
                "mean_temperature_c",
                round(mean_t, 1),
                LOW_TEMPERATURE_C,
                "°C",
                f"Middeltemperatur {mean_t:.1f} °C, under {LOW_TEMPERATURE_C:g} °C",
                f"Mean temperature {mean_t:.1f} °C, below {LOW_TEMPERATURE_C:g} °C",
            )
        )
    causes = tuple(c for c in Cause if any(e.cause is c for e in evidence))
    return FlatDiagnosis(
        causes=causes,
        air_change_per_h=n,
        moisture_g_per_h=g,
        airing_events=len(airings),
        airing_hours=round(airing_hours, 2),
        surface_rh_hours_above_75=above75,
        surface_rh_hours_above_80=above80,
        frsi=round(frsi, 3),
        frsi_fitted=fitted,
        mean_temperature_c=None if mean_t is None else round(mean_t, 2),
        window_faults=window_faults,
        evidence=tuple(evidence),
    )
