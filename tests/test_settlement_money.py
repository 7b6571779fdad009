"""Money in øre, largest remainder, payment terms, the tariff file, and running estimates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.settlement import tariff as tariff_module
from cloud.settlement.engine import due_date, instalments, settle
from cloud.settlement.estimate import HEAT_SHARE, heat_share_points, running_estimate
from cloud.settlement.model import FlatInfo
from cloud.settlement.money import MoneyError, format_dkk, largest_remainder, to_ore
from cloud.settlement.synthetic import constant_inputs
from cloud.settlement.tariff import (
    TariffError,
    default_tariff,
    load_tariff,
    parse_tariff,
    tariff_sha256,
)


@pytest.mark.parametrize(
    ("text", "ore"),
    [
        ("412345.50", 41_234_550),
        ("412345,5", 41_234_550),
        ("0", 0),
        (" 10 ", 1_000),
        (Decimal("1.01"), 101),
    ],
)
def test_kroner_to_ore(text: str | Decimal, ore: int) -> None:
    assert to_ore(text) == ore


@pytest.mark.parametrize("bad", ["1.005", "abc", "NaN", ""])
def test_amounts_that_are_not_whole_ore_are_refused(bad: str) -> None:
    with pytest.raises(MoneyError):
        to_ore(bad)


@pytest.mark.parametrize(
    ("ore", "text"), [(123456, "1234,56"), (-5, "-0,05"), (0, "0,00"), (100, "1,00")]
)
def test_format_dkk_uses_decimal_comma(ore: int, text: str) -> None:
    assert format_dkk(ore) == text


@pytest.mark.parametrize(
    ("name", "total", "weights", "parts"),
    [
        ("three equal, one øre left", 100, [1, 1, 1], [34, 33, 33]),
        ("largest remainder wins", 10, [1, 2, 7], [1, 2, 7]),
        ("remainders 0.5/0.3/0.2", 1, [5, 3, 2], [1, 0, 0]),
        ("zero weight gets nothing", 99, [0, 1], [0, 99]),
    ],
)
def test_largest_remainder_known_values(
    name: str, total: int, weights: list[int], parts: list[int]
) -> None:
    assert largest_remainder(total, [Fraction(w) for w in weights]) == parts, name


@settings(max_examples=50, deadline=None)
@given(
    total=st.integers(0, 10**10),
    weights=st.lists(st.fractions(min_value=0, max_value=1000), min_size=1, max_size=30).filter(
        any
    ),
)
def test_largest_remainder_adds_up_and_stays_within_one_ore(
    total: int, weights: list[Fraction]
) -> None:
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    s = sum(weights)
    assert all(abs(p - total * w / s) < 1 for p, w in zip(parts, weights, strict=True))


@pytest.mark.parametrize(
    ("statement", "months", "due"),
    [
        (date(2026, 5, 10), 3, date(2026, 9, 1)),
        (date(2026, 5, 1), 3, date(2026, 8, 1)),
        (date(2026, 11, 30), 3, date(2027, 3, 1)),
        (date(2026, 5, 10), 0, date(2026, 6, 1)),
    ],
)
def test_due_date_is_the_first_rent_day_after_the_notice(
    statement: date, months: int, due: date
) -> None:
    assert due_date(statement, months) == due


def test_back_payment_above_three_months_rent_is_split_in_instalments() -> None:
    flats = [
        FlatInfo("BIG", 80.0, aconto_ore=0, monthly_rent_ore=100_000),  # owes 50 000 kr > 3 x 1 000
        FlatInfo("SMALL", 80.0, aconto_ore=0, monthly_rent_ore=10_000_000),
    ]
    result = settle(constant_inputs(flats, [21.0, 21.0], cost_ore=10_000_000))
    big, small = result.statement("BIG"), result.statement("SMALL")
    assert big.balance_ore == 5_000_000 and "instalments" in big.flags
    assert len(big.instalments) == 12 and sum(a for _, a in big.instalments) == big.balance_ore
    assert big.instalments[0][0] == big.due_date
    assert small.instalments == () and "instalments" not in small.flags
    assert instalments(100, date(2026, 1, 1), 3) == (
        (date(2026, 1, 1), 34),
        (date(2026, 2, 1), 33),
        (date(2026, 3, 1), 33),
    )


def test_refund_is_a_negative_balance() -> None:
    flats = [FlatInfo("A", 50.0, aconto_ore=600_000)]
    s = settle(constant_inputs(flats, [21.0], cost_ore=500_000)).statement("A")
    assert s.balance_ore == -100_000 and s.instalments == ()


def test_default_tariff_ships_validated_and_hash_ignores_comments(tmp_path: Path) -> None:
    tariff = default_tariff()
    assert tariff.version == "2026.1"
    assert 1 - tariff.fixed_share >= 0.4  # at least 40 % by consumption
    text = Path(tariff_module.__file__).with_name("default_tariff.toml").read_text(encoding="utf-8")
    other = tmp_path / "t.toml"
    other.write_text("# a comment\n" + text, encoding="utf-8")
    assert tariff_sha256(load_tariff(other)) == tariff_sha256(tariff)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('version = "x"\nfixed_share = 0.7', "fixed_share"),
        ('version = "x"\nmethod = "radiators"', "method"),
        ("fixed_share = 0.4", "version"),
        ('version = "x"\n[band_hours]\ntemperature_min_c = 23.0', "temperature_min_c"),
        ("version = ", "TOML"),
    ],
)
def test_bad_tariffs_are_refused_with_the_field_named(toml: str, message: str) -> None:
    with pytest.raises(TariffError, match=message):
        parse_tariff(toml, "t.toml")


def test_running_estimate_applies_the_share_so_far_to_the_expected_cost() -> None:
    flats = [FlatInfo("A", 50.0), FlatInfo("B", 50.0)]
    inputs = constant_inputs(flats, [20.0, 23.0], days=4, cost_ore=1_000_000)
    inputs.climate.temperature_c[0, 48:] = 30.0  # A turns the heat up on day 3
    as_of = datetime(2026, 1, 2, 12, tzinfo=UTC)  # 1.5 days in: only day 1 counts
    estimate = running_estimate(inputs, as_of)
    assert sum(e.estimated_ore for e in estimate) == 1_000_000
    assert estimate[1].estimated_ore > estimate[0].estimated_ore
    final = settle(inputs)
    assert final.statement("A").amount_ore > final.statement("B").amount_ore
    points = heat_share_points("B1", estimate, as_of)
    assert [p.measurement for p in points] == [HEAT_SHARE, HEAT_SHARE]
    assert points[0].tags == {"building": "B1", "flat": "A"}
    assert points[0].fields["estimated_dkk"] == estimate[0].estimated_ore / 100
    assert points[0].time_ns == int(as_of.timestamp()) * 10**9
    assert np.isclose(sum(float(p.fields["share_pct"]) for p in points), 100.0)
