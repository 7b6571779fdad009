"""Window state messages (``…/windows/<id>/state``) → store points.

* measurement ``window`` (tags building, flat, window): ``commanded_pct`` and ``travel_s`` when
  the controller was sent to a new opening, ``reported_pct`` for a position report — exactly
  what cloud/jobs/actuator_job.py derives actuator faults from;
* measurement ``window_event`` (tags building, flat, room, window, kind): every decision (rule,
  tier, target, Danish/English text), command outcome and set point verdict, as string and
  number fields — the technician's "why is this window open?".

Pure: ingest decides what to do with refusals (dead letters).
"""

from __future__ import annotations

from typing import Final

from cloud.registry import Registry
from cloud.store.base import FieldValue, Point
from edge.wire import WindowState, WireError, decode_window_state, window_of_state_topic

WINDOW_MEASUREMENT: Final = "window"
EVENT_MEASUREMENT: Final = "window_event"
_EVENT_FIELDS: Final = (
    "rule",
    "tier",
    "target_pct",
    "text_da",
    "text_en",
    "ref",
    "outcome",
    "reason",
    "fault",
    "commanded_pct",
    "reported_pct",
)


def points_from_window_state(message: WindowState) -> list[Point]:
    time_ns = message.time_ms * 1_000_000
    points: list[Point] = []
    window_tags = {"building": message.building, "flat": message.flat, "window": message.window}
    position: dict[str, FieldValue] = {}
    if message.commanded_pct is not None:
        position["commanded_pct"] = float(message.commanded_pct)
        if message.travel_s is not None:
            position["travel_s"] = float(message.travel_s)
    if message.reported_pct is not None:
        position["reported_pct"] = float(message.reported_pct)
    if position:
        points.append(Point(WINDOW_MEASUREMENT, window_tags, position, time_ns))
    fields: dict[str, FieldValue] = {}
    for name in _EVENT_FIELDS:
        value = getattr(message, name)
        if value is not None:
            fields[name] = float(value) if isinstance(value, int | float) else str(value)
    if fields:
        tags = {**window_tags, "room": message.room, "kind": message.kind}
        points.append(Point(EVENT_MEASUREMENT, tags, fields, time_ns))
    return points


def check_window_state(topic: str, payload: bytes, registry: Registry) -> list[Point]:
    """Validate one state message against its topic and the registry; raise `WireError` with
    the dead-letter reason."""
    where = window_of_state_topic(topic)
    if where is None:
        raise WireError(f"topic {topic!r} is not a window state topic")
    gateway, window = where
    message = decode_window_state(payload)
    if message.gateway != gateway or message.window != window:
        raise WireError(
            f"state claims gateway {message.gateway!r} window {message.window!r} but was "
            f"published on {topic!r}"
        )
    if not registry.serves(gateway, message.building, message.flat):
        raise WireError(
            f"gateway {gateway!r} does not serve building {message.building!r} "
            f"flat {message.flat!r}"
        )
    return points_from_window_state(message)
