"""Window state messages at ingest: what is stored (the actuator job's ``window`` points and the
``window_event`` rows) and what is refused, with the dead-letter reason."""

from __future__ import annotations

import re

import pytest

from cloud.registry import Registry
from cloud.window_state import (
    EVENT_MEASUREMENT,
    WINDOW_MEASUREMENT,
    check_window_state,
    judge_window_state,
)
from edge.wire import Ack, WindowState, WireError, decode_ack, encode, window_state_topic

REG = Registry.model_validate(
    {
        "buildings": [{"id": "B1", "flats": [{"id": "F1", "area_m2": 55.0}]}],
        "gateways": [{"id": "gw-1", "building": "B1", "flats": ["F1"]}],
    }
)
TIME_MS = 1_767_000_000_000


def state(**changes: object) -> WindowState:
    fields: dict[str, object] = {
        "v": 1,
        "gateway": "gw-1",
        "window": "w1",
        "building": "B1",
        "flat": "F1",
        "room": "stue",
        "time_ms": TIME_MS,
        "kind": "decision",
        "rule": "co2_high",
        "tier": "automatic",
        "target_pct": 100.0,
        "commanded_pct": 100.0,
        "travel_s": 60.0,
        "text_da": "Åben: CO2 over sætpunktet",
        "text_en": "Open: CO2 above the set point",
    }
    fields.update(changes)
    return WindowState(**fields)  # type: ignore[arg-type]


def test_a_decision_that_moves_the_window_gives_both_points() -> None:
    points = check_window_state(window_state_topic("gw-1", "w1"), encode(state()), REG)
    by = {p.measurement: p for p in points}
    assert by[WINDOW_MEASUREMENT].fields == {"commanded_pct": 100.0, "travel_s": 60.0}
    assert by[WINDOW_MEASUREMENT].tags == {"building": "B1", "flat": "F1", "window": "w1"}
    event = by[EVENT_MEASUREMENT]
    assert event.tags["kind"] == "decision" and event.fields["rule"] == "co2_high"
    assert event.time_ns == TIME_MS * 1_000_000


def test_a_position_report_is_a_window_point() -> None:
    message = state(kind="position", rule=None, tier=None, target_pct=None, commanded_pct=None,
                    travel_s=None, text_da=None, text_en=None, reported_pct=0.0,
                    fault="motor blokeret / motor stuck")  # fmt: skip
    points = check_window_state(window_state_topic("gw-1", "w1"), encode(message), REG)
    window = next(p for p in points if p.measurement == WINDOW_MEASUREMENT)
    assert window.fields == {"reported_pct": 0.0}
    event = next(p for p in points if p.measurement == EVENT_MEASUREMENT)
    assert event.fields["fault"] == "motor blokeret / motor stuck"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("indeklima/v1/gw/gw-1/readings", encode(state()), "not a window state topic"),
        (window_state_topic("gw-2", "w1"), encode(state()), "claims gateway"),
        (window_state_topic("gw-1", "w9"), encode(state()), "claims gateway"),
        (window_state_topic("gw-1", "w1"), encode(state(flat="F9")), "does not serve"),
        (window_state_topic("gw-1", "w1"), b"{nope", "window state"),
        (window_state_topic("gw-1", "w1"), b'{"v":1}', "window state"),
        (
            window_state_topic("gw-1", "w1"),
            encode(state()).replace(b'"target_pct":100.0', b'"target_pct":180.0'),
            "window state",
        ),
        (window_state_topic("gw-1", "w1"), b" " * 1_100_000, "oversize"),
    ],
)
def test_bad_state_messages_are_refused_with_a_reason(
    topic: str, payload: bytes, reason: str
) -> None:
    with pytest.raises(WireError, match=reason):
        check_window_state(topic, payload, REG)


# -- delivery numbers (seq): acknowledged, and one store key per message -----------------------


def test_a_numbered_state_keeps_its_key_when_repeated_and_apart_from_its_neighbours() -> None:
    topic = window_state_topic("gw-1", "w1")
    first = judge_window_state(topic, encode(state(seq=41)), REG)
    repeat = judge_window_state(topic, encode(state(seq=41)), REG)
    other = judge_window_state(topic, encode(state(seq=42, rule="rain")), REG)
    assert (first.gateway, first.seq, first.refused) == ("gw-1", 41, None)
    assert first.points == repeat.points  # a re-delivery overwrites itself
    event = {p.measurement: p for p in first.points}[EVENT_MEASUREMENT]
    neighbour = {p.measurement: p for p in other.points}[EVENT_MEASUREMENT]
    assert event.fields["seq"] == 41
    assert event.time_ns == TIME_MS * 1_000_000 + 41_000  # 41 µs into its millisecond
    assert neighbour.time_ns != event.time_ns  # same window, kind and millisecond: two rows
    window = {p.measurement: p for p in first.points}[WINDOW_MEASUREMENT]
    assert window.time_ns == TIME_MS * 1_000_000  # the actuator job's points keep the ms


def test_a_state_from_before_numbering_is_stored_as_before_and_asks_for_no_ack() -> None:
    verdict = judge_window_state(window_state_topic("gw-1", "w1"), encode(state()), REG)
    assert verdict.refused is None and verdict.seq is None
    event = {p.measurement: p for p in verdict.points}[EVENT_MEASUREMENT]
    assert event.time_ns == TIME_MS * 1_000_000 and "seq" not in event.fields


@pytest.mark.parametrize(
    ("payload", "seq", "reason"),
    [
        (encode(state(seq=7, flat="F9")), 7, "does not serve"),  # dead letter, then acked
        (encode(state(seq=7)).replace(b'"seq":7', b'"seq":0'), None, "window state"),
        (encode(state(seq=7)).replace(b'"seq":7', b'"seq":"7"'), None, "window state"),
        (encode(state(seq=7)).replace(b'"v":1', b'"v":2'), None, "window state"),
        (b"\xff\xfe", None, "window state"),
    ],
)
def test_refused_states_say_why_and_which_number_to_ack(
    payload: bytes, seq: int | None, reason: str
) -> None:
    verdict = judge_window_state(window_state_topic("gw-1", "w1"), payload, REG)
    assert verdict.points == [] and verdict.refused is not None and reason in verdict.refused
    assert (verdict.gateway, verdict.seq) == ("gw-1", seq)


def test_an_ack_for_readings_only_is_what_older_gateways_know() -> None:
    assert encode(Ack(v=1, batch_ids=["gw-1-0000000001"])) == (
        b'{"v":1,"batch_ids":["gw-1-0000000001"]}'
    )
    both = decode_ack(encode(Ack(v=1, batch_ids=[], states=[3, 4])))
    assert (both.batch_ids, both.states) == ([], [3, 4])


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{nope", "ack: JSON is malformed"),
        (b'{"v":2,"batch_ids":[]}', "ack: Invalid enum value 2 - at `$.v`"),
        (b'{"v":1,"batch_ids":[],"states":[0]}', "ack: Expected `int` >= 1"),
        (b'{"v":1,"batch_ids":[],"states":["1"]}', "ack: Expected `int`, got `str`"),
        (b'{"v":1,"batch_ids":[],"extra":1}', "ack: Object contains unknown field"),
        (b'{"v":1,"batch_ids":[],"states":[' + b"1," * 600_000 + b"1]}", "ack: oversize"),
    ],
)
def test_malformed_acks_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(WireError, match=re.escape(reason)):
        decode_ack(payload)
