"""Alert lifecycle (new → escalated → cleared, hysteresis, delays, dedup), storage and outputs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from cloud.analytics.alert_publish import (
    alert_topic,
    alerts_to_points,
    annotation_request,
    publish_alerts,
    push_annotations,
)
from cloud.analytics.alert_store import AlertStore
from cloud.analytics.alerts import (
    ADVICE,
    Alert,
    AlertKind,
    AlertState,
    Rule,
    Severity,
    Track,
    update,
)
from cloud.servers import MosquittoServer

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def feed(
    kind: AlertKind, values: list[float | None], step: timedelta = HOUR, rule: Rule | None = None
) -> tuple[Track, list[Alert | None]]:
    track = Track("B1", "B1-001", kind)
    changes = []
    for i, v in enumerate(values):
        track, changed = update(track, v, T0 + i * step, rule)
        changes.append(changed)
    return track, changes


def states(changes: list[Alert | None]) -> list[str | None]:
    return [None if c is None else f"{c.state}/{c.severity}" for c in changes]


def test_mould_warn_escalate_clear() -> None:
    values = [0.5, 1.0, 1.5, 3.0, 2.0, 0.85] + [0.85] * 24
    track, changes = feed(AlertKind.MOULD, values)
    assert states(changes)[:6] == [None, "new/warn", None, "escalated/alarm", None, None]
    assert states(changes)[-1] == "cleared/alarm"  # 24 h below 0.9
    assert states(changes)[-2] is None
    assert track.alert is None


def test_hysteresis_does_not_flap() -> None:
    """Mould index wobbling around 1 raises once and never clears above 0.9."""
    wobble = [0.95, 1.02, 0.97, 1.01, 0.96, 1.03] * 10
    _, changes = feed(AlertKind.MOULD, wobble)
    raised = [c for c in changes if c is not None]
    assert len(raised) == 1
    assert raised[0].state is AlertState.NEW


def test_raise_needs_the_condition_to_hold() -> None:
    """CO2 must stay >= 1220 ppm for 30 min: a 20-minute peak is no alert."""
    five = timedelta(minutes=5)
    peak = [800.0] + [1500.0] * 4 + [800.0] * 3
    _, changes = feed(AlertKind.CO2, peak, five)
    assert all(c is None for c in changes)
    long_peak = [800.0] + [1500.0] * 8
    _, changes = feed(AlertKind.CO2, long_peak, five)
    assert states(changes).index("new/warn") == 7  # 30 min after the first high reading


def test_clear_needs_the_condition_to_be_gone_for_a_while() -> None:
    five = timedelta(minutes=5)
    values = [1500.0] * 7 + [900.0] * 3 + [1100.0] + [900.0] * 7
    _, changes = feed(AlertKind.CO2, values, five)
    marks = states(changes)
    assert marks.count("new/warn") == 1
    assert marks.count("cleared/warn") == 1
    assert marks.index("cleared/warn") == 17  # the 1100 ppm reading restarted the clear delay


def test_raised_directly_as_alarm() -> None:
    _, changes = feed(AlertKind.MOULD, [3.5])
    assert states(changes) == ["new/alarm"]


def test_missing_values_change_nothing() -> None:
    track, changes = feed(AlertKind.MOULD, [1.2, None, None])
    assert states(changes) == ["new/warn", None, None]
    assert track.alert is not None


def test_dedup_one_open_alert_per_flat_and_kind() -> None:
    _, changes = feed(AlertKind.SURFACE_RH, [85.0] * 48)
    assert [c for c in changes if c is not None and c.state is AlertState.NEW].__len__() == 1


def test_rule_refuses_inverted_hysteresis() -> None:
    with pytest.raises(ValueError, match="hysteresis"):
        Rule(warn_at=1.0, alarm_at=3.0, clear_below=1.5)


def test_track_round_trips_through_json() -> None:
    track, _ = feed(AlertKind.MOULD, [1.5, 0.5])
    again = Track.from_json(json.loads(json.dumps(track.to_json())))
    assert again == track


@pytest.mark.parametrize(("kind", "severity"), list(ADVICE))
def test_advice_in_danish_and_english(kind: AlertKind, severity: Severity) -> None:
    da, en = ADVICE[kind, severity]
    assert da and en and da != en


def test_advice_examples_from_the_issue() -> None:
    _, [co2] = feed(AlertKind.CO2, [1300.0], rule=Rule(1220.0, 1770.0, 1000.0))
    assert co2 is not None
    assert co2.advice_da == "Luft ud i 10 minutter nu."
    assert co2.advice_en == "Air out for 10 minutes now."
    _, [mould] = feed(AlertKind.MOULD, [1.1])
    assert mould is not None
    assert "hold soveværelset over 18 °C" in mould.advice_da
    assert "keep the bedroom above 18 °C" in mould.advice_en


def _alert(flat: str, kind: AlertKind, state: AlertState, at: datetime) -> Alert:
    return Alert("B1", flat, kind, Severity.WARN, state, 1.2, at, at)


def test_store_saves_updates_and_queries(tmp_path: Path) -> None:
    with AlertStore(tmp_path / "alerts.sqlite") as store:
        a = _alert("B1-001", AlertKind.MOULD, AlertState.NEW, T0)
        b = _alert("B1-002", AlertKind.CO2, AlertState.NEW, T0 + HOUR)
        store.save([a, b])
        escalated = Alert(
            "B1",
            "B1-001",
            AlertKind.MOULD,
            Severity.ALARM,
            AlertState.ESCALATED,
            3.1,
            T0,
            T0 + 2 * HOUR,
        )
        store.save([escalated])  # same id: updates the row
        assert len(store.query()) == 2
        [mine] = store.query(flat="B1-001")
        assert mine == escalated
        assert mine.raised_at.tzinfo is not None
        assert store.query(states=[AlertState.NEW]) == [b]
        assert store.query(kinds=[AlertKind.CO2]) == [b]
        assert store.query(since=T0 + 90 * timedelta(minutes=1)) == [escalated]
        assert store.query(until=T0 + 90 * timedelta(minutes=1)) == [b]
        assert store.query(building="B2") == []
        assert {x.flat for x in store.open_alerts("B1")} == {"B1-001", "B1-002"}
        store.close()  # twice is safe


def test_store_url_form(tmp_path: Path) -> None:
    store = AlertStore(f"sqlite:///{tmp_path / 'x.sqlite'}")
    store.save([_alert("B1-001", AlertKind.MOULD, AlertState.NEW, T0)])
    assert len(AlertStore(f"sqlite:///{tmp_path / 'x.sqlite'}").query()) == 1


def test_alerts_as_points() -> None:
    [p] = alerts_to_points([_alert("B1-001", AlertKind.MOULD, AlertState.NEW, T0)])
    assert p.measurement == "alerts"
    assert p.tags == {"building": "B1", "flat": "B1-001", "kind": "mould"}
    assert p.fields["level"] == 1
    assert p.fields["state"] == "new"
    assert p.time_ns == int(T0.timestamp()) * 1_000_000_000


@pytest.mark.servers
def test_published_on_mqtt(mosquitto: MosquittoServer) -> None:
    received: list[mqtt.MQTTMessage] = []
    got = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="alerts-sub")
    sub.on_message = lambda _c, _u, m: (received.append(m), got.set())
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("indeklima/v1/alerts/#", qos=1)
    sub.loop_start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="alerts-pub")
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        subscribed = threading.Event()
        sub.on_subscribe = lambda *_: subscribed.set()
        sub.subscribe("indeklima/v1/alerts/#", qos=1)
        assert subscribed.wait(10)
        alert = _alert("B1-001", AlertKind.MOULD, AlertState.NEW, T0)
        assert publish_alerts(pub, [alert]) == 1
        assert got.wait(10)
    finally:
        pub.loop_stop()
        pub.disconnect()
        sub.loop_stop()
        sub.disconnect()
    assert received[0].topic == alert_topic("B1", "B1-001") == "indeklima/v1/alerts/B1/B1-001"
    payload = json.loads(received[0].payload)
    assert payload["kind"] == "mould"
    assert payload["advice_en"].startswith("Mould risk")


def test_annotation_request() -> None:
    cleared = Alert(
        "B1",
        "B1-001",
        AlertKind.MOULD,
        Severity.WARN,
        AlertState.CLEARED,
        0.8,
        T0,
        T0 + HOUR,
        T0 + HOUR,
    )
    req = annotation_request(cleared, dashboard_uid="flats")
    assert req["time_from"] == int(T0.timestamp() * 1000)
    assert req["time_to"] == int((T0 + HOUR).timestamp() * 1000)
    assert "flat:B1-001" in req["tags"]
    assert req["dashboard_uid"] == "flats"


@pytest.fixture
def fake_grafana() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Not Grafana: a loopback HTTP server that records what grafana-client sends."""
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            bodies.append({"path": self.path, **json.loads(self.rfile.read(length))})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"id": 1, "message": "Annotation added"}')

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_grafana_annotation_request_as_sent(fake_grafana: tuple[str, list[dict[str, Any]]]) -> None:
    url, bodies = fake_grafana
    alert = _alert("B1-001", AlertKind.MOULD, AlertState.NEW, T0)
    assert push_annotations([alert], url, token="t0ken") == 1
    assert bodies[0]["path"] == "/api/annotations"
    assert bodies[0]["time"] == int(T0.timestamp() * 1000)
    assert "kind:mould" in bodies[0]["tags"]


def test_grafana_off_without_url() -> None:
    assert push_annotations([_alert("B1-001", AlertKind.MOULD, AlertState.NEW, T0)], None) == 0
