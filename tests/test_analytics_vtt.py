"""The VTT mould growth model (DOMAIN.md "Mould risk"; Hukka & Viitanen 1999, Ojanen et al. 2010).

Checked against the properties DOMAIN.md lists and against `reference_mould_index`, a plain
scalar implementation written here from the equations, independently of cloud/analytics/vtt.py.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.analytics import vtt
from cloud.analytics.vtt import Sensitivity, VttState

# --- the independent scalar reference -------------------------------------------------------

REFERENCE_CLASSES = {
    # k1 (M < 1), k1 (M >= 1), A, B, C, RHmin — DOMAIN.md table (Ojanen et al. 2010)
    "very-sensitive": (1.0, 2.0, 1.0, 7.0, 2.0, 80.0),
    "sensitive": (0.578, 0.386, 0.3, 6.0, 1.0, 80.0),
    "medium-resistant": (0.072, 0.097, 0.0, 5.0, 1.5, 85.0),
    "resistant": (0.033, 0.014, 0.0, 3.0, 1.0, 85.0),
}


def reference_mould_index(
    series: list[tuple[float, float] | None], sensitivity: str, cmat: float, m0: float = 0.0
) -> list[float]:
    """Hour by hour, one flat, plain Python. None = no reading: bridged by the last reading for
    up to 3 hours, after that M and the dry-spell clock stand still."""
    k1_low, k1_high, a, b, c, rh_min = REFERENCE_CLASSES[sensitivity]
    m = m0
    dry_hours = 0  # hours since the dry spell began
    last: tuple[float, float] | None = None
    hours_without = 0
    result = []
    for reading in series:
        if reading is not None:
            last = reading
            hours_without = 0
            conditions = reading
        else:
            hours_without += 1
            conditions = last if (last is not None and hours_without <= 3) else None
        if conditions is None:
            result.append(m)
            continue
        temp, rh = conditions
        rh = min(rh, 100.0)
        if temp <= 20:
            rh_crit = -0.00267 * temp**3 + 0.160 * temp**2 - 3.13 * temp + 100
            rh_crit = max(rh_crit, rh_min)
        else:
            rh_crit = rh_min
        if temp > 0 and rh >= rh_crit:
            dry_hours = 0
            x = (rh_crit - rh) / (rh_crit - 100) if rh_crit < 100 else 1.0
            m_max = a + b * x - c * x * x
            k1 = k1_low if m < 1 else k1_high
            k2 = max(1 - math.exp(2.3 * (m - m_max)), 0)
            per_day = 1 / (7 * math.exp(-0.68 * math.log(temp) - 13.9 * math.log(rh) + 66.02))
            m = min(m + k1 * k2 * per_day / 24, max(m, m_max))
        else:
            if dry_hours < 6:
                m -= cmat * 0.00133
            elif dry_hours >= 24:
                m -= cmat * 0.000667
            dry_hours += 1
        m = min(max(m, 0.0), 6.0)
        result.append(m)
    return result


# --- known properties ------------------------------------------------------------------------


def test_sensitive_surface_at_22c_90pct_rises_towards_3_05_and_never_above() -> None:
    hours = 24 * 365
    m, _ = vtt.run(np.full(hours, 22.0), np.full(hours, 90.0), Sensitivity.SENSITIVE)
    assert np.all(np.diff(m) >= 0)
    assert m.max() <= 3.05
    assert m[-1] == pytest.approx(3.05, abs=0.01)


@pytest.mark.parametrize(
    ("sensitivity", "rh", "expected_mmax", "years"),
    [
        pytest.param(Sensitivity.VERY_SENSITIVE, 100.0, 6.0, 0.5, id="very sensitive: 1+7-2"),
        pytest.param(Sensitivity.SENSITIVE, 100.0, 5.3, 0.5, id="sensitive, 100 %: 0.3+6-1"),
        pytest.param(Sensitivity.MEDIUM_RESISTANT, 100.0, 3.5, 1, id="medium resistant: 5-1.5"),
        pytest.param(Sensitivity.RESISTANT, 100.0, 2.0, 3, id="resistant: 3-1, slow"),
        pytest.param(Sensitivity.SENSITIVE, 90.0, 3.05, 1, id="sensitive, 90 %: x=0.5"),
    ],
)
def test_steady_state_maxima_per_class(
    sensitivity: Sensitivity, rh: float, expected_mmax: float, years: float
) -> None:
    material = vtt.MATERIALS[sensitivity]
    crit = vtt.rh_crit_pct(22.0, material.rh_min_pct)
    assert float(vtt.m_max(rh, crit, material)) == pytest.approx(expected_mmax)
    hours = int(24 * 365 * years)
    m, _ = vtt.run(np.full(hours, 22.0), np.full(hours, rh), sensitivity)
    assert m.max() <= expected_mmax + 1e-12
    assert m[-1] > expected_mmax - 0.15


def test_per_day_rate_applied_per_hour_is_the_known_bug() -> None:
    """DOMAIN.md: applying the per-day rate per hour exceeds 2.5 within a week; right is slow."""
    week = 24 * 7
    m, _ = vtt.run(np.full(week, 22.0), np.full(week, 90.0), Sensitivity.SENSITIVE)
    assert m[-1] < 1.0
    buggy, _ = vtt.run(
        np.full(week, 22.0), np.full(week, 90.0), Sensitivity.SENSITIVE, dt_hours=24.0
    )  # each hour treated as a day
    assert buggy.max() > 2.5


def test_decline_phases() -> None:
    """Cmat × (−0.00133/h for t ≤ 6 h; 0 for 6 < t ≤ 24 h; −0.000667/h after 24 h)."""
    start = VttState(
        m=np.array([2.0, 2.0]),
        dry_hours=np.zeros(2),
        last_temperature_c=np.full(2, np.nan),
        last_humidity_pct=np.full(2, np.nan),
        stale_hours=np.full(2, np.inf),
    )
    hours = 48
    dry = np.full((hours, 2), 20.0), np.full((hours, 2), 50.0)
    m, state = vtt.run(*dry, Sensitivity.SENSITIVE, cmat=1.0, state=start)
    drop = 2.0 - m[:, 0]
    assert drop[5] == pytest.approx(6 * 0.00133)  # after 6 dry hours
    assert drop[23] == pytest.approx(6 * 0.00133)  # no decline during hours 7-24
    assert drop[47] == pytest.approx(6 * 0.00133 + 24 * 0.000667)
    assert state.dry_hours[0] == 48
    half, _ = vtt.run(*dry, Sensitivity.SENSITIVE, cmat=0.5, state=start)
    assert 2.0 - half[47, 0] == pytest.approx(drop[47] / 2)


def test_a_wet_hour_restarts_the_dry_spell_clock() -> None:
    temps = np.array([20.0] * 30 + [22.0] + [20.0] * 6)
    rhs = np.array([50.0] * 30 + [95.0] + [50.0] * 6)
    start = VttState.initial(1, m0=2.0)
    m, _ = vtt.run(temps[:, None], rhs[:, None], Sensitivity.SENSITIVE, state=start)
    after_wet = m[30:, 0]
    np.testing.assert_allclose(-np.diff(after_wet), 0.00133)  # fast phase again


@pytest.mark.parametrize(
    ("m0", "temperature", "rh", "low", "high"),
    [
        pytest.param(0.0, 20.0, 40.0, 0.0, 0.0, id="dry clean surface stays at 0"),
        pytest.param(0.0005, 20.0, 40.0, 0.0, 0.0, id="decline clamps at 0"),
        pytest.param(6.0, 25.0, 100.0, 6.0, 6.0, id="very sensitive at 100 % stays at 6"),
    ],
)
def test_clamping_to_0_6(m0: float, temperature: float, rh: float, low: float, high: float) -> None:
    hours = 24 * 30
    m, _ = vtt.run(
        np.full(hours, temperature),
        np.full(hours, rh),
        Sensitivity.VERY_SENSITIVE,
        state=VttState.initial(1, m0=m0),
    )
    assert low <= m.min() and m.max() <= high


@pytest.mark.parametrize(
    ("temperature", "rh"),
    [
        pytest.param(0.0, 99.0, id="0 °C: no growth"),
        pytest.param(-3.0, 100.0, id="frost: no growth"),
        pytest.param(22.0, 79.9, id="sensitive: RH below RHmin 80"),
        pytest.param(5.0, 88.0, id="5 °C: RHcrit(5) ≈ 88.02 %"),
    ],
)
def test_no_growth_below_0c_or_rh_crit(temperature: float, rh: float) -> None:
    hours = 24 * 60
    m, _ = vtt.run(np.full(hours, temperature), np.full(hours, rh), Sensitivity.VERY_SENSITIVE)
    assert m.max() == 0.0


def test_rh_crit_curve() -> None:
    assert float(vtt.rh_crit_pct(20.0, 80.0)) == pytest.approx(80.04, abs=0.01)
    assert float(vtt.rh_crit_pct(5.0, 80.0)) == pytest.approx(88.02, abs=0.01)
    assert float(vtt.rh_crit_pct(20.0, 85.0)) == 85.0  # never below RHmin
    assert float(vtt.rh_crit_pct(30.0, 80.0)) == 80.0


# --- gaps and incremental runs --------------------------------------------------------------


def test_short_gaps_are_bridged_long_gaps_freeze() -> None:
    wet = np.full(48, 24.0), np.full(48, 95.0)
    base, state = vtt.run(*wet, Sensitivity.SENSITIVE)
    gap_t = np.array([np.nan] * 3 + [np.nan] * 5)
    m_gap, _ = vtt.run(gap_t, gap_t, Sensitivity.SENSITIVE, state=state)
    assert np.all(np.diff(np.concatenate([[base[-1]], m_gap[:3]])) > 0)  # bridged: grows on
    assert np.all(m_gap[3:] == m_gap[2])  # beyond 3 h: frozen


def test_incremental_runs_equal_one_run_even_through_json() -> None:
    rng = np.random.default_rng(3)
    hours, flats = 24 * 20, 5
    temps = rng.uniform(-2, 26, (hours, flats))
    rhs = rng.uniform(60, 100, (hours, flats))
    temps[100:103, 1] = np.nan  # a short gap across the split point
    whole, final = vtt.run(temps, rhs, Sensitivity.VERY_SENSITIVE, cmat=0.5)
    first, state = vtt.run(temps[:101], rhs[:101], Sensitivity.VERY_SENSITIVE, cmat=0.5)
    state = VttState.from_dict(json.loads(json.dumps(state.to_dict())))
    second, final2 = vtt.run(temps[101:], rhs[101:], Sensitivity.VERY_SENSITIVE, 0.5, state)
    np.testing.assert_allclose(np.vstack([first, second]), whole)
    np.testing.assert_allclose(final2.dry_hours, final.dry_hours)


def test_hours_above_thresholds() -> None:
    rh = np.array([[70.0, 90.0], [76.0, np.nan], [81.0, 79.0]])
    np.testing.assert_array_equal(vtt.hours_above(rh, 75.0), [2.0, 2.0])
    np.testing.assert_array_equal(vtt.hours_above(rh, 80.0), [1.0, 1.0])


def test_step_is_one_row_of_run() -> None:
    state = VttState.initial(2)
    after = vtt.step(state, np.array([22.0, 10.0]), np.array([95.0, 50.0]), Sensitivity.SENSITIVE)
    assert after.m[0] > 0 and after.m[1] == 0
    assert after.dry_hours.tolist() == [0.0, 1.0]


# --- the vectorised model against the reference ---------------------------------------------

hourly = st.one_of(
    st.none(),
    st.tuples(  # on a 0.1 grid, as loggers report
        st.integers(min_value=-100, max_value=350).map(lambda t: t / 10),
        st.integers(min_value=600, max_value=1050).map(lambda rh: rh / 10),
    ),
)


SERIES_HOURS = 150


@settings(max_examples=60, deadline=None)
@given(
    flats=st.lists(
        # spells: a condition held for 1-40 hours, so long dry spells and gaps occur
        st.lists(st.tuples(hourly, st.integers(1, 40)), min_size=1, max_size=12).map(
            lambda spells: (
                [c for c, n in spells for _ in range(n)][:SERIES_HOURS]
                + [None] * max(0, SERIES_HOURS - sum(n for _, n in spells))
            )
        ),
        min_size=1,
        max_size=3,
    ),
    sensitivity=st.sampled_from(list(REFERENCE_CLASSES)),
    cmat=st.sampled_from([1.0, 0.5, 0.25, 0.1]),
    m0=st.floats(min_value=0, max_value=6),
)
def test_vectorised_model_agrees_with_the_scalar_reference(
    flats: list[list[tuple[float, float] | None]], sensitivity: str, cmat: float, m0: float
) -> None:
    temps = np.array([[np.nan if r is None else r[0] for r in flat] for flat in flats]).T
    rhs = np.array([[np.nan if r is None else r[1] for r in flat] for flat in flats]).T
    m, _ = vtt.run(
        temps, rhs, Sensitivity(sensitivity), cmat, state=VttState.initial(len(flats), m0=m0)
    )
    for j, flat in enumerate(flats):
        expected = reference_mould_index(flat, sensitivity, cmat, m0)
        np.testing.assert_allclose(m[:, j], expected, rtol=1e-9, atol=1e-12)
