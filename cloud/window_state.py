"""Window state messages (``…/windows/<id>/state``) → store points.

* measurement ``window`` (tags building, flat, window): ``commanded_pct`` and ``travel_s`` when
  the controller was sent to a new opening, ``reported_pct`` for a position report — exactly
  what cloud/jobs/actuator_job.py derives actuator faults from;
* measurement ``window_event`` (tags building, flat, room, window, kind): every decision (rule,
  tier, target, Danish/English text), command outcome and set point verdict, as string and
  number fields — the technician's "why is this window open?"; ``seq``, the gateway's delivery
  number, as a field too.

Store keys and re-delivery: a gateway re-sends a state message (same ``seq``) until ingest's ack
reaches it, and the broker redelivers what an ingest took but never acknowledged, so ingest sees
some messages more than once. A point's key is (measurement, tags, time), and writing a key again
overwrites it, so a repeat must land on the same key and two different messages never on one:

* ``window_event`` points are stamped at the message's millisecond plus ``seq mod 1000``
  microseconds (`event_time_ns`; whole microseconds, so Python datetimes carry them). Two
  outcomes of one window within one millisecond (a burst of expired commands after an outage)
  would otherwise share a key and be merged into one row; a repeat has the same ``seq`` and
  overwrites itself. Messages without ``seq`` (gateways from before acked states) keep the
  millisecond.
* ``window`` points keep the millisecond: a command and the position read in the same step are
  one key on purpose (different fields; cloud/jobs/actuator_job.py reads a report at exactly the
  command's time as the position before the move).

Pure: ingest decides what to do with refusals (dead letters) and acknowledgements.
"""

from __future__ import annotations

from dataclasses import dataclass
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


SEQ_SPREAD_US: Final = 1_000
"""``window_event`` times are spread by ``seq`` over the microseconds of their millisecond."""


def event_time_ns(message: WindowState) -> int:
    """A ``window_event`` point's time: the message's millisecond plus ``seq mod 1000`` µs —
    different for a gateway's messages within a millisecond (unless a thousand share it), the
    same for every repeat of one message."""
    spread_us = 0 if message.seq is None else message.seq % SEQ_SPREAD_US
    return message.time_ms * 1_000_000 + spread_us * 1_000


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
        if message.seq is not None:
            fields["seq"] = message.seq
        tags = {**window_tags, "room": message.room, "kind": message.kind}
        points.append(Point(EVENT_MEASUREMENT, tags, fields, event_time_ns(message)))
    return points


@dataclass(frozen=True, slots=True)
class StateVerdict:
    """One state message judged: its points, or why it is refused; and what to acknowledge."""

    points: list[Point]
    refused: str | None
    """The dead-letter reason, None when it is to be stored."""
    gateway: str | None
    """The publisher (from the topic; the broker's ACL confines each gateway to its own)."""
    seq: int | None
    """Its delivery number: acknowledged to `gateway` once stored or dead-lettered. None when
    the gateway asked for no ack or the payload is unreadable (nothing to name)."""


def judge_window_state(topic: str, payload: bytes, registry: Registry) -> StateVerdict:
    """Validate one state message against its topic and the registry. Never raises on bad
    input: the reason is in the verdict."""
    where = window_of_state_topic(topic)
    if where is None:
        return StateVerdict([], f"topic {topic!r} is not a window state topic", None, None)
    gateway, window = where
    try:
        message = decode_window_state(payload)
    except WireError as exc:
        return StateVerdict([], exc.reason, gateway, None)
    if message.gateway != gateway or message.window != window:
        reason = (
            f"state claims gateway {message.gateway!r} window {message.window!r} but was "
            f"published on {topic!r}"
        )
        return StateVerdict([], reason, gateway, message.seq)
    if not registry.serves(gateway, message.building, message.flat):
        reason = (
            f"gateway {gateway!r} does not serve building {message.building!r} "
            f"flat {message.flat!r}"
        )
        return StateVerdict([], reason, gateway, message.seq)
    return StateVerdict(points_from_window_state(message), None, gateway, message.seq)


def check_window_state(topic: str, payload: bytes, registry: Registry) -> list[Point]:
    """The points of one state message; raise `WireError` with the dead-letter reason."""
    verdict = judge_window_state(topic, payload, registry)
    if verdict.refused is not None:
        raise WireError(verdict.refused)
    return verdict.points
