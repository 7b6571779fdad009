"""Ingest's fast path writes exactly the lines the general path would."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.store import lineprotocol
from cloud.store.base import points_from_readings
from cloud.store.lineprotocol import LineProtocolError, encode_lines, encode_readings
from edge.wire import ID_PATTERN, QUANTITIES, Reading

T0 = 1_767_225_600_000
ids = st.from_regex(ID_PATTERN, fullmatch=True)
readings = st.builds(
    Reading,
    time_ms=st.integers(946_684_800_000, 4_102_444_800_000),
    building=ids,
    flat=ids,
    room=ids,
    sensor=ids,
    values=st.dictionaries(
        st.sampled_from(sorted(QUANTITIES)),
        st.floats(allow_nan=False, allow_infinity=False),
        min_size=1,
    ),
    flags=st.lists(
        st.text(max_size=12).filter(
            lambda t: "\n" not in t and "\\" not in t and "\r" not in t and "\x00" not in t
        ),
        max_size=2,
    ).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(readings, max_size=20))
def test_encode_readings_equals_encode_lines_of_points(batch: list[Reading]) -> None:
    assert encode_readings(batch) == encode_lines(points_from_readings(batch))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(readings, max_size=8), min_size=2, max_size=4))
def test_a_float_cache_kept_across_calls_changes_nothing(batches: list[list[Reading]]) -> None:
    texts: dict[float, str] = {}
    for batch in batches:
        assert encode_readings(batch, texts) == encode_lines(points_from_readings(batch))


def test_float_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lineprotocol, "FLOAT_TEXTS_MAX", 5)
    texts: dict[float, str] = {}
    batch = [
        Reading(time_ms=T0 + i, building="B", flat="F", room="r", sensor="s",
                values={"temperature_c": 20.0 + i / 100})
        for i in range(23)
    ]  # fmt: skip
    lines = encode_readings(batch, texts)
    assert lines[-1].startswith("climate,building=B,flat=F,room=r,sensor=s temperature_c=20.22 ")
    assert 0 < len(texts) <= 5


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_are_refused_with_the_series(bad: float) -> None:
    reading = Reading(
        time_ms=T0, building="B", flat="F", room="r", sensor="s", values={"co2_ppm": bad}
    )
    with pytest.raises(LineProtocolError, match=r"co2_ppm=.* of climate,.*sensor=s is not finite"):
        encode_readings([reading], {})


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(readings, st.sampled_from(["gw-a", "gw-b", ""])), max_size=20))
def test_gateway_tags_on_both_paths(pairs: list[tuple[Reading, str]]) -> None:
    """Ingest passes each reading's gateway: the same tag on the fast and the general path."""
    batch = [r for r, _ in pairs]
    gateways = [g for _, g in pairs]
    lines = encode_readings(batch, {}, gateways)
    assert lines == encode_lines(points_from_readings(batch, gateways))
    for line, gateway in zip(lines, gateways, strict=True):
        assert (f",gateway={gateway}" in line.split(" ", 1)[0]) == bool(gateway)
