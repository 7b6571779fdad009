"""Surface conditions at the worst thermal bridge, from room air and outdoor temperature.

Room sensors measure air; mould grows on the coldest surface. The surface temperature follows
from the temperature factor fRsi (DIN 4108-2; default 0.70 = its minimum requirement):

    θsi = θe + fRsi · (θi − θe)

and the surface relative humidity from the unchanged vapour pressure of the room air:

    RHsi = RHi · psat(θi) / psat(θsi)

with the Magnus formula psat(T) = 611.2 · exp(17.62 T / (243.12 + T)) Pa (WMO-No. 8, Annex 4.B,
over water). Worked example (DOMAIN.md): 20 °C / 60 % inside, −5 °C outside, fRsi 0.70 →
θsi = 12.5 °C, RHsi ≈ 97 %.

All physics functions are pure and work on floats, numpy arrays and pandas Series alike (pvlib
style). Surface RH is *not* capped at 100 %: a value above 100 % means condensation, and the mould
model clips it itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_FRSI: Final = 0.70
"""DIN 4108-2 minimum temperature factor at thermal bridges (avoid mould at 20 °C / 50 %, −5 °C)."""

MAGNUS_A_PA: Final = 611.2
MAGNUS_B: Final = 17.62
MAGNUS_C_C: Final = 243.12

ArrayLike = TypeVar("ArrayLike", float, "npt.NDArray[np.float64]", "pd.Series[float]")
"""A float, a numpy array or a pandas Series; the result has the same kind."""


def saturation_vapour_pressure_pa(temperature_c: ArrayLike) -> ArrayLike:
    """Saturation vapour pressure over water in Pa, Magnus formula (WMO-No. 8, Annex 4.B):
    psat(T) = 611.2 · exp(17.62 T / (243.12 + T)); valid −45…60 °C."""
    return MAGNUS_A_PA * np.exp(MAGNUS_B * temperature_c / (MAGNUS_C_C + temperature_c))  # type: ignore[no-any-return]


def surface_temperature_c(
    room_temperature_c: ArrayLike, outdoor_temperature_c: ArrayLike, frsi: float | ArrayLike
) -> ArrayLike:
    """Inner surface temperature θsi = θe + fRsi · (θi − θe) (DIN 4108-2 / EN ISO 13788)."""
    return outdoor_temperature_c + frsi * (room_temperature_c - outdoor_temperature_c)


def surface_humidity_pct(
    room_temperature_c: ArrayLike, room_humidity_pct: ArrayLike, surface_temperature: ArrayLike
) -> ArrayLike:
    """Relative humidity at a surface of `surface_temperature` °C in room air of the given
    temperature and RH (same vapour pressure): RHsi = RHi · psat(θi) / psat(θsi).
    Not capped: above 100 % means condensation."""
    # psat(θi)/psat(θsi) as one exponential (same Magnus formula, half the work on big arrays)
    exponent = MAGNUS_B * (
        room_temperature_c / (MAGNUS_C_C + room_temperature_c)
        - surface_temperature / (MAGNUS_C_C + surface_temperature)
    )
    return room_humidity_pct * np.exp(exponent)  # type: ignore[no-any-return]


def surface_conditions(
    room_temperature_c: ArrayLike,
    room_humidity_pct: ArrayLike,
    outdoor_temperature_c: ArrayLike,
    frsi: float | ArrayLike = DEFAULT_FRSI,
) -> tuple[ArrayLike, ArrayLike]:
    """(θsi in °C, RHsi in %) at the thermal bridge with temperature factor `frsi`."""
    theta_si = surface_temperature_c(room_temperature_c, outdoor_temperature_c, frsi)
    return theta_si, surface_humidity_pct(room_temperature_c, room_humidity_pct, theta_si)


@dataclass(frozen=True, slots=True)
class FrsiEstimate:
    """fRsi fitted from a temporary surface sensor, with how much to trust it."""

    frsi: float
    standard_error: float
    """Standard error of the fitted fRsi (least squares through the origin)."""
    rmse_k: float
    """Root-mean-square residual of the surface temperature in K."""
    samples_used: int
    mean_delta_t_k: float
    """Mean indoor–outdoor temperature difference of the samples used."""

    @property
    def reliable(self) -> bool:
        """True when the fit is tight: standard error ≤ 0.03 and surface residual ≤ 1 K."""
        return self.standard_error <= 0.03 and self.rmse_k <= 1.0


class CalibrationError(ValueError):
    """The readings cannot give a trustworthy fRsi."""


def calibrate_frsi(
    room_temperature_c: npt.ArrayLike,
    outdoor_temperature_c: npt.ArrayLike,
    surface_temperature: npt.ArrayLike,
    *,
    min_delta_t_k: float = 10.0,
    min_samples: int = 24,
) -> FrsiEstimate:
    """Fit fRsi from simultaneous room, outdoor and wall-surface temperatures.

    fRsi is the slope of (θsi − θe) against (θi − θe) through the origin (definition in
    DIN 4108-2 / EN ISO 10211); the least-squares slope is Σxy / Σx². Only samples with
    θi − θe ≥ `min_delta_t_k` are used: with a small difference sensor error (±0.3 K typical)
    dominates the ratio. Hourly means over at least a few cold days are the intended input
    (the wall's thermal mass lags; averaging suppresses that). Rows with NaN are ignored.

    Raises CalibrationError (Danish, then English) when too few samples have a large enough
    temperature difference, or the fitted value is outside (0, 1).
    """
    ti = np.asarray(room_temperature_c, dtype=float)
    te = np.asarray(outdoor_temperature_c, dtype=float)
    tsi = np.asarray(surface_temperature, dtype=float)
    if not ti.shape == te.shape == tsi.shape:
        raise CalibrationError(
            "rum-, ude- og overfladetemperatur har forskellig længde / "
            "room, outdoor and surface temperatures differ in length"
        )
    x = ti - te
    y = tsi - te
    use = np.isfinite(x) & np.isfinite(y) & (x >= min_delta_t_k)
    n = int(use.sum())
    if n < min_samples:
        raise CalibrationError(
            f"kun {n} målinger med mindst {min_delta_t_k:g} K forskel mellem inde og ude "
            f"(kræver {min_samples}); mål i en koldere periode / only {n} samples with an "
            f"indoor-outdoor difference of at least {min_delta_t_k:g} K (need {min_samples}); "
            "measure during colder weather"
        )
    xs, ys = x[use], y[use]
    sxx = float(np.dot(xs, xs))
    frsi = float(np.dot(xs, ys)) / sxx
    residual = ys - frsi * xs
    rss = float(np.dot(residual, residual))
    dof = max(n - 1, 1)
    standard_error = math.sqrt(rss / dof / sxx)
    if not 0.0 < frsi < 1.0:
        raise CalibrationError(
            f"beregnet fRsi {frsi:.3f} ligger uden for 0-1; kontrollér at overfladeføleren sidder "
            f"på indervæggen / fitted fRsi {frsi:.3f} is outside 0-1; check that the surface "
            "sensor is on the inner wall surface"
        )
    return FrsiEstimate(
        frsi=frsi,
        standard_error=standard_error,
        rmse_k=math.sqrt(rss / n),
        samples_used=n,
        mean_delta_t_k=float(xs.mean()),
    )
