"""The VTT mould growth model, vectorised across flats, stepped hour by hour.

Sources: Hukka, A. & Viitanen, H. (1999) "A mathematical model of mould growth on wooden
material", Wood Science and Technology 33:475-485; Ojanen, T. et al. (2010) "Mould growth
modeling of building structures using sensitivity classes of materials", Proc. Buildings XI
(sensitivity classes, Mmax = A + B·x − C·x², k1 per class, decline coefficient Cmat).
The equations and the class table are copied in ``shared/DOMAIN.md`` ("Mould risk").

Per step of ``dt`` hours, per flat:

* growth conditions (T > 0 °C and RH ≥ RHcrit(T)):
  ``dM = k1·k2 / (7·exp(−0.68 ln T − 13.9 ln RH + 66.02)) · dt/24`` (the rate is per *day*),
  ``k2 = max(1 − exp(2.3 (M − Mmax)), 0)``; the step never carries M across Mmax (it cannot
  in hourly steps; the guard matters for coarse, non-hourly input);
* otherwise decline with the time t since the dry spell began:
  ``Cmat × (−0.00133 h⁻¹ for t ≤ 6 h, 0 for 6 < t ≤ 24 h, −0.000667 h⁻¹ for t > 24 h)``,
  integrated exactly over the step (so a 3-hour step at the 5th dry hour gets 1 h of the first
  rate and 2 h of none);
* M is kept in [0, 6]. RH above 100 % (condensation on the surface) counts as 100 %.

Gap rule (missing T or RH, i.e. NaN, per flat):

* a gap of up to ``MAX_FILL_HOURS`` = 3 h is bridged by the last known values (forward fill),
  also across incremental runs — the state keeps the last values;
* beyond that the flat's M and its dry-spell clock are frozen until readings return: unknown
  conditions are neither counted as growth nor as decline, so an outage never erases a warning.

State between runs is the small `VttState` (arrays per flat); ``to_dict``/``from_dict`` make it
JSON-serialisable so a nightly job continues where the last one stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

M_MIN: Final = 0.0
M_MAX: Final = 6.0
MAX_FILL_HOURS: Final = 3.0
"""Gaps up to this long are forward-filled; longer ones freeze the flat's state."""
DECLINE_FAST_PER_H: Final = 0.00133
"""Hukka & Viitanen 1999: decline rate during the first 6 h of a dry spell."""
DECLINE_SLOW_PER_H: Final = 0.000667
"""Hukka & Viitanen 1999: decline rate after 24 h of a dry spell."""
DECLINE_FAST_UNTIL_H: Final = 6.0
DECLINE_PAUSE_UNTIL_H: Final = 24.0


class Sensitivity(StrEnum):
    """Ojanen et al. 2010 sensitivity classes."""

    VERY_SENSITIVE = "very-sensitive"
    SENSITIVE = "sensitive"
    MEDIUM_RESISTANT = "medium-resistant"
    RESISTANT = "resistant"


@dataclass(frozen=True, slots=True)
class MaterialClass:
    """Parameters of one sensitivity class (Ojanen et al. 2010, Table 2 and 3)."""

    k1_below_1: float
    k1_from_1: float
    a: float
    b: float
    c: float
    rh_min_pct: float


MATERIALS: Final[Mapping[Sensitivity, MaterialClass]] = {
    Sensitivity.VERY_SENSITIVE: MaterialClass(1.0, 2.0, 1.0, 7.0, 2.0, 80.0),
    Sensitivity.SENSITIVE: MaterialClass(0.578, 0.386, 0.3, 6.0, 1.0, 80.0),
    Sensitivity.MEDIUM_RESISTANT: MaterialClass(0.072, 0.097, 0.0, 5.0, 1.5, 85.0),
    Sensitivity.RESISTANT: MaterialClass(0.033, 0.014, 0.0, 3.0, 1.0, 85.0),
}

DECLINE_CMAT: Final = (1.0, 0.5, 0.25, 0.1)
"""Typical decline coefficients (Ojanen et al. 2010): 1 reference (pine sapwood) … 0.1."""


def rh_crit_pct(temperature_c: npt.ArrayLike, rh_min_pct: float) -> FloatArray:
    """Critical RH for growth: −0.00267 T³ + 0.160 T² − 3.13 T + 100 for T ≤ 20 °C, never below
    RHmin; RHmin above 20 °C (Hukka & Viitanen 1999, eq. 2; Ojanen et al. 2010)."""
    t = np.asarray(temperature_c, dtype=float)
    poly = ((-0.00267 * t + 0.160) * t - 3.13) * t + 100.0
    return np.where(t <= 20.0, np.maximum(poly, rh_min_pct), rh_min_pct)


def m_max(
    humidity_pct: npt.ArrayLike, rh_crit: npt.ArrayLike, material: MaterialClass
) -> FloatArray:
    """Largest index reachable at this RH: A + B·x − C·x², x = (RHcrit − RH)/(RHcrit − 100)
    (Ojanen et al. 2010, eq. 5). Just above 0 °C RHcrit reaches 100 %; there x = 1."""
    rh = np.asarray(humidity_pct, dtype=float)
    crit = np.asarray(rh_crit, dtype=float)
    below = crit < 100.0
    x = np.divide(crit - rh, crit - 100.0, out=np.ones(np.broadcast(crit, rh).shape), where=below)
    return material.a + material.b * x - material.c * x * x  # type: ignore[no-any-return]


def growth_rate_per_day(temperature_c: npt.ArrayLike, humidity_pct: npt.ArrayLike) -> FloatArray:
    """Base growth rate 1 / (7·exp(−0.68 ln T − 13.9 ln RH + 66.02)) per day, before k1·k2
    (Hukka & Viitanen 1999, eq. 4 with W = SQ = 0). Only meaningful for T > 0 °C."""
    t = np.asarray(temperature_c, dtype=float)
    rh = np.asarray(humidity_pct, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = -0.68 * np.log(t) - 13.9 * np.log(rh) + 66.02
    return 1.0 / (7.0 * np.exp(exponent))  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class VttState:
    """Per-flat model state carried between runs (all arrays of shape (n_flats,))."""

    m: FloatArray
    dry_hours: FloatArray
    """Hours since the current dry spell began (0 while conditions favour growth)."""
    last_temperature_c: FloatArray
    last_humidity_pct: FloatArray
    stale_hours: FloatArray
    """Hours since the last real reading (for the forward-fill gap rule); inf = none yet."""

    @classmethod
    def initial(cls, n_flats: int, m0: float = 0.0) -> VttState:
        """A clean surface (M = m0) with no readings yet."""
        return cls(
            m=np.full(n_flats, m0, dtype=float),
            dry_hours=np.zeros(n_flats),
            last_temperature_c=np.full(n_flats, np.nan),
            last_humidity_pct=np.full(n_flats, np.nan),
            stale_hours=np.full(n_flats, np.inf),
        )

    def __len__(self) -> int:
        return int(self.m.shape[0])

    def to_dict(self) -> dict[str, list[float | None]]:
        """JSON-ready (NaN → None, inf → None)."""

        def clean(a: FloatArray) -> list[float | None]:
            return [float(v) if np.isfinite(v) else None for v in a]

        return {
            "m": clean(self.m),
            "dry_hours": clean(self.dry_hours),
            "last_temperature_c": clean(self.last_temperature_c),
            "last_humidity_pct": clean(self.last_humidity_pct),
            "stale_hours": clean(self.stale_hours),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[Any]]) -> VttState:
        def arr(key: str, missing: float) -> FloatArray:
            return np.array([missing if v is None else float(v) for v in data[key]], dtype=float)

        return cls(
            m=arr("m", 0.0),
            dry_hours=arr("dry_hours", 0.0),
            last_temperature_c=arr("last_temperature_c", np.nan),
            last_humidity_pct=arr("last_humidity_pct", np.nan),
            stale_hours=arr("stale_hours", np.inf),
        )

    def take(self, index: npt.ArrayLike) -> VttState:
        """The state of a subset / reordering of flats."""
        i = np.asarray(index, dtype=int)
        return VttState(
            self.m[i],
            self.dry_hours[i],
            self.last_temperature_c[i],
            self.last_humidity_pct[i],
            self.stale_hours[i],
        )


def _decline(dry_hours: FloatArray, dt_hours: float | FloatArray) -> FloatArray:
    """Decline (positive number, per unit Cmat) over [t0, t0 + dt] of the dry spell."""
    end = dry_hours + dt_hours
    fast = np.clip(np.minimum(end, DECLINE_FAST_UNTIL_H) - dry_hours, 0.0, None)
    slow = end - np.maximum(dry_hours, DECLINE_PAUSE_UNTIL_H)
    return DECLINE_FAST_PER_H * fast + DECLINE_SLOW_PER_H * np.clip(slow, 0.0, None)


def step(
    state: VttState,
    temperature_c: npt.ArrayLike,
    humidity_pct: npt.ArrayLike,
    material: MaterialClass | Sensitivity,
    cmat: float = 1.0,
    dt_hours: float = 1.0,
) -> VttState:
    """Advance every flat by one step of `dt_hours` with (n_flats,) surface conditions."""
    t = np.asarray(temperature_c, dtype=float)[None, :]
    rh = np.asarray(humidity_pct, dtype=float)[None, :]
    return run(t, rh, material, cmat, state, dt_hours)[1]


def _fill_gaps(
    t: FloatArray, rh: FloatArray, dts: FloatArray, state: VttState
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_], VttState]:
    """Apply the gap rule to a chunk: (filled T, filled RH, known mask, state with updated
    last values and staleness; M and dry_hours untouched)."""
    have = np.isfinite(t) & np.isfinite(rh)
    if have.all():
        return t, rh, have, _with_last(state, t[-1], rh[-1], np.zeros(t.shape[1]))
    t_f, rh_f, known = t.copy(), rh.copy(), have.copy()
    last_t, last_rh, stale = state.last_temperature_c, state.last_humidity_pct, state.stale_hours
    for i in range(t.shape[0]):
        stale = np.where(have[i], 0.0, stale + dts[i])
        fill = ~have[i] & (stale <= MAX_FILL_HOURS)
        t_f[i] = np.where(have[i], t[i], last_t)
        rh_f[i] = np.where(have[i], rh[i], last_rh)
        known[i] = have[i] | fill
        last_t = np.where(have[i], t[i], last_t)
        last_rh = np.where(have[i], rh[i], last_rh)
    return t_f, rh_f, known, _with_last(state, last_t, last_rh, stale)


def _with_last(state: VttState, t: FloatArray, rh: FloatArray, stale: FloatArray) -> VttState:
    return VttState(state.m, state.dry_hours, t, rh, stale)


CHUNK_STEPS: Final = 8
"""Time steps processed per vectorised block (bounds memory at 10,000 flats)."""


def run(
    temperature_c: npt.ArrayLike,
    humidity_pct: npt.ArrayLike,
    material: MaterialClass | Sensitivity,
    cmat: float = 1.0,
    state: VttState | None = None,
    dt_hours: float | npt.ArrayLike = 1.0,
) -> tuple[FloatArray, VttState]:
    """Run the model over time: inputs of shape (n_steps, n_flats) (or (n_steps,) for one flat).

    Returns (M after each step, same shape as the input; the final state). `dt_hours` is a
    scalar or one length per step (non-hourly input: each step's rate is scaled by its length).
    Everything that does not depend on M (gap rule, RHcrit, Mmax, base rate, dry-spell clock and
    decline) is computed for blocks of steps at once; the remaining loop over time does a dozen
    numpy operations on (n_flats,) arrays per step.
    """
    mat = MATERIALS[material] if isinstance(material, Sensitivity) else material
    if not 0.0 <= cmat <= 1.0:
        raise ValueError(f"Cmat {cmat} skal ligge i 0-1 / Cmat {cmat} must be within 0-1")
    t = np.asarray(temperature_c, dtype=float)
    rh = np.asarray(humidity_pct, dtype=float)
    if t.shape != rh.shape:
        raise ValueError(f"temperature {t.shape} and humidity {rh.shape} differ in shape")
    one_flat = t.ndim == 1
    if one_flat:
        t, rh = t[:, None], rh[:, None]
    n_steps, n_flats = t.shape
    dts = np.broadcast_to(np.asarray(dt_hours, dtype=float), (n_steps,))
    if np.any(dts <= 0) or not np.all(np.isfinite(dts)):
        raise ValueError("step lengths must be positive / tidsskridt skal være positive")
    st = state if state is not None else VttState.initial(n_flats)
    if len(st) != n_flats:
        raise ValueError(f"state has {len(st)} flats, input has {n_flats}")
    out = np.empty((n_steps, n_flats))
    for start in range(0, n_steps, CHUNK_STEPS):
        end = min(start + CHUNK_STEPS, n_steps)
        st = _run_chunk(t[start:end], rh[start:end], dts[start:end], mat, cmat, st, out[start:end])
    return (out[:, 0] if one_flat else out), st


def _run_chunk(
    t_in: FloatArray,
    rh_in: FloatArray,
    dts: FloatArray,
    mat: MaterialClass,
    cmat: float,
    state: VttState,
    out: FloatArray,
) -> VttState:
    t, rh, known, st = _fill_gaps(t_in, rh_in, dts, state)
    dt_col = dts[:, None]
    t = np.ascontiguousarray(t)
    # Growth needs T > 0 and RH >= RHcrit >= RHmin: the costly terms only for those candidates.
    idx = np.flatnonzero(known & (t > 0.0) & (rh >= mat.rh_min_pct))
    t_c = t.ravel()[idx]
    rh_c = np.minimum(rh.ravel()[idx], 100.0)
    crit_c = rh_crit_pct(t_c, mat.rh_min_pct)
    fav_c = rh_c >= crit_c
    favourable = np.zeros(t.shape, dtype=bool)
    favourable.ravel()[idx] = fav_c
    mmax = np.zeros(t.shape)
    mmax.ravel()[idx] = np.where(fav_c, m_max(rh_c, crit_c, mat), 0.0)
    gain = np.zeros(t.shape)
    dt_c = dts[idx // t.shape[1]]
    gain.ravel()[idx] = np.where(fav_c, growth_rate_per_day(t_c, rh_c) * (dt_c / 24.0), 0.0)
    dry = known & ~favourable
    dry_inc = np.where(dry, dt_col, 0.0)
    dry_start = np.empty(t.shape)
    clock = st.dry_hours
    for i in range(t.shape[0]):  # hours into the dry spell at the start of each step
        dry_start[i] = clock
        clock = np.where(favourable[i], 0.0, clock + dry_inc[i])
    loss = np.where(dry, cmat * _decline(dry_start, dt_col), 0.0)
    # Flats without a single growth step in this block only decline (or stand still): with
    # losses >= 0 and M0 <= 6, clip(M0 - l1 - l2 ..., 0, 6) = max(M0 - cumsum(l), 0) at once.
    out[:] = np.maximum(st.m - np.cumsum(loss, axis=0), M_MIN)
    active = np.flatnonzero(favourable.any(axis=0))
    if active.size:
        fav_a, mmax_a, gain_a, loss_a = (
            favourable[:, active],
            mmax[:, active],
            gain[:, active],
            loss[:, active],
        )
        m = st.m[active]
        for i in range(t.shape[0]):
            k1 = np.where(m < 1.0, mat.k1_below_1, mat.k1_from_1)
            k2 = np.maximum(1.0 - np.exp(2.3 * (m - mmax_a[i])), 0.0)
            grown = np.minimum(m + k1 * k2 * gain_a[i], np.maximum(m, mmax_a[i]))
            m = np.clip(np.where(fav_a[i], grown, m - loss_a[i]), M_MIN, M_MAX)
            out[i, active] = m
    m_end = out[-1].copy()
    return VttState(m_end, clock, st.last_temperature_c, st.last_humidity_pct, st.stale_hours)


def hours_above(
    humidity_pct: npt.ArrayLike, threshold_pct: float, dt_hours: float = 1.0
) -> FloatArray:
    """Hours with surface RH above `threshold_pct` along axis 0 (NaN does not count). The simple
    indicator beside the index: 75 % (Danish guidance, SBi-anvisning 277) and 80 %."""
    rh = np.asarray(humidity_pct, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.sum(rh > threshold_pct, axis=0) * dt_hours  # type: ignore[no-any-return]
