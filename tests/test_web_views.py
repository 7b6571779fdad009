"""The pages' view functions on plain data: lights and advice per room, mould levels, chart
columns, menus, the statements' deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.web.texts import ADVICE, MOULD_ADVICE
from cloud.web.views import (
    Latest,
    Series,
    chart_payload,
    mould_level,
    nav,
    rate,
    room_now,
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


def test_a_services_bilingual_message_is_shown_in_the_persons_language() -> None:
    from cloud.settlement.numbers import NumberError, parse_amount
    from cloud.web.common import in_language
    from cloud.web.i18n import Lang

    with pytest.raises(NumberError) as caught:
        parse_amount("250.000")
    danish, english = (
        in_language(str(caught.value), Lang.DA),
        in_language(str(caught.value), Lang.EN),
    )
    assert "tvetydigt" in danish and "ambiguous" not in danish
    assert "ambiguous" in english and "tvetydigt" not in english
    assert in_language("kun dansk", Lang.EN) == "kun dansk"
