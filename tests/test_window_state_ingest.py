"""Window state messages at ingest: what is stored (the actuator job's ``window`` points and the
``window_event`` rows) and what is refused, with the dead-letter reason."""

from __future__ import annotations

import pytest

from cloud.registry import Registry
from cloud.window_state import EVENT_MEASUREMENT, WINDOW_MEASUREMENT, check_window_state
from edge.wire import WindowState, WireError, encode, window_state_topic

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
