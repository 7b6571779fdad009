"""The pages' view functions on plain data: lights and advice per room, mould levels, chart
columns, menus, the statements' deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from cloud.web.texts import ADVICE, MOULD_ADVICE
from cloud.web.views import (
    AmountError,
    Latest,
    Series,
    chart_payload,
    mould_level,
    nav,
    parse_amount_dkk,
    rate,
    room_now,
    statement_deadline,
)

JAN = datetime(2026, 1, 15, 12, tzinfo=UTC)
JUL = datetime(2026, 7, 15, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("quantity", "value", "moment", "light", "direction"),
    [
        ("co2_ppm", 600, JAN, "green", None),
        ("co2_ppm", 1220, JAN, "green", None),  # 800 above outdoor: category II, normal design
        ("co2_ppm", 1221, JAN, "yellow", "high"),
        ("co2_ppm", 1771, JAN, "red", "high"),
        ("humidity_pct", 45, JAN, "green", None),
        ("humidity_pct", 65, JAN, "yellow", "high"),
        ("humidity_pct", 27, JAN, "yellow", "low"),
        ("humidity_pct", 75, JAN, "red", "high"),
        ("temperature_c", 21, JAN, "green", None),
        ("temperature_c", 18.5, JAN, "yellow", "low"),
        ("temperature_c", 16, JAN, "red", "low"),
        ("temperature_c", 26, JAN, "red", "high"),
        ("temperature_c", 26, JUL, None, None),  # outside the heating season: not rated
        ("co2_ppm", None, JAN, None, None),
        ("co2_ppm", float("nan"), JAN, None, None),
    ],
)
def test_rate_follows_the_comfort_bands(
    quantity: str, value: float | None, moment: datetime, light: str | None, direction: str | None
) -> None:
    rated = rate(quantity, value, moment)
    assert (rated.light, rated.direction) == (light, direction)


@pytest.mark.parametrize(
    ("latest", "light", "advice"),
    [
        (Latest(JAN, 21.0, 45.0, 700.0), "green", "good"),
        (Latest(JAN, 21.0, 45.0, 1400.0), "yellow", "co2_high"),
        (Latest(JAN, 21.0, 45.0, 2000.0), "red", "co2_very_high"),
        (Latest(JAN, 21.0, 75.0, 700.0), "red", "humid"),
        (Latest(JAN, 21.0, 22.0, 700.0), "yellow", "dry"),
        (Latest(JAN, 16.0, 45.0, 700.0), "red", "cold"),
        (Latest(JAN, 24.0, 45.0, 700.0), "yellow", "warm"),
        # the worst quantity decides: red humidity beats yellow CO2
        (Latest(JAN, 21.0, 75.0, 1400.0), "red", "humid"),
        (Latest(JAN, None, None, None), None, "good"),
    ],
)
def test_one_sentence_of_advice_for_the_worst_quantity(
    latest: Latest, light: str | None, advice: str
) -> None:
    room = room_now("stue", latest, JAN + timedelta(minutes=5))
    assert room.light == light
    assert room.advice == ADVICE[advice]


def test_an_old_reading_is_not_rated_good() -> None:
    room = room_now("stue", Latest(JAN, 21.0, 45.0, 600.0), JAN + timedelta(hours=2))
    assert room.stale and room.light is None
    assert room.advice == ADVICE["no_data"]
    assert all(q.light is None for q in room.quantities)


@pytest.mark.parametrize(
    ("index", "level"), [(0.0, "none"), (0.5, "low"), (1.0, "warn"), (2.99, "warn"), (3.0, "alarm")]
)
def test_mould_levels_warn_at_1_and_alarm_at_3(index: float, level: str) -> None:
    assert mould_level(index) == level
    assert level in MOULD_ADVICE


def test_chart_columns_align_rooms_on_the_union_of_times() -> None:
    t0, t1, t2 = JAN, JAN + timedelta(hours=1), JAN + timedelta(hours=2)
    payload = chart_payload(
        [
            Series("stue", [t0, t1], {"temperature_c_mean": [21.04, float("nan")]}),
            Series("bad", [t1, t2], {"temperature_c_mean": [22.0, None]}),
        ],
        "temperature_c_mean",
    )
    assert payload == {
        "x": [int(t0.timestamp()), int(t1.timestamp()), int(t2.timestamp())],
        "series": [
            {"label": "stue", "values": [21.04, None, None]},
            {"label": "bad", "values": [None, 22.0, None]},
        ],
    }


def test_menu_marks_the_longest_matching_entry() -> None:
    items = [("/", "Nu"), ("/charts", "Grafer"), ("/my-data", "Mine data")]
    assert [i.current for i in nav(items, "/")] == [True, False, False]
    assert [i.current for i in nav(items, "/charts")] == [False, True, False]
    assert [i.current for i in nav(items, "/my-data/export")] == [False, False, True]
    assert [i.current for i in nav(items, "/chartsX")] == [False, False, False]


@pytest.mark.parametrize(
    ("end", "deadline"),
    [
        (datetime(2026, 4, 30, 22, tzinfo=UTC), date(2026, 8, 31)),  # May 1st 00:00 local (CEST)
        (datetime(2025, 12, 31, 23, tzinfo=UTC), date(2026, 4, 30)),  # Jan 1st 00:00 local (CET)
        (datetime(2026, 9, 30, 22, tzinfo=UTC), date(2027, 1, 31)),  # across a year end
    ],
)
def test_statements_are_due_4_months_after_the_accounting_year(
    end: datetime, deadline: date
) -> None:
    assert statement_deadline(end) == deadline


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("250000", "250000"),
        ("250000,50", "250000.50"),
        ("250.000,00", "250000.00"),
        ("1.250.000,5", "1250000.5"),
        ("250 000,00", "250000.00"),
        ("250\u00a0000", "250000"),
        (" 412345,50 ", "412345.50"),
    ],
)
def test_danish_amounts_are_read_as_a_dane_means_them(text: str, amount: str) -> None:
    assert parse_amount_dkk(text) == Decimal(amount)


@pytest.mark.parametrize(
    "text", ["250.000", "250.00", "2.50,00", "250000,005", "-5", "0", "", "12a", "1,2,3", "1e5"]
)
def test_ambiguous_or_malformed_amounts_are_refused(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount_dkk(text)
