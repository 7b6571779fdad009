"""A simulated building: weather + residents + flat physics, stepped in time, with ground truth.

    b = Building(default_scenario(), seed=1, start=datetime(2027, 1, 1, tzinfo=UTC))
    b.step(60)                  # advance one minute (sub-stepped as stability needs)
    b.sensor_truth()            # {sensor id: {"temperature_c": …, "co2_ppm": …, …}}
    b.flat_truth()              # {flat id: FlatTruth(…)}
    b.totals()                  # {flat id: FlatTotals(radiator_kwh=…, …)} since start

The core is numpy only; :func:`run` (and :meth:`Building.run_until`) return pandas DataFrames
for analysis and tests (pandas is imported lazily).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from firmware_sim import physics
from firmware_sim.physics import FloatArray
from firmware_sim.residents import Activity, Residents
from firmware_sim.scenario import Scenario, SensorKind
from firmware_sim.weather import Weather, WeatherSample

if TYPE_CHECKING:
    import pandas as pd

_QUANTITIES: dict[SensorKind, tuple[str, ...]] = {
    SensorKind.RUUVI: ("temperature_c", "humidity_pct", "pressure_hpa", "battery_mv"),
    SensorKind.ARANET4: (
        "co2_ppm",
        "temperature_c",
        "humidity_pct",
        "pressure_hpa",
        "battery_mv",
    ),
    SensorKind.BTHOME: ("temperature_c", "humidity_pct", "battery_mv"),
    SensorKind.XIAOMI_ATC: ("temperature_c", "humidity_pct", "battery_mv"),
    SensorKind.SCD30: ("co2_ppm", "temperature_c", "humidity_pct"),
    SensorKind.SENSEAIR_S8: ("co2_ppm",),
    SensorKind.MHZ19B: ("co2_ppm",),
}
"""What each device measures (vendor data sheets; DOMAIN.md "Sensors on the wire")."""

_BUFFER = 1024
BATTERY_DRAIN_MV_PER_DAY = 0.5
"""Slow, deterministic battery sag (a CR2477 RuuviTag lasts years at 1 s adverts)."""


@dataclass(frozen=True, slots=True)
class FlatTruth:
    """True state of one flat now (living room air; surface at the worst thermal bridge)."""

    temperature_c: float
    humidity_pct: float
    co2_ppm: float
    co2_mean_ppm: float
    """Volume-weighted over the flat's rooms (what the flat's air change acts on)."""
    surface_temperature_c: float
    surface_humidity_pct: float
    window_open: float
    """Open fraction 0..1."""
    radiator_w: float
    from_neighbours_w: float
    occupants: float


@dataclass(frozen=True, slots=True)
class FlatTotals:
    """Ground truth accumulated since the simulation started."""

    radiator_kwh: float
    from_neighbours_kwh: float
    """Net heat received through party walls and slabs (negative: given away)."""
    gains_kwh: float
    envelope_loss_kwh: float
    ventilation_loss_kwh: float
    stored_kwh: float
    """Change of heat stored in the flat's air and structure."""
    window_open_h: float
    mean_air_change_h: float
    hours: float


@dataclass(frozen=True)
class SimRun:
    flats: pd.DataFrame
    """One row per flat per record time (see FlatTruth for the columns, plus time and flat)."""
    weather: pd.DataFrame
    totals: pd.DataFrame


class Building:
    """The whole simulated building; deterministic for a given scenario, seed and start."""

    def __init__(
        self, scenario: Scenario, *, seed: int = 0, start: datetime, warm_up_days: float = 0.0
    ) -> None:
        """``warm_up_days`` simulates that long before ``start`` (hourly steps) so the thermal
        mass, humidity and CO2 start settled; totals then count from ``start``."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC), e.g. datetime(..., tzinfo=UTC)")
        if warm_up_days < 0:
            raise ValueError(f"warm_up_days must be zero or more, got {warm_up_days}")
        self.scenario = scenario
        self.layout = physics.build_layout(scenario)
        self._op = physics.build_operator(self.layout)
        self.weather = Weather(seed)
        self.residents = Residents(scenario, seed)
        self._t0 = start.timestamp() - warm_up_days * 86_400.0
        self._t = self._t0
        self._h_max = physics.max_stable_step_s(self.layout)
        self._wx = self.weather.sample(self._t)
        w = self._wx
        v_out = _vapour_density(w.temperature_c, w.humidity_pct)
        self.state = physics.initial_state(self.layout, w.temperature_c, v_out)
        self._e0 = self.state.energy_j(self.layout)
        self.set_points: FloatArray = self.layout.set_point_c.copy()
        """Thermostat set points per flat; change entries to act like a technician."""
        n = self.layout.n_flats
        # Time integrals (value × seconds); the linear flows are recovered from ∫x in totals().
        self._int_x = np.zeros_like(self.state.x)
        self._int_te = 0.0
        self._int = {k: np.zeros(n) for k in ("rad", "gain", "vent", "win", "ach")}
        self._window_override = np.full(n, np.nan)
        self._overridden = False
        self._buf_n = 0
        self._buf_x = np.zeros((_BUFFER, len(self.state.x)))
        self._buf_th = np.zeros((_BUFFER, 2))
        self._buf_rad = np.zeros((_BUFFER, n))
        self._buf_ach = np.zeros((_BUFFER, n))
        self._buf_gain = np.zeros((_BUFFER, n))
        self._table: object = None
        self._src = np.zeros((len(self.state.x), 1))
        self._gains = np.zeros((n, 1))
        sensors = scenario.sensors()
        room_index = {name: i for i, name in enumerate(self.layout.room_names)}
        self._sensor_ids = [s[0] for s in sensors]
        self._sensor_room = np.array([room_index[(f.id, r.name)] for _, f, r, _ in sensors])
        self._sensor_kind = [spec.kind for *_, spec in sensors]
        rng = np.random.default_rng([seed, 0xBA77])
        self._battery0 = rng.uniform(2950.0, 3150.0, len(sensors))
        if warm_up_days > 0:
            while self._t < start.timestamp() - 1e-6:
                self.step(min(3600.0, start.timestamp() - self._t))
            self._reset_totals()

    def _reset_totals(self) -> None:
        """Count ground truth from now on."""
        self._t0 = self._t
        self._e0 = self.state.energy_j(self.layout)
        self._buf_n = 0
        self._int_x[:] = 0.0
        self._int_te = 0.0
        for v in self._int.values():
            v[:] = 0.0

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self._t, UTC)

    def weather_now(self) -> WeatherSample:
        return self._wx

    def activity_now(self) -> Activity:
        return self.residents.at(self._t)

    def set_window(self, flat_id: str, open_fraction: float | None) -> None:
        """Drive a flat's windows (a motorised window controller): 0 shut … 1 wide open;
        ``None`` hands them back to the residents."""
        try:
            i = self.layout.flat_ids.index(flat_id)
        except ValueError:
            raise ValueError(f"flat {flat_id!r} is not in this building") from None
        if open_fraction is not None and not 0.0 <= open_fraction <= 1.0:
            raise ValueError(f"open_fraction must be within 0..1, got {open_fraction}")
        self._window_override[i] = math.nan if open_fraction is None else open_fraction
        self._overridden = bool(np.any(~np.isnan(self._window_override)))

    def step(self, dt_s: float = 60.0) -> None:
        """Advance ``dt_s`` seconds in sub-steps no longer than the stable step."""
        if dt_s <= 0:
            raise ValueError(f"dt_s must be positive, got {dt_s}")
        n_sub = max(1, math.ceil(dt_s / self._h_max - 1e-9))
        h = dt_s / n_sub
        t_end = self._t + dt_s
        lay, op = self.layout, self._op
        for sub in range(n_sub):
            w = self._wx if sub == 0 else self.weather.sample(self._t)
            table, day_start = self.residents.day_table(self._t)
            if table is not self._table:
                self._table = table
                self._src = physics.sources(
                    lay, table.awake, table.sleeping, table.cooking, table.showering,
                    table.laundry_gh,
                )  # fmt: skip
                self._gains = physics.gains_w(lay, table.awake, table.sleeping, table.cooking)
            i = int((self._t - day_start) // 60.0)
            window = table.window[:, i]
            if self._overridden:
                window = np.where(np.isnan(self._window_override), window, self._window_override)
            te = w.temperature_c
            u = physics.Inputs(
                t_out_c=te,
                v_out_gm3=_vapour_density(te, w.humidity_pct),
                window=window,
                source=self._src[:, i],
                set_point_c=self.set_points,
            )
            k = self._buf_n
            self._buf_x[k] = self.state.x
            self.state, rad, ach = physics.step(lay, op, self.state, u, h)
            self._buf_th[k] = (te, h)
            self._buf_rad[k] = rad
            self._buf_ach[k] = ach
            self._buf_gain[k] = self._gains[:, i]
            self._buf_n = k + 1
            if self._buf_n == _BUFFER:
                self._flush()
            self._t += h
        self._t = t_end  # no drift from summing sub-steps
        self._wx = self.weather.sample(self._t)

    # -- truth ---------------------------------------------------------------------------

    def _rooms(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Room temperature, vapour pressure and RH now."""
        t = physics.room_temperatures(self.layout, self.state)
        e = physics.vapour_pressure_pa(t, self.state.vapour_gm3)
        rh = np.minimum(100.0 * e / physics.psat_pa(t), 100.0)
        return t, e, rh

    def flat_arrays(self) -> dict[str, FloatArray]:
        """Flat truth as arrays in scenario order (fast path for recording)."""
        lay = self.layout
        t, e, rh = self._rooms()
        b = lay.bridge_room
        tsi, rhsi = physics.surface_conditions(t[b], e[b], self._wx.temperature_c, lay.frsi)
        vol = lay.room_volume_m3
        co2_mean = np.bincount(lay.room_flat, self.state.co2_ppm * vol) / np.bincount(
            lay.room_flat, vol
        )
        act = self.residents.at(self._t)
        return {
            "temperature_c": t[lay.main_room],
            "humidity_pct": rh[lay.main_room],
            "co2_ppm": self.state.co2_ppm[lay.main_room],
            "co2_mean_ppm": co2_mean,
            "surface_temperature_c": tsi,
            "surface_humidity_pct": rhsi,
            "window_open": np.where(
                np.isnan(self._window_override), act.window, self._window_override
            ),
            "radiator_w": physics.radiator_w(lay, self.state.t_air_c, self.set_points),
            "from_neighbours_w": physics.neighbour_heat_w(lay, self.state.t_mass_c),
            "occupants": act.occupants,
        }

    def flat_truth(self) -> dict[str, FlatTruth]:
        a = self.flat_arrays()
        return {
            fid: FlatTruth(**{k: float(v[i]) for k, v in a.items()})
            for i, fid in enumerate(self.layout.flat_ids)
        }

    def sensor_truth(self) -> dict[str, dict[str, float]]:
        """True values each scenario sensor would measure now, keyed by sensor id."""
        t, _e, rh = self._rooms()
        idx = self._sensor_room
        days = (self._t - self._t0) / 86_400.0
        columns = {
            "temperature_c": t[idx],
            "humidity_pct": rh[idx],
            "co2_ppm": self.state.co2_ppm[idx],
            "pressure_hpa": np.full(len(idx), self._wx.pressure_hpa),
            "battery_mv": self._battery0 - BATTERY_DRAIN_MV_PER_DAY * days,
        }
        return {
            sid: {q: float(columns[q][i]) for q in _QUANTITIES[kind]}
            for i, (sid, kind) in enumerate(zip(self._sensor_ids, self._sensor_kind, strict=True))
        }

    def _flush(self) -> None:
        """Fold the per-step buffers into the time integrals (keeps the hot loop short)."""
        k = self._buf_n
        if k == 0:
            return
        f = self.layout.n_flats
        te, h = self._buf_th[:k, 0], self._buf_th[:k, 1]
        ach = self._buf_ach[:k]
        acc = self._int
        self._int_x += h @ self._buf_x[:k]
        self._int_te += float(h @ te)
        acc["rad"] += h @ self._buf_rad[:k]
        acc["gain"] += h @ self._buf_gain[:k]
        acc["vent"] += h @ (ach * (self._buf_x[:k, :f] - te[:, None]))
        acc["win"] += h @ (ach > self.layout.air_change_h + 1e-12)
        acc["ach"] += h @ ach
        self._buf_n = 0

    def totals(self) -> dict[str, FlatTotals]:
        """Ground truth accumulated since the start, per flat."""
        self._flush()
        lay, f = self.layout, self.layout.n_flats
        acc = self._int
        seconds = self._t - self._t0
        int_ta, int_tm = self._int_x[:f], self._int_x[f : 2 * f]
        envelope = lay.ua_air_w_per_k * (int_ta - self._int_te) + lay.ua_mass_w_per_k * (
            int_tm - self._int_te
        )
        vent = physics.RHO_CP_WH_PER_M3K * lay.volume_m3 * acc["vent"]
        neighbours = physics.neighbour_heat_w(lay, int_tm)
        stored = self.state.energy_j(lay) - self._e0
        j_per_kwh = 3.6e6
        out = {}
        for i, fid in enumerate(lay.flat_ids):
            out[fid] = FlatTotals(
                radiator_kwh=float(acc["rad"][i]) / j_per_kwh,
                from_neighbours_kwh=float(neighbours[i]) / j_per_kwh,
                gains_kwh=float(acc["gain"][i]) / j_per_kwh,
                envelope_loss_kwh=float(envelope[i]) / j_per_kwh,
                ventilation_loss_kwh=float(vent[i]) / j_per_kwh,
                stored_kwh=float(stored[i]) / j_per_kwh,
                window_open_h=float(acc["win"][i]) / 3600.0,
                mean_air_change_h=float(acc["ach"][i]) / seconds if seconds > 0 else math.nan,
                hours=seconds / 3600.0,
            )
        return out

    # -- convenience ---------------------------------------------------------------------

    def run_until(
        self, end: datetime, *, step_s: float = 60.0, record_every_s: float = 300.0
    ) -> SimRun:
        """Step to ``end``, recording flat truth and weather every ``record_every_s``."""
        import pandas as pd

        t_end = end.timestamp()
        next_rec = self._t + record_every_s
        times: list[float] = []
        rows: list[dict[str, FloatArray]] = []
        wx: list[WeatherSample] = []
        while self._t < t_end - 1e-6:
            self.step(min(step_s, t_end - self._t))
            if self._t >= next_rec - 1e-6:
                times.append(self._t)
                rows.append(self.flat_arrays())
                wx.append(self._wx)
                next_rec += record_every_s
        n = self.layout.n_flats
        stamp = pd.to_datetime(np.array(times), unit="s", utc=True)
        flats = pd.DataFrame(
            {
                "time": np.repeat(stamp, n),
                "flat": np.tile(np.array(self.layout.flat_ids), len(times)),
            }
        )
        if rows:
            for key in rows[0]:
                flats[key] = np.concatenate([r[key] for r in rows])
        weather = pd.DataFrame([vars_of(w) for w in wx], index=stamp)
        weather.index.name = "time"
        totals = pd.DataFrame.from_dict(
            {k: vars_of(v) for k, v in self.totals().items()}, orient="index"
        )
        totals.index.name = "flat"
        return SimRun(flats=flats, weather=weather.reset_index(), totals=totals)


def _vapour_density(t_c: float, rh_pct: float) -> float:
    """Scalar twin of :func:`physics.vapour_density_gm3` (hot path)."""
    psat = 611.2 * math.exp(17.62 * t_c / (243.12 + t_c))
    return rh_pct / 100.0 * psat / (physics.R_VAPOUR_J_PER_KGK * (t_c + 273.15)) * 1000.0


def vars_of(obj: object) -> dict[str, float]:
    return {k: getattr(obj, k) for k in obj.__slots__}  # type: ignore[attr-defined]


def run(
    scenario: Scenario,
    start: datetime,
    end: datetime,
    *,
    step_s: float = 60.0,
    record_every_s: float = 300.0,
    seed: int = 0,
) -> SimRun:
    """Simulate ``scenario`` from ``start`` to ``end`` and return DataFrames of the truth."""
    return Building(scenario, seed=seed, start=start).run_until(
        end, step_s=step_s, record_every_s=record_every_s
    )


__all__ = ["Building", "FlatTotals", "FlatTruth", "SimRun", "run"]
