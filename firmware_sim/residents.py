"""Residents' daily routines: deterministic (seeded) schedules per behaviour profile.

Every random draw for local calendar day *d* comes from ``numpy.random.default_rng([seed, d,
tag])`` and is drawn for all flats at once, so a day's plan does not depend on which other days
were simulated or on the step size. A plan is a set of intervals in epoch seconds (sleep, away,
cooking, showers, airing, laundry drying); the state at time *t* is read from the plans of the
day before and the day itself, so activities may run past midnight.

Routine numbers (assumptions, typical of Danish households): wake 6–8 on weekdays (7:30–9:30
at weekends), bed 22:00–23:45, out 7–9 h on working days, dinner cooked 17–19 for 30–60 min,
showers in the morning, airing 2–3 times a day for 5–10 minutes as Danish guidance advises
(DOMAIN.md), laundry drying about a day per load.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from firmware_sim.scenario import Scenario

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_H = 3600.0
_MIN = 60.0
_WAKE, _DAY, _SHOWER, _AIRING = 1, 2, 3, 4
_MAX_SHOWERS = 6
_MAX_AIRINGS = 6


@dataclass(frozen=True)
class Activity:
    """Residents' state at one instant, one value per flat."""

    occupants: FloatArray
    asleep: BoolArray
    awake: FloatArray
    """People at home and awake."""
    sleeping: FloatArray
    cooking: FloatArray
    showering: FloatArray
    window: FloatArray
    laundry_gh: FloatArray


@dataclass(frozen=True)
class _Plan:
    """Intervals (start, end) in epoch seconds; shape (F, K). Empty slots have start == end."""

    sleep: tuple[FloatArray, FloatArray]
    away: tuple[FloatArray, FloatArray]
    cooking: tuple[FloatArray, FloatArray]
    shower: tuple[FloatArray, FloatArray]
    airing: tuple[FloatArray, FloatArray]
    airing_fraction: FloatArray
    laundry: tuple[FloatArray, FloatArray]
    laundry_gh: FloatArray


def _cat(
    a: tuple[FloatArray, FloatArray], b: tuple[FloatArray, FloatArray]
) -> tuple[FloatArray, FloatArray]:
    return np.concatenate([a[0], b[0]], axis=1), np.concatenate([a[1], b[1]], axis=1)


class Residents:
    """Schedules for every flat of a scenario."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self._seed = seed
        self._tz = ZoneInfo(scenario.building.timezone)
        profiles = [scenario.profiles[f.profile] for f in scenario.flats]
        self._n = len(profiles)
        self._residents = np.array([f.residents for f in scenario.flats], dtype=np.float64)
        self._away_p = np.array([p.away_weekdays for p in profiles])
        self._airings = np.array([p.airings_per_day for p in profiles], dtype=np.int64)
        self._airing_min = np.array([p.airing_min for p in profiles])
        self._airing_frac = np.array([p.airing_open_fraction for p in profiles])
        self._showers = np.array([p.showers_per_person for p in profiles])
        self._cooking = np.array([p.cooking_scale for p in profiles])
        self._laundry_p = np.array([p.laundry_loads_per_week / 7.0 for p in profiles])
        self._laundry_g = np.array([p.laundry_kg_per_load * 1000.0 for p in profiles])
        self._bounds = (0.0, 0.0)
        self._table: Activity | None = None

    def _midnight(self, day: date) -> float:
        return datetime(day.year, day.month, day.day, tzinfo=self._tz).timestamp()

    def _rng(self, day: date, tag: int) -> np.random.Generator:
        return np.random.default_rng([self._seed, day.toordinal(), tag])

    def _wake(self, day: date) -> FloatArray:
        weekend = day.weekday() >= 5
        lo, hi = (7.5, 9.5) if weekend else (6.0, 8.0)
        out: FloatArray = self._midnight(day) + _H * self._rng(day, _WAKE).uniform(lo, hi, self._n)
        return out

    def _day_plan(self, day: date) -> _Plan:
        n = self._n
        m = self._midnight(day)
        rng = self._rng(day, _DAY)
        home = self._residents > 0
        wake = self._wake(day)
        bed = m + _H * rng.uniform(22.0, 23.75, n)
        next_wake = self._wake(day + timedelta(days=1))
        workday = (day.weekday() < 5) & (rng.random(n) < self._away_p)
        leave = wake + _MIN * (rng.uniform(40, 70, n) + 12 * np.minimum(self._residents, 6))
        back = m + _H * rng.uniform(15.5, 18.0, n)
        outing = ~workday & (rng.random(n) < 0.5)
        out_start = m + _H * rng.uniform(10.0, 14.0, n)
        out_end = out_start + _H * rng.uniform(1.5, 4.0, n)
        away0 = np.where(workday, leave, np.where(outing, out_start, 0.0))
        away1 = np.where(workday, back, np.where(outing, out_end, 0.0))
        home_from = np.where(workday, back, m + 12 * _H)
        dinner = np.maximum(home_from, m + 17 * _H) + _MIN * rng.uniform(0, 60, n)
        cook0 = np.stack([wake + 20 * _MIN, dinner], axis=1)
        cook1 = cook0 + _MIN * np.stack([np.full(n, 15.0), rng.uniform(30, 60, n)], axis=1)

        srng = self._rng(day, _SHOWER)
        slot = np.arange(_MAX_SHOWERS)
        takes = (slot < self._residents[:, None]) & (
            srng.random((n, _MAX_SHOWERS)) < self._showers[:, None]
        )
        sh0 = wake[:, None] + _MIN * (5 + 12 * slot)
        sh1 = sh0 + _MIN * srng.uniform(6, 12, (n, _MAX_SHOWERS))

        arng = self._rng(day, _AIRING)
        lo, hi = self._airings[:, 0], self._airings[:, 1]
        count = lo + np.floor(arng.random(n) * (hi - lo + 1)).astype(np.int64)
        anchors = np.stack(
            [
                wake + _MIN * arng.uniform(10, 40, n),
                bed - _MIN * arng.uniform(30, 60, n) - _MIN * self._airing_min[:, 1],
                home_from + _MIN * arng.uniform(0, 60, n),
                dinner + _MIN * 75,
                np.where(workday, home_from + 3 * _H, m + 11 * _H),
                np.where(workday, bed - 2 * _H, m + 15 * _H),
            ],
            axis=1,
        )
        dur = _MIN * (
            self._airing_min[:, :1]
            + arng.random((n, _MAX_AIRINGS)) * np.diff(self._airing_min, axis=1)
        )
        chosen = np.arange(_MAX_AIRINGS) < count[:, None]
        lrng = self._rng(day, _AIRING + 1)
        wash = lrng.random(n) < self._laundry_p
        dry_h = lrng.uniform(20, 30, n)
        l0 = m + _H * lrng.uniform(18.0, 21.0, n)
        l1 = l0 + _H * dry_h

        def keep(ok: BoolArray, a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
            """Intervals where ``ok``; empty (0, 0) elsewhere; always 2-D."""
            ok2 = np.atleast_2d(ok.T).T & home.reshape(-1, 1)
            a2, b2 = np.atleast_2d(a.T).T, np.atleast_2d(b.T).T
            return np.where(ok2, a2, 0.0), np.where(ok2, b2, 0.0)

        return _Plan(
            sleep=keep(home, bed, next_wake),
            away=keep(away1 > away0, away0, away1),
            cooking=keep(np.ones((n, 2), bool), cook0, cook1),
            shower=keep(takes, sh0, sh1),
            airing=keep(chosen, anchors, anchors + dur),
            airing_fraction=np.repeat(self._airing_frac[:, None], _MAX_AIRINGS, axis=1),
            laundry=keep(wash, l0, l1),
            laundry_gh=(self._laundry_g / dry_h)[:, None],
        )

    def _raster(self, day: date) -> Activity:
        """The day's states on a one-minute grid from local midnight, each shaped (F, T)."""
        prev, cur = self._day_plan(day - timedelta(days=1)), self._day_plan(day)
        m0, m1 = self._midnight(day), self._midnight(day + timedelta(days=1))
        t = (m0 + _MIN * np.arange(round((m1 - m0) / _MIN)))[None, None, :]

        def active(a: tuple[FloatArray, FloatArray], b: tuple[FloatArray, FloatArray]) -> Any:
            s, e = _cat(a, b)
            return (s[:, :, None] <= t) & (t < e[:, :, None])  # (F, K, T)

        home = ~active(prev.away, cur.away).any(axis=1)
        asleep = active(prev.sleep, cur.sleep).any(axis=1) & home
        cooking = active(prev.cooking, cur.cooking).any(axis=1) & home & ~asleep
        frac = np.concatenate([prev.airing_fraction, cur.airing_fraction], axis=1)
        laundry = np.concatenate([prev.laundry_gh, cur.laundry_gh], axis=1)
        occupants = np.where(home, self._residents[:, None], 0.0)
        return Activity(
            occupants=occupants,
            asleep=asleep,
            awake=np.where(asleep, 0.0, occupants),
            sleeping=np.where(asleep, occupants, 0.0),
            cooking=np.where(cooking, self._cooking[:, None], 0.0),
            showering=active(prev.shower, cur.shower).sum(axis=1).astype(np.float64),
            window=(active(prev.airing, cur.airing) * frac[:, :, None]).max(axis=1),
            laundry_gh=(active(prev.laundry, cur.laundry) * laundry[:, :, None]).sum(axis=1),
        )

    def day_table(self, t: float) -> tuple[Activity, float]:
        """The local day's one-minute table holding ``t`` and its start (epoch seconds);
        column ``int((t - start) // 60)`` is the state at ``t``. Cached until the day ends."""
        if self._table is None or not self._bounds[0] <= t < self._bounds[1]:
            day = datetime.fromtimestamp(t, self._tz).date()
            self._table = self._raster(day)
            self._bounds = (self._midnight(day), self._midnight(day + timedelta(days=1)))
        return self._table, self._bounds[0]

    def at(self, t: float) -> Activity:
        """Residents' state at epoch second ``t`` (activities resolve to the minute)."""
        a, start = self.day_table(t)
        i = int((t - start) // _MIN)
        return Activity(
            occupants=a.occupants[:, i],
            asleep=a.asleep[:, i],
            awake=a.awake[:, i],
            sleeping=a.sleeping[:, i],
            cooking=a.cooking[:, i],
            showering=a.showering[:, i],
            window=a.window[:, i],
            laundry_gh=a.laundry_gh[:, i],
        )
