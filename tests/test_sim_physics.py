"""Flat physics on its own: psychrometrics, steady state, conservation, tracer decay."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim import physics
from firmware_sim.scenario import Scenario, parse_scenario


def scenario(n_columns: int = 1, *, gains: float = 0.0, **profile: Any) -> Scenario:
    flats = [
        {
            "id": f"T-{c}",
            "area_m2": 70,
            "floor": 0,
            "column": c,
            "residents": 0,
            "rooms": [{"kind": "living"}, {"kind": "bedroom"}, {"kind": "bathroom"}],
        }
        for c in range(n_columns)
    ]
    return parse_scenario(
        {
            "building": {"id": "T"},
            "physics": {"internal_gain_w_per_m2": gains},
            "profiles": {"normal": profile},
            "flats": flats,
        }
    )


def quiet_inputs(
    lay: physics.Layout, t_out_c: float, v_out: float = 4.0, window: float = 0.0
) -> physics.Inputs:
    z = np.zeros(lay.n_flats)
    return physics.Inputs(
        t_out_c=t_out_c,
        v_out_gm3=v_out,
        window=np.full(lay.n_flats, window),
        source=physics.sources(lay, z, z, z, z, z),
        set_point_c=lay.set_point_c,
    )


@pytest.mark.parametrize(
    ("t_c", "psat"),
    [(0.0, 611.2), (20.0, 2337.0), (-10.0, 286.0), (12.5, 1448.0)],  # Magnus, DOMAIN.md
)
def test_magnus_saturation_pressure(t_c: float, psat: float) -> None:
    assert float(physics.psat_pa(t_c)) == pytest.approx(psat, rel=0.005)


def test_surface_conditions_domain_example() -> None:
    """DOMAIN.md: 20 °C, 60 % inside, −5 °C outside, fRsi 0.7 → θsi 12.5 °C, RHsi ≈ 97 %."""
    e = 0.60 * physics.psat_pa(20.0)
    tsi, rhsi = physics.surface_conditions(20.0, e, -5.0, 0.70)
    assert float(tsi) == pytest.approx(12.5)
    assert float(rhsi) == pytest.approx(97.0, abs=0.7)


def test_vapour_density_round_trip() -> None:
    v = physics.vapour_density_gm3(20.0, 50.0)
    assert float(v) == pytest.approx(8.65, abs=0.05)  # half of 17.3 g/m³ saturation at 20 °C
    e = physics.vapour_pressure_pa(20.0, v)
    assert float(100 * e / physics.psat_pa(20.0)) == pytest.approx(50.0)


def test_steady_state_reaches_set_point_and_radiator_covers_ua_dt() -> None:
    """No gains, windows shut, constant 0 °C outside: radiator power = UA ΔT, where UA is the
    windows and ventilation in parallel with the opaque envelope behind the air–mass coupling."""
    lay = physics.build_layout(scenario(set_point_c=20.0, air_change_h=0.5))
    op = physics.build_operator(lay)
    state = physics.initial_state(lay, 0.0, 4.0)
    u = quiet_inputs(lay, 0.0)
    h = physics.max_stable_step_s(lay)
    for _ in range(int(40 * 86_400 / h)):
        state, rad, _ach = physics.step(lay, op, state, u, h)
    t = float(state.t_air_c[0])
    assert abs(t - 20.0) <= lay.band_k / 2
    opaque = 1 / (1 / lay.ua_mass_w_per_k + 1 / lay.h_air_mass_w_per_k)
    ua = lay.ua_air_w_per_k + physics.RHO_CP_WH_PER_M3K * 0.5 * lay.volume_m3 + opaque
    assert float(rad[0]) == pytest.approx(float(ua[0]) * t, rel=0.002)
    assert float(state.t_mass_c[0]) < t


def test_thermal_time_constant_is_about_a_day_or_two() -> None:
    lay = physics.build_layout(scenario())
    ua = lay.ua_air_w_per_k + lay.ua_mass_w_per_k + physics.RHO_CP_WH_PER_M3K * 0.5 * lay.volume_m3
    tau_h = float((lay.c_mass_j_per_k + lay.c_air_j_per_k)[0] / ua[0]) / 3600
    assert 20 < tau_h < 100


def test_co2_tracer_decay_recovers_the_air_change_rate() -> None:
    """Empty flat, 1200 ppm: n = ln((C0 − Cout)/(C1 − Cout)) / Δt (DOMAIN.md)."""
    lay = physics.build_layout(scenario(air_change_h=0.45))
    op = physics.build_operator(lay)
    s0 = physics.initial_state(lay, 0.0, 4.0)
    x = s0.x.copy()
    x[-len(lay.room_flat) :] = 1200.0
    state = physics.State(x, lay.n_flats)
    u = quiet_inputs(lay, 0.0)
    for _ in range(60):
        state, _rad, _ach = physics.step(lay, op, state, u, 60.0)
    vol = lay.room_volume_m3
    c1 = float(state.co2_ppm @ vol / vol.sum())
    n = math.log((1200 - 420) / (c1 - 420)) / 1.0
    assert n == pytest.approx(0.45, rel=0.01)


def test_moisture_steady_state_matches_source_over_ventilation() -> None:
    """Δv = G / (n V): 150 g/h into a 175 m³ flat at 0.5 h⁻¹ raises vapour by 1.71 g/m³."""
    lay = physics.build_layout(scenario(air_change_h=0.5))
    op = physics.build_operator(lay)
    state = physics.initial_state(lay, 0.0, 4.0)
    z = np.zeros(1)
    u = physics.Inputs(
        t_out_c=0.0,
        v_out_gm3=4.0,
        window=z,
        source=physics.sources(lay, z, z, z, z, np.array([150.0])),
        set_point_c=lay.set_point_c,
    )
    for _ in range(3 * 24 * 60):
        state, _rad, _ach = physics.step(lay, op, state, u, 60.0)
    vol = lay.room_volume_m3
    mean = float(state.vapour_gm3 @ vol / vol.sum())
    assert mean - 4.0 == pytest.approx(150.0 / (0.5 * vol.sum()), rel=0.01)


def test_open_window_cools_the_air_fast_and_the_mass_slowly() -> None:
    lay = physics.build_layout(scenario(set_point_c=21.0))
    op = physics.build_operator(lay)
    state = physics.initial_state(lay, -2.0, 3.0)
    ta0, tm0 = float(state.t_air_c[0]), float(state.t_mass_c[0])
    u = quiet_inputs(lay, -2.0, 3.0, window=1.0)
    for _ in range(10):
        state, _rad, ach = physics.step(lay, op, state, u, 60.0)
    assert float(ach[0]) == pytest.approx(0.5 + lay.window_air_change_h)
    assert 1.5 < ta0 - float(state.t_air_c[0]) < 8.0
    assert tm0 - float(state.t_mass_c[0]) < 0.5


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-15, 15),
    st.lists(st.floats(15, 25), min_size=3, max_size=3),
    st.lists(st.floats(0, 1), min_size=3, max_size=3),
    st.floats(1, 300),
)
def test_one_step_conserves_heat(
    t_out: float, set_points: list[float], windows: list[float], h: float
) -> None:
    """C_air ΔT_air + C_mass ΔT_mass = h (radiator + gains − envelope − ventilation + neighbours),
    and what neighbours receive sums to zero."""
    lay = physics.build_layout(scenario(3, gains=2.5))
    op = physics.build_operator(lay)
    state = physics.initial_state(lay, t_out, 3.0)
    sp = np.array(set_points)
    one = np.ones(3)
    u = physics.Inputs(
        t_out_c=t_out,
        v_out_gm3=3.0,
        window=np.array(windows),
        source=physics.sources(lay, one, 0 * one, 0 * one, 0 * one, 0 * one),
        set_point_c=sp,
    )
    new, rad, ach = physics.step(lay, op, state, u, h)
    ta, tm = state.t_air_c, state.t_mass_c
    gains = physics.gains_w(lay, one, 0 * one, 0 * one)
    env = lay.ua_air_w_per_k * (ta - t_out) + lay.ua_mass_w_per_k * (tm - t_out)
    vent = physics.RHO_CP_WH_PER_M3K * ach * lay.volume_m3 * (ta - t_out)
    nb = physics.neighbour_heat_w(lay, tm)
    stored = new.energy_j(lay) - state.energy_j(lay)
    np.testing.assert_allclose(stored, h * (rad + gains - env - vent + nb), rtol=1e-9, atol=1e-6)
    assert abs(float(nb.sum())) < 1e-9
