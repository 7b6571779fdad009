"""The tariff's properties (DOMAIN.md "Dynamic heat accounting"), as hypothesis properties."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.settlement.engine import settle
from cloud.settlement.model import FlatInfo, SettlementResult
from cloud.settlement.money import largest_remainder
from cloud.settlement.synthetic import constant_inputs
from cloud.settlement.tariff import Method, Tariff, default_tariff

FLOOR_C = default_tariff().degree_hours.floor_c
DYNAMIC = [Method.DEGREE_HOURS, Method.BAND_HOURS]

areas = st.floats(20.0, 150.0, allow_nan=False).map(lambda a: round(a, 1))
factors = st.sampled_from([0.7, 0.85, 0.9, 1.0])
temps = st.floats(14.0, 27.0, allow_nan=False).map(lambda t: round(t, 2))
costs = st.integers(0, 200_000_000)
neighbour = st.tuples(areas, factors, temps)


def tariff_for(method: Method, fixed_share: float = 0.45) -> Tariff:
    return default_tariff().model_copy(update={"method": method, "fixed_share": fixed_share})


def run(
    flats: list[FlatInfo], indoor: list[float], method: Method, cost: int = 1_000_000
) -> SettlementResult:
    return settle(constant_inputs(flats, indoor, cost_ore=cost, tariff=tariff_for(method)))


@settings(max_examples=40, deadline=None)
@given(
    rooms=st.lists(neighbour, min_size=1, max_size=8),
    cost=costs,
    method=st.sampled_from(list(Method)),
    f=st.floats(0.0, 0.6),
)
def test_amounts_add_up_to_the_cost_exactly_to_the_ore(
    rooms: list[tuple[float, float, float]], cost: int, method: Method, f: float
) -> None:
    flats = [FlatInfo(f"F{i}", a, pf, hca_units=a) for i, (a, pf, _) in enumerate(rooms)]
    inputs = constant_inputs(
        flats, [t for *_, t in rooms], cost_ore=cost, tariff=tariff_for(method, f)
    )
    result = settle(inputs)
    assert result.total_ore == cost
    assert sum(s.fixed_ore + s.variable_ore for s in result.statements) == cost
    assert sum(s.share for s in result.statements) == 1
    for s in result.statements:
        assert abs(s.amount_ore - s.share * cost) < 1


@pytest.mark.parametrize("method", DYNAMIC)
@settings(max_examples=25, deadline=None)
@given(twin=neighbour, others=st.lists(neighbour, min_size=0, max_size=6))
def test_identical_flats_pay_the_same_whatever_their_neighbours_do(
    method: Method, twin: tuple[float, float, float], others: list[tuple[float, float, float]]
) -> None:
    area, pf, t = twin
    flats = [FlatInfo("A", area, pf), FlatInfo("B", area, pf)]
    flats += [FlatInfo(f"N{i}", a, p) for i, (a, p, _) in enumerate(others)]
    result = run(flats, [t, t] + [x for *_, x in others], method)
    a, b = result.statement("A"), result.statement("B")
    assert a.share == b.share
    assert abs(a.amount_ore - b.amount_ore) <= 1  # one øre of rounding at most


@settings(max_examples=30, deadline=None)
@given(
    area=areas,
    pf=factors,
    t=st.floats(FLOOR_C, 26.0),
    dt=st.floats(0.1, 5.0),
    others=st.lists(neighbour, max_size=4),
)
def test_warmer_pays_more(
    area: float, pf: float, t: float, dt: float, others: list[tuple[float, float, float]]
) -> None:
    flats = [FlatInfo("COOL", area, pf), FlatInfo("WARM", area, pf)]
    flats += [FlatInfo(f"N{i}", a, p) for i, (a, p, _) in enumerate(others)]
    result = run(flats, [t, t + dt] + [x for *_, x in others], Method.DEGREE_HOURS)
    cool, warm = result.statement("COOL"), result.statement("WARM")
    assert warm.share > cool.share
    assert warm.amount_ore >= cool.amount_ore


@settings(max_examples=30, deadline=None)
@given(
    area=areas,
    pf=factors,
    cold=st.floats(5.0, FLOOR_C),
    others=st.lists(neighbour, min_size=1, max_size=5),
)
def test_colder_than_the_floor_pays_as_at_the_floor(
    area: float, pf: float, cold: float, others: list[tuple[float, float, float]]
) -> None:
    flats = [FlatInfo("X", area, pf)] + [
        FlatInfo(f"N{i}", a, p) for i, (a, p, _) in enumerate(others)
    ]
    rest = [x for *_, x in others]
    at_floor = run(flats, [FLOOR_C, *rest], Method.DEGREE_HOURS)
    colder = run(flats, [cold, *rest], Method.DEGREE_HOURS)
    assert [s.amount_ore for s in colder.statements] == [s.amount_ore for s in at_floor.statements]


@pytest.mark.parametrize("method", list(Method))
@settings(max_examples=20, deadline=None)
@given(
    area=areas,
    t=temps,
    pf=st.sampled_from([0.7, 0.85, 0.9, 0.99]),
    others=st.lists(neighbour, max_size=5),
)
def test_an_exposed_flat_pays_no_more_than_an_interior_flat_of_same_area_and_climate(
    method: Method, area: float, t: float, pf: float, others: list[tuple[float, float, float]]
) -> None:
    flats = [
        FlatInfo("EXPOSED", area, pf, hca_units=10.0),
        FlatInfo("INTERIOR", area, 1.0, hca_units=10.0),
    ]
    flats += [FlatInfo(f"N{i}", a, p, hca_units=a) for i, (a, p, _) in enumerate(others)]
    result = run(flats, [t, t] + [x for *_, x in others], method)
    exposed, interior = result.statement("EXPOSED"), result.statement("INTERIOR")
    assert exposed.share < interior.share
    assert exposed.amount_ore <= interior.amount_ore


@settings(max_examples=30, deadline=None)
@given(rooms=st.lists(neighbour, min_size=1, max_size=10), cost=costs, f=st.floats(0.0, 0.6))
def test_area_only_fallback_equals_the_plain_area_split(
    rooms: list[tuple[float, float, float]], cost: int, f: float
) -> None:
    flats = [FlatInfo(f"F{i}", a) for i, (a, _, _) in enumerate(rooms)]
    inputs = constant_inputs(
        flats, [t for *_, t in rooms], cost_ore=cost, tariff=tariff_for(Method.AREA, f)
    )
    result = settle(inputs)
    plain = largest_remainder(cost, [Fraction(a) for a, _, _ in rooms])
    assert [s.amount_ore for s in result.statements] == plain


@settings(max_examples=20, deadline=None)
@given(area=areas, t=st.floats(19.0, 22.0), dt=st.floats(0.5, 4.0))
def test_band_hours_too_warm_pays_more_than_in_band(area: float, t: float, dt: float) -> None:
    flats = [FlatInfo("IN", area), FlatInfo("HOT", area)]
    result = run(flats, [t, 22.0 + dt], Method.BAND_HOURS)
    assert result.statement("HOT").share > result.statement("IN").share


def test_heat_cost_allocator_fallback_splits_the_variable_part_by_units() -> None:
    flats = [FlatInfo("A", 50.0, hca_units=300.0), FlatInfo("B", 50.0, hca_units=100.0)]
    tariff = tariff_for(Method.HCA, 0.4)
    result = settle(constant_inputs(flats, [20.0, 20.0], cost_ore=100_000, tariff=tariff))
    # fixed 40 000 split 50/50, variable 60 000 split 3:1
    assert [s.amount_ore for s in result.statements] == [65_000, 35_000]
    assert [s.fixed_ore for s in result.statements] == [20_000, 20_000]
