"""InfluxDB line protocol: points as text lines, and InfluxQL quoting. Pure functions, no I/O.

Rules from the InfluxDB 1.x line protocol reference
(https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/#special-characters)
and checked against the Debian ``influxdb`` 1.6.7 server (tests/test_lineprotocol.py,
tests/test_store_contract.py):

- measurement: escape commas and spaces;
- tag keys, tag values, field keys: escape commas, equals signs and spaces;
- string field values: double-quoted, escape double quotes and backslashes;
- a tag with an empty value is no tag (the server refuses ``a=``), so it is left out;
- ``time`` is refused as a tag or field key; a line starting with ``#`` is a comment.

What the format cannot carry is refused up front with `LineProtocolError` rather than written
wrongly: line breaks in names and tag values, and backslashes there (a trailing backslash, or one
before an escaped character, makes 1.x misread the line); NUL characters, which line protocol
takes but InfluxQL cannot quote, so such a tag could never be queried.

Floats are written with Python's shortest round-trip ``repr``; ints are written as floats so
that a field never changes type (``1`` and ``1.0`` would otherwise be an integer and a float
field: a type conflict).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from cloud.store.base import CLIMATE

if TYPE_CHECKING:
    from cloud.store.base import FieldValue, Point
    from edge.wire import Reading

CHUNK_LINES: Final = 5_000
"""Lines per ``/write`` request; InfluxData recommends batches of 5,000 points
(https://docs.influxdata.com/influxdb/v1/guides/write_data/#writing-multiple-points)."""

FLOAT_TEXTS_MAX: Final = 100_000
"""Distinct float texts a formatting cache keeps; it starts over when full (a few MB)."""
RESERVED_KEYS: Final = frozenset({"time"})
_FORBIDDEN: Final = ("\n", "\r", "\\", "\x00")
_TAG_ESCAPES: Final = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_MEASUREMENT_ESCAPES: Final = str.maketrans({",": r"\,", " ": r"\ "})


class LineProtocolError(ValueError):
    """A name, tag or value that line protocol cannot carry; the message names it."""


def check_name(kind: str, name: str) -> None:
    """Refuse a measurement, tag key, field key or tag value line protocol cannot carry."""
    if not name and kind != "tag value":
        raise LineProtocolError(f"empty {kind}; give it a name")
    for bad in _FORBIDDEN:
        if bad in name:
            raise LineProtocolError(
                f"{kind} {name!r} contains {bad!r}, which InfluxDB line protocol cannot carry; "
                "remove it"
            )
    if kind in ("tag key", "field key") and name in RESERVED_KEYS:
        raise LineProtocolError(f"{kind} {name!r} is reserved by InfluxDB; rename it")
    if kind == "measurement" and name.startswith("#"):
        raise LineProtocolError(f"measurement {name!r} starts with '#' (a comment); rename it")


def escape_measurement(name: str) -> str:
    check_name("measurement", name)
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_key(kind: str, name: str) -> str:
    """A tag key, tag value or field key, escaped."""
    check_name(kind, name)
    return name.translate(_TAG_ESCAPES)


def series_prefix(measurement: str, tags: Mapping[str, str]) -> str:
    """``measurement,k1=v1,k2=v2`` with tags sorted by key (as InfluxDB recommends) and
    empty-valued tags left out."""
    parts = [escape_measurement(measurement)]
    for key in sorted(tags):
        value = tags[key]
        check_name("tag value", value)
        if value:
            parts.append(f"{escape_key('tag key', key)}={value.translate(_TAG_ESCAPES)}")
    return ",".join(parts)


def format_value(value: FieldValue) -> str:
    """A field value: float (ints too), ``true``/``false`` or a quoted string."""
    kind = type(value)
    if kind is float or kind is int:
        text = repr(float(value))
        if text[-1] in "nf":  # 'nan', 'inf', '-inf'
            raise LineProtocolError(f"field value {value!r} is not finite; InfluxDB refuses it")
        return text
    if kind is bool:
        return "true" if value else "false"
    if kind is str:
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise LineProtocolError(f"field value {value!r} of type {kind.__name__}; use float/bool/str")


def encode_lines(points: Sequence[Point]) -> list[str]:
    """One line per point. Escaped series prefixes, field keys and the text of repeated float
    values (sensors quantise, so values repeat) are computed once per batch: ``repr`` of a float
    is the largest cost here, and the cache makes formatting about 1.4 times faster."""
    prefixes: dict[tuple[str, ...], str] = {}
    field_keys: dict[str, str] = {}
    reprs: dict[float, str] = {}
    lines: list[str] = []
    append = lines.append
    for point in points:
        tags = point.tags
        # n keys then n values: unambiguous, and cheaper to build than a tuple of pairs
        cache_key = (point.measurement, *tags, *tags.values())
        prefix = prefixes.get(cache_key)
        if prefix is None:
            prefix = prefixes[cache_key] = series_prefix(point.measurement, tags)
        parts = []
        for key, value in point.fields.items():
            head = field_keys.get(key)
            if head is None:
                head = field_keys[key] = escape_key("field key", key) + "="
            if type(value) is float:
                text = reprs.get(value) or _float_text(reprs, key, value, prefix)
                parts.append(head + text)
            else:
                parts.append(head + format_value(value))
        if not parts:
            raise LineProtocolError(f"point {prefix} at {point.time_ns} has no fields")
        append(f"{prefix} {','.join(parts)} {point.time_ns:d}")
    return lines


def _float_text(texts: dict[float, str], name: str, value: float, series: str) -> str:
    """Format a float field value once: refuse non-finite values, remember the text in `texts`
    (starting over at `FLOAT_TEXTS_MAX`)."""
    text = repr(float(value))
    if text[-1] in "nf":  # 'nan', 'inf', '-inf'
        raise LineProtocolError(
            f"field {name}={value!r} of {series.strip()} is not finite; InfluxDB refuses it"
        )
    if len(texts) >= FLOAT_TEXTS_MAX:
        texts.clear()
    if value:  # not 0.0: -0.0 == 0.0 as a key
        texts[value] = text
    return text


def encode_readings(
    readings: Sequence[Reading],
    float_texts: dict[float, str] | None = None,
    gateways: Sequence[str] | None = None,
) -> list[str]:
    """`CLIMATE` lines straight from readings — ingest's hot path, the same lines as
    ``encode_lines(points_from_readings(readings))`` without building the points. Quantity names
    are fixed identifiers (edge/wire.py) that need no escaping; tag values are escaped once per
    series.

    ``repr`` of a float is the largest single cost here. Gateways send values at their sensors'
    resolution, so values repeat across batches; pass the same `float_texts` dict to every call
    (the store does) to format each distinct value once (it is cleared at `FLOAT_TEXTS_MAX`)."""
    prefixes: dict[tuple[str, str, str, str, str], str] = {}
    texts = {} if float_texts is None else float_texts
    text_of = texts.get
    lines: list[str] = []
    append = lines.append
    gateway_of = itertools.repeat("") if gateways is None else gateways
    for r, gateway in zip(readings, gateway_of, strict=False):
        key = (r.building, r.flat, r.room, r.sensor, gateway)
        prefix = prefixes.get(key)
        if prefix is None:
            tags = {"building": key[0], "flat": key[1], "room": key[2], "sensor": key[3]}
            if gateway:
                tags["gateway"] = gateway
            prefix = prefixes[key] = series_prefix(CLIMATE, tags) + " "
        parts = []
        for name, value in r.values.items():
            text = text_of(value) or _float_text(texts, name, value, prefix)
            parts.append(f"{name}={text}")
        if r.flags:
            parts.append("flags=" + format_value(",".join(r.flags)))
        append(f"{prefix}{','.join(parts)} {r.time_ms * 1_000_000:d}")
    return lines


def encode_chunks(points: Sequence[Point], chunk_lines: int = CHUNK_LINES) -> Iterator[bytes]:
    """Request bodies of at most `chunk_lines` lines each (UTF-8)."""
    for start in range(0, len(points), chunk_lines):
        yield "\n".join(encode_lines(points[start : start + chunk_lines])).encode()


# InfluxQL quoting (https://docs.influxdata.com/influxdb/v1/query_language/spec/#identifiers,
# #strings): identifiers in double quotes, string literals in single quotes, each with its quote
# character and backslash escaped, so a value can never end the literal and become query text.


_QUOTE_ESCAPES: Final = {"\\": "\\\\", "\n": "\\n", "'": "\\'", '"': '\\"'}
_IDENT_ESCAPES: Final = str.maketrans({k: v for k, v in _QUOTE_ESCAPES.items() if k != "'"})
_STRING_ESCAPES: Final = str.maketrans({k: v for k, v in _QUOTE_ESCAPES.items() if k != '"'})


def quote_ident(name: str) -> str:
    return '"' + name.translate(_IDENT_ESCAPES) + '"'


def quote_string(value: str) -> str:
    return "'" + value.translate(_STRING_ESCAPES) + "'"


def duration_literal(nanoseconds: int) -> str:
    """An InfluxQL duration in the largest unit that divides it exactly (``3600000000000`` →
    ``1h``)."""
    if nanoseconds <= 0:
        raise ValueError(f"duration must be positive, got {nanoseconds} ns")
    for unit, size in (("w", 604_800 * 10**9), ("d", 86_400 * 10**9), ("h", 3_600 * 10**9),
                       ("m", 60 * 10**9), ("s", 10**9), ("ms", 10**6), ("u", 10**3)):  # fmt: skip
        if nanoseconds % size == 0:
            return f"{nanoseconds // size}{unit}"
    return f"{nanoseconds}ns"
