"""Ingest's fast path writes exactly the lines the general path would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.store.base import points_from_readings
from cloud.store.lineprotocol import encode_lines, encode_readings
from edge.wire import ID_PATTERN, QUANTITIES, Reading

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
