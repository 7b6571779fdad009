"""Line protocol formatting and InfluxQL quoting (pure); the server round trip is in
tests/test_store_contract.py.

Vectors from the InfluxDB 1.x line protocol reference, "Special characters":
https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/#special-characters
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.store.base import Point
from cloud.store.lineprotocol import (
    LineProtocolError,
    duration_literal,
    encode_chunks,
    encode_lines,
    format_value,
    quote_ident,
    quote_string,
    series_prefix,
)

PREFIX_VECTORS = [
    ("plain", "climate", {"flat": "A-12"}, "climate,flat=A-12"),
    ("tags sorted by key", "m", {"b": "2", "a": "1"}, "m,a=1,b=2"),
    ("measurement comma and space", "my m,x", {}, r"my\ m\,x"),
    ("measurement equals kept", "a=b", {}, "a=b"),
    ("tag comma", "m", {"k": "a,b"}, r"m,k=a\,b"),
    ("tag equals", "m", {"k": "a=b"}, r"m,k=a\=b"),
    ("tag space", "m", {"k": "a b"}, r"m,k=a\ b"),
    ("tag key escaped", "m", {"my key": "v"}, r"m,my\ key=v"),
    ("quotes need no escape in tags", "m", {"k": 'O\'Brien "x"'}, 'm,k=O\'Brien\\ "x"'),
    ("empty tag value left out", "m", {"a": "", "b": "1"}, "m,b=1"),
    ("unicode kept", "m", {"by": "Åbyhøj"}, "m,by=Åbyhøj"),
]


@pytest.mark.parametrize(
    ("measurement", "tags", "expected"),
    [v[1:] for v in PREFIX_VECTORS],
    ids=[v[0] for v in PREFIX_VECTORS],
)
def test_series_prefix_escapes_as_documented(
    measurement: str, tags: dict[str, str], expected: str
) -> None:
    assert series_prefix(measurement, tags) == expected


VALUE_VECTORS = [
    ("float", 21.5, "21.5"),
    ("int written as float, not 1i", 1, "1.0"),
    ("negative", -3.25, "-3.25"),
    ("large float in exponent form", 1e16, "1e+16"),
    ("small float", 1.5e-7, "1.5e-07"),
    ("true", True, "true"),
    ("false", False, "false"),
    ("string", "ok", '"ok"'),
    ("string with quotes", 'say "hi"', r'"say \"hi\""'),
    ("string with backslash", "a\\b", r'"a\\b"'),
    ("string ending in backslash", "end\\", r'"end\\"'),
    ("empty string", "", '""'),
]


@pytest.mark.parametrize(
    ("value", "expected"), [v[1:] for v in VALUE_VECTORS], ids=[v[0] for v in VALUE_VECTORS]
)
def test_field_values_are_formatted_as_documented(value: float | str | bool, expected: str) -> None:
    assert format_value(value) == expected


REFUSED = [
    ("newline in tag value", Point("m", {"k": "a\nb"}, {"f": 1.0}, 1)),
    ("carriage return in tag key", Point("m", {"k\r": "a"}, {"f": 1.0}, 1)),
    ("backslash in tag value", Point("m", {"k": "a\\"}, {"f": 1.0}, 1)),
    ("NUL in tag value (InfluxQL cannot quote it)", Point("m", {"k": "a\x00"}, {"f": 1.0}, 1)),
    ("backslash in measurement", Point("m\\", {}, {"f": 1.0}, 1)),
    ("empty measurement", Point("", {}, {"f": 1.0}, 1)),
    ("comment measurement", Point("#m", {}, {"f": 1.0}, 1)),
    ("reserved tag key time", Point("m", {"time": "x"}, {"f": 1.0}, 1)),
    ("reserved field key time", Point("m", {}, {"time": 1.0}, 1)),
    ("empty field key", Point("m", {}, {"": 1.0}, 1)),
    ("NaN", Point("m", {}, {"f": float("nan")}, 1)),
    ("infinity", Point("m", {}, {"f": float("-inf")}, 1)),
    ("no fields", Point("m", {}, {}, 1)),
    ("bytes value", Point("m", {}, {"f": b"x"}, 1)),  # type: ignore[dict-item]
]


@pytest.mark.parametrize("point", [v[1] for v in REFUSED], ids=[v[0] for v in REFUSED])
def test_what_line_protocol_cannot_carry_is_refused(point: Point) -> None:
    with pytest.raises(LineProtocolError):
        encode_lines([point])


def test_a_whole_line() -> None:
    point = Point(
        "climate",
        {"building": "B1", "flat": "A 12", "room": "stue", "sensor": "s1"},
        {"temperature_c": 21.5, "co2_ppm": 612, "flags": 'stuck:"x"', "ok": True},
        1_700_000_000_123_456_789,
    )
    assert encode_lines([point]) == [
        r"climate,building=B1,flat=A\ 12,room=stue,sensor=s1 "
        r'temperature_c=21.5,co2_ppm=612.0,flags="stuck:\"x\"",ok=true 1700000000123456789'
    ]


def test_chunks_hold_at_most_the_given_lines_and_lose_none() -> None:
    points = [Point("m", {"k": str(i % 3)}, {"f": float(i)}, i) for i in range(11)]
    chunks = list(encode_chunks(points, chunk_lines=4))
    assert [len(c.split(b"\n")) for c in chunks] == [4, 4, 3]
    assert b"\n".join(chunks).decode().split("\n") == encode_lines(points)


QUOTE_VECTORS = [
    ("plain", "flat", '"flat"', "'flat'"),
    ("single quote", "O'Brien", '"O\'Brien"', r"'O\'Brien'"),
    ("double quote", 'a"b', r'"a\"b"', "'a\"b'"),
    ("backslash", "a\\b", r'"a\\b"', r"'a\\b'"),
    ("injection", "x' OR '1'='1", "\"x' OR '1'='1\"", r"'x\' OR \'1\'=\'1'"),
    ("newline", "a\nb", r'"a\nb"', r"'a\nb'"),
]


@pytest.mark.parametrize(
    ("text", "ident", "literal"), [v[1:] for v in QUOTE_VECTORS], ids=[v[0] for v in QUOTE_VECTORS]
)
def test_influxql_quoting(text: str, ident: str, literal: str) -> None:
    assert quote_ident(text) == ident
    assert quote_string(text) == literal


@given(st.text())
def test_a_quoted_string_literal_never_ends_early(text: str) -> None:
    """Every quote inside the literal is escaped, so the value cannot close it."""
    literal = quote_string(text)[1:-1]
    unescaped = literal.replace("\\\\", "").replace("\\'", "")
    assert "'" not in unescaped


DURATIONS = [
    ("hour", 3_600 * 10**9, "1h"),
    ("day", 86_400 * 10**9, "1d"),
    ("week", 7 * 86_400 * 10**9, "1w"),
    ("90 minutes", 5_400 * 10**9, "90m"),
    ("15 minutes", 900 * 10**9, "15m"),
    ("1.5 s", 1_500_000_000, "1500ms"),
    ("microsecond", 1_000, "1u"),
    ("nanoseconds", 7, "7ns"),
]


@pytest.mark.parametrize(
    ("ns", "literal"), [v[1:] for v in DURATIONS], ids=[v[0] for v in DURATIONS]
)
def test_duration_literal(ns: int, literal: str) -> None:
    assert duration_literal(ns) == literal


def test_duration_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        duration_literal(0)


def test_repeated_values_and_signed_zeros_keep_their_own_text() -> None:
    """Float texts are cached per batch; -0.0 equals 0.0 as a dict key, so zeros are not."""
    values = [0.0, -0.0, 1.5, 1.5, -0.0, 1e-300]
    points = [Point("m", {}, {"f": v}, i) for i, v in enumerate(values)]
    assert [line.split()[1] for line in encode_lines(points)] == [
        "f=0.0", "f=-0.0", "f=1.5", "f=1.5", "f=-0.0", "f=1e-300"
    ]  # fmt: skip
