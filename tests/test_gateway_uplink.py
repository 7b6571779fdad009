"""The gateway's outbox and uplink: bounded outbox, batches that survive restarts, MQTT 3.1.1
and 5 (with fallback), retained status and the last will."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from cloud.servers import MosquittoServer, free_port
from edge.config import GatewayConfig
from edge.gateway import Gateway
from edge.mqtt import MqttConnection
from edge.outbox import Outbox
from edge.sensors.model import Sample, SensorValues
from edge.uplink import status_line
from edge.wire import (
    GatewayStatus,
    Reading,
    SensorHealth,
    WindowState,
    decode_batch,
    decode_window_state,
    status_topic,
)
from tests.stack import Stack, installed_command

T0 = 1_767_225_600_000


def readings(n: int, start: int = 0) -> list[Reading]:
    return [
        Reading(
            time_ms=T0 + (start + i) * 60_000,
            building="B1",
            flat="F1",
            room="living",
            sensor="s1",
            values={"temperature_c": 20.0 + i / 100},
        )
        for i in range(n)
    ]


def test_outbox_full_drops_oldest_counts_and_reports(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", "gw-1", max_readings=100) as outbox:
        outbox.add(readings(150))
        assert (outbox.pending, outbox.dropped, outbox.added) == (100, 50, 150)
        batch = outbox.next_batch(500)
        assert batch is not None
        times = [r.time_ms for r in decode_batch(batch.message("gw-1")).readings]
        assert times[0] == T0 + 50 * 60_000  # the oldest 50 went
    config = GatewayConfig.parse(
        {"gateway_id": "gw-1", "outbox": {"path": str(tmp_path / "o.sqlite"), "max_readings": 100}}
    )
    gateway = Gateway(config)
    try:
        status = gateway.status()
        assert (status.outbox_pending, status.outbox_dropped) == (100, 50)
    finally:
        gateway.close()


def test_unconfirmed_batches_survive_a_restart_with_their_ids(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, "gw-1") as outbox:
        outbox.add(readings(30))
        first = outbox.next_batch(20)
        assert first is not None
        outbox.mark_sent(first.id)
    with Outbox(path, "gw-1") as outbox:  # as after a SIGKILL: a new process, same file
        assert outbox.pending == 30 and outbox.unbatched == 10
        assert [b.id for b in outbox.due_batches(3600)] == []  # sent just now: not yet due
        outbox.resend_all()  # what a (re)connect does
        due = outbox.due_batches(3600)
        assert [b.id for b in due] == [first.id] and len(due[0]) == 20
        assert outbox.confirm([first.id]) == 20
        assert outbox.confirm([first.id]) == 0  # a repeated ack is harmless
        second = outbox.next_batch(20)
        assert second is not None and second.id != first.id and len(second) == 10


def window_state(n: int) -> WindowState:
    return WindowState(
        v=1,
        gateway="gw-1",
        window="w1",
        building="B1",
        flat="F1",
        room="stue",
        time_ms=T0 + n * 1000,
        kind="command",
        ref=f"c{n}",
        outcome="refused",
    )


def test_window_states_survive_a_restart_numbered_and_leave_only_on_their_ack(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, "gw-1") as outbox:
        assert [outbox.add_state("w1", window_state(n)) for n in range(5)] == [1, 2, 3, 4, 5]
        due = outbox.due_states(3600, max_in_flight=3)
        assert [s.seq for s in due] == [1, 2, 3]  # oldest first, at most three awaiting acks
        assert [decode_window_state(s.payload).seq for s in due] == [1, 2, 3]
        outbox.mark_states_sent([1, 2, 3])
        assert outbox.due_states(3600, max_in_flight=3) == []  # window full until acks
        assert outbox.confirm_states([2]) == 1
        assert [s.seq for s in outbox.due_states(3600, max_in_flight=3)] == [4]
    with Outbox(path, "gw-1") as outbox:  # as after a SIGKILL: a new process, same file
        assert (outbox.states_pending, outbox.states_added) == (4, 5)
        outbox.resend_all()  # what a (re)connect does
        due = outbox.due_states(3600, max_in_flight=100)
        assert [(s.seq, s.window, s.attempts) for s in due] == [
            (1, "w1", 1),
            (3, "w1", 1),
            (4, "w1", 0),
            (5, "w1", 0),
        ]
        assert outbox.confirm_states([1, 3, 4, 5, 99]) == 4  # an unknown number is ignored
        assert outbox.confirm_states([1]) == 0  # a repeated ack is harmless
        assert outbox.add_state("w1", window_state(6)) == 6  # numbering goes on
        assert outbox.states_pending == 1
    assert (outbox.states_added, outbox.states_dropped) == (6, 0)  # figures after close


def _gateway_config(tmp_path: Path, url: str, protocol: str) -> GatewayConfig:
    return GatewayConfig.parse(
        {
            "gateway_id": "gw-1",
            "mqtt": {"url": url, "protocol": protocol},
            "outbox": {"path": str(tmp_path / f"outbox-{protocol}.sqlite"), "batch_max_age_s": 0.1},
            "sensors": [
                {
                    "id": "s0",
                    "kind": "ruuvi",
                    "building": "B1",
                    "flat": "F0",
                    "room": "living",
                    "address": "AA:BB:CC:DD:00:00",
                }
            ],
        }
    )


@pytest.mark.servers
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_delivery_over_mqtt_3_and_5(
    tmp_path: Path, mosquitto: MosquittoServer, protocol: str
) -> None:
    stack = Stack(tmp_path, mosquitto)
    try:
        stack.start_ingest()
        stack.wait_ingest_connected()
        with Gateway(_gateway_config(tmp_path, mosquitto.url, protocol)) as gateway:
            assert gateway.uplink.conn.wait_connected(10)
            assert gateway.uplink.conn.protocol_name == protocol
            t0 = datetime(2026, 1, 5, tzinfo=UTC)
            for i in range(300):
                gateway.on_sample(
                    Sample(
                        "AA:BB:CC:DD:00:00",
                        SensorValues(temperature_c=21.0),
                        time=t0 + timedelta(minutes=i),
                    )
                )
            gateway.flush()
            assert gateway.uplink.wait_drained(30), stack.logs()
        assert sum(map(len, stack.stored_times().values())) == 300
    finally:
        stack.close()


class Mqtt311OnlyBroker:
    """Just enough of an MQTT 3.1.1-only broker: refuses a v5 CONNECT with return code 1
    (unacceptable protocol version), accepts 3.1.1 and then holds the connection."""

    def __init__(self) -> None:
        self.port = free_port()
        self.levels: list[int] = []
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve)
        self._thread.start()

    def _serve(self) -> None:
        held = []
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            conn.settimeout(2)
            data = conn.recv(4096)
            level = data[8] if len(data) > 8 else 0  # fixed header, length, "\0\4MQTT", level
            self.levels.append(level)
            if level == 5:
                conn.sendall(bytes([0x20, 0x02, 0x00, 0x01]))
                conn.close()
            else:
                conn.sendall(bytes([0x20, 0x02, 0x00, 0x00]))
                held.append(conn)
        for conn in held:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()


@pytest.fixture
def mqtt311_broker() -> Iterator[Mqtt311OnlyBroker]:
    broker = Mqtt311OnlyBroker()
    yield broker
    broker.close()


def test_falls_back_to_mqtt_3_1_1(mqtt311_broker: Mqtt311OnlyBroker) -> None:
    conn = MqttConnection(f"mqtt://127.0.0.1:{mqtt311_broker.port}", "gw-old", protocol="auto")
    with conn:
        assert conn.wait_connected(15)
        assert conn.protocol_name == "3.1.1"
    assert mqtt311_broker.levels[:1] == [5] and 4 in mqtt311_broker.levels


@pytest.mark.servers
def test_retained_status_and_last_will(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    stack = Stack(tmp_path, mosquitto)
    seen: list[GatewayStatus] = []
    got = threading.Condition()

    def on_message(message: object) -> None:
        with got:
            seen.append(msgspec.json.decode(message.payload, type=GatewayStatus))  # type: ignore[attr-defined]
            got.notify_all()

    def wait_for(online: bool) -> GatewayStatus:
        with got:
            assert got.wait_for(lambda: any(s.online is online for s in seen), timeout=20)
            return next(s for s in reversed(seen) if s.online is online)

    try:
        stack.start_feeder(200_000, rate=200)  # a gateway process that keeps producing
        with MqttConnection(
            mosquitto.url,
            "watcher",
            on_message=on_message,
            subscriptions=[(status_topic("gw-1"), 1)],
        ) as watcher:
            assert watcher.wait_connected(10)
            online = wait_for(True)
            assert online.gateway == "gw-1" and len(online.sensors) == 10
            stack.kill_feeder()  # SIGKILL: no clean disconnect, so the broker sends the will
            wait_for(False)
        # retained: a newcomer learns the state at once
        seen.clear()
        with MqttConnection(
            mosquitto.url, "late", on_message=on_message, subscriptions=[(status_topic("gw-1"), 1)]
        ) as late:
            assert late.wait_connected(10)
            assert wait_for(False).online is False
    finally:
        stack.close()


def test_cli_help_for_gateway() -> None:
    done = subprocess.run(
        [installed_command(), "gateway", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0 and "--config" in done.stdout


def test_outbox_remembers_each_sensors_newest_reading(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, "gw-1") as outbox:
        outbox.add(readings(10, start=5))
        outbox.add(readings(3))  # older, late: does not move the mark back
    with Outbox(path, "gw-1") as outbox:
        seen = outbox.last_seen()
    assert seen == {"s1": datetime.fromtimestamp((T0 + 14 * 60_000) / 1000, tz=UTC)}


@pytest.mark.servers
def test_silent_sensor_alert_is_published(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    alerts: list[dict[str, object]] = []
    config = GatewayConfig.parse(
        {
            "gateway_id": "gw-1",
            "mqtt": {"url": mosquitto.url},
            "outbox": {"path": str(tmp_path / "o.sqlite")},
            "watchdog": {"silent_after": 2.0},
            "sensors": [
                {
                    "id": "s0",
                    "kind": "ruuvi",
                    "building": "B1",
                    "flat": "F0",
                    "room": "living",
                    "address": "AA:BB:CC:DD:00:00",
                    "expected_interval_s": 1.0,
                }
            ],
        }
    )
    with MqttConnection(
        mosquitto.url,
        "watcher",
        subscriptions=[("indeklima/v1/gw/+/alerts", 1)],
        on_message=lambda m: alerts.append(msgspec.json.decode(m.payload)),
    ) as w:
        assert w.wait_connected(10)
        with Gateway(config) as gateway:
            assert gateway.uplink.conn.wait_connected(10)
            gateway.on_sample(
                Sample("AA:BB:CC:DD:00:00", SensorValues(temperature_c=21.0, battery_mv=2410.0))
            )
            deadline = time.monotonic() + 15
            while not alerts and time.monotonic() < deadline:
                time.sleep(0.1)
    assert alerts and alerts[0]["kind"] == "sensor_silent"
    assert alerts[0]["sensor"] == "s0" and alerts[0]["battery_mv"] == 2410.0
    assert "2,41 V" in str(alerts[0]["message_da"])


@pytest.mark.parametrize("seed", range(5))
def test_backoff_is_capped_jittered_and_resets(seed: int) -> None:
    import random

    from edge.mqtt import Backoff

    backoff = Backoff(0.5, 8.0, rng=random.Random(seed))
    delays = [backoff.next_delay() for _ in range(12)]
    ceilings = [min(8.0, 0.5 * 2**n) for n in range(12)]
    assert all(0.25 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays) <= 8.0 and len(set(delays)) == len(delays)  # jittered, capped
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_sample_age_moves_the_reading_time_back(tmp_path: Path) -> None:
    """Aranet4 adverts say how long ago they measured; the reading gets the measured time."""
    from edge.sensors.ble.dispatch import decode
    from edge.sensors.ble.model import Decoded, RawAdvert
    from firmware_sim.devices.ble import aranet4

    payload = aranet4(812, 21.5, 40, 1001.2, 90, interval_s=300, ago_s=120)
    decoded = decode(RawAdvert("D0:1F:00:00:0A:01", manufacturer_data={0x0702: payload}))
    assert isinstance(decoded, Decoded) and decoded.age_s == 120.0
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    config = GatewayConfig.parse(
        {
            "gateway_id": "gw-1",
            "outbox": {"path": str(tmp_path / "o.sqlite")},
            "sensors": [
                {
                    "id": "a1",
                    "kind": "aranet4",
                    "building": "B1",
                    "flat": "F1",
                    "room": "living",
                    "address": "D0:1F:00:00:0A:01",
                }
            ],
        }
    )
    gateway = Gateway(config, clock=lambda: now)
    try:
        gateway.on_sample(Sample("D0:1F:00:00:0A:01", decoded.values, age_s=decoded.age_s))
        gateway.flush()
        batch = gateway.outbox.next_batch(10)
    finally:
        gateway.close()
    assert batch is not None
    (reading,) = decode_batch(batch.message("gw-1")).readings
    assert reading.time == now - timedelta(seconds=120)


def test_status_line_for_the_journal() -> None:
    sensors = [
        SensorHealth(sensor=f"s{n}", last_seen_ms=None, silent=n >= 3, battery_mv=None)
        for n in range(10)
    ]
    status = GatewayStatus(
        v=1, gateway="gw-1", online=True, time_ms=0, outbox_pending=1234, outbox_dropped=0,
        sensors=sensors,
    )  # fmt: skip
    assert status_line(status, 57, 2) == (
        "gateway gw-1: 1,234 readings in the outbox, 0 dropped (outbox full); 57 batches sent, "
        "2 re-sent; 3/10 sensors reporting (silent: s3, s4, s5, s6, s7 and 2 more)"
    )
    quiet = msgspec.structs.replace(status, sensors=sensors[:3])
    assert status_line(quiet, 0, 0).endswith("3/3 sensors reporting")
    windows = msgspec.structs.replace(quiet, window_states_dropped=15)
    assert status_line(windows, 0, 0, states_pending=10).endswith(
        "3/3 sensors reporting; 10 window states awaiting ingest's ack, 15 dropped"
    )


def test_status_line_says_how_bluetooth_is() -> None:
    from edge.wire import BleHealth

    status = GatewayStatus(v=1, gateway="gw-1", online=True, time_ms=0)
    down = BleHealth(adapter="hci0", state="unavailable", reason="no D-Bus system bus")
    assert status_line(msgspec.structs.replace(status, ble=down), 0, 0).endswith(
        "; Bluetooth hci0 unavailable: no D-Bus system bus"
    )
    up = BleHealth(adapter="hci0", state="scanning", mode="passive")
    assert status_line(msgspec.structs.replace(status, ble=up), 0, 0).endswith(
        "; Bluetooth hci0 scanning (passive)"
    )
