"""Gateways' status on the technicians' health page (issue 10): what ingest stores from the
retained ``…/status`` and what the API and the page show.

Pure checks first (what is stored, what is refused and why), then the latest status read back
from both stores (stale, offline after the last will, a month without a word), then end to end:
a real gateway (`edge.gateway.Gateway`) with a full outbox publishes its status through a real
Mosquitto to a running `Ingest`; the technician sees outbox and dropped readings in
``GET /api/buildings/B1/gateways`` and on ``/health``, and "offline" after the gateway stops.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import orjson
import pytest
import requests

from cloud.accounts import Role, ScopeKind
from cloud.deadletter import DeadLetters
from cloud.gateway_status import (
    GATEWAY_STATUS,
    STALE_AFTER,
    check_status,
    latest_statuses,
    points_from_status,
)
from cloud.ingest import Ingest
from cloud.registry import Registry
from cloud.servers import MosquittoServer
from cloud.store.base import TimeSeriesStore
from cloud.store.sqlite import SqliteStore
from edge.config import GatewayConfig
from edge.gateway import Gateway
from edge.mqtt import MqttConnection
from edge.wire import (
    MAX_MESSAGE_BYTES,
    BleHealth,
    GatewayStatus,
    Reading,
    SensorHealth,
    WireError,
    encode,
    status_topic,
)
from tests.test_web_pages import csrf_of, login
from tests.web_app import PASSWORD, REGISTRY, WebApp, web_app

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
NOW_S = NOW.timestamp()
NOW_MS = int(NOW_S * 1000)
WEB_REGISTRY = Registry.model_validate(tomllib.loads(REGISTRY))
TOPIC = status_topic("gw-b1")


def status(**changes: object) -> GatewayStatus:
    base = GatewayStatus(
        v=1,
        gateway="gw-b1",
        online=True,
        time_ms=NOW_MS,
        outbox_pending=120,
        outbox_dropped=7,
        sensors=[
            SensorHealth(sensor="s-1", last_seen_ms=NOW_MS, silent=False),
            SensorHealth(sensor="s-2", last_seen_ms=None, silent=True),
        ],
        ble=BleHealth(adapter="hci0", state="unavailable", reason="no D-Bus system bus"),
    )
    return msgspec.structs.replace(base, **changes)


def test_a_status_is_one_point_at_the_gateways_time() -> None:
    (point,) = check_status(TOPIC, encode(status()), WEB_REGISTRY, NOW_S, 600)
    assert point.measurement == GATEWAY_STATUS
    assert dict(point.tags) == {"building": "B1", "gateway": "gw-b1"}  # building: the registry's
    assert point.time_ns == NOW_MS * 1_000_000
    assert point.fields == {
        "online": 1,
        "outbox_pending": 120,
        "outbox_dropped": 7,
        "window_states_dropped": 0,
        "sensors": 2,
        "sensors_silent": 1,
        "silent_sensors": "s-2",
        "ble_state": "unavailable",
        "ble_reason": "no D-Bus system bus",
    }


def test_the_last_will_is_stored_when_received_and_carries_no_outbox() -> None:
    will = GatewayStatus(v=1, gateway="gw-b1", online=False, time_ms=0)  # as edge/uplink.py sets
    (point,) = check_status(TOPIC, encode(will), WEB_REGISTRY, NOW_S, 600)
    assert point.time_ns == int(NOW_S * 1e9) and point.fields == {"online": 0}


def test_long_texts_are_cut() -> None:
    many = [
        SensorHealth(sensor=f"sensor-{n:04d}", last_seen_ms=None, silent=True) for n in range(200)
    ]
    (point,) = points_from_status(status(sensors=many), "B1", 0)
    assert len(str(point.fields["silent_sensors"])) == 500
    assert point.fields["sensors_silent"] == 200


BAD: list[tuple[str, str, bytes, str]] = [
    ("not JSON", TOPIC, b'{"v": 1, "gateway": ', "gateway status: "),
    ("not UTF-8", TOPIC, b'{"v": 1, "gateway": "gw-b1\xff"}', "gateway status: "),
    ("a list", TOPIC, b"[1, 2]", "gateway status: "),
    ("wrong version", TOPIC, orjson.dumps({**orjson.loads(encode(status())), "v": 2}), "`$.v`"),
    ("unknown field", TOPIC, orjson.dumps({**orjson.loads(encode(status())), "x": 1}), "`x`"),
    (
        "counter as text",
        TOPIC,
        orjson.dumps({**orjson.loads(encode(status())), "outbox_pending": "9"}),
        "outbox_pending",
    ),
    ("oversize", TOPIC, b" " * (MAX_MESSAGE_BYTES + 1), "oversize"),
    (
        "claims another gateway",
        status_topic("gw-b1"),
        encode(status(gateway="gw-b2")),
        "reports only for itself",
    ),
    (
        "unregistered gateway",
        status_topic("gw-x"),
        encode(status(gateway="gw-x")),
        "not in the registry",
    ),
    (
        "negative outbox",
        TOPIC,
        encode(status(outbox_pending=-1)),
        "outbox_pending must not be negative",
    ),
    (
        "negative dropped",
        TOPIC,
        encode(status(outbox_dropped=-5)),
        "outbox_dropped must not be negative",
    ),
    ("online but dated 1970", TOPIC, encode(status(time_ms=5)), "clock is not set"),
    ("dated an hour ahead", TOPIC, encode(status(time_ms=NOW_MS + 3_600_000)), "3600 s ahead"),
    (
        "not a status topic",
        "indeklima/v1/gw/gw-b1/readings",
        encode(status()),
        "not a gateway status topic",
    ),
]


@pytest.mark.parametrize(("name", "topic", "payload", "reason"), BAD, ids=[b[0] for b in BAD])
def test_odd_statuses_are_refused_with_a_reason(
    name: str, topic: str, payload: bytes, reason: str
) -> None:
    with pytest.raises(WireError) as refused:
        check_status(topic, payload, WEB_REGISTRY, NOW_S, 600)
    assert reason in refused.value.reason


# -- read back from both stores --------------------------------------------------------------


@pytest.fixture(params=["sqlite", "influx"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    if request.param == "sqlite":
        with SqliteStore(tmp_path / "store.sqlite") as sqlite:
            yield sqlite
        return
    from cloud.store.influx import InfluxStore

    server = request.getfixturevalue("influx_module")
    influx = InfluxStore(server.url, f"status_{time.monotonic_ns()}")
    try:
        yield influx
    finally:
        influx.close()


def _write(store: TimeSeriesStore, message: GatewayStatus, received: datetime) -> None:
    store.write(points_from_status(message, "B1", int(received.timestamp() * 1e9)))


def test_latest_status_fresh_then_stale(store: TimeSeriesStore) -> None:
    earlier = NOW - timedelta(minutes=3)
    _write(store, status(time_ms=int(earlier.timestamp() * 1000), outbox_pending=500), earlier)
    _write(store, status(), NOW)
    (health,) = latest_statuses(store, WEB_REGISTRY, "B1", NOW)
    assert (health.gateway, health.online, health.stale) == ("gw-b1", True, False)
    assert (health.outbox_pending, health.outbox_dropped) == (120, 7)  # the newest, not the first
    assert health.last_seen == NOW and health.silent_sensors == ("s-2",)
    assert (health.ble_state, health.ble_reason) == ("unavailable", "no D-Bus system bus")
    (later,) = latest_statuses(store, WEB_REGISTRY, "B1", NOW + STALE_AFTER + timedelta(seconds=1))
    assert later.online is True and later.stale  # nothing for more than 5 minutes
    assert later.outbox_pending == 120  # still the last figures it sent


def test_after_the_last_will_offline_with_the_last_figures(store: TimeSeriesStore) -> None:
    old = NOW - timedelta(hours=5)  # beyond the first look-back
    _write(store, status(time_ms=int(old.timestamp() * 1000)), old)
    will = GatewayStatus(v=1, gateway="gw-b1", online=False, time_ms=0)
    _write(store, will, NOW - timedelta(minutes=1))
    (health,) = latest_statuses(store, WEB_REGISTRY, "B1", NOW)
    assert health.online is False and health.stale
    assert health.last_seen == old and health.outbox_pending == 120


def test_a_gateway_never_heard_from(store: TimeSeriesStore) -> None:
    (health,) = latest_statuses(store, WEB_REGISTRY, "B1", NOW)
    assert health.online is None and health.stale and health.last_seen is None
    assert health.outbox_pending is None and health.silent_sensors == ()
    assert latest_statuses(store, WEB_REGISTRY, "B2", NOW) == []  # B2 has no gateway


# -- end to end: gateway → Mosquitto → ingest → store → API and page ----------------------------


@pytest.fixture
def live(tmp_path: Path, mosquitto: MosquittoServer) -> Iterator[tuple[WebApp, DeadLetters]]:
    (tmp_path / "web").mkdir()
    for app in web_app(tmp_path / "web"):
        with DeadLetters(tmp_path / "dead.sqlite") as dead:
            ingest = Ingest(app.store, WEB_REGISTRY, dead, mqtt_url=mosquitto.url)
            with ingest:
                assert ingest.conn.wait_subscribed(10)
                yield app, dead
            assert not ingest.failed.is_set()


def _api(app: WebApp, user: str) -> Callable[[], requests.Response]:
    token = requests.post(
        app.url + "/api/token", data={"username": user, "password": PASSWORD}, timeout=30
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    return lambda: requests.get(app.url + "/api/buildings/B1/gateways", headers=headers, timeout=30)


def _wait(predicate: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f} s: {what}"
        time.sleep(0.1)


def _readings(n: int) -> list[Reading]:
    start = int(time.time() * 1000) - n * 60_000
    return [
        Reading(
            time_ms=start + i * 60_000,
            building="B1",
            flat="B1-02",
            room="stue",
            sensor="e2e-1",
            values={"temperature_c": 21.0 + i / 100},
        )
        for i in range(n)
    ]


@pytest.mark.servers
def test_gateway_status_reaches_the_api_and_the_health_page(
    tmp_path: Path, mosquitto: MosquittoServer, live: tuple[WebApp, DeadLetters]
) -> None:
    app, dead = live
    config = GatewayConfig.parse(
        {
            "gateway_id": "gw-b1",
            "status_interval_s": 0.5,
            "mqtt": {"url": mosquitto.url, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
            "outbox": {"path": str(tmp_path / "outbox.sqlite"), "max_readings": 100},
        }
    )
    gateway = Gateway(config)
    gateway.outbox.add(_readings(150))  # 50 more than the outbox holds: the oldest 50 dropped
    technician = _api(app, "technician")
    before = technician().json()
    assert [(g["gateway"], g["online"], g["stale"]) for g in before] == [("gw-b1", None, True)]
    gateway.start()
    try:

        def reported() -> bool:
            (g,) = technician().json()
            return g["online"] is True and g["outbox_dropped"] == 50 and g["outbox_pending"] == 0

        _wait(reported, "the status with the drained outbox in the API")  # ingest acked them all
        (shown,) = technician().json()
        assert shown["stale"] is False and shown["last_seen"] is not None
        page = login(app, "technician").get(app.url + "/health", timeout=30)
        row = page.text[page.text.index('data-gateway="gw-b1"') :].split("</tr>")[0]
        assert "Online" in row and "<strong>50</strong>" in row and "0 målinger" in row
    finally:
        gateway.close()  # a clean shutdown publishes "offline" with its last figures
    _wait(lambda: technician().json()[0]["online"] is False, "offline after the gateway stopped")
    (gone,) = technician().json()
    assert gone["stale"] is True and gone["outbox_dropped"] == 50
    row = login(app, "technician").get(app.url + "/health", timeout=30).text
    assert "Offline" in row.split('data-gateway="gw-b1"')[1].split("</tr>")[0]
    assert dead.count() == 0


@pytest.mark.servers
def test_a_status_for_another_gateway_is_a_dead_letter_and_changes_nothing(
    mosquitto: MosquittoServer, live: tuple[WebApp, DeadLetters]
) -> None:
    app, dead = live
    technician = _api(app, "technician")
    now_ms = int(time.time() * 1000)
    forged = status(gateway="gw-b2", time_ms=now_ms, outbox_pending=999)
    good = status(time_ms=now_ms, outbox_pending=3)
    with MqttConnection(mosquitto.url, "gw-b1") as gw:
        assert gw.wait_connected(10)
        for payload in (encode(forged), b"\x00not json", encode(good)):
            gw.publish(TOPIC, payload, retain=True).wait_for_publish(10)
    _wait(lambda: technician().json()[0]["outbox_pending"] == 3, "the good status stored")
    _wait(lambda: dead.count() == 2, "two dead letters")
    reasons = sorted(letter.reason for letter in dead.all())
    assert "reports only for itself" in reasons[1] and "gateway status" in reasons[0]


def test_only_technicians_of_the_building_see_its_gateways(
    live: tuple[WebApp, DeadLetters],
) -> None:
    app, _ = live
    app.accounts.create_user("technician-b2", Role.TECHNICIAN, PASSWORD)
    app.accounts.assign("technician-b2", ScopeKind.BUILDING, "B2")
    assert _api(app, "technician")().status_code == 200
    for user in ("technician-b2", "finance", "resident-b1-01"):
        answer = _api(app, user)()
        assert answer.status_code == 403, (user, answer.text)
    page = login(app, "technician-b2").get(app.url + "/health", timeout=30)
    assert page.status_code == 200 and 'data-gateway="gw-b1"' not in page.text
    assert csrf_of(page.text)  # the page is a normal page with its logout form
